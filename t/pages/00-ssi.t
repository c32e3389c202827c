# The public pages and the dashboard share one <head>, site header and footer (htdocs/_inc/),
# put in by mod_include. Served as a deployment serves them (virtual host clientapi_site:
# DocumentRoot htdocs/) and as the test server's main host aliases them: every page complete,
# no SSI directive left, the shared header and footer with the page's own variations, the
# security headers; the partials answer 404 on their own; #exec never runs (IncludesNOEXEC),
# and every configuration that serves the pages says so.
use strict;
use warnings;
use utf8;
use Test::More;
use LWP::UserAgent;
use Encode qw(decode);
use Apache::Test ();
use CATest;

my $site_vhost = Apache::Test::config()->{vhosts}{clientapi_site}
    or BAIL_OUT('no virtual host clientapi_site in t/conf/extra.conf.in');
my $site = "http://$site_vhost->{hostport}";
my $main = CATest::base_url();
my $ua = LWP::UserAgent->new(timeout => 30, max_redirect => 0, keep_alive => 0);

# page => its title; the pages whose site header leaves out "Sign in", whose footer leaves out
# the tagline, and which bring their own header (the dashboard's account bar)
my %title = (index => 'Welcome', privacy => 'Privacy policy', terms => 'Terms of use',
             support => 'Support', contact => 'Contact', 'contact-error' => 'Message not sent',
             thanks => 'Message received', login => 'Sign in', signup => 'Make an account',
             dashboard => 'Dashboard');
my %skip = (login => 'the sign-in form', signup => 'the sign-up form');
my %no_signin = map { $_ => 1 } qw(login signup);
my %no_tagline = map { $_ => 1 } qw(login signup dashboard);
my %current = (privacy => 'privacy', terms => 'terms', support => 'support', contact => 'contact');

sub check_headers {
    my ($res, $what) = @_;
    my $csp = $res->header('Content-Security-Policy') // '';
    like($csp, qr/default-src 'self'/, "$what: CSP default-src 'self'");
    like($csp, qr/frame-ancestors 'none'/, "$what: CSP frame-ancestors 'none'");
    unlike($csp, qr/unsafe-inline|unsafe-eval/, "$what: CSP allows no inline script or style");
    is($res->header('Referrer-Policy'), 'same-origin', "$what: Referrer-Policy");
    is($res->header('X-Content-Type-Options'), 'nosniff', "$what: nosniff");
}

sub check_page {
    my ($base, $page, $path) = @_;
    my $what = "$base$path";
    my $res = $ua->get("$base$path");
    is($res->code, 200, "$what: 200") or return;
    like($res->header('Content-Type') // '', qr{^text/html}, "$what: HTML");
    check_headers($res, $what);
    my $html = decode('UTF-8', $res->content);
    unlike($html, qr/<!--#/, "$what: no SSI directive left");
    unlike($html, qr/an error occurred while processing this directive/, "$what: no SSI error");
    like($html, qr/\A<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n/,
         "$what: the shared head first");
    like($html, qr/<meta name="viewport" content="width=device-width, initial-scale=1">/,
         "$what: phone-width viewport");
    like($html, qr/<meta name="referrer" content="same-origin">/, "$what: referrer meta");
    like($html, qr{<title>\Q$title{$page}\E – Client API</title>}, "$what: its own title");
    like($html, qr{<link rel="stylesheet" href="/css/site.css">.*</head>}s, "$what: site.css");
    my $skip = $skip{$page} // 'the content';
    like($html, qr{<body>\n<a class="skip-link" href="#main">Skip to \Q$skip\E</a>\n},
         "$what: skip link ($skip)");
    is(() = $html =~ /<header class="site-header">/g, 1, "$what: one site header");
    if ($page eq 'dashboard') {
        like($html, qr{<nav aria-label="Account">}, "$what: its own account bar");
    } else {
        like($html, qr{<a class="brand" href="/">Client API</a>\n    <nav aria-label="Site">},
             "$what: shared site header");
        my ($nav) = $html =~ m{<nav aria-label="Site">(.*?)</nav>}s;
        my @links = ($nav // '') =~ /<a href="\/([a-z-]+)\.html"/g;
        is("@links", $no_signin{$page} ? 'support contact' : 'support contact login',
           "$what: site navigation");
        my @cur = ($nav // '') =~ /<a href="\/([a-z-]+)\.html" aria-current="page">/g;
        is("@cur", ($current{$page} && $current{$page} =~ /^(support|contact)$/) ? $page : '',
           "$what: navigation marks the current page");
    }
    my ($footer) = $html =~ m{(<footer class="site-footer">.*?</footer>)\n</body>\n</html>\n\z}s;
    ok($footer, "$what: shared footer last") or return;
    my @flinks = $footer =~ /<a href="\/([a-z-]+)\.html"/g;
    is("@flinks", 'privacy terms support contact', "$what: footer links");
    my @fcur = $footer =~ /<a href="\/([a-z-]+)\.html" aria-current="page">/g;
    is("@fcur", $current{$page} // '', "$what: footer marks the current page");
    is($footer =~ /<p>Client API: scoped access to field-service data\.<\/p>/ ? 1 : 0,
       $no_tagline{$page} ? 0 : 1, "$what: tagline " . ($no_tagline{$page} ? 'left out' : 'shown'));
    return $html;
}

# every page, as a deployment serves htdocs/ (DocumentRoot) and through the main host's aliases
# (there /index.html is Apache::Test's own page)
for my $page (sort keys %title) {
    check_page($site, $page, "/$page.html");
    check_page($main, $page, "/$page.html") unless $page eq 'index';
}
my $root = check_page($site, 'index', '/');
like($root // '', qr{<h1>Client API</h1>}, '/ is the index page');

# the partials are not pages
for my $base ($site, $main) {
    for my $path (qw(/_inc/head.html /_inc/header.html /_inc/footer.html /_inc/ /_inc)) {
        my $res = $ua->get("$base$path");
        is($res->code, 404, "$base$path: 404");
        unlike($res->content, qr/site-header|site-footer|skip-link|Client API|<!--#/,
               "$base$path: no partial content");
    }
}

# #exec: a test-only page under the same SSI options as htdocs/ (t/conf/extra.conf.in); mod_cgi
# is loaded, so the directive exists and it is IncludesNOEXEC that refuses it
CATest::expect_error(qr/AH01228: exec used but not allowed in \S*\/t\/pages\/ssi\/exec\.html/);
my $exec = $ua->get("$main/ssi-test/exec.html");
is($exec->code, 200, 'the #exec test page is served');
unlike($exec->content, qr/SSI-EXEC-RAN/, '#exec did not run');
like($exec->content, qr/before \[an error occurred while processing this directive\] after/,
     '#exec refused in place');

# every configuration that serves the pages: mod_include loaded, IncludesNOEXEC and never
# Includes or XBitHack, the INCLUDES filter on .html, the partials 404
sub slurp { open my $fh, '<', $_[0] or die "$_[0]: $!"; local $/; <$fh> }
my %conf = map { $_ => slurp("$CATest::ROOT/$_") }
    qw(conf/clientapi.conf conf/demo.conf.in t/conf/extra.conf.in);
for my $f (sort keys %conf) {
    # the example configuration is commented out: read it without the comment marks
    my $c = $conf{$f};
    $c =~ s/^\s*#\s?//mg if $f eq 'conf/clientapi.conf';
    like($c, qr/^\s*Options \+IncludesNOEXEC$/m, "$f: Options +IncludesNOEXEC");
    unlike($c, qr/^\s*Options\b.*(?<![\w])[+]?Includes(?!NOEXEC)\b/mi, "$f: never Options Includes");
    unlike($c, qr/^\s*XBitHack\b/mi, "$f: no XBitHack");
    like($c, qr/^\s*AddOutputFilter INCLUDES \.html$/m, "$f: INCLUDES filter on .html");
    like($c, qr{^\s*RedirectMatch 404 "\^/_inc\(/\|\$\)"$}m, "$f: the partials answer 404");
}
like($conf{'conf/demo.conf.in'}, qr{^LoadModule include_module "\@MODULES\@/mod_include\.so"$}m,
     'the demo loads mod_include');
like($conf{'conf/clientapi.conf'}, qr/a2enmod include/, 'the example says a2enmod include');
ok(-f "$ENV{CA_MODULES_DIR}/mod_include.so", "httpd ships mod_include ($ENV{CA_MODULES_DIR})")
    if $ENV{CA_MODULES_DIR};

done_testing();

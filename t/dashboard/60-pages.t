# The static pages under htdocs/, as served (mod_include puts in their shared parts): no inline
# script or style, no third-party assets, every referenced asset exists, phone-width viewport,
# the privacy page states what contract section 6 requires; and they are served with the
# security headers.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;
use Apache::Test ();
use Encode ();

my $root = "$CATest::ROOT/htdocs";
opendir my $dh, $root or die "$root: $!";
my @pages = sort grep { /\.html$/ } readdir $dh;
closedir $dh;
my %want = map { $_ => 1 } qw(index.html login.html dashboard.html privacy.html terms.html
                              support.html contact.html thanks.html contact-error.html);
ok($want{$_} ? delete $want{$_} : 1, "page $_") for @pages;
is(join(' ', sort keys %want), '', 'every required page exists');

sub slurp { open my $fh, '<:encoding(UTF-8)', $_[0] or die "$_[0]: $!"; local $/; <$fh> }

# the pages are put together by mod_include from htdocs/_inc/ (their shared <head>, header and
# footer): read them as served, by the virtual host that serves htdocs/ as a deployment does
# (t/conf/extra.conf.in; t/pages/00-ssi.t checks the assembly itself)
my $site = Apache::Test::config()->{vhosts}{clientapi_site}
    or BAIL_OUT('no virtual host clientapi_site in t/conf/extra.conf.in');
my $site_ua = DashTest::browser();
sub served {
    my $res = $site_ua->get("http://$site->{hostport}/$_[0]");
    die "$_[0]: " . $res->status_line . "\n" unless $res->code == 200;
    return Encode::decode('UTF-8', $res->content);
}

for my $p (@pages) {
    my $html = served($p);
    like($html, qr/^<!DOCTYPE html>/i, "$p: HTML5");
    like($html, qr/<html lang="en">/, "$p: language");
    like($html, qr/<meta name="viewport" content="width=device-width, initial-scale=1">/,
         "$p: phone-width viewport");
    like($html, qr/<title>[^<]+<\/title>/, "$p: title");
    unlike($html, qr/<script(?![^>]*\bsrc=)[^>]*>/i, "$p: no inline script");
    unlike($html, qr/<script[^>]*>[^<]+<\/script>/i, "$p: no script bodies");
    unlike($html, qr/<style\b/i, "$p: no style element");
    unlike($html, qr/\sstyle\s*=/i, "$p: no style attribute");
    unlike($html, qr/\son[a-z]+\s*=/i, "$p: no inline event handler");
    unlike($html, qr/javascript:/i, "$p: no javascript: URL");
    unlike($html, qr/\b(?:src|href)\s*=\s*"(?:https?:)?\/\//i, "$p: no third-party asset or link");
    like($html, qr/class="skip-link"/, "$p: skip link for keyboard users");
    for my $asset ($html =~ /(?:src|href)="\/((?:css|js|vendor)\/[^"]+)"/g) {
        ok(-f "$root/$asset", "$p: $asset exists");
    }
    unlike($html, qr/(?:src|href)="(?!\/|#|mailto:)/, "$p: site-absolute links (pages live at the root)");
    for my $link ($html =~ /href="\/([a-z-]+\.html)(?:[?#][^"]*)?"/g) {
        ok(-f "$root/$link", "$p: link to $link");
    }
    my %ids;
    $ids{$_}++ for $html =~ /\sid="([^"]+)"/g;
    is(scalar(grep { $ids{$_} > 1 } keys %ids), 0, "$p: ids are unique");
    for my $for ($html =~ /<label for="([^"]+)"/g) {
        ok($ids{$for}, "$p: label for=$for has its control");
    }
}

# the chart library is shipped with its licence next to it (build/vendor/update.sh)
ok(-f "$root/vendor/uplot.iife.min.js" && -f "$root/vendor/uplot.LICENSE",
   'uPlot is shipped under htdocs/vendor/ with its licence');

# the scripts never put server text into the page as HTML
for my $js (glob "$root/js/*.js") {
    my $src = slurp($js);
    my $name = $js =~ s{.*/}{}r;
    unlike($src, qr/\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(/,
           "$name: no HTML injection sinks");
}

# privacy policy: contract section 6, in the page's own words
my $privacy = slurp("$root/privacy.html");
for my $must (qr/email address/i, qr/password verification data/i, qr/access and refresh tokens/i,
              qr/scopes/i, qr/expires/i, qr/company or client ids and names/i, qr/read-only or read-write/i,
              qr/hint of the key/i, qr/method/i, qr/status/i, qr/number of records/i,
              qr/how long it took/i, qr/query parameters/i, qr/error detail/i, qr/network address/i,
              qr/user agent/i, qr/contact form: your name, email address, company/i,
              qr/not stored/i, qr/scope/i, qr/read-write endpoints pass authorised changes/i,
              qr/shown once/i, qr/only as a hash/i, qr/deactivate it or give it a new key/i,
              qr/ca_session/, qr/ca_csrf/, qr/essential/i, qr/no analytics/i,
              qr/retention period/i, qr/disconnected, its tokens and keys are deleted/i,
              qr/deleted through the/i, qr/which provider accounts to connect/i,
              qr/SHA-256/, qr/AES-256-GCM/, qr/ClientAPILogRetention/, qr/90 days/,
              qr/revoked at the provider/i, qr/delete your account yourself/i) {
    like($privacy, $must, "privacy page states $must");
}

# served by the test server (when the configuration aliases htdocs/)
my $ua = DashTest::browser();
my $res = $ua->get(DashTest::url('/privacy.html'));
SKIP: {
    skip 'htdocs/ is not served by the test configuration', 6 unless $res->code == 200;
    like($res->header('Content-Type'), qr{^text/html}, 'privacy.html served as HTML');
    my $csp = $res->header('Content-Security-Policy') // '';
    like($csp, qr/default-src 'self'/, "CSP default-src 'self'");
    like($csp, qr/frame-ancestors 'none'/, "CSP frame-ancestors 'none'");
    is($res->header('X-Content-Type-Options'), 'nosniff', 'nosniff');
    ok($res->header('Referrer-Policy'), 'Referrer-Policy');
    is($ua->get(DashTest::url('/js/dashboard.js'))->code, 200, 'scripts served');
}

done_testing();

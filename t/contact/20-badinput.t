# Hostile input against the contact form (issue 8, item 4), beyond 00-contact.t's field rules:
# NUL, CRLF (header injection in the email), invalid UTF-8, malformed and oversized JSON,
# wrong content types, unknown methods. Nothing refused is stored; what is stored is verbatim.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use CATest;
use DashTest;

my $dbh = CATest::dbh();
# other addresses than 00-contact.t's, so that its per-address limit and ours do not meet
my $ip = '192.0.2.77';
my $clear = sub { $dbh->do('DELETE FROM contact_messages WHERE ip = ?', undef, $ip) };
$clear->();
my $ua = DashTest::browser();
my $count = sub { $dbh->selectrow_array('SELECT count(*) FROM contact_messages') };

sub post {
    my ($ct, $body) = @_;
    return DashTest::call($ua, POST => $DashTest::CONTACT, body => $body, csrf => undef,
                          headers => { 'X-Forwarded-For' => $ip,
                                       (defined $ct ? ('Content-Type' => $ct) : ()) });
}
my $form = 'application/x-www-form-urlencoded';
my $base = 'name=Ada&email=ada%40example.test&message=hello';

my $before = $count->();
# ---- the HTML form: refused with a reason, nothing of it in the Location --------------------
for my $c (['name=Ad%00a&email=ada%40example.test&message=x', 'invalid_form', 'NUL in a field'],
           ['name=Ada&email=ada%40example.test%0d%0aBcc%3A%20x%40evil.test&message=x',
            'invalid_email', 'CRLF in the email (header injection)'],
           ['name=Ada%0d%0aX-Injected%3A%201&email=ada%40example.test&message=x', 'invalid_name',
            'CRLF in the name'],
           ['name=%ff%fe&email=ada%40example.test&message=x', 'invalid_name', 'invalid UTF-8'],
           ['name=%c0%bcscript%c0%be&email=ada%40example.test&message=x', 'invalid_name',
            'overlong UTF-8'],
           ['name=Ada&email=ada%40example.test&message=a%1bb', 'invalid_message',
            'an escape character'],
           ['name=Ada&email=ada%40example.test&message=%zz', 'invalid_form', 'a bad escape'],
           ["$base&message=again", 'invalid_form', 'a field twice'],
           ['email=ada%40example.test&message=x', 'invalid_name', 'name missing']) {
    my ($body, $reason, $name) = @$c;
    my ($res) = post($form, $body);
    is($res->code, 303, "$name: 303");
    is($res->header('Location'), "/contact-error.html?reason=$reason", "$name: $reason");
    ok(!$res->header('X-Injected'), "$name: no header injected");
}

# ---- JSON -------------------------------------------------------------------------------------
for my $c (['{"name":"Ada","email":"ada@example.test","message":"x"', 400, 'truncated JSON'],
           ['{"name":"Ada","email":"ada@example.test","message":"x"} {}', 400, 'two documents'],
           [qq({"name":"A\xffda","email":"ada\@example.test","message":"x"}), 400, 'invalid UTF-8'],
           ['{"name":"A\u0000da","email":"ada@example.test","message":"x"}', 400, 'escaped NUL'],
           ['{"name":"Ada","email":"ada@example.test\r\nBcc: x@evil.test","message":"x"}', 400,
            'raw CRLF in a string'],
           ['{"name":"Ada","email":"ada@example.test\u000d\u000aBcc: x@evil.test","message":"x"}',
            400, 'escaped CRLF in the email'],
           ['{"name":"Ada","email":"ada@example.test","message":"\ud800"}', 400,
            'a lone surrogate'],
           ['{"name":"Ada","email":"ada@example.test","message":' . ('[' x 20000)
            . (']' x 20000) . '}', 400, 'deep nesting'],
           ['[]', 400, 'an array'],
           ['', 400, 'an empty body'],
           ['{"name":"Ada","email":"ada@example.test","message":"' . ('m' x (70 * 1024)) . '"}',
            413, 'over 64 KB']) {
    my ($body, $status, $name) = @$c;
    my ($res, $j) = post('application/json', $body);
    is($res->code, $status, "JSON $name: $status");
    like($res->header('Content-Type') // '', qr{^application/problem\+json}, "$name: problem+json");
}
for my $ct (undef, 'text/plain', 'multipart/form-data; boundary=x', 'application/xml') {
    my ($res) = post($ct, $base);
    is($res->code, 415, 'content type ' . ($ct // 'missing') . ': 415');
}
for my $m (qw(PROPFIND TRACE PUT DELETE)) {
    my ($res) = DashTest::call($ua, $m => $DashTest::CONTACT, csrf => undef);
    is($res->code, 405, "$m: 405");
    is($res->header('Allow'), 'POST', "$m: Allow: POST");
}
is($count->(), $before, 'nothing refused was stored');

# ---- stored verbatim: SQL and HTML in every field ---------------------------------------------
{
    my $evil = q{<svg onload=alert(1)>'); DELETE FROM contact_messages; --};
    my $email = q{o'brien+x@example.test};
    my ($res, $j) = DashTest::call($ua, POST => $DashTest::CONTACT, csrf => undef,
        headers => { 'X-Forwarded-For' => $ip },
        json => { name => $evil, email => $email, company => $evil, message => "$evil\n%s%n" });
    is($res->code, 201, 'metacharacters in every field: stored') or diag($res->decoded_content);
    my $row = $dbh->selectrow_hashref('SELECT * FROM contact_messages WHERE ip = ? ORDER BY id '
                                      . 'DESC LIMIT 1', undef, $ip);
    is($row->{name}, $evil, 'name verbatim');
    is($row->{company}, $evil, 'company verbatim');
    is($row->{message}, "$evil\n%s%n", 'message verbatim');
    is($row->{email}, $email, 'email verbatim');
    is($count->(), $before + 1, 'the table is intact: one row more');
    my ($admin) = DashTest::signed_in(role => 'admin');
    ($res, $j) = DashTest::call($admin, GET => '/contact-messages?limit=1');
    is($j->{data}[0]{company}, $evil, 'the admin list answers it verbatim');
    unlike($res->content, qr/<svg/, 'and JSON-escaped');
}

$clear->();
done_testing();

# The public contact form: HTML form (redirects) and JSON (201 / problem+json), validation,
# verbatim storage, the per-address rate limit, and the admins' list in the dashboard.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use URI::Escape qw(uri_escape_utf8);
use CATest;
use DashTest;

my $dbh = CATest::dbh();
my $clear = sub { $dbh->do("DELETE FROM contact_messages WHERE ip = '127.0.0.1'") };
$clear->();
my $ua = DashTest::browser();

sub form {
    my (%f) = @_;
    my $body = join '&', map { uri_escape_utf8($_) . '=' . uri_escape_utf8($f{$_}) } sort keys %f;
    return DashTest::call($ua, POST => $DashTest::CONTACT, body => $body, csrf => undef,
                          headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
}

sub json_post {
    my ($data) = @_;
    return DashTest::call($ua, POST => $DashTest::CONTACT, json => $data, csrf => undef);
}

sub stored { $dbh->selectrow_hashref('SELECT * FROM contact_messages WHERE id = (SELECT max(id)'
                                     . " FROM contact_messages WHERE ip = '127.0.0.1')") }

my %ok = (name => 'Ada Lovelace', email => 'ada@example.test', company => 'Analytical Engines',
          message => "Hello,\r\nplease call me back.\r\n");

# ---- the HTML form -----------------------------------------------------------------------
my ($res) = form(%ok);
is($res->code, 303, 'form: 303 See Other');
is($res->header('Location'), '/thanks.html', 'to the thank-you page (fixed path)');
my $row = stored();
is($row->{name}, 'Ada Lovelace', 'stored: name');
is($row->{email}, 'ada@example.test', 'email');
is($row->{company}, 'Analytical Engines', 'company');
is($row->{message}, "Hello,\nplease call me back.\n", 'message, CR LF as LF');
is($row->{ip}, '127.0.0.1', 'sender address');
ok(abs($row->{created_at} - time) < 60, 'time');

($res) = form(%ok, company => '');
is($res->code, 303, 'company is optional');
is(stored()->{company}, undef, 'empty company stored as NULL');

for my $bad ([name => '', 'invalid_name'], [name => 'n' x 201, 'invalid_name'],
             [name => "bell\x07", 'invalid_name'], [email => 'not-an-email', 'invalid_email'],
             [email => 'a@b', 'invalid_email'], [email => ('a' x 250) . '@x.test', 'invalid_email'],
             [message => '', 'invalid_message'], [message => "  \r\n ", 'invalid_message'],
             [message => 'm' x 5001, 'invalid_message'], [message => "tab\there", 'invalid_message'],
             [company => 'c' x 201, 'invalid_company']) {
    my ($f, $v, $reason) = @$bad;
    ($res) = form(%ok, $f => $v);
    is($res->code, 303, "form with a bad $f: 303");
    is($res->header('Location'), "/contact-error.html?reason=$reason", "to the error page ($reason)");
}
($res) = form(%ok, website => 'spam');
is($res->header('Location'), '/contact-error.html?reason=invalid_form', 'unknown field refused');
($res) = DashTest::call($ua, POST => $DashTest::CONTACT, csrf => undef,
                        body => 'name=a&name=b&email=a%40b.test&message=x',
                        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($res->header('Location'), '/contact-error.html?reason=invalid_form', 'a field twice refused');
($res) = form(%ok, message => 'x' x (70 * 1024));
is($res->header('Location'), '/contact-error.html?reason=too_large', 'a body over 64 KB refused');
is(stored()->{message}, "Hello,\nplease call me back.\n", 'nothing stored by the refused ones');

# ---- JSON --------------------------------------------------------------------------------
my $xss = q{<script>alert(1)</script> '; DROP TABLE contact_messages; -- ünïcödé};
my $j;
($res, $j) = json_post({ name => $xss, email => 'x@example.test', company => undef,
                         message => "$xss\nline 2" });
is($res->code, 201, 'JSON: 201');
is($j->{status}, 'received', 'received');
is($j->{request_id}, $res->header('X-Request-Id'), 'with the request id');
$row = stored();
is($row->{name}, $xss, 'HTML and SQL metacharacters stored verbatim');
is($row->{message}, "$xss\nline 2", 'message verbatim');
($res, $j) = json_post({ name => 'A', email => 'bad', message => 'x' });
is($res->code, 400, 'JSON with a bad email: 400');
is($j->{code}, 'bad_request', 'problem+json code');
like($j->{detail}, qr/email/, 'detail names the field');
($res, $j) = json_post({ name => 'A', email => 'a@example.test', message => 'x', extra => 1 });
is($res->code, 400, 'JSON with an unknown member: 400');
($res, $j) = json_post({ name => ['A'], email => 'a@example.test', message => 'x' });
is($res->code, 400, 'JSON with a non-string: 400');
($res) = DashTest::call($ua, POST => $DashTest::CONTACT, csrf => undef, body => 'hello',
                        headers => { 'Content-Type' => 'text/plain' });
is($res->code, 415, 'other media types: 415');
($res) = DashTest::call($ua, GET => $DashTest::CONTACT);
is($res->code, 405, 'GET: 405');
is($res->header('Allow'), 'POST', 'Allow: POST');

# ---- rate limit per address --------------------------------------------------------------
$clear->();
for my $i (1 .. 5) {
    ($res) = json_post({ name => "Sender $i", email => 'r@example.test', message => "m $i" });
    is($res->code, 201, "message $i of 5 in the hour");
}
($res, $j) = json_post({ name => 'Sender 6', email => 'r@example.test', message => 'm 6' });
is($res->code, 429, 'the sixth within the hour: 429');
is($j->{code}, 'rate_limited', 'rate_limited');
ok($res->header('Retry-After'), 'Retry-After');
($res) = form(%ok);
is($res->header('Location'), '/contact-error.html?reason=rate_limited', 'the form too');
is($dbh->selectrow_array("SELECT count(*) FROM contact_messages WHERE ip = '127.0.0.1'"), 5,
   'nothing more stored');
$dbh->do("UPDATE contact_messages SET created_at = created_at - 3601 WHERE ip = '127.0.0.1'");
($res) = json_post({ name => 'Later', email => 'r@example.test', message => 'an hour later' });
is($res->code, 201, 'an hour later it is accepted again');

# ---- admins read them in the dashboard ---------------------------------------------------
($res) = json_post({ name => $xss, email => 'x@example.test', message => 'for the admin' });
my ($admin) = DashTest::signed_in(role => 'admin');
($res, $j) = DashTest::call($admin, GET => '/contact-messages?limit=3');
is($res->code, 200, 'GET /contact-messages as admin');
is(scalar @{ $j->{data} }, 3, 'limit=3');
is($j->{data}[0]{name}, $xss, 'newest first, verbatim');
unlike($res->content, qr/<script/, 'JSON-escaped');
ok($j->{next_before}, 'next page');
my ($res2, $j2) = DashTest::call($admin, GET => "/contact-messages?before=$j->{next_before}&limit=3");
ok($j2->{data}[0]{id} < $j->{data}[2]{id}, 'the next page continues below');
my ($member) = DashTest::signed_in();
($res, $j) = DashTest::call($member, GET => '/contact-messages');
is($res->code, 403, 'members cannot read them');

$clear->();
done_testing();

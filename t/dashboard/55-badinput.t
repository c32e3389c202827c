# Hostile input against the dashboard API (issue 8, item 4), beyond 50-validation.t's field
# rules: NUL, CRLF and SQL in query filters, huge and negative limits, odd ids, traversal,
# unknown methods, invalid UTF-8, wrong content types, forged cookies. Each gets the documented
# problem+json answer and changes nothing in the database.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email) = DashTest::signed_in();
my $uid = DashTest::user_id($email);
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
my ($res, $j) = DashTest::call($ua, POST => '/endpoints', json => {
    connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
    company_name => 'Acme', access_mode => 'read-only' });
is($res->code, 201, 'an endpoint to list') or diag($res->decoded_content);
my $ep = $j->{endpoint}{id};

my $state = sub {
    return CATest::json()->encode([
        $dbh->selectall_arrayref('SELECT public_id, name, company_id, company_name, status, '
            . 'access_mode, ip_allow, expires_at, updated_at FROM endpoints WHERE user_id = ? '
            . 'ORDER BY id', undef, $uid),
        $dbh->selectall_arrayref('SELECT count(*) FROM endpoint_keys k JOIN endpoints e ON '
            . 'e.id = k.endpoint_id WHERE e.user_id = ?', undef, $uid),
        $dbh->selectall_arrayref('SELECT count(*) FROM sessions WHERE user_id = ?', undef, $uid),
        $dbh->selectall_arrayref('SELECT count(*) FROM audit_events WHERE user_id = ?', undef,
                                 $uid),
        $dbh->selectall_arrayref('SELECT count(*), max(id) FROM endpoints'),
        $dbh->selectall_arrayref('SELECT count(*) FROM users'),
    ]);
};
my $before = $state->();

sub problem_is {
    my ($res, $j, $status, $code, $name) = @_;
    is($res->code, $status, "$name: $status") or diag($res->decoded_content);
    like($res->header('Content-Type') // '', qr{^application/problem\+json}, "$name: problem+json");
    is($j && $j->{code}, $code, "$name: $code");
}

# ---- query filters -------------------------------------------------------------------------
for my $q ('resource=a%00b', 'resource=%0d%0aX-Injected:%201', 'method=%zz', 'limit=-1',
           'limit=0', 'limit=abc', 'limit=99999999999999999999', 'limit=201', 'status=6xx',
           'status=%27%20OR%201%3D1', 'since=abc', 'since=-99999999999999999999',
           'endpoint=ep_x%27%20OR%20%271%27%3D%271&resource=x&resource=y', 'colour=blue',
           'cursor=%27%3B%20DROP%20TABLE%20request_logs%3B--') {
    ($res, $j) = DashTest::call($ua, GET => "/logs?$q");
    if ($q =~ /^endpoint=/) {
        ok($res->code == 400 || $res->code == 404, "/logs?$q: 400 or 404") or diag($res->code);
        next;
    }
    problem_is($res, $j, 400, 'bad_request', "/logs?$q");
    ok(!$res->header('X-Injected'), "/logs?$q: no header injected");
}
for my $v (q{' OR '1'='1}, q{x'; DROP TABLE request_logs; --}, '<script>alert(1)</script>') {
    my $enc = $v =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ger;
    # resource names are [a-z_]: refused before any SQL is built (which binds them anyway)
    ($res, $j) = DashTest::call($ua, GET => "/logs?resource=$enc");
    problem_is($res, $j, 400, 'bad_request', "resource filter $v");
    unlike($res->content, qr/<script/, 'nothing echoed unescaped');
    ($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$enc");
    ok($res->code == 400 || $res->code == 404, "endpoint filter $v: 400 or 404");
    unlike($res->content, qr/<script/, 'nothing echoed unescaped');
}
($res, $j) = DashTest::call($ua, GET => "/usage?endpoint=$ep&bucket=week");
problem_is($res, $j, 400, 'bad_request', 'usage bucket=week');
($res, $j) = DashTest::call($ua, GET => "/usage?endpoint=$ep&since=1&until=99999999999");
problem_is($res, $j, 400, 'bad_request', 'usage over too many buckets');
($res, $j) = DashTest::call($ua, GET => '/audit?limit=99999999999');
ok($res->code == 400 || $res->code == 403, '/audit with a huge limit: 400 (403 for a member)');

# ---- ids and paths --------------------------------------------------------------------------
for my $path ('/logs/-1', '/logs/0', '/logs/abc', '/logs/1%27%20OR%20%271%27%3D%271',
              '/logs/99999999999999999999999', '/endpoints/-1', '/endpoints/ep_nope',
              "/endpoints/$ep%2f..%2f..%2fme", '/endpoints/%2e%2e', '/endpoints/..%2fme',
              '/endpoints/ep_x%00', '/nope', '/../me') {
    ($res, $j) = DashTest::call($ua, GET => $path);
    ok($res->code == 404 || $res->code == 400, "GET $path: 404 or 400") or diag($res->code);
    ok(!($j && $j->{endpoint}), "GET $path: no endpoint answered");
}
($res, $j) = DashTest::call($ua, POST => '/endpoints/-1/deactivate');
problem_is($res, $j, 404, 'not_found', 'deactivate a negative id');
($res, $j) = DashTest::call($ua, DELETE => "/endpoints/$ep%00");
ok($res->code == 404 || $res->code == 400, 'DELETE with a NUL in the id: 404 or 400');

# ---- methods ----------------------------------------------------------------------------------
for my $m (qw(PROPFIND TRACE MKCOL PATCH)) {
    ($res, $j) = DashTest::call($ua, $m => '/endpoints');
    ok($res->code == 405 || $res->code == 501, "$m /endpoints: 405 or 501") or diag($res->code);
    unlike($res->content // '', qr/ca_session=/, "$m: the cookie is not echoed back");
}

# ---- bodies and content types -----------------------------------------------------------------
my %ok = (connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
          company_name => 'Acme', access_mode => 'read-only');
# a create body with raw bytes in one member: body(member => 'raw JSON value')
sub body {
    my (%raw) = @_;
    my %f = (connection_id => $conn, scope_kind => '"company"', company_id => '"co_acme"',
             company_name => '"Acme"', access_mode => '"read-only"', %raw);
    return '{' . join(',', map { qq("$_":$f{$_}) } sort keys %f) . '}';
}
for my $c (['invalid UTF-8', body(company_name => qq("Ac\xffme"))],
           ['a surrogate as UTF-8', body(company_name => qq("\xed\xa0\x80"))],
           ['an overlong slash', body(company_id => qq("co\xc0\xafacme"))],
           ['a lone surrogate escape', body(company_name => '"\\ud800"')],
           ['trailing garbage', CATest::json()->encode(\%ok) . 'x'],
           ['deep nesting', '{"name":' . ('[' x 20000) . (']' x 20000) . '}'],
           ['empty body', '']) {
    my ($name, $body) = @$c;
    ($res, $j) = DashTest::call($ua, POST => '/endpoints', body => $body,
                                headers => { 'Content-Type' => 'application/json' });
    problem_is($res, $j, 400, 'bad_request', "POST /endpoints with $name");
}
for my $ct ('application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/json',
            'application/jsonx') {
    ($res, $j) = DashTest::call($ua, POST => '/endpoints', body => CATest::json()->encode(\%ok),
                                headers => { 'Content-Type' => $ct });
    problem_is($res, $j, 415, 'unsupported_media_type', "POST /endpoints as $ct");
}
($res, $j) = DashTest::call($ua, POST => '/login', csrf => undef,
                            body => "email=$email&password=x",
                            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
problem_is($res, $j, 415, 'unsupported_media_type', 'login as a form (a cross-site form post)');
for my $e (q{' OR '1'='1}, q{admin'--@example.test}, qq{a\r\nb\@example.test},
           "a\x{0}\@example.test") {
    ($res, $j) = DashTest::call($ua, POST => '/login', csrf => undef,
                                json => { email => $e, password => q{' OR '1'='1} });
    ok($res->code == 400 || $res->code == 401, 'login with SQL or CRLF in the email: 400 or 401')
        or diag($res->code);
    ok(!grep({ /ca_session=[^;]/ } $res->header('Set-Cookie')), 'no session for it');
}
DashTest::clear_login_attempts();

# ---- forged cookies and headers ---------------------------------------------------------------
for my $cookie ("ca_session=' OR '1'='1", 'ca_session=' . ('A' x 6000), 'ca_session=%00',
                'ca_session=../../me', 'ca_session=a; ca_session=b') {
    my $b = DashTest::browser();
    ($res, $j) = DashTest::call($b, GET => '/me', headers => { Cookie => $cookie });
    problem_is($res, $j, 401, 'unauthenticated', 'a forged session cookie');
}
{
    # a control character in a header: httpd refuses the request (HttpProtocolOptions Strict,
    # its default) before any module sees it
    my $b = DashTest::browser();
    ($res) = DashTest::call($b, GET => '/me', headers => { Cookie => "ca_session=x\x{7f}y" });
    is($res->code, 400, 'DEL in the cookie header: 400 from httpd');
}
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/deactivate",
                            csrf => q{' OR '1'='1});
problem_is($res, $j, 403, 'csrf_failed', 'a CSRF token with SQL in it');

is($state->(), $before, 'nothing in the database changed');
done_testing();

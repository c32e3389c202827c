# Every dashboard call, including the connection routes and the account routes: without a
# session 401 unauthenticated (nothing runs), as a member on an admin call 403 forbidden,
# without the CSRF token 403 csrf_failed on every state-changing call; query parameters of
# the listing calls are validated (400 naming the parameter); stored markup is answered
# JSON-escaped from every listing that shows it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

my $dbh = CATest::dbh();
DashTest::clear_login_attempts();
my ($member, $memail) = DashTest::signed_in();
my ($ep, $key, $conn) = DashTest::create_endpoint($member, $memail);
my $id = $ep->{id};
my ($logid) = $dbh->selectrow_array('SELECT max(id) FROM request_logs');
$logid //= 1;

# [method, path, body, flags]: flags a = admin only, s = state-changing
my @routes = (
    [GET => '/me'], [POST => '/password', { current => 'x', new => 'y' }, 's'],
    [GET => '/providers'], [GET => '/connections'], [GET => '/endpoints'],
    [POST => '/endpoints', { connection_id => $conn + 0 }, 's'],
    [GET => "/endpoints/$id"], [DELETE => "/endpoints/$id", undef, 's'],
    [POST => "/endpoints/$id/activate", undef, 's'],
    [POST => "/endpoints/$id/deactivate", undef, 's'],
    [POST => "/endpoints/$id/reissue", {}, 's'],
    [GET => '/logs'], [GET => "/logs/$logid"], [GET => '/usage'],
    [GET => '/audit', undef, 'a'], [GET => '/contact-messages', undef, 'a'],
    [POST => '/contact-messages/1/handled', undef, 'as'],
    [DELETE => '/contact-messages/1', undef, 'as'],
    [DELETE => '/account', { password => 'x' }, 's'],
    [POST => '/connections/sandbox/start', {}, 's'],
    [POST => '/connections/clientcommander/apikey', { api_key => 'ccmd_x' }, 's'],
    [POST => '/connections/sandbox_cc/credentials', { client_id => 'a', client_secret => 'b' }, 's'],
    [POST => "/connections/$conn/refresh", {}, 's'],
    [DELETE => "/connections/$conn", undef, 's'],
    [GET => "/connections/$conn/companies"],
    [GET => "/connections/$conn/companies/co_acme/clients"],
);

my $audit_before = $dbh->selectrow_array('SELECT count(*) FROM audit_events');
my $anon = DashTest::browser();
for my $r (@routes) {
    my ($m, $path, $body) = @$r;
    my ($res, $j) = DashTest::call($anon, $m => $path, (defined $body ? (json => $body) : ()));
    is($res->code, 401, "$m $path without a session: 401");
    is($j && $j->{code}, 'unauthenticated', '... unauthenticated');
}
for my $r (grep { ($_->[3] // '') =~ /a/ } @routes) {
    my ($m, $path, $body) = @$r;
    my ($res, $j) = DashTest::call($member, $m => $path, (defined $body ? (json => $body) : ()));
    is($res->code, 403, "$m $path as a member: 403");
    is($j && $j->{code}, 'forbidden', '... forbidden');
}
for my $r (grep { ($_->[3] // '') =~ /s/ } @routes) {
    my ($m, $path, $body) = @$r;
    my ($res, $j) = DashTest::call($member, $m => $path, csrf => undef,
                                   (defined $body ? (json => $body) : ()));
    is($res->code, 403, "$m $path without the CSRF token: 403");
    # (a member on an admin call is refused either way; the CSRF check comes first)
    is($j && $j->{code}, 'csrf_failed', '... csrf_failed, before anything ran');
}
is($dbh->selectrow_array('SELECT count(*) FROM audit_events'), $audit_before,
   'nothing was changed by any refused call');
is(CATest::api(GET => "/api/$id", key => $key)->code, 200, 'the endpoint still works');
is($dbh->selectrow_array('SELECT status FROM provider_connections WHERE id = ?', undef, $conn),
   'active', 'the connection is still active');

# ---- query parameters of the listing calls ----------------------------------------------
my ($admin) = DashTest::signed_in(role => 'admin');
my @bad = (
    ['/logs?status=6xx', qr/status/], ['/logs?status=2XX', qr/status/],
    ['/logs?method=get', qr/method/], ['/logs?resource=' . ('r' x 65), qr/resource/],
    ["/logs?resource=jobs'%20OR%201=1--", qr/resource/], ['/logs?limit=0', qr/limit/],
    ['/logs?limit=201', qr/limit/], ['/logs?since=abc', qr/since/],
    ['/logs?since=20&until=10', qr/since|until/], ['/logs?cursor=%3Cscript%3E', qr/cursor/],
    ['/logs?colour=red', qr/colour/], ['/logs?limit=1&limit=2', qr/limit/],
    ['/usage?bucket=week', qr/bucket/], ['/usage?since=0&until=99999999&bucket=hour', qr/bucket|range|1000/],
    ['/audit?limit=abc', qr/limit/], ['/audit?before=-1', qr/before/],
    ['/contact-messages?limit=100000', qr/limit/], ['/endpoints?x=1', qr/x/],
    ['/me?debug=1', qr/debug/],
);
for my $b (@bad) {
    my ($path, $field) = @$b;
    my ($res, $j) = DashTest::call($admin, GET => $path);
    is($res->code, 400, "GET $path: 400");
    like($j && $j->{detail} // '', $field, '... naming the parameter');
    unlike($res->decoded_content, qr/<script>/, '... never echoing markup raw');
}
my ($res, $j) = DashTest::call($member, GET => '/logs?endpoint=ep_doesnotexist0000000000');
is($res->code, 404, 'a member asking for an unknown endpoint\'s logs: 404');

# ---- stored markup comes back JSON-escaped from every listing ---------------------------
my $xss = '<img src=x onerror=alert(1)>&"\'';
$dbh->do('INSERT INTO contact_messages (name, email, company, message, ip, created_at)'
         . ' VALUES (?, ?, ?, ?, ?, ?)', undef, $xss, 'x@example.test', $xss, "hi $xss",
         '192.0.2.9', time);
my ($res2) = DashTest::call($admin, GET => '/contact-messages?limit=5');
is($res2->code, 200, 'contact messages listed');
unlike($res2->decoded_content, qr/[<>]/, 'no raw < or > in the answer');
like($res2->decoded_content, qr/\\u003cimg src=x onerror=alert\(1\)\\u003e\\u0026/,
     'markup written as \\u003c ... \\u003e \\u0026');
my $data = CATest::decode($res2->decoded_content)->{data};
ok((grep { $_->{name} eq $xss && $_->{company} eq $xss } @$data), 'and decodes verbatim');
($res2) = DashTest::call($member, POST => "/endpoints/$id/reissue", json => {});
($res2) = DashTest::call($admin, GET => "/audit?limit=20&target_id=$id");
unlike($res2->decoded_content, qr/[<>]/, 'audit trail: no raw markup');

done_testing();

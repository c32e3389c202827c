# Endpoints through the dashboard: create -> the key works on the caller API -> deactivate
# (403) -> activate -> reissue (old key stops, new key works) -> delete; who may see and
# change what (member vs admin); endpoints declared in httpd.conf are read-only here.
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

# ---- providers and connections -----------------------------------------------------------
my ($res, $j) = DashTest::call($ua, GET => '/providers');
is($res->code, 200, 'GET /providers');
my %prov = map { $_->{name} => $_ } @{ $j->{data} };
is($prov{sandbox}{display_name}, 'Provider Sandbox', 'sandbox provider listed with its name');
is($prov{sandbox}{auth_mode}, 'oauth2_code_pkce', 'and its auth mode');
is($prov{clientcommander}{auth_mode}, 'api_key', 'Client Commander: pasted API key');

my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
($res, $j) = DashTest::call($ua, GET => '/connections');
is($res->code, 200, 'GET /connections');
is(scalar @{ $j->{data} }, 1, 'one connection');
my $c = $j->{data}[0];
is($c->{id}, $conn, 'its id');
is($c->{provider}, 'sandbox', 'provider');
is($c->{status}, 'active', 'status');
ok($c->{has_credentials}, 'credentials stored');
ok(!grep({ /_enc$|token|secret/ } keys %$c), 'no secret member') or diag(join ' ', keys %$c);
unlike($res->decoded_content, qr/v1\.k1\.|sbx_at_|sbx_rt_/, 'no sealed value or token');

# ---- create ------------------------------------------------------------------------------
($res, $j) = DashTest::call($ua, POST => '/endpoints', json => {
    connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
    company_name => 'Acme Plumbing', access_mode => 'read-only', name => 'Acme for partners' });
is($res->code, 201, 'POST /endpoints: 201') or diag($res->decoded_content);
my $ep = $j->{endpoint}{id};
my $key = $j->{key};
like($ep, qr/^ep_[A-Za-z0-9_-]+$/, 'endpoint id');
like($key, qr/^cak_[A-Za-z0-9_-]{49}$/, 'key shown');
like($j->{url}, qr{/api/\Q$ep\E$}, 'caller URL');
is($j->{endpoint}{name}, 'Acme for partners', 'name');
is($j->{endpoint}{status}, 'active', 'active');
is($j->{endpoint}{key_hint}, 'cak_' . "\x{2026}" . substr($key, -4), 'key hint');
ok(!$j->{endpoint}{read_only}, 'not read-only in the dashboard');
ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'endpoint.create'"
                         . ' AND target_id = ? AND user_id = ? AND ip = ?', undef, $ep, $uid,
                         '127.0.0.1'), 'audited with actor, target and address');

my ($api) = CATest::api(GET => "/api/$ep", key => $key);
is($api->code, 200, 'the new key works on the caller API');
($api) = CATest::api(GET => "/api/$ep/jobs?limit=2", key => $key);
is($api->code, 200, 'and lists records');

# the key is never shown again
($res, $j) = DashTest::call($ua, GET => '/endpoints');
is($res->code, 200, 'GET /endpoints');
is(scalar @{ $j->{data} }, 1, 'one endpoint');
unlike($res->decoded_content, qr/\Q$key\E/, 'the list does not hold the key');
($res, $j) = DashTest::call($ua, GET => "/endpoints/$ep");
is($res->code, 200, 'GET /endpoints/{ep}');
unlike($res->decoded_content, qr/\Q$key\E/, 'neither does the detail');
is(scalar @{ $j->{keys} }, 1, 'one key in the history');
ok($j->{keys}[0]{usable}, 'usable');

# ---- deactivate / activate ---------------------------------------------------------------
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/deactivate");
is($res->code, 200, 'deactivate') or diag($res->decoded_content);
is($j->{endpoint}{status}, 'inactive', 'inactive');
my $data;
($api, $data) = CATest::api(GET => "/api/$ep", key => $key);
is($api->code, 403, 'a deactivated endpoint answers 403');
is($data->{code}, 'endpoint_inactive', 'endpoint_inactive');
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/activate");
is($j->{endpoint}{status}, 'active', 'activate');
is(CATest::api(GET => "/api/$ep", key => $key)->code, 200, 'works again');

# ---- reissue -----------------------------------------------------------------------------
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue", json => { grace_seconds => 0 });
is($res->code, 200, 'reissue') or diag($res->decoded_content);
my $key2 = $j->{key};
like($key2, qr/^cak_/, 'a new key');
isnt($key2, $key, 'a different key');
is(CATest::api(GET => "/api/$ep", key => $key)->code, 401, 'the old key stops at once');
is(CATest::api(GET => "/api/$ep", key => $key2)->code, 200, 'the new key works');
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue", json => { grace_seconds => 600 });
my $key3 = $j->{key};
ok($j->{previous_key_expires_at} >= time + 590, 'grace period announced');
is(CATest::api(GET => "/api/$ep", key => $key2)->code, 200, 'with a grace period the old key still works');
is(CATest::api(GET => "/api/$ep", key => $key3)->code, 200, 'and so does the new one');
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue");
is($res->code, 200, 'reissue without a body: no grace');
is(CATest::api(GET => "/api/$ep", key => $key3)->code, 401, 'the previous key stopped');
is(CATest::api(GET => "/api/$ep", key => $key2)->code, 401, 'an earlier graced key stopped too');
my $key4 = $j->{key};
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue", json => { grace_seconds => 86401 });
is($res->code, 400, 'grace above 24 h: 400');
($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue", json => { grace => 5 });
is($res->code, 400, 'unknown member: 400');

# ---- member vs admin ---------------------------------------------------------------------
my ($other, $other_email) = DashTest::signed_in();
my ($admin, $admin_email) = DashTest::signed_in(role => 'admin');
($res, $j) = DashTest::call($other, GET => '/endpoints');
is(scalar @{ $j->{data} }, 0, 'another member sees none of them');
($res, $j) = DashTest::call($other, GET => '/connections');
is(scalar @{ $j->{data} }, 0, 'nor the connection');
for my $try ([GET => "/endpoints/$ep"], [POST => "/endpoints/$ep/deactivate"],
             [POST => "/endpoints/$ep/reissue"], [DELETE => "/endpoints/$ep"],
             [GET => "/logs?endpoint=$ep"], [GET => "/usage?endpoint=$ep"]) {
    ($res, $j) = DashTest::call($other, @$try);
    is($res->code, 404, "another member: $try->[0] $try->[1] is 404");
}
($res, $j) = DashTest::call($other, POST => '/endpoints', json => {
    connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
    company_name => 'Acme', access_mode => 'read-only' });
is($res->code, 404, "another member cannot use someone else's connection");
is(CATest::api(GET => "/api/$ep", key => $key4)->code, 200, 'nothing changed');
($res, $j) = DashTest::call($other, GET => '/audit');
is($res->code, 403, 'members cannot read the audit trail');
is($j->{code}, 'forbidden', 'code forbidden');

($res, $j) = DashTest::call($admin, GET => '/endpoints');
ok((grep { $_->{id} eq $ep && $_->{owner_email} eq $email } @{ $j->{data} }),
   'an admin sees every endpoint with its owner');
($res, $j) = DashTest::call($admin, GET => '/connections');
ok((grep { $_->{id} == $conn } @{ $j->{data} }), 'and every connection');
($res, $j) = DashTest::call($admin, POST => "/endpoints/$ep/deactivate");
is($res->code, 200, 'an admin can deactivate it');
ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'endpoint.deactivate'"
                         . ' AND target_id = ? AND actor_email = ?', undef, $ep, $admin_email),
   'audited as the admin');
DashTest::call($admin, POST => "/endpoints/$ep/activate");
($res, $j) = DashTest::call($admin, GET => "/audit?target_kind=endpoint&target_id=$ep");
is($res->code, 200, 'GET /audit as admin');
my %actions = map { $_->{action} => 1 } @{ $j->{data} };
ok($actions{$_}, "audit has $_") for qw(endpoint.create endpoint.deactivate endpoint.activate key.reissue);

# ---- declared in httpd.conf: read-only here ----------------------------------------------
my ($dep) = DashTest::create_endpoint($ua, $email, connection => $conn);
$dbh->do('UPDATE endpoints SET managed_by_config = 1 WHERE public_id = ?', undef, $dep->{id});
($res, $j) = DashTest::call($ua, GET => "/endpoints/$dep->{id}");
ok($j->{endpoint}{read_only} && $j->{endpoint}{managed_by_config}, 'flagged read-only');
for my $try ([POST => "/endpoints/$dep->{id}/deactivate"], [POST => "/endpoints/$dep->{id}/activate"],
             [POST => "/endpoints/$dep->{id}/reissue"], [DELETE => "/endpoints/$dep->{id}"]) {
    ($res, $j) = DashTest::call($ua, @$try);
    is($res->code, 409, "declared endpoint: $try->[0] $try->[1] is 409");
    is($j->{code}, 'managed_by_config', 'code managed_by_config');
}
$dbh->do('UPDATE endpoints SET managed_by_config = 0 WHERE public_id = ?', undef, $dep->{id});

# ---- client scope, disconnected connection -----------------------------------------------
($res, $j) = DashTest::call($ua, POST => '/endpoints', json => {
    connection_id => "$conn", scope_kind => 'client', company_id => 'co_acme',
    company_name => 'Acme Plumbing', client_id => 'cl_acme_1', client_name => 'Jane Doe',
    access_mode => 'read-write', expires_at => time + 86400, ip_allow => ['127.0.0.1', '10.0.0.0/8'] });
is($res->code, 201, 'client-scoped, read-write, expiring, IP-restricted endpoint') or diag($res->decoded_content);
is($j->{endpoint}{name}, 'Jane Doe', 'default name: the client name');
is($j->{endpoint}{ip_allow}, '127.0.0.1,10.0.0.0/8', 'allow-list stored');
my ($api2, $desc) = CATest::api(GET => "/api/$j->{endpoint}{id}", key => $j->{key});
is($api2->code, 200, 'its key works');
is($desc->{scope}{client_external_id}, 'cl_acme_1', 'client scope');
is($desc->{access_mode}, 'read-write', 'read-write');
$dbh->do("UPDATE provider_connections SET status = 'disconnected' WHERE id = ?", undef, $conn);
($res, $j) = DashTest::call($ua, POST => '/endpoints', json => {
    connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
    company_name => 'Acme', access_mode => 'read-only' });
is($res->code, 409, 'a disconnected connection: 409');
is($j->{code}, 'connection_disconnected', 'code connection_disconnected');
$dbh->do("UPDATE provider_connections SET status = 'active' WHERE id = ?", undef, $conn);

# ---- delete ------------------------------------------------------------------------------
($res, $j) = DashTest::call($ua, DELETE => "/endpoints/$ep");
is($res->code, 200, 'DELETE /endpoints/{ep}');
is($j->{deleted}, $ep, 'deleted');
is(CATest::api(GET => "/api/$ep", key => $key4)->code, 401, 'its key no longer works');
is(DashTest::call($ua, GET => "/endpoints/$ep")->code, 404, 'gone from the dashboard');
is(DashTest::call($ua, DELETE => "/endpoints/$ep")->code, 404, 'deleting twice: 404');

# ---- routing -----------------------------------------------------------------------------
($res, $j) = DashTest::call($ua, PUT => '/endpoints');
is($res->code, 405, 'PUT /endpoints: 405');
like($res->header('Allow'), qr/GET, HEAD, POST/, 'Allow lists GET, HEAD, POST');
is(DashTest::call($ua, GET => '/nothing-here')->code, 404, 'unknown URL: 404');
is(DashTest::call($ua, GET => '/endpoints/')->code, 404, 'trailing slash: 404');
is(DashTest::call($ua, GET => '/endpoints?x=1')->code, 400, 'unknown query parameter: 400');
is(DashTest::call($ua, GET => '/endpoints/ep_x/../../me')->code, 404, 'dot segments: 404');

done_testing();

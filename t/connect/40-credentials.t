# mod_clientapi_connect.c: a client-credentials provider with the OAuth client entered at
# connect time (t/connect/providers/sandbox_cc.json): a token is minted to check the
# credentials before anything is stored; refresh mints again; disconnect revokes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my ($ua, $email, $uid) = ConnectTest::signed_in();
my $path = '/connections/sandbox_cc/credentials';
my ($res, $j) = ConnectTest::call($ua, POST => $path, json => {});
plan skip_all => 'provider sandbox_cc is not configured (t/connect/providers)'
    if $res->code == 404;

is($res->code, 400, 'no credentials: 400');
($res, $j) = ConnectTest::call($ua, POST => $path,
                               json => { client_id => 'sandbox-client', client_secret => 'nope' });
is($res->code, 422, 'a wrong client secret: 422') or diag($res->decoded_content);
is($j->{code}, 'credentials_invalid', 'credentials_invalid');
unlike($res->decoded_content, qr/nope/, 'the secret is not echoed');
is(scalar @{ ConnectTest::connections_of($uid) }, 0, 'nothing stored');
($res, $j) = ConnectTest::call($ua, POST => $path, json => {
    client_id => 'sandbox-client', client_secret => 'sandbox-secret', tenant => 't1' });
is($res->code, 400, 'a tenant for a provider without tenants: 400');

my $before = CATest::sandbox_stats();
($res, $j) = ConnectTest::call($ua, POST => $path,
    json => { client_id => 'sandbox-client', client_secret => 'sandbox-secret' });
is($res->code, 201, 'valid credentials: 201') or diag($res->decoded_content);
my $conn = $j->{connection}{id};
is($j->{connection}{auth_mode}, 'client_credentials', 'auth mode');
is($j->{connection}{account_id}, 'acc_demo', 'account from the identity call');
ok(CATest::sandbox_stats()->{token_issued} > $before->{token_issued}, 'a token was minted');
my $row = ConnectTest::connection_row($conn);
is($row->{client_id}, 'sandbox-client', 'client id stored (not secret)');
like($row->{client_secret_enc}, qr/^v1\./, 'client secret sealed');
like($row->{access_token_enc}, qr/^v1\./, 'access token sealed');
ok(!defined $row->{refresh_token_enc}, 'no refresh token');

($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies");
is($res->code, 200, 'companies: 200') or diag($res->decoded_content);
is_deeply([ map { $_->{id} } @{ $j->{data} } ], [ 'co_acme', 'co_globex' ], 'the account\'s');

$before = CATest::sandbox_stats();
($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/refresh");
is($res->code, 200, 'refresh: 200') or diag($res->decoded_content);
is(CATest::sandbox_stats()->{token_issued} - $before->{token_issued}, 1, 'a new token minted');
isnt(ConnectTest::connection_row($conn)->{access_token_enc}, $row->{access_token_enc},
     'and stored');

($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn");
is($res->code, 200, 'disconnect: 200');
is($j->{revoked}{access_token}, 'revoked', 'access token revoked');
$row = ConnectTest::connection_row($conn);
ok(!defined $row->{client_secret_enc} && !defined $row->{access_token_enc},
   'secret and token deleted');

ConnectTest::no_secrets_anywhere('credentials', 'nope');
done_testing();

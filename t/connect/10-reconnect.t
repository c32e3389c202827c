# mod_clientapi_connect.c: renewing a connection now, and reconnecting one the provider no
# longer accepts: the same connection comes back, its endpoints answer again with their keys.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use HTTP::Request::Common ();
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my $dbh = CATest::dbh();
my @secrets;

my ($ua, $email, $uid) = ConnectTest::signed_in();
my ($r, $code, $state, $authz) = ConnectTest::oauth_connect($ua);
push @secrets, $code, $state;
is($r->{result}, 'connected', 'connected') or diag(explain $r);
my $conn = $r->{connection};
my ($ep, $key) = ConnectTest::create_endpoint($ua, $conn);
is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'the endpoint works');

# ---- renew now ----------------------------------------------------------------------------
{
    my $before = CATest::sandbox_stats();
    my $old = ConnectTest::connection_row($conn);
    my ($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/refresh");
    is($res->code, 200, 'refresh: 200') or diag($res->decoded_content);
    is($j->{connection}{id}, $conn, 'the connection is answered');
    is($j->{connection}{status}, 'active', 'active');
    ok(!grep({ /_enc$/ } keys %{ $j->{connection} }), 'no sealed value in the answer');
    my $after = CATest::sandbox_stats();
    is($after->{refresh_ok} - $before->{refresh_ok}, 1, 'one refresh at the provider');
    is($after->{refresh_reuse}, 0, 'no refresh token presented twice');
    my $new = ConnectTest::connection_row($conn);
    isnt($new->{access_token_enc}, $old->{access_token_enc}, 'a new access token is stored');
    isnt($new->{refresh_token_enc}, $old->{refresh_token_enc}, 'the rotated refresh token too');
    ok($new->{last_refresh_at}, 'last_refresh_at set');
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'the endpoint still works');
    ($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/refresh", csrf => undef);
    is($res->code, 403, 'refresh without the CSRF token: 403');
    my ($other) = ConnectTest::signed_in();
    ($res, $j) = ConnectTest::call($other, POST => "/connections/$conn/refresh");
    is($res->code, 404, 'another member cannot refresh it: 404');
    ($res, $j) = ConnectTest::call($ua, POST => '/connections/999999999/refresh');
    is($res->code, 404, 'unknown connection: 404');
}

# ---- the provider ends the grant: reauthorization_required -----------------------------------
{
    # presenting the code again makes the sandbox revoke every token issued from it
    my $res = CATest::ua()->request(HTTP::Request::Common::POST(
        CATest::sandbox_url() . '/oauth/token',
        Authorization => ConnectTest::sandbox_basic('sandbox-client', 'sandbox-secret'),
        Content => { grant_type => 'authorization_code', code => $code,
                     redirect_uri => scalar $authz->query_param('redirect_uri') }));
    is($res->code, 400, 'the code cannot be used twice');
    my ($ares, $adoc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($ares->code, 503, 'the endpoint answers 503');
    is($adoc->{code}, 'reauthorization_required', 'reauthorization_required');
    is(ConnectTest::connection_row($conn)->{status}, 'reauthorization_required',
       'the connection is marked');
    my ($rres, $rj) = ConnectTest::call($ua, POST => "/connections/$conn/refresh");
    is($rres->code, 409, 'refresh cannot help: 409');
    is($rj->{code}, 'reauthorization_required', 'reauthorization_required');
}

# ---- reconnect -------------------------------------------------------------------------
{
    my $old = ConnectTest::connection_row($conn);
    my ($r2, $code2, $state2) = ConnectTest::oauth_connect($ua);
    push @secrets, $code2, $state2;
    is($r2->{result}, 'connected', 'authorized again');
    is($r2->{reason}, 'reconnected', 'reason reconnected');
    is($r2->{connection}, $conn, 'the same connection');
    is(scalar @{ ConnectTest::connections_of($uid) }, 1, 'no second connection');
    my $new = ConnectTest::connection_row($conn);
    is($new->{status}, 'active', 'active again');
    isnt($new->{access_token_enc}, $old->{access_token_enc}, 'new tokens stored');
    like($new->{refresh_token_enc}, qr/^v1\./, 'sealed');
    my ($ares, $adoc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($ares->code, 200, 'the endpoint answers again, with its old key')
        or diag($ares->decoded_content);
    my ($n) = $dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action ="
                                    . " 'connection.reconnect' AND target_id = ?", undef, "$conn");
    is($n, 1, 'audit event connection.reconnect');
}

ConnectTest::no_secrets_anywhere('reconnect', @secrets);
done_testing();

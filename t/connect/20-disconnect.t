# mod_clientapi_connect.c: disconnecting revokes the tokens at the provider, deletes every
# stored credential (even when the provider fails) and leaves the endpoints inactive.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my $dbh = CATest::dbh();
my @secrets;

my ($ua, $email, $uid) = ConnectTest::signed_in();

sub connect_with_endpoint {
    my ($r, $code, $state) = ConnectTest::oauth_connect($ua);
    push @secrets, $code, $state;
    die "not connected" unless ($r->{result} // '') eq 'connected';
    my ($ep, $key) = ConnectTest::create_endpoint($ua, $r->{connection});
    return ($r->{connection}, $ep, $key);
}

sub creds_gone {
    my ($row) = @_;
    return !grep { defined $row->{$_} }
           qw(access_token_enc refresh_token_enc api_key_enc client_secret_enc);
}

{
    my ($conn, $ep, $key) = connect_with_endpoint();
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'the endpoint works');
    my $before = CATest::sandbox_stats();
    my ($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn", csrf => undef);
    is($res->code, 403, 'DELETE without the CSRF token: 403');
    my ($other) = ConnectTest::signed_in();
    ($res, $j) = ConnectTest::call($other, DELETE => "/connections/$conn");
    is($res->code, 404, 'another member cannot disconnect it: 404');
    ok(!creds_gone(ConnectTest::connection_row($conn)), '... nothing deleted');

    ($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn");
    is($res->code, 200, 'disconnect: 200') or diag($res->decoded_content);
    is($j->{connection}{status}, 'disconnected', 'status disconnected');
    is($j->{revoked}{refresh_token}, 'revoked', 'refresh token revoked');
    is($j->{revoked}{access_token}, 'revoked', 'access token revoked');
    is($j->{endpoints_deactivated}, 1, 'one endpoint deactivated');
    my $after = CATest::sandbox_stats();
    ok($after->{revoked} > $before->{revoked}, 'the sandbox revoked the grant');
    ok($after->{families_revoked} > $before->{families_revoked}, '... its whole token family');
    my $row = ConnectTest::connection_row($conn);
    is($row->{status}, 'disconnected', 'stored status disconnected');
    ok(creds_gone($row), 'every stored credential deleted');
    my ($st) = $dbh->selectrow_array('SELECT status FROM endpoints WHERE public_id = ?', undef,
                                     $ep);
    is($st, 'inactive', 'the endpoint is inactive');
    my ($ares, $adoc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($ares->code, 403, 'the endpoint answers 403');
    is($adoc->{code}, 'endpoint_inactive', 'endpoint_inactive');
    my ($n) = $dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action ="
                                    . " 'connection.disconnect' AND target_id = ?", undef,
                                    "$conn");
    is($n, 1, 'audit event connection.disconnect');
    ($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/refresh");
    is($res->code, 409, 'a disconnected connection cannot be refreshed');
    ($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn");
    is($res->code, 200, 'disconnecting again is harmless');
    is($j->{revoked}{refresh_token}, 'none', '... nothing left to revoke');

    # connecting the same account again brings the connection back, not its endpoints
    my ($r2, $code2, $state2) = ConnectTest::oauth_connect($ua);
    push @secrets, $code2, $state2;
    is($r2->{connection}, $conn, 'connecting the account again reuses the connection');
    is(ConnectTest::connection_row($conn)->{status}, 'active', 'active');
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 403,
       'its endpoints stay inactive until reactivated');
}

# ---- the provider fails to revoke: the local delete happens anyway --------------------------
{
    my ($conn, $ep, $key) = connect_with_endpoint();
    CATest::sandbox(POST => '/_sandbox/faults', { status => 503, path => '^/oauth/revoke$' });
    my ($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn");
    CATest::sandbox(DELETE => '/_sandbox/faults');
    is($res->code, 200, 'disconnect: 200 although the provider failed');
    is($j->{revoked}{refresh_token}, 'failed', 'the revocation failure is reported');
    ok(creds_gone(ConnectTest::connection_row($conn)), 'the credentials are deleted anyway');
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 403, 'endpoint inactive');
    like(ConnectTest::read_log('error_log'), qr/CA00809: connect: revoking the refresh_token/,
         'the failure is logged');
}

ConnectTest::no_secrets_anywhere('disconnect', @secrets);
done_testing();

use Mojo::Base -strict, -signatures;

# Refresh rotation and reuse detection, revocation (RFC 7009), client
# credentials, bearer token checks on the API.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Test::More;

my $t    = sandbox_t();
my %cred = (client_id => 'sandbox-client', client_secret => 'sandbox-secret');

sub refresh ($rt, %p) {
    return $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token',
        refresh_token => $rt, %cred, %p});
}

sub me_status ($at) {
    return $t->ua->get('/api/v1/me' => {Authorization => "Bearer $at"})->res->code;
}

subtest 'rotation' => sub {
    my $tok = issue_token($t);
    refresh($tok->{refresh_token})->status_is(200)->header_is('Cache-Control' => 'no-store')
        ->json_like('/access_token', qr/\Asbx_at_/)->json_like('/refresh_token', qr/\Asbx_rt_/)
        ->json_is('/scope', 'read write');
    my $new = $t->tx->res->json;
    isnt $new->{refresh_token}, $tok->{refresh_token}, 'a new refresh token every time';
    isnt $new->{access_token},  $tok->{access_token},  'a new access token';
    is me_status($new->{access_token}), 200, 'new access token works';
    is me_status($tok->{access_token}), 200, 'old access token still valid until it expires';

    refresh($new->{refresh_token})->status_is(200, 'the newest refresh token works');
    my $newest = $t->tx->res->json;
    $t->get_ok('/_sandbox/stats')->json_is('/refresh_ok', 2)->json_is('/refresh_reuse', 0);

    # Presenting a rotated token is reuse: refused, whole family revoked
    refresh($tok->{refresh_token})->status_is(400)->json_is('/error', 'invalid_grant')
        ->json_like('/error_description', qr/reuse/);
    $t->get_ok('/_sandbox/stats')->json_is('/refresh_reuse', 1)->json_is('/refresh_ok', 2);
    is me_status($_), 401, 'family access token revoked'
        for map { $_->{access_token} } $tok, $new, $newest;
    refresh($newest->{refresh_token})->status_is(400)->json_is('/error', 'invalid_grant');
    $t->get_ok('/_sandbox/stats')->json_is('/refresh_reuse', 1, 'revoked is not reuse');

    # Another family is not affected
    my $other = issue_token($t);
    refresh($other->{refresh_token})->status_is(200);
};

subtest 'refresh errors and scope narrowing' => sub {
    my $tok = issue_token($t, scope => 'read write');
    refresh('sbx_rt_nope')->status_is(400)->json_is('/error', 'invalid_grant');
    refresh($tok->{refresh_token}, client_id => 'sandbox-nopkce', client_secret => 'nopkce-secret')
        ->status_is(400)->json_is('/error', 'invalid_grant');
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token', %cred})
        ->status_is(400)->json_is('/error', 'invalid_request');
    refresh($tok->{refresh_token}, scope => 'admin')->status_is(400)
        ->json_is('/error', 'invalid_scope');
    refresh($tok->{refresh_token}, scope => 'read')->status_is(200)->json_is('/scope', 'read');
    my $narrow = $t->tx->res->json;
    refresh($narrow->{refresh_token}, scope => 'write')->status_is(400)
        ->json_is('/error', 'invalid_scope');
    refresh($narrow->{refresh_token})->status_is(200)->json_is('/scope', 'read');
};

subtest 'revocation' => sub {
    $t->post_ok('/_sandbox/reset')->status_is(200);
    my $tok = issue_token($t);
    $t->post_ok('/oauth/revoke' => form => {token => $tok->{access_token}, %cred,
        token_type_hint => 'access_token'})->status_is(200);
    is me_status($tok->{access_token}), 401, 'revoked access token refused';
    refresh($tok->{refresh_token})->status_is(200, 'refresh token untouched');
    my $new = $t->tx->res->json;

    # Revoking a refresh token takes its family's access tokens with it
    $t->post_ok('/oauth/revoke' => form => {token => $new->{refresh_token}, %cred})
        ->status_is(200);
    is me_status($new->{access_token}), 401, 'family access token revoked';
    refresh($new->{refresh_token})->status_is(400)->json_is('/error', 'invalid_grant');
    $t->get_ok('/_sandbox/stats')->json_is('/revoked', 2)->json_is('/refresh_reuse', 0);

    # Unknown tokens and other clients' tokens: 200, nothing happens
    my $keep = issue_token($t);
    $t->post_ok('/oauth/revoke' => form => {token => 'sbx_at_unknown', %cred})->status_is(200);
    $t->post_ok('/oauth/revoke' => form => {token => $keep->{access_token},
        client_id => 'sandbox-nopkce', client_secret => 'nopkce-secret'})->status_is(200);
    is me_status($keep->{access_token}), 200, "another client cannot revoke it";

    $t->post_ok('/oauth/revoke' => form => {token => $keep->{access_token}})->status_is(401)
        ->json_is('/error', 'invalid_client');
    $t->post_ok('/oauth/revoke' => form => {%cred})->status_is(400)
        ->json_is('/error', 'invalid_request');
    $t->post_ok('/oauth/revoke' => json => {token => $keep->{access_token}, %cred})
        ->status_is(400);
    is me_status($keep->{access_token}), 200, 'still valid after refused revocations';
};

subtest 'client credentials' => sub {
    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials', %cred})
        ->status_is(200)->json_like('/access_token', qr/\Asbx_at_/)
        ->json_hasnt('/refresh_token')->json_is('/scope', 'read write');
    my $at = $t->tx->res->json('/access_token');
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->status_is(200)
        ->json_is('/data/id', 'svc_sandbox-client')->json_is('/data/account_id', 'acc_demo');
    $t->get_ok('/api/v1/companies' => {Authorization => "Bearer $at"})->status_is(200)
        ->json_is('/data/0/id', 'co_acme');

    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials', scope => 'read',
        %cred})->status_is(200)->json_is('/scope', 'read');
    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials',
        client_id => 'sandbox-nopkce', client_secret => 'nopkce-secret'})
        ->status_is(400)->json_is('/error', 'unauthorized_client');
    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials', scope => 'root',
        %cred})->status_is(400)->json_is('/error', 'invalid_scope');
};

subtest 'bearer checks on the API' => sub {
    $t->get_ok('/api/v1/me')->status_is(401)
        ->header_is('WWW-Authenticate' => 'Bearer realm="clientapi-sandbox"');
    $t->get_ok('/api/v1/me' => {Authorization => 'Bearer sbx_at_forged'})->status_is(401)
        ->header_like('WWW-Authenticate' => qr/error="invalid_token"/)
        ->json_is('/error', 'invalid_token');
    $t->get_ok('/api/v1/me' => {Authorization => 'Basic Zm9vOmJhcg=='})->status_is(401);

    my $tok = issue_token($t);
    $t->get_ok("/api/v1/me?access_token=$tok->{access_token}")->status_is(400)
        ->json_is('/error', 'invalid_request');

    # Expiry: issued already expired, and access_ttl 0 for the token endpoint
    my $dead = issue_token($t, expires_in => 0);
    is $dead->{expires_in}, 0, 'expires_in 0';
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $dead->{access_token}"})
        ->status_is(401)->json_like('/error_description', qr/expired/);
    refresh($dead->{refresh_token})->status_is(200, 'refresh still works');

    $t->post_ok('/_sandbox/config' => json => {access_ttl => 0})->status_is(200);
    refresh(issue_token($t)->{refresh_token})->status_is(200)->json_is('/expires_in', 0);
    is me_status($t->tx->res->json('/access_token')), 401, 'access_ttl 0 tokens are expired';
    $t->post_ok('/_sandbox/config' => json => {access_ttl => 3600})->status_is(200);

    # Scopes: read for GET, write for changes
    my $ro = issue_token($t, scope => 'read');
    my $h  = {Authorization => "Bearer $ro->{access_token}"};
    $t->get_ok('/api/v1/clients' => $h)->status_is(200);
    $t->post_ok('/api/v1/clients' => $h => json => {company_id => 'co_acme', name => 'X'})
        ->status_is(403)->json_is('/error', 'insufficient_scope')
        ->header_like('WWW-Authenticate' => qr/error="insufficient_scope"/);
    my $wo = issue_token($t, scope => 'write');
    $t->get_ok('/api/v1/clients' => {Authorization => "Bearer $wo->{access_token}"})
        ->status_is(403);
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $wo->{access_token}"})
        ->status_is(200, '/me needs no particular scope');
    $t->get_ok('/_sandbox/stats')->json_has('/token_issued')->json_has('/invalid_token');
    ok $t->tx->res->json('/invalid_token') >= 4, 'invalid tokens counted';
};

done_testing;

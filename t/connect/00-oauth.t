# mod_clientapi_connect.c: connecting a provider through OAuth 2 (authorization code + PKCE)
# with the sandbox: start, consent, callback, stored connection, endpoint through the caller
# API; single-use states bound to their session; denied consent; no open redirect.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use URI;
use Digest::SHA ();
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my $dbh = CATest::dbh();
my $public = CATest::base_url();
my @secrets;

# ---- not signed in, no CSRF token ----------------------------------------------------
{
    my $ua = ConnectTest::browser();
    my ($res, $j) = ConnectTest::call($ua, POST => '/connections/sandbox/start');
    is($res->code, 401, 'start without a session: 401');
    my ($ua2) = ConnectTest::signed_in();
    ($res, $j) = ConnectTest::call($ua2, POST => '/connections/sandbox/start', csrf => undef);
    is($res->code, 403, 'start without the CSRF token: 403');
    is($j->{code}, 'csrf_failed', 'csrf_failed');
    ($res, $j) = ConnectTest::call($ua2, GET => '/connections/sandbox/start');
    is($res->code, 405, 'GET start: 405');
    is($res->header('Allow'), 'POST', 'Allow: POST');
    ($res, $j) = ConnectTest::call($ua2, POST => '/connections/nosuch/start');
    is($res->code, 404, 'unknown provider: 404');
    ($res, $j) = ConnectTest::call($ua2, POST => '/connections/clientcommander/start');
    is($res->code, 409, 'an API key provider has no authorization page: 409');
    is($j->{code}, 'wrong_auth_mode', 'wrong_auth_mode');
    ($res, $j) = ConnectTest::call($ua2, POST => '/connections/sandbox/start',
                                   json => { redirect_uri => 'https://evil.example/' });
    is($res->code, 400, 'start takes no redirect from the request');
}

# ---- the full flow ---------------------------------------------------------------------
my ($ua, $email, $uid) = ConnectTest::signed_in();
my $stats0 = CATest::sandbox_stats();
my ($res, $authz) = ConnectTest::start($ua, 'sandbox');
is($res->code, 200, 'start: 200') or diag($res->decoded_content);
like($res->header('Content-Type'), qr{^application/json}, 'JSON');
is($res->header('Cache-Control'), 'no-store', 'not cached');
my $sb = URI->new(CATest::sandbox_url());
is($authz->host_port, $sb->host_port, 'the authorize URL is the sandbox\'s');
is($authz->path, '/oauth/authorize', '... its authorization endpoint');
is($authz->query_param('response_type'), 'code', 'response_type=code');
is($authz->query_param('client_id'), 'sandbox-client', 'the admin\'s client id');
is($authz->query_param('redirect_uri'), "$public/oauth/callback",
   'redirect_uri = ClientAPIPublicURL + /oauth/callback');
is($authz->query_param('code_challenge_method'), 'S256', 'PKCE S256');
like($authz->query_param('code_challenge'), qr/^[A-Za-z0-9_-]{43}$/, 'a 43-character challenge');
my $state = $authz->query_param('state');
like($state, qr/^[A-Za-z0-9_-]{43}$/, 'state: 32 random bytes, base64url');
push @secrets, $state;

my $row = $dbh->selectrow_hashref('SELECT * FROM oauth_states WHERE user_id = ?', undef, $uid);
ok($row, 'the state is stored');
is($row->{state_hash}, Digest::SHA::sha256_hex($state), '... as its SHA-256 only');
is($row->{provider}, 'sandbox', '... for the provider');
ok($row->{session_id_hash} eq Digest::SHA::sha256_hex(ConnectTest::cookie($ua, 'ca_session')),
   '... bound to the session');
like($row->{code_verifier_enc}, qr/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
     '... with the PKCE verifier sealed');
ok($row->{expires_at} - $row->{created_at} == 600, '... valid for 10 minutes');
ok(!defined $row->{used_at}, '... not used yet');

# the browser at the sandbox: the consent page, then the decision
my $page = CATest::ua()->get("$authz");
is($page->code, 200, 'the sandbox shows its consent page');
like($page->decoded_content, qr/<form/i, '... with a form');
my $back = ConnectTest::consent($authz);
is($back->query_param('state'), $state, 'the sandbox redirects back with the state');
my $code = $back->query_param('code');
ok($code, '... and a code');
push @secrets, $code;
my ($cb, $r) = ConnectTest::callback($ua, $back);
is($cb->code, 303, 'callback: 303');
like($cb->header('Location'), qr{^\Q$public\E/dashboard\.html#connections\?result=connected&},
     'to the fixed dashboard page');
is($r->{result}, 'connected', 'result=connected');
is($r->{reason}, 'connected', 'reason=connected (a new connection)');
my $conn = $r->{connection};
ok($conn, 'the connection id is named');
is($cb->header('Referrer-Policy'), 'no-referrer', 'the callback URL is not sent on as Referer');
my $stats1 = CATest::sandbox_stats();
is($stats1->{token_issued} - $stats0->{token_issued}, 1, 'the code was exchanged once');
is($stats1->{code_reuse}, $stats0->{code_reuse}, 'no code reuse');

my $c = ConnectTest::connection_row($conn);
is($c->{user_id}, $uid, 'stored for the user');
is($c->{provider}, 'sandbox', 'provider');
is($c->{account_id}, 'acc_demo', 'account id from the identity call');
is($c->{account_label}, 'Demo User', 'label from the identity call');
is($c->{auth_mode}, 'oauth2', 'auth mode');
is($c->{status}, 'active', 'active');
like($c->{access_token_enc}, qr/^v1\./, 'access token sealed');
like($c->{refresh_token_enc}, qr/^v1\./, 'refresh token sealed');
ok($c->{expires_at} > time + 3000, 'expiry from expires_in');
is($c->{scopes}, 'read write', 'granted scopes');
ok(defined $dbh->selectrow_array('SELECT used_at FROM oauth_states WHERE state_hash = ?', undef,
                                 Digest::SHA::sha256_hex($state)), 'the state is used up');
my ($audit) = $dbh->selectrow_array(
    "SELECT count(*) FROM audit_events WHERE action = 'connection.connect' AND target_id = ?",
    undef, "$conn");
is($audit, 1, 'audit event connection.connect');

# an endpoint on it answers through the caller API
my ($ep, $key) = ConnectTest::create_endpoint($ua, $conn);
ok($ep && $key, 'endpoint created in the dashboard');
my ($ares, $adoc) = CATest::api(GET => "/api/$ep/clients", key => $key);
is($ares->code, 200, 'the endpoint works through the caller API') or diag($ares->decoded_content);
is(scalar @{ $adoc->{data} || [] }, 3, '... with co_acme\'s three clients');

# ---- the state is single use ------------------------------------------------------------
($cb, $r) = ConnectTest::callback($ua, $back);
is($cb->code, 303, 'replayed callback: 303');
is($r->{result}, 'error', 'replay refused');
is($r->{reason}, 'invalid_state', 'reason invalid_state');
is(CATest::sandbox_stats()->{token_issued}, $stats1->{token_issued}, 'nothing exchanged');
is(scalar @{ ConnectTest::connections_of($uid) }, 1, 'still one connection');

# ---- a state from another session -------------------------------------------------------
{
    my ($res2, $authz2) = ConnectTest::start($ua, 'sandbox');
    my $back2 = ConnectTest::consent($authz2);
    push @secrets, scalar $back2->query_param('state'), scalar $back2->query_param('code');
    my ($other) = ConnectTest::signed_in();
    my ($cb2, $r2) = ConnectTest::callback($other, $back2);
    is($r2->{result}, 'error', 'another user\'s browser: refused');
    is($r2->{reason}, 'session_mismatch', 'reason session_mismatch');
    my ($same) = ConnectTest::signed_in(email => $email);
    ($cb2, $r2) = ConnectTest::callback($same, $back2);
    is($r2->{reason}, 'invalid_state', 'the state was burnt by the refused attempt');
    ($cb2, $r2) = ConnectTest::callback($ua, $back2);
    is($r2->{reason}, 'invalid_state', '... also for its own session');

    my ($res3, $authz3) = ConnectTest::start($ua, 'sandbox');
    my $back3 = ConnectTest::consent($authz3);
    push @secrets, scalar $back3->query_param('state'), scalar $back3->query_param('code');
    my ($cb3, $r3) = ConnectTest::callback($same, $back3);
    is($r3->{reason}, 'session_mismatch', 'same user, another session: refused');
    my $nobody = ConnectTest::browser();
    ($res3, $authz3) = ConnectTest::start($ua, 'sandbox');
    $back3 = ConnectTest::consent($authz3);
    push @secrets, scalar $back3->query_param('state'), scalar $back3->query_param('code');
    ($cb3, $r3) = ConnectTest::callback($nobody, $back3);
    is($r3->{reason}, 'not_signed_in', 'no session at all: refused');
    is(CATest::sandbox_stats()->{token_issued}, $stats1->{token_issued},
       'no code of a refused callback was exchanged');
    is(scalar @{ ConnectTest::connections_of($uid) }, 1, 'still one connection');
}

# ---- expired and unknown states ---------------------------------------------------------
{
    my ($res4, $authz4) = ConnectTest::start($ua, 'sandbox');
    my $back4 = ConnectTest::consent($authz4);
    push @secrets, scalar $back4->query_param('state'), scalar $back4->query_param('code');
    $dbh->do('UPDATE oauth_states SET expires_at = ? WHERE state_hash = ?', undef, time - 1,
             Digest::SHA::sha256_hex(scalar $back4->query_param('state')));
    my ($cb4, $r4) = ConnectTest::callback($ua, $back4);
    is($r4->{reason}, 'invalid_state', 'an expired state is refused');
    my $forged = URI->new("$public/oauth/callback");
    $forged->query_form(code => 'x', state => 'not-a-state');
    ($cb4, $r4) = ConnectTest::callback($ua, $forged);
    is($r4->{reason}, 'invalid_state', 'an unknown state is refused');
}

# ---- denied consent -------------------------------------------------------------------
{
    my ($res5, $authz5) = ConnectTest::start($ua, 'sandbox');
    push @secrets, scalar $authz5->query_param('state');
    my $back5 = ConnectTest::consent($authz5, decision => 'deny');
    is($back5->query_param('error'), 'access_denied', 'the sandbox reports access_denied');
    my ($cb5, $r5) = ConnectTest::callback($ua, $back5);
    is($cb5->code, 303, 'denied: 303');
    is($r5->{result}, 'denied', 'result=denied');
    is($r5->{reason}, 'access_denied', 'reason access_denied');
    ok(defined $dbh->selectrow_array('SELECT used_at FROM oauth_states WHERE state_hash = ?',
                                     undef, Digest::SHA::sha256_hex(
                                         scalar $authz5->query_param('state'))),
       'the state of a denied authorization is used up');
    my ($cb6, $r6) = ConnectTest::callback($ua, URI->new("$public/oauth/callback"));
    is($r6->{result}, 'denied', 'a callback without any parameter (Jobber\'s denial): denied');
    is($r6->{reason}, 'consent_not_given', 'reason consent_not_given');
    is(scalar @{ ConnectTest::connections_of($uid) }, 1, 'nothing stored');
}

# ---- PKCE: the sandbox checks the verifier against the challenge ---------------------------
{
    my ($res7, $authz7) = ConnectTest::start($ua, 'sandbox');
    my $before = CATest::sandbox_stats();
    # the consent carries another challenge than the module's: the module's verifier no longer
    # matches it, and the sandbox refuses the exchange
    my $back7 = ConnectTest::consent($authz7, override => {
        code_challenge => 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' });
    push @secrets, scalar $back7->query_param('state'), scalar $back7->query_param('code');
    my ($cb7, $r7) = ConnectTest::callback($ua, $back7);
    is($r7->{result}, 'error', 'a verifier that does not match the challenge: refused');
    is($r7->{reason}, 'code_refused', 'reason code_refused');
    is(CATest::sandbox_stats()->{token_issued}, $before->{token_issued},
       'the sandbox issued no token: it checked the code_verifier the module sent');
}

# ---- no open redirect, no secrets in the request line ---------------------------------------
{
    my $evil = URI->new("$public/oauth/callback");
    $evil->query_form(state => 'x' x 10, code => 'y', redirect_uri => 'https://evil.example/',
                      next => '//evil.example/');
    my ($cb8) = ConnectTest::callback($ua, $evil);
    like($cb8->header('Location'), qr{^\Q$public\E/dashboard\.html#connections\?},
         'the callback only ever redirects to the dashboard page');
    my ($cb9) = ConnectTest::callback($ua, URI->new("$public/oauth/callback?%zz"));
    like($cb9->header('Location'), qr{result=error&reason=bad_request}, 'malformed query');
    my $post = $ua->post("$public/oauth/callback", { code => 'x', state => 'y' });
    is($post->code, 405, 'POST to the callback: 405');
}

ConnectTest::no_secrets_anywhere('oauth', @secrets);
done_testing();

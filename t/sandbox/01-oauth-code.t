use Mojo::Base -strict, -signatures;

# Authorization code flow with PKCE (RFC 6749 4.1, RFC 7636).

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t pkce_pair authorize);
use Mojo::URL;
use Mojo::Util qw(b64_encode);
use Test::More;

my $t  = sandbox_t();
my $cb = 'http://127.0.0.1:9/callback';
my %cred = (client_id => 'sandbox-client', client_secret => 'sandbox-secret');

sub authz_url (%p) {
    my %q = (response_type => 'code', client_id => 'sandbox-client', redirect_uri => $cb,
        state => 'xyz', %p);
    return Mojo::URL->new('/oauth/authorize')->query([map { $_ => $q{$_} } sort keys %q]);
}

sub redirect_of ($t) { return Mojo::URL->new($t->tx->res->headers->location // '') }

sub exchange ($code, %p) {
    return $t->post_ok('/oauth/token' => form => {grant_type => 'authorization_code',
        code => $code, redirect_uri => $cb, %cred, %p});
}

my ($verifier, $challenge) = pkce_pair();

subtest 'consent page' => sub {
    $t->get_ok(authz_url(code_challenge => $challenge, code_challenge_method => 'S256',
        scope => 'read'))
        ->status_is(200)->content_type_like(qr{text/html})
        ->header_like('Content-Security-Policy' => qr/default-src 'none'/)
        ->element_exists('form[method="post"][action="/oauth/authorize"]')
        ->element_exists(qq{input[type="hidden"][name="code_challenge"][value="$challenge"]})
        ->element_exists('input[type="hidden"][name="state"][value="xyz"]')
        ->element_exists('input[type="hidden"][name="scope"][value="read"]')
        ->element_exists('select[name="user"] option[value="demo"]')
        ->element_exists('select[name="user"] option[value="other"]')
        ->element_exists('button[name="decision"][value="approve"]')
        ->element_exists('button[name="decision"][value="deny"]')
        ->element_exists_not('script')
        ->element_exists_not('link')
        ->element_exists_not('img');

    # HTML-escaping of reflected parameters
    $t->get_ok(authz_url(code_challenge => $challenge, code_challenge_method => 'S256',
        state => '"><b>x</b>'))->status_is(200)->element_exists_not('b');
};

subtest 'untrusted client or redirect_uri: error page, never a redirect' => sub {
    for my $case (
        [client_id    => 'nobody'],
        [redirect_uri => 'https://evil.example.com/cb'],
        [redirect_uri => 'http://127.0.0.1.evil.example/cb'],
        [redirect_uri => 'http://127.0.0.1:9/cb#frag'],
        [redirect_uri => 'ftp://127.0.0.1/cb'],
        [redirect_uri => 'http://user@127.0.0.1/cb'],
        [redirect_uri => '/relative'],
        )
    {
        $t->get_ok(authz_url(@$case, code_challenge => $challenge,
            code_challenge_method => 'S256'))
            ->status_is(400)->content_type_like(qr{text/html})
            ->header_is(Location => undef, "no redirect for @$case");
    }
    $t->get_ok('/oauth/authorize?response_type=code&client_id=sandbox-client')->status_is(400)
        ->content_like(qr/redirect_uri is missing/);
    $t->get_ok("/oauth/authorize?client_id=sandbox-client&client_id=sandbox-nopkce"
        . "&redirect_uri=$cb")->status_is(400)->header_is(Location => undef);
    for my $ok ('http://localhost:8080/cb', 'http://[::1]:8080/cb', 'https://127.0.0.1/cb?x=1') {
        $t->get_ok(authz_url(redirect_uri => $ok, code_challenge => $challenge,
            code_challenge_method => 'S256'))->status_is(200, "$ok accepted");
    }
};

subtest 'request errors are redirected (RFC 6749 4.1.2.1)' => sub {
    my @cases = (
        [{response_type => 'token'}, 'unsupported_response_type'],
        [{response_type => undef},   'invalid_request'],
        [{},                         'invalid_request', 'code_challenge required'],
        [{code_challenge => $challenge, code_challenge_method => 'plain'}, 'invalid_request'],
        [{code_challenge => $challenge}, 'invalid_request'],
        [{code_challenge => 'short', code_challenge_method => 'S256'}, 'invalid_request'],
        [{code_challenge_method => 'S256'}, 'invalid_request'],
        [{code_challenge => $challenge, code_challenge_method => 'S256', scope => 'admin'},
            'invalid_scope'],
    );
    for my $case (@cases) {
        my ($p, $error, $desc) = @$case;
        my $u = authz_url(%$p);
        $u->query->remove('response_type') if exists $p->{response_type}
            && !defined $p->{response_type};
        $t->get_ok($u)->status_is(302);
        my $loc = redirect_of($t);
        is $loc->clone->query(Mojo::Parameters->new)->to_string, $cb, 'back to the client';
        is $loc->query->param('error'), $error, "error $error";
        is $loc->query->param('state'), 'xyz', 'state kept';
        like $loc->query->param('error_description'), qr/$desc/, $desc if $desc;
    }

    # Repeated parameter
    $t->get_ok(authz_url(code_challenge => $challenge, code_challenge_method => 'S256')
        . '&scope=read&scope=write')->status_is(302);
    is redirect_of($t)->query->param('error'), 'invalid_request', 'repeated scope';

    # The POST re-validates everything as well
    my $u = authorize($t, code_challenge => undef, code_challenge_method => undef);
    is $u->query->param('error'), 'invalid_request', 'POST without challenge';
};

subtest 'deny' => sub {
    my $u = authorize($t, decision => 'deny', state => 's1', code_challenge => $challenge,
        code_challenge_method => 'S256');
    is $u->query->param('error'), 'access_denied', 'access_denied';
    is $u->query->param('state'), 's1', 'state';
    ok !defined $u->query->param('code'), 'no code';
};

subtest 'bad consent form posts' => sub {
    my %f = (response_type => 'code', client_id => 'sandbox-client', redirect_uri => $cb,
        code_challenge => $challenge, code_challenge_method => 'S256');
    $t->post_ok('/oauth/authorize' => form => {%f, user => 'mallory', decision => 'approve'})
        ->status_is(400)->content_like(qr/Unknown sandbox user/);
    $t->post_ok('/oauth/authorize' => form => {%f, user => 'demo', decision => 'maybe'})
        ->status_is(400);
    $t->post_ok('/oauth/authorize' => form => {%f, decision => 'approve'})->status_is(400);
    $t->post_ok('/oauth/authorize' => json => {%f, user => 'demo', decision => 'approve'})
        ->status_is(400);
};

subtest 'code + PKCE: good verifier' => sub {
    my $u = authorize($t, state => 'abc', code_challenge => $challenge,
        code_challenge_method => 'S256', redirect_uri => "$cb?keep=1");
    is $u->query->param('state'), 'abc', 'state echoed';
    is $u->query->param('keep'),  '1',   'existing query of redirect_uri kept';
    my $code = $u->query->param('code');
    like $code, qr/\A[A-Za-z0-9_-]{20,}\z/, 'code issued';

    exchange($code, code_verifier => $verifier, redirect_uri => "$cb?keep=1")->status_is(200)
        ->header_is('Cache-Control' => 'no-store')->header_is(Pragma => 'no-cache')
        ->json_like('/access_token', qr/\Asbx_at_/)->json_like('/refresh_token', qr/\Asbx_rt_/)
        ->json_is('/token_type', 'Bearer')->json_is('/expires_in', 3600)
        ->json_is('/scope', 'read write');
    my $at = $t->tx->res->json('/access_token');
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->status_is(200)
        ->json_is('/data/login', 'demo')->json_is('/data/account_id', 'acc_demo');
};

subtest 'code + PKCE: wrong, missing, malformed verifier' => sub {
    for my $case ([code_verifier => 'x' x 43], [], [code_verifier => 'short']) {
        my $code = authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
            ->query->param('code');
        exchange($code, @$case)->status_is(400)->json_is('/error', 'invalid_grant');
    }
};

subtest 'reused code: refused and its tokens revoked' => sub {
    my $code = authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
        ->query->param('code');
    exchange($code, code_verifier => $verifier)->status_is(200);
    my ($at, $rt) = @{$t->tx->res->json}{qw(access_token refresh_token)};
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->status_is(200);

    exchange($code, code_verifier => $verifier)->status_is(400)->json_is('/error', 'invalid_grant')
        ->json_like('/error_description', qr/already used/);
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->status_is(401)
        ->header_like('WWW-Authenticate' => qr/error="invalid_token"/)
        ->json_is('/error', 'invalid_token');
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token', refresh_token => $rt,
        %cred})->status_is(400)->json_is('/error', 'invalid_grant');
    $t->get_ok('/_sandbox/stats')->json_is('/code_reuse', 1);
};

subtest 'code binding: redirect_uri, client, expiry' => sub {
    my $code = authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
        ->query->param('code');
    exchange($code, code_verifier => $verifier, redirect_uri => 'http://127.0.0.1:9/other')
        ->status_is(400)->json_is('/error', 'invalid_grant');
    exchange($code, code_verifier => $verifier)->status_is(400, 'consumed by the failed try');

    $code = authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
        ->query->param('code');
    exchange($code, code_verifier => $verifier, client_id => 'sandbox-nopkce',
        client_secret => 'nopkce-secret')->status_is(400)->json_is('/error', 'invalid_grant');
    exchange($code, code_verifier => $verifier)->status_is(200, 'still valid for its client');

    $t->post_ok('/_sandbox/config' => json => {code_ttl => 0})->status_is(200);
    $code = authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
        ->query->param('code');
    exchange($code, code_verifier => $verifier)->status_is(400)
        ->json_like('/error_description', qr/expired/);
    $t->post_ok('/_sandbox/config' => json => {code_ttl => 60})->status_is(200);

    exchange('no-such-code', code_verifier => $verifier)->status_is(400)
        ->json_is('/error', 'invalid_grant');
};

subtest 'client without mandatory PKCE' => sub {
    my %np = (client_id => 'sandbox-nopkce', client_secret => 'nopkce-secret');
    my $code = authorize($t, client_id => 'sandbox-nopkce', code_challenge => undef,
        code_challenge_method => undef, user => 'other')->query->param('code');
    ok $code, 'code without a challenge';
    exchange($code, %np)->status_is(200)->json_has('/refresh_token');
    my $at = $t->tx->res->json('/access_token');
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->json_is('/data/login', 'other');

    # A verifier without a challenge is a downgrade attempt
    $code = authorize($t, client_id => 'sandbox-nopkce', code_challenge => undef,
        code_challenge_method => undef)->query->param('code');
    exchange($code, %np, code_verifier => $verifier)->status_is(400)
        ->json_is('/error', 'invalid_grant');

    # When it does send a challenge, the verifier is required
    $code = authorize($t, client_id => 'sandbox-nopkce', code_challenge => $challenge,
        code_challenge_method => 'S256')->query->param('code');
    exchange($code, %np)->status_is(400)->json_is('/error', 'invalid_grant');
};

subtest 'token endpoint: client authentication and request format' => sub {
    my $code = sub {
        authorize($t, code_challenge => $challenge, code_challenge_method => 'S256')
            ->query->param('code');
    };
    my %g = (grant_type => 'authorization_code', redirect_uri => $cb,
        code_verifier => $verifier);

    my $basic = 'Basic ' . b64_encode('sandbox-client:sandbox-secret', '');
    $t->post_ok('/oauth/token' => {Authorization => $basic} => form => {%g, code => $code->()})
        ->status_is(200, 'HTTP Basic');

    my $bad = 'Basic ' . b64_encode('sandbox-client:wrong', '');
    $t->post_ok('/oauth/token' => {Authorization => $bad} => form => {%g, code => $code->()})
        ->status_is(401)->json_is('/error', 'invalid_client')
        ->header_like('WWW-Authenticate' => qr/\ABasic/);
    $t->post_ok('/oauth/token' => form => {%g, code => $code->(), client_id => 'sandbox-client',
        client_secret => 'nope'})->status_is(401)->json_is('/error', 'invalid_client');
    $t->post_ok('/oauth/token' => form => {%g, code => $code->()})->status_is(401)
        ->json_is('/error', 'invalid_client');
    $t->post_ok('/oauth/token' => {Authorization => $basic} => form => {%g, code => $code->(),
        client_secret => 'sandbox-secret'})->status_is(400)->json_is('/error', 'invalid_request');

    $t->post_ok('/oauth/token' => json => {%g, %cred, code => $code->()})->status_is(400)
        ->json_is('/error', 'invalid_request');
    $t->post_ok('/oauth/token' => {'Content-Type' => 'text/plain'} => 'grant_type=x')
        ->status_is(400)->json_is('/error', 'invalid_request');
    $t->post_ok('/oauth/token' => form => {%cred, grant_type => 'password'})->status_is(400)
        ->json_is('/error', 'unsupported_grant_type');
    $t->post_ok('/oauth/token' => form => {%cred})->status_is(400)
        ->json_is('/error', 'invalid_request');
    $t->post_ok('/oauth/token' => form => {%cred, %g, code => [$code->(), 'x']})->status_is(400)
        ->json_is('/error', 'invalid_request')->json_like('/error_description', qr/repeated/);
    $t->post_ok('/oauth/token' => form => {%cred, grant_type => 'authorization_code'})
        ->status_is(400)->json_is('/error', 'invalid_request');
};

done_testing;

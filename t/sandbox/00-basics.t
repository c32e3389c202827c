use Mojo::Base -strict, -signatures;

# Loading, the launcher script, routing basics and discovery.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t);
use File::Spec;
use Mojo::UserAgent;
use Test::More;

my $root   = File::Spec->rel2abs("$FindBin::Bin/../..");
my $script = "$root/sandbox/clientapi-sandbox";
my $t      = sandbox_t();

subtest 'script finds its lib from any directory' => sub {
    local $ENV{MOJO_LOG_LEVEL} = 'fatal';
    my $out = do {
        chdir File::Spec->tmpdir or die $!;
        my $o = qx{"$^X" "$script" get /_sandbox/health 2>&1};
        chdir $root or die $!;
        $o;
    };
    is $?, 0, 'exit status 0';
    like $out, qr/"ok":true/, 'health answered through the script';
};

subtest 'daemon on an ephemeral loopback port' => sub {
    local $ENV{MOJO_LOG_LEVEL} = 'fatal';
    my $pid = open my $fh, '-|', $^X, $script, 'daemon', '-l', 'http://127.0.0.1:0'
        or die "cannot start sandbox: $!";
    my $url = eval {
        local $SIG{ALRM} = sub { die "daemon did not start\n" };
        alarm 20;
        my $found;
        while (my $line = <$fh>) {
            if ($line =~ m{available at (http://127\.0\.0\.1:\d+)}) { $found = $1; last }
        }
        alarm 0;
        $found;
    };
    unless ($url) {
        kill 'KILL', $pid;
        close $fh;
        fail "daemon did not start: $@";
        return;
    }
    ok $url, "listening at $url";
    my $tx = Mojo::UserAgent->new->get("$url/_sandbox/health");
    is $tx->res->code, 200, 'health over real TCP';
    is_deeply $tx->res->json, {ok => Mojo::JSON::true}, 'health body';
    kill 'TERM', $pid;
    close $fh;
};

$t->get_ok('/')->status_is(200)->json_like('/warning', qr/never/)
    ->header_like('X-Request-Id', qr/\Areq_/);
$t->get_ok('/_sandbox/health')->status_is(200)->json_is('/ok', Mojo::JSON::true);

# Unknown paths: JSON 404, never HTML
$t->get_ok('/nope')->status_is(404)->json_is('/error', 'not_found')
    ->content_type_like(qr{application/json});
$t->get_ok('/_sandbox/nope')->status_is(404)->json_is('/error', 'not_found');

# Known path, wrong method: 405 with Allow
$t->delete_ok('/oauth/token')->status_is(405)->header_is(Allow => 'POST')
    ->json_is('/error', 'method_not_allowed');
$t->get_ok('/_sandbox/tokens')->status_is(404);

# The control API answers loopback clients only
{
    my $tx = $t->app->build_tx;
    $tx->remote_address('192.0.2.10');
    $tx->req->method('POST')->url->parse('/_sandbox/reset');
    $t->app->handler($tx);
    is $tx->res->code, 403, 'control API refused to a non-loopback client';
    $tx = $t->app->build_tx;
    $tx->remote_address('::1');
    $tx->req->method('GET')->url->parse('/_sandbox/health');
    $t->app->handler($tx);
    is $tx->res->code, 200, 'IPv6 loopback allowed';
}

# OAuth metadata (RFC 8414), absolute URLs from the request or SANDBOX_PUBLIC_URL
$t->get_ok('/.well-known/oauth-authorization-server')->status_is(200)
    ->json_like('/token_endpoint', qr{\Ahttp://127\.0\.0\.1:\d+/oauth/token\z})
    ->json_is('/code_challenge_methods_supported', ['S256']);
{
    local $ENV{SANDBOX_PUBLIC_URL} = 'https://sandbox.example.test/';
    $t->get_ok('/.well-known/oauth-authorization-server')
        ->json_is('/issuer', 'https://sandbox.example.test')
        ->json_is('/authorization_endpoint', 'https://sandbox.example.test/oauth/authorize');
}

# Bad SANDBOX_* settings stop the server instead of being ignored
{
    local $ENV{SANDBOX_ACCESS_TTL} = 'soon';
    my $err = do { local $@; eval { ClientAPI::Sandbox->new; 1 } ? '' : $@ };
    like $err, qr/SANDBOX_ACCESS_TTL/, 'bad SANDBOX_ACCESS_TTL is fatal';
}
{
    local $ENV{SANDBOX_ACCESS_TTL} = '120';
    my $t2 = sandbox_t();
    $t2->get_ok('/_sandbox/config')->json_is('/access_ttl', 120);
    $t2->post_ok('/_sandbox/tokens' => json => {user => 'demo'})->json_is('/expires_in', 120);
}

done_testing;

use Mojo::Base -strict, -signatures;

# Fault switches: status, malformed, truncated, drop, latency (non-blocking),
# expire_tokens, count and path scoping.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Mojo::JSON qw(decode_json);
use Mojo::Promise;
use Test::More;
use Time::HiRes qw(time);

my $t   = sandbox_t();
my $tok = issue_token($t);
my $h   = {Authorization => "Bearer $tok->{access_token}"};
my %cred = (client_id => 'sandbox-client', client_secret => 'sandbox-secret');

sub fault ($spec) { $t->post_ok('/_sandbox/faults' => json => $spec)->status_is(200) }

sub is_json ($bytes) { return eval { decode_json($bytes); 1 } ? 1 : 0 }

subtest 'status with count' => sub {
    fault({status => 503, count => 2, retry_after => 7})->json_is('/fault/status', 503)
        ->json_is('/fault/count', 2);
    $t->get_ok('/api/v1/companies' => $h)->status_is(503)->header_is('Retry-After' => 7)
        ->json_is('/error', 'sandbox_fault');
    $t->get_ok('/cc/v1/me' => {Authorization => 'Bearer ccmd_live_demo_0123456789abcdef'})
        ->status_is(503, 'applies to the Client Commander API too');
    $t->get_ok('/api/v1/companies' => $h)->status_is(200, 'count used up');
    $t->get_ok('/_sandbox/faults')->json_is('/fault', undef);
    $t->get_ok('/_sandbox/stats')->json_is('/faults_applied', 2);

    fault({status => 500});
    $t->get_ok('/api/v1/me' => $h)->status_is(500) for 1 .. 3;
    $t->get_ok('/_sandbox/health')->status_is(200, 'control API never faulted');
    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials', %cred})
        ->status_is(200, 'OAuth not faulted without a path');
    $t->delete_ok('/_sandbox/faults')->status_is(200)->json_is('/fault', undef);
    $t->get_ok('/api/v1/me' => $h)->status_is(200, 'cleared');

    # Faulted writes never reach the data
    fault({status => 502, count => 1});
    $t->post_ok('/api/v1/clients' => $h => json => {company_id => 'co_acme', name => 'x'})
        ->status_is(502);
    is scalar @{$t->ua->get('/_sandbox/writes')->res->json('/data')}, 0, 'no write';
};

subtest 'path regex' => sub {
    fault({status => 503, path => '^/oauth/token$', count => 1});
    $t->get_ok('/api/v1/me' => $h)->status_is(200, 'API not matched');
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token',
        refresh_token => $tok->{refresh_token}, %cred})->status_is(503);
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token',
        refresh_token => $tok->{refresh_token}, %cred})->status_is(200,
        'the refresh token survived the faulted try');
    $tok = $t->tx->res->json;
    $h   = {Authorization => "Bearer $tok->{access_token}"};

    fault({status => 500, path => 'jobs'});
    $t->get_ok('/api/v1/jobs' => $h)->status_is(500);
    $t->get_ok('/api/v1/clients' => $h)->status_is(200);
    $t->delete_ok('/_sandbox/faults');
};

subtest 'malformed' => sub {
    fault({malformed => Mojo::JSON::true, count => 1});
    my $res = $t->ua->get('/api/v1/companies' => $h)->res;
    is $res->code, 200, 'status 200';
    like $res->headers->content_type, qr{application/json}, 'claims JSON';
    ok !is_json($res->body), 'but is not JSON';
    ok is_json($t->ua->get('/api/v1/companies' => $h)->res->body), 'back to normal';
};

subtest 'truncated' => sub {
    my $full = $t->ua->get('/api/v1/jobs' => $h)->res->body;
    fault({truncated => 1, count => 1});
    my $res = $t->ua->get('/api/v1/jobs' => $h)->res;
    is $res->code, 200, 'status 200';
    ok length($res->body) < length($full), 'shorter body';
    is $res->headers->content_length, length $res->body, 'Content-Length honest';
    is $res->body, substr($full, 0, length $res->body), 'a prefix of the real answer';
    ok !is_json($res->body), 'not parseable';
};

subtest 'drop' => sub {
    fault({drop => 1, count => 1});
    my $tx = $t->ua->get('/api/v1/companies' => $h);
    ok $tx->error, 'transport error';
    like $tx->error->{message}, qr/Premature connection close/, 'connection closed unanswered';
    ok !$tx->res->code, 'no status';
    $t->get_ok('/api/v1/companies' => $h)->status_is(200, 'next request fine');
    my $req = $t->ua->get('/_sandbox/requests')->res->json('/data');
    my ($dropped) = grep { ($_->{fault} // '') eq 'drop' } @$req;
    ok $dropped, 'journaled';
    is $dropped->{status}, undef, 'without a status';
};

subtest 'latency is non-blocking' => sub {
    fault({latency_ms => 700, path => '^/api/v1/companies$'});
    my %took;
    my $t0   = time;
    my $slow = $t->ua->get_p('/api/v1/companies' => $h)->then(sub ($tx) {
        $took{slow} = time - $t0;
        is $tx->res->code, 200, 'slow answer is complete';
    });
    my $fast = $t->ua->get_p('/api/v1/me' => $h)->then(sub ($tx) {
        $took{fast} = time - $t0;
        is $tx->res->code, 200, 'fast answer';
    });
    Mojo::Promise->all($slow, $fast)->wait;
    ok $took{slow} >= 0.65, "delayed ($took{slow} s)";
    ok $took{fast} < $took{slow}, "other requests served meanwhile ($took{fast} s)";

    # Latency combined with a status
    fault({latency_ms => 300, status => 502, count => 1});
    $t0 = time;
    $t->get_ok('/api/v1/me' => $h)->status_is(502);
    ok time - $t0 >= 0.25, 'delayed, then failed';
    $t->delete_ok('/_sandbox/faults');
};

subtest 'expire_tokens' => sub {
    my $cc = {Authorization => 'Bearer ccmd_live_demo_0123456789abcdef'};
    fault({expire_tokens => 1})->json_is('/fault', undef);
    ok $t->tx->res->json('/expired_tokens') >= 1, 'tokens expired';
    $t->get_ok('/api/v1/me' => $h)->status_is(401)
        ->header_like('WWW-Authenticate' => qr/error="invalid_token"/)
        ->json_like('/error_description', qr/expired/);
    $t->get_ok('/cc/v1/me' => $cc)->status_is(200, 'API keys do not expire');
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token',
        refresh_token => $tok->{refresh_token}, %cred})->status_is(200, 'refresh works');
    my $new = $t->tx->res->json('/access_token');
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $new"})->status_is(200);
    $h = {Authorization => "Bearer $new"};
};

subtest 'bad fault specs' => sub {
    for my $bad ({status => 200}, {status => 'x'}, {count => 0, status => 500},
        {path => '(', status => 500}, {drop => 'yes'}, {bogus => 1}, {latency_ms => -1},
        {latency_ms => 600_000})
    {
        $t->post_ok('/_sandbox/faults' => json => $bad)->status_is(400)
            ->json_is('/error', 'invalid_request');
    }
    $t->post_ok('/_sandbox/faults' => {'Content-Type' => 'application/json'} => '{')
        ->status_is(400);
    $t->post_ok('/_sandbox/faults' => form => {status => 500})->status_is(415);
    $t->get_ok('/_sandbox/faults')->json_is('/fault', undef, 'nothing installed');
    fault({});
    $t->get_ok('/api/v1/me' => $h)->status_is(200, 'empty spec is no fault');
};

done_testing;

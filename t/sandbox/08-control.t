use Mojo::Base -strict, -signatures;

# Control API: reset, journals (masking), stats, config, direct tokens.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Test::More;

my $t   = sandbox_t();
my $tok = issue_token($t);
my $h   = {Authorization => "Bearer $tok->{access_token}"};

subtest 'request journal' => sub {
    $t->get_ok('/api/v1/jobs?client_id=cl_acme_2&limit=2' => {%$h, 'User-Agent' => 'probe/1.0'})
        ->status_is(200);
    $t->post_ok('/api/v1/clients' => {%$h, 'Idempotency-Key' => 'k-9'} =>
        json => {company_id => 'co_acme', name => 'J'})->status_is(201);
    $t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials',
        client_id => 'sandbox-client', client_secret => 'sandbox-secret'})->status_is(200);
    $t->get_ok('/_sandbox/stats')->status_is(200);

    $t->get_ok('/_sandbox/requests')->status_is(200);
    my $j = $t->tx->res->json;
    is scalar @{$j->{data}}, 3, 'three requests (control calls are not journaled)';
    my ($get, $post, $oauth) = @{$j->{data}};
    is $j->{last_seq}, $oauth->{seq}, 'last_seq';
    ok $get->{seq} < $post->{seq} && $post->{seq} < $oauth->{seq}, 'increasing seq';
    is $get->{method},     'GET',                    'method';
    is $get->{path},       '/api/v1/jobs',           'path';
    is $get->{query},      'client_id=cl_acme_2&limit=2', 'query';
    is $get->{user_agent}, 'probe/1.0',              'user agent';
    is $get->{status},     200,                      'status';
    is $get->{api},        'native',                 'api';
    is $get->{auth_scheme}, 'Bearer', 'auth scheme';
    is $get->{auth}, "\x{2026}" . substr($tok->{access_token}, -4), 'auth masked to last 4';
    like $get->{time}, qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/, 'time';
    like $get->{request_id}, qr/\Areq_/, 'request id';
    is $post->{content_type},    'application/json', 'content type';
    is $post->{idempotency_key}, 'k-9',              'idempotency key';
    is $post->{status},          201,                'POST status';
    is $oauth->{api}, 'oauth', 'OAuth journaled';
    is $oauth->{auth}, undef, 'no auth header';
    unlike $t->tx->res->body, qr/\Q$tok->{access_token}\E/, 'no full token in the journal';
    unlike $t->tx->res->body, qr/sandbox-secret/, 'no client secret in the journal';

    $t->get_ok("/_sandbox/requests?since=$post->{seq}")->json_is('/data/0/seq', $oauth->{seq})
        ->json_is('/data/1', undef);
    $t->get_ok('/_sandbox/requests?since=-1')->status_is(400);
    $t->get_ok('/_sandbox/writes?since=abc')->status_is(400);
};

subtest 'stats' => sub {
    $t->get_ok('/_sandbox/stats')->status_is(200);
    my $s = $t->tx->res->json;
    for my $k (qw(token_issued refresh_ok refresh_reuse revoked rate_limited api_requests
        oauth_requests code_reuse invalid_token writes idempotent_replays faults_applied))
    {
        ok exists $s->{$k}, "has $k";
    }
    is $s->{api_requests},   2, 'api_requests';
    is $s->{oauth_requests}, 1, 'oauth_requests';
    is $s->{token_issued},   2, 'token_issued';
    is $s->{writes},         1, 'writes';
};

subtest 'reset' => sub {
    my $last = $t->ua->get('/_sandbox/requests')->res->json('/last_seq');
    $t->delete_ok('/api/v1/clients/cl_acme_1' => $h)->status_is(204);
    $t->post_ok('/_sandbox/config' => json => {access_ttl => 5})->status_is(200);
    $t->post_ok('/_sandbox/faults' => json => {status => 500, path => 'nothing-matches'});
    $t->post_ok('/_sandbox/reset')->status_is(200)->json_is('/ok', Mojo::JSON::true);

    $t->get_ok('/api/v1/clients/cl_acme_1' => $h)->status_is(401, 'tokens cleared');
    my $new = {Authorization => 'Bearer ' . issue_token($t)->{access_token}};
    $t->get_ok('/api/v1/clients/cl_acme_1' => $new)->status_is(200, 'seed restored');
    $t->get_ok('/api/v1/clients/cl_new_0001' => $new)->status_is(404, 'created record gone');
    $t->get_ok('/_sandbox/config')->json_is('/access_ttl', 3600);
    $t->get_ok('/_sandbox/faults')->json_is('/fault', undef);
    $t->get_ok('/_sandbox/writes')->json_is('/data', []);
    $t->get_ok('/_sandbox/stats')->json_is('/writes', 0)->json_is('/token_issued', 1)
        ->json_is('/api_requests', 3);
    my $req = $t->ua->get('/_sandbox/requests')->res->json;
    is scalar @{$req->{data}}, 3, 'journal restarted';
    ok $req->{data}[0]{seq} > $last, 'sequence numbers keep growing across resets';
};

subtest 'config' => sub {
    $t->post_ok('/_sandbox/config' => json => {access_ttl => 60, code_ttl => 5, rate_limit => 50,
        rate_window => 10})->status_is(200)->json_is('/access_ttl', 60)
        ->json_is('/rate_window', 10);
    $t->post_ok('/_sandbox/tokens' => json => {user => 'demo'})->json_is('/expires_in', 60);
    for my $bad ({access_ttl => -1}, {rate_limit => 0}, {rate_window => 0}, {ttl => 5},
        {access_ttl => '1e3'}, {access_ttl => undef})
    {
        $t->post_ok('/_sandbox/config' => json => $bad)->status_is(400);
    }
    $t->get_ok('/_sandbox/config')->json_is('/access_ttl', 60);
};

subtest 'direct tokens' => sub {
    $t->post_ok('/_sandbox/tokens' => json => {user => 'other', scope => 'read',
        expires_in => 30})->status_is(201)->json_is('/user', 'other')
        ->json_is('/client_id', 'sandbox-client')->json_is('/scope', 'read')
        ->json_is('/expires_in', 30)->json_like('/refresh_token', qr/\Asbx_rt_/);
    my $at = $t->tx->res->json('/access_token');
    $t->get_ok('/api/v1/me' => {Authorization => "Bearer $at"})->json_is('/data/login', 'other');

    $t->post_ok('/_sandbox/tokens' => json => {user => 'demo', client_id => 'sandbox-nopkce'})
        ->status_is(201)->json_is('/client_id', 'sandbox-nopkce');
    my $rt = $t->tx->res->json('/refresh_token');
    $t->post_ok('/oauth/token' => form => {grant_type => 'refresh_token', refresh_token => $rt,
        client_id => 'sandbox-nopkce', client_secret => 'nopkce-secret'})->status_is(200);

    for my $bad ({}, {user => 'nobody'}, {user => 'demo', scope => 'admin'},
        {user => 'demo', expires_in => -5}, {user => 'demo', client_id => 'x'},
        {user => 'demo', extra => 1})
    {
        $t->post_ok('/_sandbox/tokens' => json => $bad)->status_is(400);
    }
};

done_testing;

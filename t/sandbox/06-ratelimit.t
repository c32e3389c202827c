use Mojo::Base -strict, -signatures;

# Rate limits per access token / API key: 429 + Retry-After.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Test::More;

my $t = sandbox_t();
$t->get_ok('/_sandbox/config')->json_is('/rate_limit', 1000)->json_is('/rate_window', 60);

my $h1 = {Authorization => 'Bearer ' . issue_token($t)->{access_token}};
my $h2 = {Authorization => 'Bearer ' . issue_token($t)->{access_token}};
my $cc = {Authorization => 'Bearer ccmd_live_demo_0123456789abcdef'};

$t->post_ok('/_sandbox/config' => json => {rate_limit => 3, rate_window => 60})->status_is(200)
    ->json_is('/rate_limit', 3);

for my $left (2, 1, 0) {
    $t->get_ok('/api/v1/companies' => $h1)->status_is(200)
        ->header_is('X-RateLimit-Limit' => 3)->header_is('X-RateLimit-Remaining' => $left);
}
$t->get_ok('/api/v1/companies' => $h1)->status_is(429)->json_is('/error', 'rate_limited')
    ->header_like('Retry-After' => qr/\A\d+\z/);
my $retry = $t->tx->res->headers->header('Retry-After');
ok $retry >= 1 && $retry <= 60, "Retry-After $retry within the window";
$t->get_ok('/_sandbox/stats')->json_is('/rate_limited', 1);
$t->post_ok('/api/v1/clients' => $h1 => json => {company_id => 'co_acme', name => 'x'})
    ->status_is(429, 'writes are limited too');
is scalar @{$t->ua->get('/_sandbox/writes')->res->json('/data')}, 0, 'limited write not done';

$t->get_ok('/api/v1/companies' => $h2)->status_is(200, 'another token has its own budget');

# Client Commander keys are limited the same way, with its error envelope
$t->get_ok('/cc/v1/people' => $cc)->status_is(200) for 1 .. 3;
$t->get_ok('/cc/v1/people' => $cc)->status_is(429)->json_is('/error/code', 'rate_limited')
    ->header_like('Retry-After' => qr/\A\d+\z/)->json_has('/meta/requestId');

# Invalid credentials do not use anyone's budget; OAuth is not limited
$t->get_ok('/api/v1/me' => {Authorization => 'Bearer sbx_at_nope'})->status_is(401);
$t->post_ok('/oauth/token' => form => {grant_type => 'client_credentials',
    client_id => 'sandbox-client', client_secret => 'sandbox-secret'})->status_is(200)
    for 1 .. 4;

# A short window lets the client in again
$t->post_ok('/_sandbox/config' => json => {rate_limit => 1, rate_window => 1})->status_is(200);
$t->get_ok('/api/v1/me' => $h1)->status_is(200);
$t->get_ok('/api/v1/me' => $h1)->status_is(429)->header_is('Retry-After' => 1);
select undef, undef, undef, 1.1;
$t->get_ok('/api/v1/me' => $h1)->status_is(200, 'new window');

$t->post_ok('/_sandbox/config' => json => {rate_limit => 0})->status_is(400);
$t->post_ok('/_sandbox/config' => json => {rate_window => 'x'})->status_is(400);
$t->post_ok('/_sandbox/reset')->status_is(200);
$t->get_ok('/_sandbox/config')->json_is('/rate_limit', 1000);

done_testing;

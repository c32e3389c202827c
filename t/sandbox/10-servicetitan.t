use Mojo::Base -strict, -signatures;

# ServiceTitan shape under /st/{module}/v2/tenant/{tenant}: client-credentials tokens from
# /connect/token, ST-App-Key, tenants of the token's account only, numeric ids, page paging.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t);
use ClientAPI::Sandbox::Controller::ServiceTitan;
use Test::More;

my $t = sandbox_t();
$t->post_ok('/connect/token' => form => {grant_type => 'client_credentials',
    client_id => 'sandbox-client', client_secret => 'sandbox-secret'})->status_is(200);
my $tok  = $t->tx->res->json('/access_token');
my $key  = $ClientAPI::Sandbox::Controller::ServiceTitan::APP_KEY;
my $auth = {Authorization => "Bearer $tok", 'ST-App-Key' => $key};
my $J    = '/st/jpm/v2/tenant/1001/jobs';

subtest 'credentials, app key, tenant' => sub {
    $t->get_ok($J => {'ST-App-Key' => $key})->status_is(401);
    $t->get_ok($J => {Authorization => "Bearer $tok"})->status_is(403);
    $t->get_ok($J => {Authorization => "Bearer $tok", 'ST-App-Key' => 'wrong'})->status_is(403);
    $t->get_ok('/st/jpm/v2/tenant/1003/jobs' => $auth)->status_is(403)
        ->json_like('/title', qr/tenant/);
    $t->get_ok('/st/jpm/v2/tenant/1001/customers' => $auth)->status_is(404);
    $t->get_ok($J => $auth)->status_is(200)->json_is('/page', 1)->json_is('/pageSize', 50);
};

subtest 'ids and records' => sub {
    is ClientAPI::Sandbox::Controller::ServiceTitan::st_id('cl_acme_2'), 112, 'customer id';
    is ClientAPI::Sandbox::Controller::ServiceTitan::st_id('job_acme_2_01'), 21201, 'job id';
    is ClientAPI::Sandbox::Controller::ServiceTitan::st_id('inv_globex_1_02'), 32102, 'invoice';
    is ClientAPI::Sandbox::Controller::ServiceTitan::st_id('job_acme_orphan'), undef, 'orphan';
    $t->get_ok("$J/21201" => $auth)->status_is(200)->json_is('/customerId', 112);
    $t->get_ok('/st/accounting/v2/tenant/1001/invoices/31201' => $auth)->status_is(200)
        ->json_is('/customer/id', 112)->json_is('/job/id', 21201);
    $t->get_ok('/st/crm/v2/tenant/1001/customers/112' => $auth)->status_is(200)
        ->json_is('/name', 'Bluebird Bakery');
    $t->get_ok("$J/22101" => $auth)->status_is(404, "another tenant's job");
    $t->get_ok('/st/jpm/v2/tenant/1002/jobs/22101' => $auth)->status_is(200, 'in its tenant');
};

subtest 'page numbers' => sub {
    my ($page, @ids) = (1);
    while (1) {
        $t->get_ok("$J?page=$page&pageSize=7" => $auth)->status_is(200);
        push @ids, map { $_->{id} } @{$t->tx->res->json('/data')};
        last unless $t->tx->res->json('/hasMore');
        last if ++$page > 10;
    }
    is $page, 6, 'six pages of 7';
    is scalar @ids, 40, 'the 40 jobs of the tenant (no orphan)';
    $t->get_ok("$J?customerId=112" => $auth)->status_is(200);
    is_deeply [map { $_->{id} } @{$t->tx->res->json('/data')}], [21201, 21202, 21203],
        'customerId filter';
    $t->get_ok("$J?page=0" => $auth)->status_is(400);
    $t->get_ok("$J?pageSize=5001" => $auth)->status_is(400);
};

subtest 'faults' => sub {
    $t->post_ok('/_sandbox/faults' => json => {status => 429, retry_after => 3, count => 1});
    $t->get_ok($J => $auth)->status_is(429)->header_is('Retry-After' => 3);
    $t->post_ok('/_sandbox/faults' => json => {expire_tokens => \1, count => 1});
    $t->get_ok($J => $auth)->status_is(401);
    $t->post_ok('/_sandbox/reset' => json => {});
};

done_testing();

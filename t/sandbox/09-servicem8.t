use Mojo::Base -strict, -signatures;

# ServiceM8 shape under /sm8/api_1.0: bare arrays, cursor header, $filter (ignored when not
# URL-encoded), x-record-uuid, POST updates, soft delete, text/plain 429, faults.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t);
use Test::More;

my $t    = sandbox_t();
my $tok  = $t->ua->post('/_sandbox/tokens' => json => {user => 'demo'})->res->json;
my $auth = {Authorization => "Bearer $tok->{access_token}"};
my $B    = '/sm8/api_1.0';
my $F    = '%24filter=company_uuid%20eq%20%27co_acme%27';

subtest 'authentication' => sub {
    $t->get_ok("$B/job.json")->status_is(401)->json_is('/errorCode', 401);
    $t->get_ok("$B/job.json" => {Authorization => 'Bearer nope'})->status_is(401);
    $t->get_ok("$B/vendor.json" => $auth)->status_is(200)->json_is('/0/uuid', 'acc_demo');
};

subtest 'companies and sites' => sub {
    $t->get_ok("$B/company.json" => $auth)->status_is(200);
    my $all = $t->tx->res->json;
    is ref $all, 'ARRAY', 'a bare array';
    my %parent = map { $_->{uuid} => $_->{parent_company_uuid} } @$all;
    is $parent{co_acme}, '', 'a company has no parent';
    is $parent{cl_acme_2}, 'co_acme', 'its clients are its sites';
    ok !exists $parent{co_initech}, "another account's company is not there";
    $t->get_ok("$B/company/cl_acme_2.json" => $auth)->status_is(200)
        ->json_is('/parent_company_uuid', 'co_acme');
    $t->get_ok("$B/company/co_initech.json" => $auth)->status_is(404)->json_is('/errorCode', 404);
};

subtest 'paging through x-next-cursor' => sub {
    my ($cursor, @uuids, $pages) = ('-1');
    while (defined $cursor) {
        $t->get_ok("$B/job.json?$F&cursor=$cursor" => $auth)->status_is(200);
        push @uuids, map { $_->{uuid} } @{$t->tx->res->json};
        $cursor = $t->tx->res->headers->header('x-next-cursor');
        last if ++$pages > 10;
    }
    is $pages, 4, 'four pages of 10';
    is scalar @uuids, 40, "all of co_acme's jobs";
    is scalar(grep { !/^job_acme_/ } @uuids), 0, 'only co_acme';
    $t->get_ok("$B/job.json?cursor=forged" => $auth)->status_is(400);
};

subtest '$filter must be URL-encoded' => sub {
    $t->get_ok("$B/job.json?$F" => $auth)->status_is(200);
    is scalar(grep { $_->{company_uuid} ne 'co_acme' } @{$t->tx->res->json}), 0, 'encoded: applied';
    $t->get_ok("$B/job.json?\$filter=company_uuid eq 'co_globex'" => $auth)->status_is(200);
    ok scalar(grep { $_->{company_uuid} ne 'co_globex' } @{$t->tx->res->json}),
        'a raw quote: the filter is silently ignored (as the real API does)';
    $t->get_ok("$B/job.json?%24filter=company_uuid%20like%20x" => $auth)->status_is(400);
    $t->get_ok("$B/jobmaterial.json?%24filter=job_uuid%20eq%20%27job_acme_1_01%27" => $auth)
        ->status_is(200)->json_is('/0/job_uuid', 'job_acme_1_01');
    is scalar @{$t->tx->res->json}, 2, 'two materials of the job';
    $t->get_ok("$B/attachment/att_acme_1_01.json" => $auth)->status_is(200)
        ->json_is('/related_object', 'job')->json_is('/related_object_uuid', 'job_acme_1_01');
};

subtest 'writes: create, POST update, soft delete' => sub {
    $t->post_ok("$B/job.json" => $auth => json => {company_uuid => 'cl_acme_2',
        job_description => 'Fix the oven'})->status_is(200)->json_is('/errorCode', 0);
    my $uuid = $t->tx->res->headers->header('x-record-uuid');
    like $uuid, qr/^job_new_/, 'x-record-uuid';
    $t->get_ok("$B/job/$uuid.json" => $auth)->status_is(200)->json_is('/company_uuid', 'co_acme')
        ->json_is('/job_description', 'Fix the oven');
    $t->post_ok("$B/job/$uuid.json" => $auth => json => {status => 'Completed'})->status_is(200);
    $t->get_ok("$B/job/$uuid.json" => $auth)->json_is('/status', 'Completed');
    $t->delete_ok("$B/job/$uuid.json" => $auth)->status_is(200);
    $t->get_ok("$B/job/$uuid.json" => $auth)->status_is(200)->json_is('/active', 0);
    $t->post_ok("$B/job.json" => $auth => json => {company_uuid => 'co_initech'})->status_is(400);
    $t->post_ok("$B/job.json" => $auth => json => {bogus => 1})->status_is(400);
};

subtest 'faults and the text/plain 429' => sub {
    $t->post_ok('/_sandbox/faults' => json => {status => 429, retry_after => 5, count => 1});
    $t->get_ok("$B/job.json" => $auth)->status_is(429)->content_type_like(qr{^text/plain})
        ->header_is('Retry-After' => undef);
    $t->post_ok('/_sandbox/faults' => json => {status => 503, count => 1});
    $t->get_ok("$B/job.json" => $auth)->status_is(503);
    $t->post_ok('/_sandbox/faults' => json => {malformed => \1, count => 1});
    $t->get_ok("$B/job.json" => $auth)->status_is(200);
    ok !eval { Mojo::JSON::decode_json($t->tx->res->body); 1 }, 'malformed JSON';
    $t->delete_ok('/_sandbox/faults');
    $t->post_ok('/_sandbox/config' => json => {rate_limit => 1});
    $t->get_ok("$B/vendor.json" => $auth)->status_is(200);
    $t->get_ok("$B/vendor.json" => $auth)->status_is(429)->content_type_like(qr{^text/plain})
        ->header_is('Retry-After' => undef);
    $t->post_ok('/_sandbox/reset' => json => {});
};

done_testing();

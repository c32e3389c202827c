use Mojo::Base -strict, -signatures;

# Client Commander shape: API key auth, envelope, paging, filters, writes.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t);
use Test::More;

my $t     = sandbox_t();
my $demo  = {Authorization => 'Bearer ccmd_live_demo_0123456789abcdef'};
my $other = {Authorization => 'Bearer ccmd_live_other_fedcba9876543210'};

subtest 'API key authentication' => sub {
    $t->get_ok('/cc/v1/me')->status_is(401)->json_is('/error/code', 'missing_api_key')
        ->json_has('/meta/requestId');
    $t->get_ok('/cc/v1/me' => {Authorization => 'Bearer ccmd_live_demo_wrong'})->status_is(401)
        ->json_is('/error/code', 'invalid_api_key');
    $t->get_ok('/cc/v1/people' => {Authorization => 'Basic Y2NtZDp4'})->status_is(401);

    # OAuth tokens are not API keys
    my $at = $t->ua->post('/_sandbox/tokens' => json => {user => 'demo'})->res->json;
    $t->get_ok('/cc/v1/me' => {Authorization => "Bearer $at->{access_token}"})->status_is(401);

    $t->get_ok('/cc/v1/me' => $demo)->status_is(200)->json_is('/data/id', 'usr_cc_demo_1')
        ->json_is('/data/accountId', 'acc_demo')->json_is('/data/role', 'owner')
        ->json_is('/data/firstName', 'Dana')->json_is('/data/lastName', 'Demo')
        ->json_hasnt('/data/_account')->json_is('/meta/version', 'v1');
    is $t->tx->res->json('/meta/requestId'), $t->tx->res->headers->header('X-Request-Id'),
        'meta.requestId is the X-Request-Id';
    like $t->tx->res->json('/meta/timestamp'), qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/,
        'timestamp';
    $t->get_ok('/cc/v1/me' => $other)->json_is('/data/id', 'usr_cc_other_1');
};

subtest 'envelope and paging' => sub {
    my (@ids, @counts, @more);
    my $url = '/cc/v1/people';
    while ($url) {
        my $res = $t->ua->get($url => $demo)->res;
        is $res->code, 200, "GET $url";
        my $j = $res->json;
        push @ids,    map { $_->{id} } @{$j->{data}};
        push @counts, $j->{meta}{count};
        push @more,   $j->{meta}{hasMore} ? 1 : 0;
        is_deeply [sort keys %{$j->{meta}}],
            [qw(count hasMore nextCursor requestId timestamp version)], 'list meta keys';
        $url = $j->{meta}{nextCursor} ? "/cc/v1/people?cursor=$j->{meta}{nextCursor}" : undef;
        last if @counts > 10;
    }
    is_deeply \@counts, [10, 10, 5], 'default limit 10';
    is_deeply \@more, [1, 1, 0], 'hasMore';
    is_deeply \@ids, [map { sprintf 'per_demo_%02d', $_ } 1 .. 25], 'stable order, no repeats';

    $t->get_ok('/cc/v1/people?limit=100' => $demo)->status_is(200)->json_is('/meta/count', 25)
        ->json_is('/meta/hasMore', Mojo::JSON::false)->json_is('/meta/nextCursor', undef);
    $t->get_ok('/cc/v1/people?limit=1' => $demo)->json_is('/meta/count', 1)
        ->json_is('/data/0/firstName', 'Ava')->json_is('/data/0/lastName', 'Adams')
        ->json_is('/data/0/emails/0/value', 'ava.adams@example.com')
        ->json_is('/data/0/assignedAgentId', 'usr_cc_demo_1');
    my $p = $t->tx->res->json('/data/0');
    is_deeply [sort keys %$p], [qw(assignedAgentId createdAt emails firstName id lastName phones
        stageId tags updatedAt)], 'people fields';
    for my $bad (0, 101, 'x', -5) {
        $t->get_ok("/cc/v1/people?limit=$bad" => $demo)->status_is(400)
            ->json_is('/error/code', 'invalid_limit');
    }
    $t->get_ok('/cc/v1/people?cursor=garbage' => $demo)->status_is(400)
        ->json_is('/error/code', 'invalid_cursor');
    my $c = $t->ua->get('/cc/v1/people?limit=2' => $demo)->res->json('/meta/nextCursor');
    $t->get_ok("/cc/v1/deals?cursor=$c" => $demo)->status_is(400, 'cursor bound to its list');
    $t->get_ok("/cc/v1/people?cursor=$c" => $other)->status_is(400, 'and to its account');

    $t->get_ok('/cc/v1/people?limit=5&limit=2' => $demo)->json_is('/meta/count', 2,
        'last limit wins');
    $t->get_ok('/cc/v1/people?limit=2&unknown=1' => $demo)->status_is(200,
        'unknown parameters are ignored');
};

subtest 'filters, other resources, isolation' => sub {
    $t->get_ok('/cc/v1/deals?personId=per_demo_03' => $demo)->status_is(200)
        ->json_is('/meta/count', 1)->json_is('/data/0/id', 'deal_demo_02')
        ->json_is('/data/0/peopleIds', [qw(per_demo_03 per_demo_04)]);
    $t->get_ok('/cc/v1/deals?personId=per_other_01' => $demo)->json_is('/meta/count', 0);
    $t->get_ok('/cc/v1/deals?stageId=stg_won' => $demo)->json_is('/meta/count', 2);
    $t->get_ok('/cc/v1/deals?teamId=team_demo_east' => $demo)->json_is('/meta/count', 3);
    $t->get_ok('/cc/v1/people?tag=vip&limit=100' => $demo)->json_is('/meta/count', 5);
    $t->get_ok('/cc/v1/people?assignedAgentId=usr_cc_demo_2&limit=100' => $demo)
        ->json_is('/meta/count', 12);

    $t->get_ok('/cc/v1/users' => $demo)->status_is(200)->json_is('/meta/count', 2)
        ->json_is('/data/1/id', 'usr_cc_demo_2')->json_is('/data/1/firstName', 'Devin')
        ->json_is('/data/1/lastName', 'Dispatch')->json_is('/data/1/name', 'Devin Dispatch');
    $t->get_ok('/cc/v1/teams' => $demo)->status_is(200)
        ->json_is('/data/0/userIds', ['usr_cc_demo_1']);
    $t->get_ok('/cc/v1/people' => $other)->json_is('/meta/count', 3);
    $t->get_ok('/cc/v1/people/per_demo_01' => $other)->status_is(404)
        ->json_is('/error/code', 'not_found');
    $t->get_ok('/cc/v1/deals/deal_other_01' => $demo)->status_is(404);
    $t->get_ok('/cc/v1/people/per_demo_01' => $demo)->status_is(200)
        ->json_is('/data/id', 'per_demo_01')->json_has('/meta/requestId')
        ->json_hasnt('/meta/count');
    $t->get_ok('/cc/v1/jobs' => $demo)->status_is(404);
    $t->put_ok('/cc/v1/people/per_demo_01' => $demo => json => {})->status_is(405)
        ->header_is(Allow => 'DELETE, GET, PATCH, HEAD')->json_is('/error/code',
        'method_not_allowed');
};

subtest 'writes' => sub {
    my $since = $t->ua->get('/_sandbox/writes')->res->json('/last_seq');
    my %h = (%$demo, 'Idempotency-Key' => 'cc-1');
    my $person = {firstName => 'Zed', lastName => 'Zimmer',
        emails => ['zed@example.com', {value => 'z@work.example', type => 'work'}],
        tags => ['new'], assignedAgentId => 'usr_cc_demo_2'};
    $t->post_ok('/cc/v1/people' => \%h => json => $person)->status_is(201)
        ->json_like('/data/id', qr/\Aper_new_/)->json_is('/data/stageId', 'stg_lead')
        ->json_is('/data/emails/0', {value => 'zed@example.com', type => 'other'})
        ->json_is('/data/phones', [])->json_has('/meta/requestId');
    my $first = $t->tx->res->json;
    my $id    = $first->{data}{id};
    $t->post_ok('/cc/v1/people' => \%h => json => $person)->status_is(201)
        ->header_is('Idempotent-Replayed' => 'true')->json_is('' => $first);
    $t->post_ok('/cc/v1/people' => \%h => json => {firstName => 'Other'})->status_is(422)
        ->json_is('/error/code', 'idempotency_key_reused');
    $t->get_ok('/cc/v1/people?limit=100' => $demo)->json_is('/meta/count', 26);

    $t->patch_ok("/cc/v1/people/$id" => $demo => json => {stageId => 'stg_client',
        phones => [{value => '+1-555-0199', type => 'mobile'}]})->status_is(200)
        ->json_is('/data/stageId', 'stg_client')->json_is('/data/firstName', 'Zed')
        ->json_is('/data/phones/0/value', '+1-555-0199');

    $t->post_ok('/cc/v1/deals' => $demo => json => {title => 'New deal',
        peopleIds => [$id, 'per_demo_01'], teamIds => ['team_demo_west']})->status_is(201)
        ->json_is('/data/pipelineId', 'pl_sales')->json_is('/data/peopleIds', [$id, 'per_demo_01']);
    my $deal = $t->tx->res->json('/data/id');

    # Deleting a person removes it from deals
    $t->delete_ok("/cc/v1/people/$id" => $demo)->status_is(204);
    $t->get_ok("/cc/v1/people/$id" => $demo)->status_is(404);
    $t->get_ok("/cc/v1/deals/$deal" => $demo)->json_is('/data/peopleIds', ['per_demo_01']);
    $t->delete_ok("/cc/v1/deals/$deal" => $demo)->status_is(204);
    $t->delete_ok('/cc/v1/deals/deal_other_01' => $demo)->status_is(404);

    my @bad = (
        ['/cc/v1/people', {emails => ['a@example.com']}, 'firstName'],
        ['/cc/v1/people', {firstName => 'A', emails => 'a@example.com'}, 'emails'],
        ['/cc/v1/people', {firstName => 'A', emails => [{value => 'x', primary => 1}]}, 'emails'],
        ['/cc/v1/people', {firstName => 'A', assignedAgentId => 'usr_cc_other_1'},
            'assignedAgentId'],
        ['/cc/v1/people', {firstName => 'A', tags => 'vip'}, 'tags'],
        ['/cc/v1/people', {firstName => 'A', company => 'x'}, 'company'],
        ['/cc/v1/deals', {peopleIds => []}, 'title'],
        ['/cc/v1/deals', {title => 'x', peopleIds => ['per_other_01']}, 'peopleIds'],
        ['/cc/v1/deals', {title => 'x', teamIds => ['team_other_main']}, 'teamIds'],
    );
    for my $case (@bad) {
        my ($path, $body, $field) = @$case;
        $t->post_ok($path => $demo => json => $body)->status_is(422)
            ->json_is('/error/code', 'validation_error')->json_has("/error/fields/$field");
    }
    $t->post_ok('/cc/v1/people' => {%$demo, 'Content-Type' => 'application/json'} => '{oops')
        ->status_is(400)->json_is('/error/code', 'invalid_json');
    $t->post_ok('/cc/v1/people' => {%$demo, 'Content-Type' => 'text/csv'} => 'a,b')
        ->status_is(415)->json_is('/error/code', 'unsupported_media_type');

    my $w = $t->ua->get("/_sandbox/writes?since=$since")->res->json('/data');
    is_deeply [map {"$_->{method} $_->{resource} $_->{status}"} @$w[0 .. 5]],
        ['POST people 201', 'PATCH people 200', 'POST deals 201', 'DELETE people 204',
        'DELETE deals 204', 'DELETE deals 404'], 'writes journal';
    is $w->[0]{api}, 'cc', 'api is cc';
    is scalar @$w, 6 + @bad + 2, 'refused writes journaled as well';
};

done_testing;

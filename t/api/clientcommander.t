# conf/providers/clientcommander.json through the module: a pasted API key, people and deals,
# the body cursor (meta.nextCursor), company = the connection, client = a person.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'clientcommander', login => 'demo');
my ($co, $kco) = CATest::seed_endpoint(connection => $conn, scope => 'company:acc_demo:Demo');
my ($pe, $kpe) = CATest::seed_endpoint(connection => $conn, scope => 'client:acc_demo/per_demo_03');

my ($res, $doc) = CATest::api(GET => "/api/$co", key => $kco);
is($res->code, 200, 'describe');
my %names = map { $_->{name} => 1 } @{ $doc->{resources} };
ok($names{people} && $names{deals}, 'people and deals');
ok(!$names{jobs}, 'no jobs: Client Commander has none');
is(CATest::api(GET => "/api/$co/jobs", key => $kco)->code, 404, 'a resource it lacks: 404');

my (@people, $cursor, $pages);
do {
    ($res, $doc) = CATest::api(GET => "/api/$co/people" . ($cursor ? "?cursor=$cursor" : ''),
                               key => $kco);
    is($res->code, 200, 'people page') or diag($res->decoded_content);
    push @people, @{ $doc->{data} };
    $cursor = $doc->{next_cursor};
} while ($cursor && ++$pages < 10);
is(scalar @people, 25, 'all 25 people of the account over pages');
ok(!grep({ $_->{id} =~ /other/ } @people), "nothing of the other account");

($res, $doc) = CATest::api(GET => "/api/$pe/people", key => $kpe);
is_deeply([map { $_->{id} } @{ $doc->{data} }], ['per_demo_03'], 'a person endpoint: that person');
($res, $doc) = CATest::api(GET => "/api/$pe/deals", key => $kpe);
is_deeply([map { $_->{id} } @{ $doc->{data} }], ['deal_demo_02'], 'and only deals naming them');
is(CATest::api(GET => "/api/$pe/people/per_demo_04", key => $kpe)->code, 404, 'another person: 404');
is(CATest::api(GET => "/api/$pe/deals/deal_demo_01", key => $kpe)->code, 404,
   "a deal without them: 404");
is(CATest::api(GET => "/api/$co/people/per_other_01", key => $kco)->code, 404,
   "the other account's person: 404");

# writes as the documented API takes them: PATCH updates, DELETE removes, POST forwards the
# caller's Idempotency-Key
{
    my ($rw, $krw) = CATest::seed_endpoint(connection => $conn, scope => 'company:acc_demo',
                                           mode => 'read-write');
    my ($prw, $kprw) = CATest::seed_endpoint(connection => $conn, mode => 'read-write',
                                             scope => 'client:acc_demo/per_demo_03');
    my $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$rw/deals", key => $krw,
                               headers => { 'Idempotency-Key' => 'cc-idem-1' },
                               json => { title => 'Roof survey', peopleIds => ['per_demo_05'] });
    is($res->code, 201, 'create a deal') or diag($res->decoded_content);
    my $deal = $doc->{data}{id};
    like($deal // '', qr/^deal_new_/, 'the provider record');
    my ($w) = @{ CATest::writes_since($mark) };
    is($w && $w->{method}, 'POST', 'one POST reached the provider');
    my @idem = grep { ($_->{idempotency_key} // '') eq 'cc-idem-1' }
               @{ CATest::requests_since($mark) };
    is(scalar @idem, 1, 'with the Idempotency-Key forwarded');
    ($res, $doc) = CATest::api(PATCH => "/api/$rw/deals/$deal", key => $krw,
                               json => { title => 'Roof survey (2)' });
    is($res->code, 200, 'PATCH a deal') or diag($res->decoded_content);
    is($doc->{data}{title}, 'Roof survey (2)', 'updated');
    ($res, $doc) = CATest::api(PATCH => "/api/$rw/people/per_demo_05", key => $krw,
                               json => { lastName => 'Evans-Smith' });
    is($res->code, 200, 'PATCH a person') or diag($res->decoded_content);
    is($doc->{data}{lastName}, 'Evans-Smith', 'updated person');
    ($res, $doc) = CATest::api(PUT => "/api/$rw/people/per_demo_05", key => $krw,
                               json => { lastName => 'x' });
    is($res->code, 405, 'no PUT: the documented API updates with PATCH');
    like($res->header('Allow') // '', qr/PATCH/, 'Allow names PATCH');
    $mark = CATest::journal_mark();
    ($res) = CATest::api(PATCH => "/api/$prw/deals/deal_demo_01", key => $kprw,
                         json => { title => 'x' });
    is($res->code, 404, "a person endpoint cannot update a deal without them");
    ($res) = CATest::api(DELETE => "/api/$prw/people/per_demo_04", key => $kprw);
    is($res->code, 404, 'nor delete another person');
    is(scalar @{ CATest::writes_since($mark) }, 0, 'nothing reached the provider');
    ($res) = CATest::api(DELETE => "/api/$rw/deals/$deal", key => $krw);
    is($res->code, 204, 'DELETE a deal');
    is(CATest::api(GET => "/api/$rw/deals/$deal", key => $krw)->code, 404, 'gone');
}

done_testing();

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

done_testing();

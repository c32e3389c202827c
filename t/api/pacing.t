# mod_clientapi_ratelimit.c: client-side pacing of provider calls per connection, from the
# provider file's rate_limit.requests_per_minute (t/providers/paced.json: 5 per minute). Calls
# beyond it are answered 429 rate_limited with Retry-After and never reach the provider; other
# connections of the same provider keep their own budget.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'paced', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($ep2, $key2) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex');

# the budget is per clock minute: start at the beginning of one so that the 7 calls below
# fall into the same minute
my $s = time % 60;
sleep(61 - $s) if $s > 45;

my $mark = CATest::journal_mark();
my (@codes, $last);
for my $i (1 .. 4) {
    my ($res) = CATest::api(GET => "/api/$ep/jobs/job_acme_1_0$i", key => $key);
    push @codes, $res->code;
}
# a second endpoint of the same connection shares the connection's budget
for my $i (1 .. 3) {
    my ($res, $doc) = CATest::api(GET => "/api/$ep2/jobs", key => $key2);
    push @codes, $res->code;
    $last = [$res, $doc];
}
is_deeply(\@codes, [200, 200, 200, 200, 200, 429, 429], 'five calls a minute, then 429');
my ($res, $doc) = @$last;
is($doc->{code}, 'rate_limited', 'rate_limited');
like($doc->{detail}, qr/5 per minute/, 'the detail names the pacing');
cmp_ok($res->header('Retry-After'), '>=', 1, 'Retry-After at least 1 s');
cmp_ok($res->header('Retry-After'), '<=', 60, 'and at most the minute');
my @calls = grep { $_->{api} eq 'native' && $_->{path} =~ m{^/api/v1/jobs} }
            @{ CATest::requests_since($mark) };
is(scalar @calls, 5, 'only five calls reached the provider');

# another connection has its own budget
my $conn2 = CATest::seed_connection(provider => 'paced', login => 'demo');
my ($ep3, $key3) = CATest::seed_endpoint(connection => $conn2, scope => 'company:co_acme');
is(CATest::api(GET => "/api/$ep3/jobs/job_acme_1_01", key => $key3)->code, 200,
   'another connection of the provider is not held back');

done_testing();

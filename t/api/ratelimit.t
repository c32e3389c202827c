# mod_clientapi_ratelimit.c: a per-endpoint limit, counted across processes, answered 429
# rate_limited with Retry-After and RateLimit-* headers; other endpoints are not affected.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($other, $kother) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
CATest::dbh()->do('UPDATE endpoints SET rate_limit = 3 WHERE public_id = ?', undef, $ep);

# the limit counts per 60 s window: do not start in its last seconds
sleep(61 - time % 60) if time % 60 > 50;

my $mark = CATest::journal_mark();
for my $i (1 .. 3) {
    my $res = CATest::api(GET => "/api/$ep", key => $key);
    is($res->code, 200, "request $i within the limit");
    is($res->header('RateLimit-Limit'), 3, 'RateLimit-Limit');
    is($res->header('RateLimit-Remaining'), 3 - $i, 'RateLimit-Remaining');
    like($res->header('RateLimit-Reset') // '', qr/^\d+$/, 'RateLimit-Reset');
}
my ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
is($res->code, 429, 'over the limit: 429');
is($doc->{code}, 'rate_limited', 'rate_limited');
like($res->header('Retry-After') // '', qr/^\d+$/, 'Retry-After');
cmp_ok($res->header('Retry-After'), '<=', 60, 'within the window');
is($res->header('RateLimit-Remaining'), 0, 'nothing remaining');
is(scalar @{ CATest::requests_since($mark) }, 0, 'the limited request never reached the provider');
is(CATest::api(GET => "/api/$other", key => $kother)->code, 200, 'another endpoint is not limited');
ok(!defined CATest::api(GET => "/api/$other", key => $kother)->header('RateLimit-Limit'),
   'and has no limit headers (no limit configured)');

done_testing();

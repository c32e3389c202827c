# Request logs (filters, keyset paging, detail, visibility) and usage series (counts per
# bucket, 4xx/5xx, items, p50/p95) through the dashboard API.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(sleep);
use CATest;
use DashTest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email) = DashTest::signed_in();
my ($ep, $key) = DashTest::create_endpoint($ua, $email);
my $id = $ep->{id};

# real calls through the caller API
my @calls = ([GET => "/api/$id/jobs?limit=2", 200], [GET => "/api/$id/jobs/job_acme_1_01", 200],
             [GET => "/api/$id/jobs/job_globex_1_01", 404], [POST => "/api/$id/jobs", 405],
             [GET => "/api/$id/clients?limit=1", 200]);
CATest::api($_->[0] => $_->[1], key => $key, headers => { 'User-Agent' => 'logs-test/2' },
            ($_->[0] eq 'POST' ? (json => {}) : ())) for @calls;
my $n = 0;
for (1 .. 50) {
    $n = $dbh->selectrow_array('SELECT count(*) FROM request_logs WHERE endpoint_id = ?', undef, $id);
    last if $n >= @calls;
    sleep 0.1;
}
is($n, scalar @calls, 'every call is in the request log');

my ($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id");
is($res->code, 200, 'GET /logs?endpoint=');
is(scalar @{ $j->{data} }, 5, 'five entries');
is($j->{next_cursor}, undef, 'one page');
my @ts = map { $_->{ts} } @{ $j->{data} };
is_deeply(\@ts, [sort { $b <=> $a } @ts], 'newest first');
my ($nf) = grep { $_->{status} == 404 } @{ $j->{data} };
is($nf->{error_code}, 'not_found', 'error code in the list');
is($nf->{resource}, 'jobs', 'resource');
is($nf->{record_id}, 'job_globex_1_01', 'record id');
ok(defined $nf->{duration_ms}, 'duration in ms');

($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&status=4xx");
is(scalar @{ $j->{data} }, 2, 'status=4xx: two');
($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&method=POST");
is(scalar @{ $j->{data} }, 1, 'method=POST: one');
is($j->{data}[0]{status}, 405, 'the 405');
($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&resource=clients");
is(scalar @{ $j->{data} }, 1, 'resource=clients: one');
($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&since=" . (time + 100));
is(scalar @{ $j->{data} }, 0, 'since in the future: none');
($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&until=" . (time - 3600));
is(scalar @{ $j->{data} }, 0, 'until an hour ago: none');
($res, $j) = DashTest::call($ua, GET => '/logs');
is(scalar(grep { $_->{endpoint_id} ne $id } @{ $j->{data} }), 0,
   'without a filter a member sees only the logs of their endpoints');
is(scalar @{ $j->{data} }, 5, 'all five');

# keyset paging
my @seen;
my $cursor;
my $pages = 0;
do {
    ($res, $j) = DashTest::call($ua, GET => "/logs?endpoint=$id&limit=2"
                                . ($cursor ? "&cursor=$cursor" : ''));
    is($res->code, 200, 'page ' . ++$pages);
    push @seen, map { $_->{id} } @{ $j->{data} };
    $cursor = $j->{next_cursor};
} while ($cursor && $pages < 10);
is($pages, 3, 'three pages of two');
is(scalar @seen, 5, 'five rows');
my %u = map { $_ => 1 } @seen;
is(scalar keys %u, 5, 'no row twice');

for my $badq ('status=6xx', 'method=get', 'limit=0', 'limit=201', 'cursor=abc', 'since=x',
              'endpoint=nope', 'resource=%3Cb%3E', 'foo=1', 'status=2xx&status=4xx') {
    ($res, $j) = DashTest::call($ua, GET => "/logs?$badq");
    is($res->code, 400, "bad query $badq: 400");
}

# detail
($res, $j) = DashTest::call($ua, GET => "/logs/$nf->{id}");
is($res->code, 200, 'GET /logs/{id}');
is($j->{log}{user_agent}, 'logs-test/2', 'user agent in the detail');
is($j->{log}{client_ip}, '127.0.0.1', 'client address');
ok($j->{log}{error_detail}, 'error detail');
is(DashTest::call($ua, GET => '/logs/999999999')->code, 404, 'unknown id: 404');
is(DashTest::call($ua, GET => '/logs/abc')->code, 404, 'not an id: 404');

my ($other) = DashTest::signed_in();
is(DashTest::call($other, GET => "/logs/$nf->{id}")->code, 404,
   "another member cannot read this endpoint's log entry");
($res, $j) = DashTest::call($other, GET => '/logs');
is(scalar @{ $j->{data} }, 0, 'nor list it');
my ($admin) = DashTest::signed_in(role => 'admin');
is(DashTest::call($admin, GET => "/logs/$nf->{id}")->code, 200, 'an admin can');
($res, $j) = DashTest::call($admin, GET => "/logs?endpoint=$id");
is(scalar @{ $j->{data} }, 5, 'and list them');

# ---- usage -------------------------------------------------------------------------------
# synthetic rows in a past hour: 20 requests of 1..20 ms, three 4xx, two 5xx, 7 items
my $hour = int((time - 3 * 86400) / 3600) * 3600;
my $ins = $dbh->prepare('INSERT INTO request_logs (endpoint_id, ts, method, resource, status,'
                        . ' item_count, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?)');
for my $i (1 .. 20) {
    my $status = $i <= 3 ? 404 : $i <= 5 ? 502 : 200;
    $ins->execute($id, $hour + $i * 60, 'GET', 'jobs', $status, ($i == 10 ? 7 : undef),
                  (21 - $i) * 1000);
}
$ins->execute($id, $hour + 3600 + 5, 'GET', 'jobs', 200, 1, 5000);
# usage reads the hourly rollups, which the module maintains as it writes logs: rows put
# into request_logs by hand are counted by a rebuild from the raw logs
like(CATest::clientapi_ok('rollup', 'rebuild', '--since', $hour - 3600), qr/^rebuilt \d+ rollup/,
     'clientapi rollup rebuild');
my $since = $hour - 3600;
my $until = $hour + 3 * 3600;
($res, $j) = DashTest::call($ua, GET => "/usage?endpoint=$id&since=$since&until=$until&bucket=hour");
is($res->code, 200, 'GET /usage') or diag($res->decoded_content);
is($j->{bucket}, 'hour', 'bucket hour');
is(scalar @{ $j->{series} }, 4, 'a bucket for every hour of the range, empty ones too');
my ($b) = grep { $_->{t} == $hour } @{ $j->{series} };
is($b->{requests}, 20, 'requests');
is($b->{errors_4xx}, 3, '4xx');
is($b->{errors_5xx}, 2, '5xx');
is($b->{items}, 7, 'items');
is($b->{p50_ms}, 10, 'p50 (nearest rank in the histogram, interpolated in its bucket)');
is($b->{p95_ms}, 19, 'p95 (nearest rank in the histogram, interpolated in its bucket)');
is($b->{status_2xx}, 15, '2xx');
my ($b2) = grep { $_->{t} == $hour + 3600 } @{ $j->{series} };
is($b2->{requests}, 1, 'next hour: one request');
is($b2->{p95_ms}, 5, 'its p95');
my ($e) = grep { $_->{t} == $hour - 3600 } @{ $j->{series} };
is($e->{requests}, 0, 'empty bucket: 0');
is($e->{p50_ms}, undef, 'and no percentile');
is($j->{totals}{requests}, 21, 'totals');

($res, $j) = DashTest::call($ua, GET => "/usage?endpoint=$id&since=$since&until=$until&bucket=day");
is($res->code, 200, 'bucket=day');
is(eval { my $s = 0; $s += $_->{requests} for @{ $j->{series} }; $s }, 21, 'same total per day');
($res, $j) = DashTest::call($ua, GET => '/usage?bucket=hour');
is($res->code, 200, 'usage of all own endpoints, default range (24 h)');
is($j->{totals}{requests}, 5, 'the five real calls of today');
is(scalar @{ $j->{series} }, 25, '24 hours + the current one');
is(DashTest::call($ua, GET => "/usage?bucket=week")->code, 400, 'bucket=week: 400');
is(DashTest::call($ua, GET => "/usage?since=0&until=" . time)->code, 400,
   'more than 1000 hourly buckets: 400');
is(DashTest::call($other, GET => "/usage?endpoint=$id")->code, 404,
   "another member: 404 for someone else's endpoint");
($res, $j) = DashTest::call($other, GET => '/usage');
is($j->{totals}{requests}, 0, 'and nothing of it in their own usage');

done_testing();

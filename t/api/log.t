# mod_clientapi_log.c: every request to an endpoint is in the request log with the right
# fields, and no secret (key, token) is stored or written to the error log.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my $ua = 'log-test-agent/1.0';

my @calls = (
    [ GET => "/api/$ep/jobs?limit=3&status=scheduled", 200 ],
    [ GET => "/api/$ep/jobs/job_acme_1_01", 200 ],
    [ GET => "/api/$ep/jobs/job_globex_1_01", 404 ],
    [ GET => "/api/$ep/clients?api_key=$key", 400 ],
    [ POST => "/api/$ep/jobs", 405 ],
);
my %ids;
for my $c (@calls) {
    my ($m, $path, $status) = @$c;
    my $res = CATest::api($m => $path, key => $key, headers => { 'User-Agent' => $ua },
                          ($m eq 'POST' ? (json => {}) : ()));
    is($res->code, $status, "$m $path");
    $ids{ $res->header('X-Request-Id') } = $c;
}
CATest::api(GET => "/api/$ep/clients", key => 'cak_bad', headers => { 'User-Agent' => $ua });

my $dbh = CATest::dbh();
my $rows;
for (1 .. 50) {   # queued after the answer, written in a batch within about a second
    $rows = $dbh->selectall_hashref('SELECT * FROM request_logs WHERE endpoint_id = ?',
                                    'request_id', undef, $ep);
    last if keys %$rows >= @calls + 1;
    sleep 0.1;
}
is(scalar keys %$rows, @calls + 1, 'one row per request, failed authentication included');
for my $rid (keys %ids) {
    my ($m, $path, $status) = @{ $ids{$rid} };
    my $row = $rows->{$rid};
    ok($row, "row for $m $path") or next;
    is($row->{method}, $m, 'method');
    is($row->{status}, $status, 'status');
    is($row->{user_agent}, $ua, 'user agent');
    is($row->{client_ip}, '127.0.0.1', 'client ip');
    ok($row->{duration_us} > 0, 'duration');
    ok($row->{ts} > time - 600, 'time');
}
my ($list) = grep { $_->{status} == 200 && ($_->{query} // '') =~ /limit/ } values %$rows;
is($list->{resource}, 'jobs', 'resource');
ok(defined $list->{item_count} && $list->{item_count} <= 3, 'item count of the list');
like($list->{query}, qr/limit=3/, 'query parameters kept');
my ($one) = grep { ($_->{record_id} // '') eq 'job_acme_1_01' } values %$rows;
is($one->{item_count}, 1, 'item count of a record');
my ($nf) = grep { $_->{status} == 404 } values %$rows;
is($nf->{error_code}, 'not_found', 'error code');
ok($nf->{error_detail}, 'error detail');
my ($kq) = grep { ($_->{error_code} // '') eq 'key_in_query' } values %$rows;
ok($kq, 'the key_in_query request is logged');
unlike($kq->{query} // '', qr/\Q$key\E|cak_/, 'but its key is redacted');

# last_used_at: set by use, without a write per request
# (rows changed behind the module's back: through the server without the key cache)
$CATest::BASE_URL = CATest::nocache_url();
my ($used) = $dbh->selectrow_array('SELECT last_used_at FROM endpoints WHERE public_id = ?',
                                   undef, $ep);
ok($used && $used > time - 600, 'last_used_at is set');
$dbh->do('UPDATE endpoints SET last_used_at = 12345 WHERE public_id = ?', undef, $ep);
CATest::api(GET => "/api/$ep/clients", key => $key);
for (1 .. 50) {
    ($used) = $dbh->selectrow_array('SELECT last_used_at FROM endpoints WHERE public_id = ?',
                                    undef, $ep);
    last if $used != 12345;
    sleep 0.1;
}
ok($used > time - 600, 'an old last_used_at is refreshed by the next call');
$dbh->do('UPDATE endpoints SET last_used_at = ? WHERE public_id = ?', undef, time - 5, $ep);
my ($before) = $dbh->selectrow_array('SELECT last_used_at FROM endpoints WHERE public_id = ?',
                                     undef, $ep);
my $count = sub { ($dbh->selectrow_array('SELECT count(*) FROM request_logs WHERE endpoint_id = ?',
                                         undef, $ep))[0] };
my $had = $count->();
CATest::api(GET => "/api/$ep/clients", key => $key) for 1 .. 3;
for (1 .. 50) {   # the rows are written with (or before) any last_used_at update
    last if $count->() >= $had + 3;
    sleep 0.1;
}
is($count->(), $had + 3, 'the three calls are logged');
my ($after) = $dbh->selectrow_array('SELECT last_used_at FROM endpoints WHERE public_id = ?',
                                    undef, $ep);
is($after, $before, 'a recent last_used_at is not rewritten by every call');

# no secret anywhere: request logs, endpoint rows, connection rows, error log
my $dump = join "\n", map { join ' ', map { $_ // '' } @$_ }
    @{ $dbh->selectall_arrayref('SELECT * FROM request_logs') },
    @{ $dbh->selectall_arrayref('SELECT * FROM endpoints') },
    @{ $dbh->selectall_arrayref('SELECT * FROM endpoint_keys') },
    @{ $dbh->selectall_arrayref('SELECT * FROM provider_connections') };
unlike($dump, qr/\Q$key\E/, 'the endpoint key is stored nowhere in plain text');
unlike($dump, qr/sbx_at_|sbx_rt_|ccmd_live_/, 'no provider token or API key in plain text');
open my $fh, '<', "$CATest::ROOT/t/logs/error_log" or die $!;
my $log = do { local $/; <$fh> };
unlike($log, qr/\Q$key\E/, 'the key is not in the error log');
open my $afh, '<', "$CATest::ROOT/t/logs/access_log" or die $!;
my $access = do { local $/; <$afh> };
like($access, qr/api_key=/, 'the access log has the request with a key in the query');
unlike($access, qr/\Q$key\E/, 'but not the key itself');
unlike($log, qr/sbx_at_\w{6}|ccmd_live_\w{6}/, 'no provider credential in the error log');

done_testing();

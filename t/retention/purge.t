# mod_clientapi_retention.c: mod_watchdog's singleton child purges request logs older than
# ClientAPILogRetention (30 days in the suite) a tick (5 s) after start and hourly; newer ones
# stay.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use CATest;

my $dbh = CATest::dbh();
my $tag = CATest::unique('ret');
my $ins = $dbh->prepare(q{INSERT INTO request_logs (endpoint_id, ts, method, status, duration_us,
                          request_id) VALUES (?, ?, 'GET', 200, 1, ?)});
$ins->execute("ep_$tag", time - 31 * 86400, "old-$tag");
$ins->execute("ep_$tag", time - 29 * 86400, "kept-$tag");

# a graceful restart starts a new generation, whose watchdog purges a tick later
open my $pidf, '<', "$CATest::ROOT/t/logs/httpd.pid" or die $!;
chomp(my $pid = <$pidf>);
close $pidf;
kill 'USR1', $pid or die "graceful restart: $!";
my $left;
for (1 .. 600) {   # the new singleton waits for the old generation's to let go
    sleep 0.1;
    ($left) = $dbh->selectrow_array('SELECT count(*) FROM request_logs WHERE request_id = ?',
                                    undef, "old-$tag");
    last unless $left;
}
is($left, 0, 'a request log older than the retention is purged');
my ($kept) = $dbh->selectrow_array('SELECT count(*) FROM request_logs WHERE request_id = ?',
                                   undef, "kept-$tag");
is($kept, 1, 'a newer one stays');
# the server answers after the restart
CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'serving after the restart');

done_testing();

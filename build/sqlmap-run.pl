# Driven by build/sqlmap.sh through build/test.sh (so the suite's stack is up): runs Debian's
# sqlmap against the dashboard login, a dashboard list and a caller endpoint, one test per
# target, each passing when sqlmap finds nothing injectable. Prints sqlmap's verdict lines and
# how many requests each target cost (counted in httpd's access log).
use strict;
use warnings;
use Test::More;
use lib "$ENV{CA_ROOT}/t/lib", "$ENV{CA_ROOT}/t/dashboard";
use CATest;
use DashTest;

my $level = $ENV{CA_SQLMAP_LEVEL} || 3;
my $risk = $ENV{CA_SQLMAP_RISK} || 2;
my $limit = $ENV{CA_SQLMAP_TIMEOUT} || 1800;   # seconds per target, then it counts as failed
my $base = CATest::base_url();
my $out = "$CATest::STATE/sqlmap";
my $access = "$CATest::ROOT/t/logs/access_log";

# ---- what a user and a caller have: a session, an endpoint, a key, some request logs ---------
CATest::sandbox_reset();
my ($ua, $email) = DashTest::signed_in(role => 'admin');
my $session = DashTest::cookie($ua, 'ca_session');
my $csrf = DashTest::cookie($ua, 'ca_csrf');
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($res, $page) = CATest::api(GET => "/api/$ep/jobs?limit=1", key => $key);
my $cursor = $page->{next_cursor} // '';
CATest::api(GET => "/api/$ep/jobs?limit=2", key => $key) for 1 .. 3;
sleep 1;
my ($r2, $logs) = DashTest::call($ua, GET => "/logs?endpoint=$ep&limit=1");
my $log_cursor = $logs->{next_cursor} // '';
my $log_id = $logs->{data}[0]{id} // 1;

# sqlmap's requests fail logins by the thousand: the throttle (per account, per address) would
# answer 429 before any SQL runs, so it is reset all the while the login is tested
sub unthrottled {
    my ($code) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $dbh = CATest::dbh();
        while (1) {
            $dbh->do('DELETE FROM login_attempts');
            $dbh->do('UPDATE users SET failed_logins = 0, locked_until = NULL');
            select(undef, undef, undef, 0.3);
        }
    }
    my @r = $code->();
    kill 'TERM', $pid;
    waitpid $pid, 0;
    return @r;
}

sub lines { open my $fh, '<', $_[0] or return 0; my $n = 0; $n++ while <$fh>; close $fh; $n }

sub sqlmap {
    my ($name, @args) = @_;
    my $before = lines($access);
    my @cmd = ('timeout', $limit, 'sqlmap', '--batch', "--level=$level", "--risk=$risk",
               '--dbms=PostgreSQL', '--disable-coloring', "--output-dir=$out/$name",
               '--flush-session', '--answers=follow=N', @args);
    my $log = "$out/$name.log";
    system('mkdir', '-p', "$out/$name");
    my $cmd = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @cmd;
    system("$cmd >'$log' 2>&1 </dev/null");
    my $rc = $? >> 8;
    my $text = do { local $/; open my $fh, '<', $log or die "$log: $!"; <$fh> };
    my $requests = lines($access) - $before;
    my @verdicts = grep { /injectable|vulnerable|identified the following|CRITICAL|heuristic/i }
                   split /\n/, $text;
    s/^\[[\d:]+\] // for @verdicts;
    my $found = $text =~ /identified the following injection point|is vulnerable/;
    my $clean = $text =~ /all tested parameters do not appear to be injectable/;
    diag("$name: $requests requests, sqlmap exit $rc");
    diag("  $_") for @verdicts;
    ok(!$found && $clean && $rc != 124, "$name: nothing injectable ($requests requests)")
        or diag("sqlmap log: $log");
}

my @cookie = ('--cookie', "ca_session=$session; ca_csrf=$csrf");
unthrottled(sub {
    sqlmap('login', '-u', "$base/dashboard/api/login", '--method=POST',
           '--data', qq({"email":"$email","password":"wrong password"}),
           '-H', 'Content-Type: application/json', '--ignore-code=401');
});
sqlmap('dashboard-logs', @cookie,
       '-u', "$base/dashboard/api/logs?endpoint=$ep&resource=jobs&status=2xx&method=GET"
             . "&since=0&until=9999999999&limit=10&cursor=$log_cursor",
       '-p', 'endpoint,resource,status,method,since,until,limit,cursor');
sqlmap('dashboard-log-id', @cookie, '-u', "$base/dashboard/api/logs/$log_id*");
sqlmap('api-list', '-H', "Authorization: Bearer $key",
       '-u', "$base/api/$ep/jobs?status=scheduled&client_id=cl_acme_1&limit=5&cursor=$cursor",
       '-p', 'status,client_id,limit,cursor');
sqlmap('api-endpoint-id', '-H', "Authorization: Bearer $key", '-u', "$base/api/$ep*/jobs");

done_testing();

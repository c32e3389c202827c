# mod_clientapi_log.c: request logs are queued and written in batches by a thread of each
# process, with their hourly rollups; a graceful restart writes what is queued; while the
# database is down they are spooled to disk and written when it answers again. Counted
# by request id: every request once, none lost, none twice.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my $dbh = CATest::dbh();

# request id -> status answered
sub calls {
    my ($n) = @_;
    my %sent;
    for my $i (1 .. $n) {
        my @c = $i % 12 == 0 ? (POST => "/api/$ep/jobs", json => {})
              : $i % 12 == 1 ? (GET => "/api/$ep/jobs/job_globex_1_01")
              : (GET => "/api/$ep/clients?limit=2");
        my ($m, $path, @body) = @c;
        my $res = CATest::api($m => $path, key => $key, @body);
        my $rid = $res->header('X-Request-Id');
        if ($rid) { $sent{$rid} = $res->code }
        else { diag('no X-Request-Id: ' . $res->status_line . ' ' . $res->decoded_content) }
    }
    return \%sent;
}

# the logged rows of these request ids (waits until all are there, or 30 s)
sub logged {
    my ($sent, $secs) = @_;
    my @ids = keys %$sent;
    my $rows = {};
    for (1 .. ($secs || 30) * 10) {
        $rows = $dbh->selectall_hashref(
            'SELECT request_id, count(*) AS n, min(status) AS status FROM request_logs'
            . ' WHERE endpoint_id = ? GROUP BY request_id', 'request_id', undef, $ep);
        last if !grep { !$rows->{$_} } @ids;
        sleep 0.1;
    }
    return $rows;
}

sub all_once {
    my ($sent, $rows, $what) = @_;
    my @missing = grep { !$rows->{$_} } keys %$sent;
    my @twice = grep { $rows->{$_} && $rows->{$_}{n} != 1 } keys %$sent;
    my @wrong = grep { $rows->{$_} && $rows->{$_}{status} != $sent->{$_} } keys %$sent;
    is(scalar @missing, 0, "$what: every request is logged") or diag("missing: @missing");
    is(scalar @twice, 0, "$what: none twice");
    is(scalar @wrong, 0, "$what: with the status answered");
}

# ---- 120 requests: all rows, and rollups that add up ---------------------------------------
my $sent = calls(120);
is(scalar keys %$sent, 120, '120 answered requests with request ids');
my $rows = logged($sent);
all_once($sent, $rows, '120 requests');

my @bounds = (500, 1000, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 50000, 75000,
              100000, 150000, 200000, 300000, 500000, 750000, 1000000, 2000000, 5000000,
              10000000, 30000000);
sub bucket { my $d = shift; my $i = 0; $i++ while $i < @bounds && $d > $bounds[$i]; $i }
sub expected_rollups {
    my %exp;
    for my $r (@{ $dbh->selectall_arrayref('SELECT ts, status, item_count, duration_us'
                                           . ' FROM request_logs WHERE endpoint_id = ?',
                                           { Slice => {} }, $ep) }) {
        my $e = $exp{ int($r->{ts} / 3600) * 3600 } ||= { map { $_ => 0 } qw(requests s2 s3 s4
                                                                               s5 items dur) };
        $e->{requests}++;
        $e->{ 's' . int($r->{status} / 100) }++ if $r->{status} >= 200 && $r->{status} < 600;
        $e->{items} += $r->{item_count} // 0;
        $e->{dur} += $r->{duration_us};
        $e->{ sprintf 'h%02d', bucket($r->{duration_us}) }++;
    }
    return \%exp;
}
sub rollups_match {
    my ($what) = @_;
    my $exp = expected_rollups();
    my $got = $dbh->selectall_hashref('SELECT * FROM request_rollups WHERE endpoint_id = ?',
                                      'hour_start', undef, $ep);
    is_deeply([sort keys %$got], [sort keys %$exp], "$what: a rollup row per hour with logs");
    my @bad;
    for my $h (keys %$exp) {
        my ($e, $g) = ($exp->{$h}, $got->{$h});
        next unless $g;
        push @bad, "$h requests $g->{requests} $e->{requests}" if $g->{requests} != $e->{requests};
        push @bad, "$h 2xx" if $g->{status_2xx} != ($e->{s2} // 0);
        push @bad, "$h 4xx" if $g->{status_4xx} != ($e->{s4} // 0);
        push @bad, "$h 5xx" if $g->{status_5xx} != ($e->{s5} // 0);
        push @bad, "$h items" if $g->{items} != $e->{items};
        push @bad, "$h duration" if $g->{duration_us} != $e->{dur};
        push @bad, "$h histogram" if grep { $g->{ sprintf 'h%02d', $_ } != ($e->{ sprintf 'h%02d', $_ } // 0) } 0 .. 23;
    }
    is(scalar @bad, 0, "$what: rollups equal the counts of the logged rows") or diag("@bad");
}
rollups_match('120 requests');
my ($total) = $dbh->selectrow_array('SELECT sum(requests) FROM request_rollups'
                                    . ' WHERE endpoint_id = ?', undef, $ep);
is($total, 120, 'the rollups count 120 requests');

# ---- a graceful restart writes what the old processes still had queued ---------------------
sub httpd_pid {
    open my $fh, '<', "$CATest::ROOT/t/logs/httpd.pid" or die $!;
    chomp(my $pid = <$fh>);
    return $pid;
}
sub serving {
    for (1 .. 300) {
        my $res = CATest::api(GET => "/api/$ep/clients?limit=1", key => $key);
        return $res if $res->code < 500 || $res->code == 503;
        sleep 0.1;
    }
    return;
}
my $before = calls(24);
kill 'USR1', httpd_pid() or die "graceful restart: $!";
ok(serving(), 'serving after the graceful restart');
all_once($before, logged($before), 'requests just before a graceful restart');

# ---- the database stops: logs are spooled, then written when it is back --------------------
my %pg = map { split /=/, $_, 2 } split ' ', $ENV{CA_PG_PARAMS};
my ($pgbin) = grep { -x "$_/pg_ctl" } glob('/usr/lib/postgresql/*/bin');
my $pgdata = "$CATest::STATE/pg/data";
my $spool = "$CATest::ROOT/t/logs/clientapi-logspool";
sub pg_ctl { system("$pgbin/pg_ctl", '-D', $pgdata, @_) == 0 }
sub pg_start {
    pg_ctl('-l', "$CATest::STATE/pg/postgres.log", '-w', '-t', '60', '-o',
           "-p $pg{port} -k $pg{host} -c listen_addresses=127.0.0.1", 'start');
}

# what the module logs while the database is away, at error level, is expected here
CATest::expect_error(qr/CA01113: request logs cannot be written/);
# a pooled connection reset by the restart fails its first transaction (then is repaired)
CATest::expect_error(qr/CA\d+: .*\(the connection was reset\)/);
CATest::expect_error(qr/\[dbd:(?:error|crit)\].*(?:pgsql|DBD|connection)/i);
CATest::expect_error(qr/CA00101: no database connection from mod_dbd/);
# a request whose pooled connection the stopping server ended
CATest::expect_error(qr/CA00\d+: .*(?:terminating connection due to administrator|server closed the connection|no connection to the server)/);

my $down = {};
my $ok = eval {
    $dbh->disconnect;
    pg_ctl('-m', 'fast', '-w', 'stop') or die "pg_ctl stop failed\n";
    $down = calls(36);
    # spooled to disk while the database is away
    my %spooled;
    for (1 .. 100) {
        %spooled = ();
        for my $f (glob("$spool/reqlog.*.spool")) {
            open my $fh, '<', $f or next;
            while (my $l = <$fh>) { my @f = split /\t/, $l; $spooled{ $f[14] } = 1 if @f == 16 }
        }
        last if !grep { !$spooled{$_} } keys %$down;
        sleep 0.1;
    }
    is(scalar(grep { !$spooled{$_} } keys %$down), 0,
       'every request made while the database is down is in the spool');
    1;
};
my $err = $@;
pg_start() or BAIL_OUT('PostgreSQL did not start again');
ok($ok, 'database stopped and requests made') or diag($err);
is(scalar keys %$down, 36, '36 requests answered while the database was down');
is(scalar(grep { $_ != 503 && $_ != 200 && $_ != 404 && $_ != 405 } values %$down), 0,
   'answered 503 storage_unavailable (or from the key cache)');
$dbh = CATest::dbh();
all_once($down, logged($down, 60), 'requests made while the database was down');
rollups_match('after the outage');
my @left;
for (1 .. 100) {
    @left = grep { -s $_ } glob("$spool/reqlog.*.spool");
    last unless @left;
    sleep 0.1;
}
is(scalar @left, 0, 'the spool is empty again') or diag("@left");
ok(serving(), 'serving again');

done_testing();

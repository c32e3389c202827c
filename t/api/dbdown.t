# The database stops mid-run (contract: 503 storage_unavailable for what needs it): endpoints in
# the key cache keep serving reads from the provider; an uncached key and a write that needs
# idempotency storage answer 503 storage_unavailable; when PostgreSQL is back everything
# recovers without restarting httpd. Stops and restarts the suite's own PostgreSQL (prove runs
# the files one after another, so no other test runs meanwhile); it is started again whatever
# happens here.
use strict;
use warnings;
use Test::More;
use POSIX ();
use CATest;

my ($pg_ctl) = grep { -x } glob('/usr/lib/postgresql/*/bin/pg_ctl');
my $pgdir = "$CATest::STATE/pg";
my %p = map { split /=/, $_, 2 } split ' ', ($ENV{CA_PG_PARAMS} || '');
plan skip_all => 'needs the suite\'s private PostgreSQL (build/test.sh)'
    unless $pg_ctl && -d "$pgdir/data" && $p{port};

my $stopped;
sub pg_stop {
    system($pg_ctl, '-D', "$pgdir/data", '-m', 'fast', '-w', 'stop') == 0
        or die "pg_ctl stop failed";
    $stopped = 1;
}
sub pg_start {
    system("$pg_ctl -D '$pgdir/data' -l '$pgdir/postgres.log' -w -t 60 -o "
           . "'-p $p{port} -k $pgdir/sock -c listen_addresses=127.0.0.1' start >/dev/null") == 0
        or die "pg_ctl start failed";
    $stopped = 0;
}
END { pg_start() if $stopped }
$SIG{INT} = $SIG{TERM} = sub { pg_start() if $stopped; exit 1 };

# n concurrent calls of $code in child processes: their results
sub parallel {
    my ($n, $code) = @_;
    pipe(my $rd, my $wr) or die $!;
    my @pids;
    for (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            print $wr $code->(), "\n";
            close $wr;
            POSIX::_exit(0);   # no destructors: the parent's database handles stay open
        }
        push @pids, $pid;
    }
    close $wr;
    my @out = map { chomp; $_ } <$rd>;
    waitpid $_, 0 for @pids;
    return @out;
}

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($rw, $krw) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex',
                                       mode => 'read-write');
my ($cold, $kcold) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my $cc = CATest::seed_connection(provider => 'clientcommander', login => 'demo');
my ($ccep, $kcc) = CATest::seed_endpoint(connection => $cc, scope => 'company:acc_demo');

# warm the key cache (and the credential of the connection)
is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'reads before the outage');
is(CATest::api(GET => "/api/$rw/jobs", key => $krw)->code, 200, 'the read-write endpoint too');
is(CATest::api(GET => "/api/$ccep/people", key => $kcc)->code, 200, 'an API-key provider too');

# what the server logs while the database is away (the request log cannot be written: spooling
# it is the request-log queue's business)
CATest::expect_error(qr/CA00101: no database connection from mod_dbd/);
# request logs spooled while the database is away (mod_clientapi_log.c's writer thread)
CATest::expect_error(qr/CA01113: request logs cannot be written/);
# a pooled connection reset by the restart fails its first transaction (then is repaired)
CATest::expect_error(qr/CA\d+: .*\(the connection was reset\)/);
CATest::expect_error(qr/CA00201: endpoint lookup failed/);
CATest::expect_error(qr/CA00311: idempotency record/);
# mod_dbd: cannot connect, a pooled connection found broken, nothing to hand out
CATest::expect_error(qr/\[dbd:error\].*\b(?:AH00629|AH00639|AH02655|AH00628)\b/);

pg_stop();
ok(system("$pg_ctl -D '$pgdir/data' status >/dev/null 2>&1") != 0, 'PostgreSQL is stopped');
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($res->code, 200, 'a cached endpoint keeps serving a list from the provider')
        or diag($res->decoded_content);
    ok($doc && ref $doc->{data} eq 'ARRAY' && @{ $doc->{data} }, '... with its records');
    ($res, $doc) = CATest::api(GET => "/api/$ep", key => $key);
    is($res->code, 200, 'and its description');
    ($res, $doc) = CATest::api(GET => "/api/$ccep/people", key => $kcc);
    is($res->code, 200, 'an API-key connection\'s endpoint too') or diag($res->decoded_content);
    my $ok = 0;
    $ok += CATest::api(GET => "/api/$ep/jobs?limit=2", key => $key)->code == 200 ? 1 : 0
        for 1 .. 20;
    is($ok, 20, '20 more reads, whichever process answers');

    ($res, $doc) = CATest::api(GET => "/api/$cold/clients", key => $kcold);
    is($res->code, 503, 'a key that is not cached: 503');
    is($doc->{code}, 'storage_unavailable', 'storage_unavailable');
    is($res->header('Content-Type'), 'application/problem+json', 'problem+json');

    my $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
                               headers => { 'Idempotency-Key' => CATest::unique('dbdown') },
                               json => { client_id => 'cl_globex_2', title => 'During outage' });
    is($res->code, 503, 'a write needing idempotency storage: 503');
    is($doc->{code}, 'storage_unavailable', 'storage_unavailable');
    is(scalar @{ CATest::writes_since($mark) }, 0, '... and nothing reached the provider');
    ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
                               json => { client_id => 'cl_globex_2', title => 'No storage' });
    is($res->code, 201, 'a write without Idempotency-Key is forwarded with the cached credential')
        or diag($res->decoded_content);
    is(scalar @{ CATest::writes_since($mark) }, 1, '... once');
}

pg_start();
{
    # mod_dbd notices its broken connections on their next use: a few calls may still fail
    my ($res, $doc);
    for (1 .. 40) {
        ($res, $doc) = CATest::api(GET => "/api/$cold/clients", key => $kcold);
        last if $res->code == 200;
        select(undef, undef, undef, 0.25);
    }
    is($res->code, 200, 'the database is back: the uncached key works, without a restart')
        or diag($res->decoded_content);
    my $all = 1;
    for (1 .. 20) {
        $all &&= CATest::api(GET => "/api/$cold/clients", key => $kcold)->code == 200;
    }
    ok($all, '... and keeps working');
    my $idem = CATest::unique('dbup');
    for (1 .. 40) {
        ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
                                   headers => { 'Idempotency-Key' => $idem },
                                   json => { client_id => 'cl_globex_2', title => 'After' });
        last if $res->code == 201;
        select(undef, undef, undef, 0.25);
    }
    is($res->code, 201, 'writes with an Idempotency-Key work again')
        or diag($res->decoded_content);
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'cached reads still work');
}

# every pooled database connection of every process broke with the database, and each is
# replaced on its next use: concurrent calls through the server without the key cache (each
# needs the database) use them all, until rounds of them succeed throughout
{
    local $CATest::BASE_URL = CATest::nocache_url();
    my ($clean, $rounds) = (0, 0);
    while ($clean < 3 && $rounds++ < 40) {
        my @codes = parallel(16, sub { CATest::api(GET => "/api/$cold", key => $kcold)->code });
        $clean = (grep { $_ != 200 } @codes) ? 0 : $clean + 1;
    }
    is($clean, 3, "concurrent calls needing the database all succeed again ($rounds rounds)");
}

# Connections that sat idle in a pool through the outage still fail once when they are next
# handed out (mod_dbd checks a connection with PQstatus, which cannot see that the server
# closed it), whenever that is. So that the next test files do not meet them, this file ends
# with a graceful restart, as an admin could after a database restart: new processes, new
# pools. Recovery itself was shown above without it.
{
    open my $pidf, '<', "$CATest::ROOT/t/logs/httpd.pid" or die $!;
    chomp(my $pid = <$pidf>);
    close $pidf;
    kill 'USR1', $pid or die "graceful restart: $!";
    local $CATest::BASE_URL = CATest::nocache_url();
    my $clean = 0;
    for (1 .. 200) {
        my $code = CATest::api(GET => "/api/$cold", key => $kcold)->code;
        $clean = $code == 200 ? $clean + 1 : 0;
        last if $clean >= 5;
        select(undef, undef, undef, 0.1);
    }
    is($clean, 5, 'answering after the graceful restart');
}

done_testing();

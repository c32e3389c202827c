# mod_clientapi_keycache.c: callers are authenticated from the key cache, with no SQL per
# request in steady state (counted in PostgreSQL's own statement log); dashboard changes take
# effect at once; changes made with the clientapi command show after the cache's ttl.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use Apache::Test ();
use Digest::SHA ();
use CATest;
use DashTest;

my $cfg = Apache::Test::config();
plan skip_all => 'no clientapi_kcttl / clientapi_nocache virtual hosts in the test configuration'
    unless $cfg->{vhosts}{clientapi_kcttl} && $cfg->{vhosts}{clientapi_nocache};
my $main = CATest::base_url();
my $short = 'http://' . $cfg->{vhosts}{clientapi_kcttl}{hostport};
my $nocache = 'http://' . $cfg->{vhosts}{clientapi_nocache}{hostport};

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email) = DashTest::signed_in();

sub call_on {
    my ($base, $ep, $key, $path) = @_;
    local $CATest::BASE_URL = $base;
    return CATest::api(GET => "/api/$ep" . ($path // '/clients'), key => $key);
}

# ---- steady state: no SQL per request ---------------------------------------------------
# PostgreSQL logs every statement while log_statement = all; the server's statements are the
# "execute" lines (mod_dbd prepares them all). The request log's INSERT and the once-a-minute
# last_used_at UPDATE are the log's business (written after the answer), not authentication's.
my $pglog = "$CATest::STATE/pg/postgres.log";
my $logging;
END {
    if ($logging) {
        my $d = CATest::dbh();
        $d->do('ALTER SYSTEM RESET log_statement');
        $d->do('SELECT pg_reload_conf()');
    }
}

sub server_statements_since {
    my ($off) = @_;
    open my $fh, '<', $pglog or die "$pglog: $!";
    seek $fh, $off, 0;
    my @s = map { /\bexecute [^:]*: (?:PREPARE \S+ (?:\([^)]*\) )?AS )?(.*)/ ? $1 : () } <$fh>;
    close $fh;
    return \@s;
}

{
    my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
    is(call_on($main, $ep, $key)->code, 200, 'first call: key read from the database');

    ok(-f $pglog, "PostgreSQL's log is at $pglog");
    $dbh->do(q{ALTER SYSTEM SET log_statement = 'all'});
    $dbh->do('SELECT pg_reload_conf()');
    $logging = 1;
    # the statement log is on once an unknown key's lookup shows in it (from another address:
    # the failed-authentication guard of 127.0.0.1 is not touched)
    my ($unknown) = CATest::clientapi_ok('key') =~ /^key: (cak_\S+)/m;
    my ($on, $cal);
    for (1 .. 50) {
        my $off = -s $pglog;
        local $CATest::BASE_URL = $main;
        $cal = CATest::api(GET => "/api/$ep", key => $unknown,
                           headers => { 'X-Forwarded-For' => '192.0.2.71' });
        $on = grep { /endpoint_keys k JOIN/ } @{ server_statements_since($off) };
        last if $on;
        select(undef, undef, undef, 0.1);
    }
    ok($on, 'an unknown key is looked up in the database (the statement log works)')
        or diag($cal->code . ' ' . $cal->decoded_content);

    my $n = 50;
    my $off = -s $pglog;
    my $ok = 0;
    $ok += call_on($main, $ep, $key)->code == 200 ? 1 : 0 for 1 .. $n;
    is($ok, $n, "$n calls of a cached key: 200");
    $ok += call_on($main, $ep, $key, '')->code == 200 ? 1 : 0 for 1 .. $n;
    is($ok, 2 * $n, "$n describe calls: 200");
    sleep 1;    # the last calls' request-log rows are written after their answers
    my $all = server_statements_since($off);
    # what the request-log writer thread sends (rows, rollups, last_used_at, its
    # transaction) is not authentication
    my $writer = join '|', '^INSERT INTO request_(?:logs|rollups) ',
        '^UPDATE endpoints SET last_used_at ', '^(?:BEGIN|COMMIT|ROLLBACK)\b',
        '^SELECT 1 WHERE 1 = 0$';
    $writer = qr/$writer/i;
    my @auth = grep { !/$writer/ } @$all;
    is(scalar(@auth), 0, 'no SQL for authentication or credentials in ' . 2 * $n . ' calls')
        or diag(join "\n", @auth[0 .. ($#auth > 9 ? 9 : $#auth)]);
    my $touch = grep { /^UPDATE endpoints SET last_used_at/ } @$all;
    cmp_ok($touch, '<=', 1, 'last_used_at written at most once for them');
    diag(sprintf 'SQL statements per cached call: %.2f (%d request-log writes, %d touch)',
         @$all / (2 * $n), scalar(grep { /^INSERT INTO request_logs/ } @$all), $touch);

    $dbh->do('ALTER SYSTEM RESET log_statement');
    $dbh->do('SELECT pg_reload_conf()');
    $logging = 0;

    my ($used) = $dbh->selectrow_array('SELECT last_used_at FROM endpoints WHERE public_id = ?',
                                       undef, $ep);
    ok($used && $used > time - 600, 'last_used_at is kept up to date from the cached value');
}

# ---- dashboard changes take effect at once --------------------------------------------------
{
    my ($e, $key, $conn) = DashTest::create_endpoint($ua, $email);
    my $ep = $e->{id};
    is(call_on($main, $ep, $key)->code, 200, 'a new key works at once (no negative caching)');
    is(call_on($main, $ep, $key)->code, 200, 'and again (cached)');

    my ($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/deactivate");
    is($res->code, 200, 'deactivate') or diag($res->decoded_content);
    my ($r, $d) = call_on($main, $ep, $key);
    is($r->code, 403, 'deactivated: the next call is refused at once');
    is($d->{code}, 'endpoint_inactive', 'endpoint_inactive');
    ($res) = DashTest::call($ua, POST => "/endpoints/$ep/activate");
    is(call_on($main, $ep, $key)->code, 200, 'activated: served at once');

    ($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue", json => {});
    is($res->code, 200, 'reissue') or diag($res->decoded_content);
    my $new = $j->{key};
    ($r, $d) = call_on($main, $ep, $key);
    is($r->code, 401, 'reissued without grace: the old key is refused at once');
    is($d->{code}, 'key_invalid', 'key_invalid');
    is(call_on($main, $ep, $new)->code, 200, 'the new key works at once');

    ($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep/reissue",
                                json => { grace_seconds => 2 });
    my $newer = $j->{key};
    is(call_on($main, $ep, $newer)->code, 200, 'the newer key works at once');
    call_on($main, $ep, $new);      # cached with its grace expiry (if still in it)
    sleep 3;
    ($r, $d) = call_on($main, $ep, $new);
    is($r->code, 401, 'the previous key is refused once its grace period is over');

    ($res) = DashTest::call($ua, DELETE => "/endpoints/$ep");
    is($res->code, 200, 'delete');
    ($r, $d) = call_on($main, $ep, $newer);
    is($r->code, 401, 'deleted: its key is refused at once');
    is($d->{code}, 'key_invalid', 'key_invalid');

    # the connection's changes: disconnect (endpoint_inactive at once)
    my ($e2, $key2) = DashTest::create_endpoint($ua, $email, connection => $conn);
    is(call_on($main, $e2->{id}, $key2)->code, 200, 'an endpoint of the connection works');
    ($res) = DashTest::call($ua, DELETE => "/connections/$conn");
    is($res->code, 200, 'disconnect') or diag($res->decoded_content);
    ($r, $d) = call_on($main, $e2->{id}, $key2);
    is($r->code, 403, 'disconnected: refused at once');
    is($d->{code}, 'endpoint_inactive', 'endpoint_inactive');
}

# ---- the clientapi command: the cache's ttl bounds how long a change takes ---------------------
{
    my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
    is(call_on($short, $ep, $key)->code, 200, 'served (cached by a 2 s ttl host)');
    CATest::clientapi_ok('endpoint', 'deactivate', $ep);
    is(call_on($nocache, $ep, $key)->code, 403, 'without the cache the change shows at once');
    is(call_on($main, $ep, $key)->code, 200,
       'with the cache (ttl 60 s) the command\'s change is not seen yet');
    sleep 3;
    my ($r, $d) = call_on($short, $ep, $key);
    is($r->code, 403, 'after the 2 s ttl the change is seen');
    is(call_on($main, $ep, $key)->code, 403, '... by every host sharing the cache entry');
    CATest::clientapi_ok('endpoint', 'activate', $ep);
    sleep 3;
    is(call_on($short, $ep, $key)->code, 200, 'activated again after the ttl');
}

done_testing();

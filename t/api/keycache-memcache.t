# ClientAPIKeyCache memcache: two httpd "nodes" sharing one memcached share the key cache and
# its generation, so a change made in one node's dashboard is refused on the other node at
# once (per-node shmcb would wait for the ttl). Starts its own memcached and two httpd
# instances on the suite's database and sandbox; skipped where memcached is not installed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Digest::SHA ();
use CATest;
use DashTest;

my ($memcached) = grep { -x } ('/usr/bin/memcached', '/usr/sbin/memcached');
my $mods = $ENV{CA_MODULES_DIR} || do { chomp(my $d = `apxs -q LIBEXECDIR`); $d };
plan skip_all => 'memcached is not installed (apt-get install memcached)' unless $memcached;
plan skip_all => 'no mod_socache_memcache' unless -f "$mods/mod_socache_memcache.so";

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub wait_port {
    my ($port) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
        return 1 if $s;
        select(undef, undef, undef, 0.1);
    }
    return 0;
}

my $tmp = tempdir(CLEANUP => 1);
my $httpd = CATest::httpd_bin();
my (@started, $mc_pid);
END {
    system($httpd, '-d', $_, '-f', "$_/httpd.conf", '-k', 'stop') for @started;
    if ($mc_pid) {
        kill 'TERM', $mc_pid;
        waitpid $mc_pid, 0;
    }
}

my $mc_port = free_port();
$mc_pid = fork // die "fork: $!";
if (!$mc_pid) {
    exec $memcached, '-l', '127.0.0.1', '-p', $mc_port, '-U', '0', '-m', '16';
    die "exec $memcached: $!";
}
ok(wait_port($mc_port), "memcached listens on $mc_port");

# a node: the suite's database, sandbox and key file, the key cache in memcached
sub node {
    my ($name) = @_;
    my $dir = "$tmp/$name";
    mkdir $dir;
    mkdir "$dir/logs";
    my $port = free_port();
    my $root = $CATest::ROOT;
    CATest::write_file("$dir/httpd.conf", <<"CONF");
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/logs/httpd.pid"
ErrorLog "$dir/logs/error_log"
DefaultRuntimeDir "$dir/logs"
LogLevel info
LoadModule mpm_event_module "$mods/mod_mpm_event.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule dbd_module "$mods/mod_dbd.so"
LoadModule socache_shmcb_module "$mods/mod_socache_shmcb.so"
LoadModule socache_memcache_module "$mods/mod_socache_memcache.so"
LoadModule clientapi_module "$root/.libs/mod_clientapi.so"
StartServers 1
ThreadsPerChild 8
DBDriver pgsql
DBDParams "$ENV{CA_PG_PARAMS}"
ClientAPIProviderFile "$root/conf/providers"
ClientAPIProviderURL sandbox "$ENV{CA_SANDBOX_URL}/api/v1" "auth=$ENV{CA_SANDBOX_URL}" \\
    local-sandbox
ClientAPIProviderClient sandbox sandbox-client "file:$CATest::STATE/sandbox-client.secret"
ClientAPISecretKeyFile "$CATest::STATE/secret.keys"
ClientAPIPublicURL "http://127.0.0.1:$port"
ClientAPIKeyCache memcache:127.0.0.1:$mc_port ttl=300
<Location /api>
    SetHandler clientapi-api
</Location>
<Location /dashboard/api>
    SetHandler clientapi-dashboard
</Location>
CONF
    my $out = `$httpd -d "$dir" -f "$dir/httpd.conf" -k start 2>&1`;
    push @started, $dir;
    ok(wait_port($port), "node $name started") or diag($out);
    return ("http://127.0.0.1:$port", $dir);
}

my ($a, $adir) = node('a');
my ($b, $bdir) = node('b');

sub call_on {
    my ($base, $ep, $key) = @_;
    local $CATest::BASE_URL = $base;
    return CATest::api(GET => "/api/$ep/clients", key => $key);
}

CATest::sandbox_reset();
my ($ua, $email);
{
    local $CATest::BASE_URL = $a;
    ($ua, $email) = DashTest::signed_in();
}
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');

is(call_on($a, $ep, $key)->code, 200, 'node a serves the key (and caches it in memcached)');
is(call_on($b, $ep, $key)->code, 200, 'node b too');

# a change with the clientapi command: both nodes keep the shared entry until its ttl
CATest::clientapi_ok('endpoint', 'deactivate', $ep);
is(call_on($b, $ep, $key)->code, 200, 'a change made outside the servers waits for the ttl');
CATest::clientapi_ok('endpoint', 'activate', $ep);

# a change in node a's dashboard: node b refuses at once
{
    local $CATest::BASE_URL = $a;
    my ($res) = DashTest::call($ua, POST => "/endpoints/$ep/deactivate");
    is($res->code, 200, "node a's dashboard deactivates the endpoint")
        or diag($res->decoded_content);
}
my ($res, $doc) = call_on($b, $ep, $key);
is($res->code, 403, 'node b refuses the next call at once');
is($doc->{code}, 'endpoint_inactive', 'endpoint_inactive');

# whoever can write to memcached cannot forge an entry: entries carry an HMAC under a key
# derived from the key file. The cached entry now says "inactive"; make it say "active".
{
    my $mc = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mc_port) or die $!;
    my $id = 'clientapi-keycache:'
        . unpack('H*', 'clientapi:k:sha256:' . Digest::SHA::sha256_hex($key));
    print $mc "get $id\r\n";
    my $head = <$mc>;
    my ($flags, $len) = $head =~ /^VALUE \S+ (\d+) (\d+)/;
    ok(defined $len, 'the entry is in memcached') or diag($head);
    read($mc, my $data, ($len // 0) + 2);
    <$mc>;    # END
    (my $forged = substr($data, 0, $len // 0)) =~ s/8:inactive/6:active/;
    isnt($forged, $data, 'forged: status active');
    printf $mc "set %s %d 300 %d\r\n%s\r\n", $id, $flags // 0, length $forged, $forged;
    like(scalar <$mc>, qr/^STORED/, 'the forged entry is stored');
    ($res, $doc) = call_on($b, $ep, $key);
    is($res->code, 403, 'the forged entry is not believed: still 403');
}
{
    local $CATest::BASE_URL = $a;
    DashTest::call($ua, POST => "/endpoints/$ep/activate");
}
is(call_on($b, $ep, $key)->code, 200, 'activated on node a: node b serves again at once');

# neither node logged an error
for my $dir ($adir, $bdir) {
    open my $fh, '<', "$dir/logs/error_log" or die $!;
    my @err = grep { /\[(?:[\w.]+:)?(?:error|crit|alert|emerg)\]/ } <$fh>;
    close $fh;
    is(scalar @err, 0, "no error in $dir/logs/error_log") or diag(@err);
}

done_testing();

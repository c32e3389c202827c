# The embedded default: the module on mod_dbd's sqlite3 driver, configured exactly as
# build/start.sh does it (conf/demo.conf.in), with the same SQL as on PostgreSQL.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use CATest;

my $dir = tempdir(CLEANUP => 1);
my $db = "$dir/clientapi.db";
my $keys = "$dir/secret.keys";
local $CATest::CLI = { driver => 'sqlite3', params => $db, keys => $keys };
CATest::clientapi_ok('migrate', '--sql-dir', "$CATest::ROOT/sql");
system("$CATest::ROOT/clientapi keygen --kid t1 > $keys 2>/dev/null") == 0 or die 'keygen';
chmod 0600, $keys;
CATest::write_file("$dir/sandbox-client.secret", "sandbox-secret\n");

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme',
                                       mode => 'read-write');

my $port = do { my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                             LocalPort => 0, ReuseAddr => 1); $s->sockport };
my $mods = $ENV{CA_MODULES_DIR};
open my $in, '<', "$CATest::ROOT/conf/demo.conf.in" or die $!;
my $conf = do { local $/; <$in> };
close $in;
$conf =~ s/\@DEMO\@/$dir/g;
$conf =~ s/\@ROOT\@/$CATest::ROOT/g;
$conf =~ s/\@PORT\@/$port/g;
$conf =~ s/\@SANDBOX\@/$ENV{CA_SANDBOX_URL}/g;
$conf =~ s/\@MODULES\@/$mods/g;
CATest::write_file("$dir/httpd.conf", $conf);
my $httpd = CATest::httpd_bin();
system($httpd, '-d', $dir, '-f', "$dir/httpd.conf", '-k', 'start') == 0 or die 'httpd start';
for (1 .. 100) { last if -s "$dir/httpd.pid"; sleep 0.05 }
local $CATest::BASE_URL = "http://127.0.0.1:$port";

my ($res, $doc);
for (1 .. 50) {  # until the server answers
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    last if $res->code != 500 || $res->header('Client-Warning') !~ /Internal/;
    sleep 0.1;
}
is($res->code, 200, 'a list through the sqlite3 driver') or diag($res->decoded_content);
is(scalar @{ $doc->{data} || [] }, 3, 'scoped');
($res, $doc) = CATest::api(GET => "/api/$ep/jobs/job_globex_1_01", key => $key);
is($res->code, 404, 'out of scope: 404');
my %req = (key => $key, headers => { 'Idempotency-Key' => 'sqlite-1' },
           json => { client_id => 'cl_acme_1', title => 'On SQLite' });
my ($r1, $d1) = CATest::api(POST => "/api/$ep/jobs", %req);
my ($r2, $d2) = CATest::api(POST => "/api/$ep/jobs", %req);
is($r1->code, 201, 'create');
is_deeply($d2, $d1, 'idempotent replay from SQLite');
is(CATest::api(GET => "/api/$ep/clients", key => 'cak_' . ('A' x 49))->code, 401, 'bad key');

system($httpd, '-d', $dir, '-f', "$dir/httpd.conf", '-k', 'stop');
for (1 .. 100) { last unless -e "$dir/httpd.pid"; sleep 0.05 }

my $rows = `sqlite3 $db 'SELECT count(*) FROM request_logs WHERE endpoint_id = "$ep"'`;
chomp $rows;
is($rows, 5, 'every request logged in SQLite (the five above)');
open my $log, '<', "$dir/error_log" or die $!;
my @errors = grep { /:(error|crit|alert|emerg)\]/ } <$log>;
is(scalar @errors, 0, 'no errors in that server\'s error log') or diag(@errors);

done_testing();

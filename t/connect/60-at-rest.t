# Credentials at rest (ca_conn.c through httpd): a database dump holds no plaintext token, key
# or secret, and a key rotation (new key line, graceful restart, clientapi rekey) keeps every
# connection working.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my $tok = CATest::last_tokens();
my $cc = CATest::seed_connection(provider => 'clientcommander', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($cep, $ckey) = CATest::seed_endpoint(connection => $cc, scope => 'company:acc_demo');
is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'OAuth connection works');
is(CATest::api(GET => "/api/$cep/people", key => $ckey)->code, 200, 'API-key connection works');

# --- the whole database, dumped: no plaintext credential ------------------------------------
my %p = map { split /=/, $_, 2 } split ' ', $ENV{CA_PG_PARAMS};
my $dump = `pg_dump --no-owner -h '$p{host}' -p '$p{port}' -U '$p{user}' '$p{dbname}' 2>&1`;
is($? >> 8, 0, 'pg_dump ran') or diag(substr($dump, 0, 500));
cmp_ok(length $dump, '>', 10_000, 'the dump has the data');
unlike($dump, qr/\Q$tok->{access_token}\E/, 'no access token');
unlike($dump, qr/\Q$tok->{refresh_token}\E/, 'no refresh token');
unlike($dump, qr/ccmd_live_/, 'no provider API key');
unlike($dump, qr/\Q$key\E|\Q$ckey\E/, 'no endpoint key');
unlike($dump, qr/sbx_at_|sbx_rt_/, 'no sandbox token of any connection');
like($dump, qr/v1\.k1\./, 'sealed values are there, under key k1');

# --- key rotation: append a key, graceful restart, rekey ------------------------------------
my $keys = "$CATest::STATE/secret.keys";
my $line = `$CATest::ROOT/clientapi keygen --kid k2 2>/dev/null`;
open my $fh, '>>', $keys or die $!;
print $fh $line;
close $fh;
open my $pidf, '<', "$CATest::ROOT/t/logs/httpd.pid" or die $!;
chomp(my $pid = <$pidf>);
close $pidf;
kill 'USR1', $pid or die "graceful restart: $!";
my $ok;
for (1 .. 100) {   # the new generation answers once the restart is done
    sleep 0.1;
    my $res = CATest::api(GET => "/api/$ep/clients", key => $key);
    $ok = $res->code == 200;
    last if $ok && -s "$CATest::ROOT/t/logs/httpd.pid";
}
ok($ok, 'old ciphertexts still open after the restart (k1 is still in the ring)');
my $out = CATest::clientapi_ok('rekey');
like($out, qr/re-encrypted \d+ secret/, 'clientapi rekey');
my $dbh = CATest::dbh();
my ($left) = $dbh->selectrow_array(
    q{SELECT count(*) FROM provider_connections WHERE access_token_enc LIKE 'v1.k1.%'
      OR refresh_token_enc LIKE 'v1.k1.%' OR api_key_enc LIKE 'v1.k1.%'});
is($left, 0, 'nothing is sealed under the old key any more');
my ($new) = $dbh->selectrow_array(
    'SELECT count(*) FROM provider_connections WHERE id IN (?, ?) AND '
    . q{(access_token_enc LIKE 'v1.k2.%' OR api_key_enc LIKE 'v1.k2.%')}, undef, $conn, $cc);
is($new, 2, 'both connections are sealed under k2');
is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'OAuth connection after rekey');
is(CATest::api(GET => "/api/$cep/people", key => $ckey)->code, 200,
   'API-key connection after rekey');

done_testing();

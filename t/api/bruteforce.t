# mod_clientapi_ratelimit.c: failed authentications are counted per client address (as
# mod_remoteip gives it); past ClientAPIAuthFailLimit (60 per 300 s in the suite) the address
# gets 429 rate_limited, even with a good key. Other addresses are not affected.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my $ip = sprintf('203.0.113.%d', 1 + $$ % 250);   # documentation range: only a header here
my %from = (headers => { 'X-Forwarded-For' => $ip });

my ($res, $doc) = CATest::api(GET => "/api/$ep", key => $key, %from);
is($res->code, 200, 'a good key from the address works');
my $bad = 0;
for (1 .. 60) {
    $res = CATest::api(GET => "/api/$ep", key => 'cak_' . ('B' x 49), %from);
    $bad++ if $res->code == 401;
}
is($bad, 60, '60 wrong keys: 401 each');
($res, $doc) = CATest::api(GET => "/api/$ep", key => $key, %from);
is($res->code, 429, 'then the address is refused, even with a good key');
is($doc->{code}, 'rate_limited', 'rate_limited');
like($res->header('Retry-After') // '', qr/^\d+$/, 'Retry-After');
($res) = CATest::api(GET => "/api/$ep", key => $key,
                     headers => { 'X-Forwarded-For' => '198.51.100.7' });
is($res->code, 200, 'another address is not affected');
is(CATest::api(GET => "/api/$ep", key => $key)->code, 200, 'nor the suite\'s own');

my $logged;
for (1 .. 100) {   # rows are written after each answer: give the last ones a moment
    ($logged) = CATest::dbh()->selectrow_array(
        'SELECT count(*) FROM request_logs WHERE endpoint_id = ? AND client_ip = ?', undef,
        $ep, $ip);
    last if $logged >= 62;
    select(undef, undef, undef, 0.1);
}
is($logged, 62, 'the log has every request, with the address mod_remoteip gave');

done_testing();

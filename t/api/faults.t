# mod_clientapi_proxy.c: provider failures are answered with the contract's codes, quickly,
# and the module keeps serving afterwards (sandbox fault switches).
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');

sub fault { CATest::sandbox(POST => '/_sandbox/faults', { @_ }) }
sub clear { CATest::sandbox(DELETE => '/_sandbox/faults') }
sub get { CATest::api(GET => "/api/$ep$_[0]", key => $key) }

sub problem {
    my ($path, $status, $code, $name) = @_;
    my ($res, $doc) = get($path);
    is($res->code, $status, "$name: $status") or diag($res->decoded_content);
    is($doc && $doc->{code}, $code, "$name: $code");
    unlike($res->decoded_content, qr/"data"/, "$name: no partial data");
    return $res;
}

fault(status => 500);
problem('/jobs', 502, 'provider_error', 'provider 500');
clear();

fault(status => 503);
problem('/jobs/job_acme_1_01', 502, 'provider_error', 'provider 503 on a record');
clear();

fault(malformed => \1);
problem('/jobs', 502, 'provider_error', 'malformed JSON');
clear();

fault(truncated => \1);
problem('/jobs', 502, 'provider_error', 'truncated JSON');
clear();

# a dropped connection is retried once for reads: one drop is absorbed
{
    my $mark = CATest::journal_mark();
    fault(drop => \1, count => 1);
    my ($res) = get('/clients');
    is($res->code, 200, 'one dropped connection: retried, 200');
    clear();
    fault(drop => \1);
    problem('/clients', 502, 'provider_error', 'connection dropped every time');
    clear();
}

fault(status => 429, retry_after => 2, count => 1);
{
    my $res = problem('/jobs', 429, 'rate_limited', 'provider 429');
    is($res->header('Retry-After'), 2, "the provider's Retry-After passes through");
    # the module backs off the connection instead of calling the provider again
    my $mark = CATest::journal_mark();
    $res = problem('/clients', 429, 'rate_limited', 'during the back-off');
    cmp_ok($res->header('Retry-After'), '<=', 2, 'with what is left of the wait');
    is(scalar @{ CATest::requests_since($mark) }, 0, 'the provider was not called');
    sleep 3;
    is(get('/clients')->code, 200, 'after the wait the provider is called again');
}
clear();

# latency beyond the configured total timeout (ClientAPIUpstreamTimeout 5 2 in the suite)
{
    # the provider would answer after 8 s with data: a 504 shows the module gave up first
    fault(latency_ms => 8000, count => 1);
    problem('/clients', 504, 'provider_timeout', 'slow provider');
    clear();
}

# an expired token is renewed transparently (t/api/refresh.t has the details)
fault(expire_tokens => \1);
is(get('/clients')->code, 200, 'provider 401: renewed and retried');
clear();

# after all of that, the module still serves
CATest::sandbox_reset();
my $conn2 = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep2, $key2) = CATest::seed_endpoint(connection => $conn2, scope => 'company:co_acme');
my ($res, $doc) = CATest::api(GET => "/api/$ep2/clients", key => $key2);
is($res->code, 200, 'healthy again after the faults');
is(scalar @{ $doc->{data} }, 3, 'with the data');

done_testing();

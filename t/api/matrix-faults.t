# The fault suite, run against every provider of t/lib/CATest/Matrix.pm: provider failures in
# each provider's shape (5xx, malformed and truncated JSON, dropped connections, 401, 429,
# latency beyond the timeout) are answered with the contract's codes, with no partial data,
# and the module keeps serving afterwards.
use strict;
use warnings;
use Test::More;
use CATest;
use CATest::Matrix;

sub fault { CATest::sandbox(POST => '/_sandbox/faults', { @_ }) }
sub clear { CATest::sandbox(DELETE => '/_sandbox/faults') }


for my $p (CATest::Matrix::providers()) {
    note("provider $p->{name}");
    my $f = $p->{faults};
    CATest::sandbox_reset();
    my $conn = $p->{connect}->();
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => $p->{company});
    my $get = sub { CATest::api(GET => "/api/$ep$_[0]", key => $key) };
    my $problem = sub {
        my ($path, $status, $code, $name) = @_;
        my ($res, $doc) = $get->($path);
        is($res->code, $status, "$p->{name} $name: $status") or diag($res->decoded_content);
        is($doc && $doc->{code}, $code, "$p->{name} $name: $code");
        unlike($res->decoded_content, qr/"data"/, "$p->{name} $name: no partial data");
        return $res;
    };

    is($get->($f->{list})->code, 200, "$p->{name}: healthy before the faults");

    fault(status => 500);
    $problem->($f->{list}, 502, 'provider_error', 'provider 500');
    clear();

    fault(status => 503);
    $problem->($f->{item}, 502, 'provider_error', 'provider 503 on a record');
    clear();

    fault(malformed => \1);
    $problem->($f->{list}, 502, 'provider_error', 'malformed JSON');
    clear();

    fault(truncated => \1);
    $problem->($f->{list}, 502, 'provider_error', 'truncated JSON');
    clear();

    fault(truncated => \1);
    $problem->($f->{item}, 502, 'provider_error', 'truncated JSON record');
    clear();

    # a dropped connection is retried once for reads: one drop is absorbed
    fault(drop => \1, count => 1);
    is($get->($f->{list})->code, 200, "$p->{name}: one dropped connection: retried, 200");
    clear();
    fault(drop => \1);
    $problem->($f->{list}, 502, 'provider_error', 'connection dropped every time');
    clear();

    # a provider 401: OAuth connections renew the token once and retry; a pasted API key
    # cannot be renewed, so its owner must reconnect
    fault(status => 401, count => 1);
    if ($f->{auth} eq 'api_key') {
        $problem->($f->{list}, 503, 'reauthorization_required', 'provider 401 on an API key');
    }
    else {
        is($get->($f->{list})->code, 200, "$p->{name}: provider 401: renewed and retried");
    }
    clear();
    if ($f->{auth} eq 'oauth') {
        fault(expire_tokens => \1);
        is($get->($f->{item})->code, 200, "$p->{name}: expired token: renewed transparently");
        clear();
    }

    # latency beyond the configured total timeout (ClientAPIUpstreamTimeout 5 2): the provider
    # would answer after 8 s with data, a 504 shows the module gave up first
    fault(latency_ms => 8000, count => 1);
    $problem->($f->{item}, 504, 'provider_timeout', 'slow provider');
    clear();

    # the provider's 429: answered 429 with Retry-After, and the connection backs off
    fault(status => 429, retry_after => 2, count => 1);
    {
        my $res = $problem->($f->{list}, 429, 'rate_limited', 'provider 429');
        my $want = defined $f->{retry_after} ? $f->{retry_after} : 2;
        is($res->header('Retry-After'), $want,
           defined $f->{retry_after} ? "$p->{name}: no Retry-After from the provider: the "
                                       . "file's default"
                                     : "$p->{name}: the provider's Retry-After passes through");
        my $mark = CATest::journal_mark();
        $res = $problem->($f->{item}, 429, 'rate_limited', 'during the back-off');
        cmp_ok($res->header('Retry-After'), '<=', $want, "$p->{name}: what is left of the wait");
        cmp_ok($res->header('Retry-After'), '>=', 1, "$p->{name}: a positive wait");
        is(scalar @{ CATest::requests_since($mark) }, 0, "$p->{name}: the provider was not called");
    }
    clear();

    # after all of that the module still serves (a new connection: the old one backs off)
    my $conn2 = $p->{connect}->();
    my ($ep2, $key2) = CATest::seed_endpoint(connection => $conn2, scope => $p->{company});
    my ($res, $doc) = CATest::api(GET => "/api/$ep2$f->{list}", key => $key2);
    is($res->code, 200, "$p->{name}: healthy again after the faults");
    ok(scalar @{ $doc->{data} || [] }, "$p->{name}: with the data");
}

done_testing();

# mod_clientapi_api.c: keys, endpoint status, expiry, IP allow list, request ids, problem+json,
# and the endpoint description and OpenAPI document.
use strict;
use warnings;
use Test::More;
use CATest;
use Digest::SHA ();

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme:Acme');
my ($ep2, $key2) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex');

sub problem_ok {
    my ($res, $doc, $status, $code, $name) = @_;
    is($res->code, $status, "$name: $status");
    is($res->header('Content-Type'), 'application/problem+json', "$name: problem+json");
    is($doc && $doc->{code}, $code, "$name: code $code");
    is($doc && $doc->{status}, $status, "$name: status member");
    ok($doc && $doc->{title} && $doc->{type} && defined $doc->{detail}, "$name: RFC 9457 members");
    is($doc && $doc->{request_id}, $res->header('X-Request-Id'), "$name: request_id = header");
}

# --- keys ---------------------------------------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep/clients");
    problem_ok($res, $doc, 401, 'key_missing', 'no key');
    like($res->header('WWW-Authenticate') // '', qr/^Bearer/, 'WWW-Authenticate');

    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => 'cak_nope');
    problem_ok($res, $doc, 401, 'key_invalid', 'malformed key');

    my $typo = $key;
    substr($typo, 10, 1) = substr($typo, 10, 1) eq 'A' ? 'B' : 'A';
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $typo);
    problem_ok($res, $doc, 401, 'key_invalid', 'mistyped key (checksum)');
    like($doc->{detail}, qr/checksum|malformed/i, 'says the key is malformed');

    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key2);
    problem_ok($res, $doc, 401, 'key_invalid', "another endpoint's key");

    my ($unknown) = CATest::clientapi_ok('key') =~ /^key: (cak_\S+)/m;
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $unknown);
    problem_ok($res, $doc, 401, 'key_invalid', 'well-formed unknown key');

    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", headers => { 'X-API-Key' => $key });
    is($res->code, 200, 'X-API-Key works too');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key,
                               headers => { 'X-API-Key' => $key2 });
    problem_ok($res, $doc, 400, 'bad_request', 'two different keys');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients",
                               headers => { Authorization => "Basic $key" });
    problem_ok($res, $doc, 401, 'key_invalid', 'not a Bearer key');

    for my $name (qw(key api_key apikey access_token KEY)) {
        ($res, $doc) = CATest::api(GET => "/api/$ep/clients?$name=$key");
        problem_ok($res, $doc, 400, 'key_in_query', "?$name=");
    }
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients?limit=%zz", key => $key);
    problem_ok($res, $doc, 400, 'bad_request', 'malformed query string');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients?x=%0d%0aSet-Cookie:%20a", key => $key);
    problem_ok($res, $doc, 400, 'bad_request', 'CRLF in a parameter');
}

# --- unknown URLs --------------------------------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/not_an_endpoint/clients", key => $key);
    problem_ok($res, $doc, 404, 'not_found', 'not an endpoint id');
    ($res, $doc) = CATest::api(GET => "/api/$ep/widgets", key => $key);
    problem_ok($res, $doc, 404, 'not_found', 'a resource the provider lacks');
    ($res, $doc) = CATest::api(GET => "/api/$ep/people", key => $key);
    problem_ok($res, $doc, 404, 'not_found', "another provider's resource");
}

# --- description and OpenAPI document -------------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep", key => $key);
    is($res->code, 200, 'describe');
    is($doc->{endpoint_id}, $ep, 'endpoint id');
    is($doc->{access_mode}, 'read-only', 'mode');
    is($doc->{scope}{company_external_id}, 'co_acme', 'scope');
    my %names = map { $_->{name} => $_ } @{ $doc->{resources} };
    ok($names{$_}, "lists $_") for qw(clients jobs invoices line_items attachments company);
    ok(!$names{people}, 'not resources of other providers');
    ($res) = CATest::api(GET => "/api/$ep/", key => $key);
    is($res->code, 200, 'describe with a trailing slash (OpenAPI server URL + "/")');
    ($res, $doc) = CATest::api(GET => "/api/$ep?x=1", key => $key);
    is($res->code, 400, 'describe takes no parameters');
    ($res) = CATest::api(GET => "/api/$ep");
    is($res->code, 401, 'describe needs the key');

    ($res, $doc) = CATest::api(GET => "/api/$ep/openapi.json", key => $key);
    is($res->code, 200, 'openapi.json');
    like($doc->{openapi}, qr/^3\./, 'OpenAPI 3');
    ok($doc->{paths}{'/jobs'}{get}, 'paths');
    ok(!$doc->{paths}{'/jobs'}{post}, 'no writes on a read-only endpoint');
    ($res) = CATest::api(GET => "/api/$ep/openapi.json");
    is($res->code, 401, 'openapi.json needs the key');
    ($res) = CATest::api(HEAD => "/api/$ep/clients", key => $key);
    is($res->code, 200, 'HEAD works where GET does');
    is($res->decoded_content, '', 'HEAD: no body');
}

# --- endpoint lifecycle: deactivate, reissue, expiry, IP allow list -------------------
{
    # changed with the clientapi command and in the database directly: seen at once by a
    # server without the key cache (with it: within its ttl, t/api/keycache.t)
    local $CATest::BASE_URL = CATest::nocache_url();
    CATest::clientapi_ok('endpoint', 'deactivate', $ep);
    my ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    problem_ok($res, $doc, 403, 'endpoint_inactive', 'deactivated');
    CATest::clientapi_ok('endpoint', 'activate', $ep);
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'active again');

    my $out = CATest::clientapi_ok('endpoint', 'reissue', $ep);
    my ($new) = $out =~ /^key: (cak_\S+)/m;
    ok($new && $new ne $key, 'reissue prints a new key');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    problem_ok($res, $doc, 401, 'key_invalid', 'old key after reissue without grace');
    is(CATest::api(GET => "/api/$ep/clients", key => $new)->code, 200, 'new key works at once');

    $out = CATest::clientapi_ok('endpoint', 'reissue', $ep, '--grace', 3600);
    my ($newer) = $out =~ /^key: (cak_\S+)/m;
    is(CATest::api(GET => "/api/$ep/clients", key => $new)->code, 200,
       'previous key works during its grace period');
    is(CATest::api(GET => "/api/$ep/clients", key => $newer)->code, 200, 'and the new one');
    # let the grace period run out (the database row's expiry, as time would)
    my $dbh = CATest::dbh();
    is($dbh->do('UPDATE endpoint_keys SET expires_at = ? WHERE key_hash = ?', undef,
                time - 1, 'sha256:' . Digest::SHA::sha256_hex($new)), 1, 'grace ended');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $new);
    problem_ok($res, $doc, 401, 'key_invalid', 'previous key once its grace period is over');

    my ($exp, $kexp) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme',
                                             extra => ['--expires-at', time + 3600]);
    is(CATest::api(GET => "/api/$exp/clients", key => $kexp)->code, 200, 'before its expiry');
    $dbh->do('UPDATE endpoints SET expires_at = ? WHERE public_id = ?', undef, time - 10, $exp);
    ($res, $doc) = CATest::api(GET => "/api/$exp/clients", key => $kexp);
    problem_ok($res, $doc, 403, 'endpoint_inactive', 'expired endpoint');

    my ($ipd, $kipd) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme',
                                             extra => ['--ip-allow', '10.0.0.0/8,2001:db8::/32']);
    ($res, $doc) = CATest::api(GET => "/api/$ipd/clients", key => $kipd);
    problem_ok($res, $doc, 403, 'ip_not_allowed', 'address not in the allow list');
    my ($ipa, $kipa) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme',
                                             extra => ['--ip-allow', '10.0.0.0/8 127.0.0.1/32']);
    is(CATest::api(GET => "/api/$ipa/clients", key => $kipa)->code, 200, 'address allowed');

    CATest::clientapi_ok('endpoint', 'delete', $exp);
    ($res, $doc) = CATest::api(GET => "/api/$exp/clients", key => $kexp);
    problem_ok($res, $doc, 401, 'key_invalid', 'deleted endpoint');
}

done_testing();

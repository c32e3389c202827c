# mod_clientapi_api.c: hostile input against the caller API (issue 8, item 4). Every case gets
# the contract's problem+json answer and changes nothing: no write reaches the provider (the
# sandbox's write journal) and the endpoint's stored rows stay as they were. Bodies, content
# types and invalid UTF-8 on writes are in t/api/writes.t; keys in the query and CRLF in a
# parameter in t/api/auth.t.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use CATest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex',
                                       mode => 'read-write');
my ($ep2) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');

my $snapshot = sub {
    my $e = $dbh->selectall_arrayref(
        'SELECT e.public_id, e.name, e.scope_kind, e.company_id, e.client_id, e.access_mode, '
        . 'e.status, e.expires_at, e.ip_allow, e.updated_at, e.rotated_at, k.key_hash, '
        . 'k.revoked_at, k.expires_at AS key_expires FROM endpoints e '
        . 'JOIN endpoint_keys k ON k.endpoint_id = e.id WHERE e.public_id IN (?, ?) '
        . 'ORDER BY e.id, k.id', { Slice => {} }, $ep, $ep2);
    return CATest::json()->encode($e);
};
my $before = $snapshot->();
my $mark = CATest::journal_mark();

sub problem_is {
    my ($res, $doc, $status, $code, $name) = @_;
    is($res->code, $status, "$name: $status");
    is($res->header('Content-Type'), 'application/problem+json', "$name: problem+json");
    is($doc && $doc->{code}, $code, "$name: code $code");
    ok($res->header('X-Request-Id'), "$name: X-Request-Id");
}

# ---- parameters: NUL, CRLF, malformed escapes --------------------------------------------
for my $q ('status=a%00b', 'x%00=1', 'status=%0d%0aX-Injected:%201', 'status=%0a', 'limit=%',
           'cursor=%e', 'status=%09', 'status=%7f', 'status=%c0%ae', 'status=%ff',
           'status=%ed%a0%80', 'st%0aatus=x') {
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?$q", key => $key);
    problem_is($res, $doc, 400, 'bad_request', "?$q");
    ok(!$res->header('X-Injected'), "?$q: no header injected");
}
{
    # a malformed query that carries a key: refused, and the key stays out of the access log
    my $secret = 'cak_' . ('Q' x 48) . 'zz';
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?api_key=$secret&x=%zz");
    problem_is($res, $doc, 400, 'bad_request', 'malformed query with a key in it');
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?key=$secret&x=%0a");
    is($res->code, 400, 'a key and a control character: 400');
    my $log = "$CATest::ROOT/t/logs/access_log";
    open my $fh, '<', $log or die "$log: $!";
    my $text = do { local $/; <$fh> };
    close $fh;
    unlike($text, qr/\Q$secret\E/, 'the key is not in the access log');
}

# ---- limit ---------------------------------------------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=1000000000000000000000", key => $key);
    ok($res->code == 200 || $res->code == 400, 'a huge limit: capped or refused, never a 5xx')
        or diag($res->decoded_content);
    ok(!$doc->{data} || @{ $doc->{data} } <= 100, 'never more than the configured maximum');
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=99999", key => $key);
    is($res->code, 200, 'limit=99999: silently capped');
    ok(@{ $doc->{data} || [] } <= 100, 'at most 100 records');
    for my $l ('-1', '0', 'abc', '1e3', '0x10', '5;DROP TABLE request_logs', '') {
        ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=$l", key => $key);
        problem_is($res, $doc, 400, 'bad_request', "limit=$l");
    }
}

# ---- ids: negative, non-numeric, SQL and traversal -----------------------------------------
for my $id ('-1', '0', '99999999999999999999999', 'abc', "1'%20OR%20'1'='1",
            '1%3BDROP%20TABLE%20endpoints', '%3Cscript%3E', '..', '%2e%2e', '.') {
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs/$id", key => $key);
    problem_is($res, $doc, 404, 'not_found', "jobs/$id");
}
{
    # another endpoint through a traversal: the path as httpd normalises it, or refused
    for my $path ("/api/$ep/../$ep2/jobs", "/api/$ep/%2e%2e/$ep2/jobs", "/api/$ep/jobs/%2e%2e",
                  "/api/$ep/jobs/./job_globex_1_01") {
        my ($res, $doc) = CATest::api(GET => $path, key => $key);
        ok($res->code == 401 || $res->code == 404, "$path: 401 or 404")
            or diag($res->code . ' ' . $res->decoded_content);
        is($res->header('Content-Type'), 'application/problem+json', "$path: problem+json");
        ok(!($doc && $doc->{data}), "$path: no records");
    }
    # an encoded slash: httpd itself refuses it (AllowEncodedSlashes Off, its default) with
    # 404 before any module runs, so the body is httpd's page (docs/security.md)
    for my $path ("/api/$ep/jobs/..%2f..%2f$ep2", "/api/$ep/jobs%2fjob_globex_1_01",
                  "/api/$ep%2fjobs") {
        my ($res, $doc) = CATest::api(GET => $path, key => $key);
        is($res->code, 404, "$path: 404");
        ok(!($doc && $doc->{data}), "$path: no records");
    }
}

# ---- methods -------------------------------------------------------------------------------
for my $m (qw(PROPFIND TRACE MKCOL COPY LOCK FOO)) {
    my ($res, $doc) = CATest::api($m => "/api/$ep/jobs", key => $key);
    problem_is($res, $doc, 405, 'method_not_allowed', $m);
    unlike($res->decoded_content, qr/\Q$key\E/, "$m: the key is not echoed back");
}
{
    # without a key, TRACE gets what every method gets: 401 (httpd's own TRACE handler would
    # echo the request, headers included)
    my ($res, $doc) = CATest::api(TRACE => "/api/$ep/jobs",
                                  headers => { 'X-API-Key' => 'cak_not_a_key' });
    is($res->code, 401, 'TRACE with a bad key: 401');
    unlike($res->decoded_content, qr/cak_not_a_key/, 'TRACE: nothing echoed');
}

# ---- headers -------------------------------------------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs", key => ('cak_' . ('A' x 7000)));
    problem_is($res, $doc, 401, 'key_invalid', 'a 7 KB key');
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs", key => $key,
                               headers => { 'Idempotency-Key' => 'i' x 4000 });
    ok($res->code == 200 || $res->code == 400, 'a 4 KB Idempotency-Key on GET: ignored or 400');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
                               headers => { 'Idempotency-Key' => 'i' x 4000 },
                               json => { client_id => 'cl_globex_1', title => 'x' });
    problem_is($res, $doc, 400, 'bad_request', 'a 4 KB Idempotency-Key on POST');

    # over httpd's LimitRequestFieldSize (8190): httpd refuses it before any handler runs
    my ($host, $port) = CATest::base_url() =~ m{^http://([^:/]+):(\d+)};
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 30)
        or die "connect: $!";
    print $s "GET /api/$ep/jobs HTTP/1.1\r\nHost: $host\r\nAuthorization: Bearer $key\r\n"
        . 'X-Big: ' . ('b' x 20000) . "\r\nConnection: close\r\n\r\n";
    my $status = <$s> // '';
    close $s;
    like($status, qr{^HTTP/1\.1 400}, 'a 20 KB header: 400 from httpd');
}

# ---- writes with hostile content -----------------------------------------------------------
{
    my $m = CATest::journal_mark();
    my ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
        headers => { 'Content-Type' => 'application/json; charset=latin1' },
        body => qq({"client_id":"cl_globex_1","title":"caf\xe9"}));
    problem_is($res, $doc, 400, 'bad_request', 'Latin-1 bytes labelled latin1 (JSON is UTF-8)');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
        headers => { 'Content-Type' => 'application/json' },
        body => qq({"client_id":"cl_globex_1","title":"\xed\xa0\x80"}));
    problem_is($res, $doc, 400, 'bad_request', 'a UTF-16 surrogate encoded as UTF-8');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
        headers => { 'Content-Type' => 'application/json' },
        body => qq({"client_id":"cl_globex_1","title":"a\\u0000b"}));
    problem_is($res, $doc, 400, 'bad_request', 'an escaped NUL in a string');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
        headers => { 'Content-Type' => 'application/json' },
        body => '{"client_id":"cl_globex_1","title":"x"} trailing');
    problem_is($res, $doc, 400, 'bad_request', 'trailing garbage after the object');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
        headers => { 'Content-Type' => 'application/json' },
        body => ('[' x 100000) . (']' x 100000));
    ok($res->code == 400 || $res->code == 413, 'deeply nested JSON: 400 or 413');
    is(scalar @{ CATest::writes_since($m) }, 0, 'none of them reached the provider');

    # SQL and HTML in a record: the provider gets them verbatim, the answer escapes nothing
    # into markup (JSON only), and the module stores nothing of it
    my $evil = q{<script>alert(1)</script>'; DROP TABLE endpoints; --};
    $m = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key,
                               json => { client_id => 'cl_globex_1', title => $evil });
    is($res->code, 201, 'a record with SQL and HTML metacharacters is written');
    is($doc->{data}{title}, $evil, 'and answered verbatim');
    like($res->header('Content-Type'), qr{^application/json}, 'as JSON');
    my $w = CATest::writes_since($m);
    is($w->[0]{body}{title}, $evil, 'the provider got it verbatim');
    ok($dbh->selectrow_array('SELECT count(*) FROM endpoints'), 'the endpoints table is there');
}

# ---- the request log stores hostile query values and user agents verbatim -----------------
{
    my $evil = q{<img src=x onerror=alert(1)>' OR '1'='1};
    my $q = 'status=%3Cimg%20src%3Dx%3E%27%20OR%20%271%27%3D%271';
    my $res = CATest::api(GET => "/api/$ep/jobs?$q", key => $key,
                          headers => { 'User-Agent' => $evil });
    my $rid = $res->header('X-Request-Id');
    my $row;
    for (1 .. 100) {   # written after the answer
        $row = $dbh->selectrow_hashref('SELECT * FROM request_logs WHERE request_id = ?', undef,
                                       $rid);
        last if $row;
        sleep 0.1;
    }
    ok($row, 'the request is logged');
    is($row && $row->{user_agent}, $evil, 'user agent stored verbatim');
    like($row && $row->{query}, qr/status=%3Cimg/, 'query stored as sent');
}

is(scalar @{ CATest::writes_since($mark) }, 1, 'only the one valid write reached the provider');
is($snapshot->(), $before, 'the endpoints and their keys are unchanged');
done_testing();

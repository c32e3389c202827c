# mod_clientapi_proxy.c: access modes and writes. Nothing that is refused may reach the
# provider: every case checks the sandbox's write journal.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ro, $kro) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my ($rw, $krw) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex',
                                       mode => 'read-write');
my ($crw, $kcrw) = CATest::seed_endpoint(connection => $conn, scope => 'client:co_acme/cl_acme_3',
                                         mode => 'read-write');

sub nothing_written {
    my ($mark, $name) = @_;
    my $w = CATest::writes_since($mark);
    is(scalar @$w, 0, "$name: nothing reached the provider") or diag(explain($w));
}

# --- read-only endpoints -------------------------------------------------------------
for my $case (['POST', '/jobs', { title => 'x' }], ['PATCH', '/jobs/job_acme_1_01', { title => 'x' }],
              ['PUT', '/jobs/job_acme_1_01', { title => 'x' }], ['DELETE', '/jobs/job_acme_1_01']) {
    my ($m, $path, $body) = @$case;
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api($m => "/api/$ro$path", key => $kro,
                                  ($body ? (json => $body) : ()));
    is($res->code, 405, "$m on read-only: 405");
    is($doc->{code}, 'read_only', "$m: read_only");
    like($res->header('Allow') // '', qr/^GET, HEAD$/, "$m: Allow: GET, HEAD");
    nothing_written($mark, "$m on read-only");
}
{
    my ($res, $doc) = CATest::api(OPTIONS => "/api/$rw/jobs", key => $krw);
    is($res->code, 405, 'an unknown method: 405');
    is($doc->{code}, 'method_not_allowed', 'method_not_allowed');
    like($res->header('Allow'), qr/POST/, 'Allow lists what the resource takes');
}

# --- create ----------------------------------------------------------------------------
{
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
        json => { client_id => 'cl_globex_1', title => 'Rewire the panel', status => 'scheduled' });
    is($res->code, 201, 'create: 201') or diag($res->decoded_content);
    is($doc->{data}{company_id}, 'co_globex', 'the scope id was set by the module');
    like($res->header('Location') // '', qr{/api/$rw/jobs/\S+$}, 'Location');
    my $w = CATest::writes_since($mark);
    is(scalar @$w, 1, 'one write reached the provider');
    is($w->[0]{body}{company_id}, 'co_globex', 'with the scope id');

    $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
        json => { company_id => 'co_acme', client_id => 'cl_acme_1', title => 'escape' });
    is($res->code, 422, "create naming another company: 422");
    is($doc->{code}, 'scope_violation', 'scope_violation');
    like($doc->{detail}, qr/company_id/, 'names the field');
    nothing_written($mark, 'scope violation');

    $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$crw/jobs", key => $kcrw,
        json => { client_id => 'cl_acme_1', title => 'sibling' });
    is($res->code, 422, 'client endpoint creating for another client: 422');
    nothing_written($mark, 'client scope violation');

    ($res, $doc) = CATest::api(POST => "/api/$crw/jobs", key => $kcrw, json => { title => 'mine' });
    is($res->code, 201, 'client endpoint create');
    is($doc->{data}{client_id}, 'cl_acme_3', 'client id set');
    is($doc->{data}{company_id}, 'co_acme', 'company id set');

    $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$rw/line_items", key => $krw,
        json => { invoice_id => 'inv_acme_1_01', description => 'x', quantity => 1, unit_price => 1 });
    is($res->code, 422, "a line item on another company's invoice: 422");
    nothing_written($mark, 'parent outside the scope');

    ($res, $doc) = CATest::api(POST => "/api/$rw/line_items", key => $krw,
        json => { invoice_id => 'inv_globex_1_01', description => 'Fuse', quantity => 2,
                  unit_price => 3.5 });
    is($res->code, 201, 'a line item on an own invoice') or diag($res->decoded_content);
}

# --- bad bodies ------------------------------------------------------------------
{
    my @cases = (
        [ 'not JSON', { 'Content-Type' => 'application/json' }, '{"title": ', 400, 'bad_request' ],
        [ 'an array', { 'Content-Type' => 'application/json' }, '[1,2]', 400, 'bad_request' ],
        [ 'text/plain', { 'Content-Type' => 'text/plain' }, '{}', 415, 'unsupported_media_type' ],
        [ 'no type', {}, '{}', 415, 'unsupported_media_type' ],
        [ 'form', { 'Content-Type' => 'application/x-www-form-urlencoded' }, 'a=b', 415,
          'unsupported_media_type' ],
        [ 'invalid UTF-8', { 'Content-Type' => 'application/json' }, "{\"title\":\"\xff\xfe\"}",
          400, 'bad_request' ],
        [ 'too large', { 'Content-Type' => 'application/json' },
          '{"title":"' . ('x' x (1024 * 1024 + 10)) . '"}', 413, 'body_too_large' ],
    );
    for my $c (@cases) {
        my ($name, $h, $body, $status, $code) = @$c;
        my $mark = CATest::journal_mark();
        my ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw, headers => $h,
                                      body => $body);
        is($res->code, $status, "$name: $status");
        is($res->header('Content-Type'), 'application/problem+json', "$name: problem+json");
        is($doc && $doc->{code}, $code, "$name: $code");
        nothing_written($mark, $name);
    }
}

# --- update and delete check the record first ----------------------------------------
{
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(PATCH => "/api/$rw/jobs/job_acme_1_01", key => $krw,
                                  json => { title => 'hijack' });
    is($res->code, 404, "PATCH another company's job: 404");
    nothing_written($mark, 'out-of-scope PATCH');
    ($res) = CATest::api(DELETE => "/api/$rw/jobs/job_acme_1_01", key => $krw);
    is($res->code, 404, "DELETE another company's job: 404");
    ($res) = CATest::api(PUT => "/api/$rw/jobs/job_acme_orphan", key => $krw,
                         json => { title => 'x' });
    is($res->code, 404, 'PUT an orphan: 404');
    nothing_written($mark, 'out-of-scope writes');

    ($res, $doc) = CATest::api(PATCH => "/api/$rw/jobs/job_globex_1_01", key => $krw,
                               json => { company_id => 'co_acme' });
    is($res->code, 422, 'PATCH moving a record to another company: 422');
    nothing_written($mark, 'moving out of scope');

    ($res, $doc) = CATest::api(PATCH => "/api/$rw/jobs/job_globex_1_01", key => $krw,
                               json => { title => 'Renamed' });
    is($res->code, 200, 'PATCH own job: 200') or diag($res->decoded_content);
    is($doc->{data}{title}, 'Renamed', 'updated record');
    ($res) = CATest::api(DELETE => "/api/$rw/attachments/att_globex_1_01", key => $krw);
    is($res->code, 405, 'a resource without delete: 405');
    ($res) = CATest::api(DELETE => "/api/$rw/jobs/job_globex_1_02", key => $krw);
    is($res->code, 204, 'DELETE own job: 204');
    my $w = CATest::writes_since($mark);
    is(scalar @$w, 2, 'exactly the two allowed writes reached the provider');
}

# --- Idempotency-Key replays the first result ----------------------------------------
{
    my $mark = CATest::journal_mark();
    my $idem = CATest::unique('idem');
    my %req = (key => $krw, headers => { 'Idempotency-Key' => $idem },
               json => { client_id => 'cl_globex_2', title => 'Once only' });
    my ($r1, $d1) = CATest::api(POST => "/api/$rw/jobs", %req);
    my ($r2, $d2) = CATest::api(POST => "/api/$rw/jobs", %req);
    is($r1->code, 201, 'first POST');
    is($r2->code, 201, 'replayed POST');
    is_deeply($d2, $d1, 'same answer');
    is($r2->header('Idempotent-Replayed'), 'true', 'marked as replayed');
    is(scalar @{ CATest::writes_since($mark) }, 1, 'one write at the provider');
    my ($r3, $d3) = CATest::api(POST => "/api/$rw/jobs", %req,
                                json => { client_id => 'cl_globex_2', title => 'Different' });
    is($r3->code, 422, 'same key, different body: 422');
    is($d3->{code}, 'idempotency_key_reused', 'idempotency_key_reused');
}

done_testing();

# conf/providers/servicem8.json through the module and the sandbox's ServiceM8 shape: what the
# matrix (t/api/matrix-*.t) does not cover: the URL-encoded $filter and the first cursor sent,
# creates answered with x-record-uuid, updates by POST, soft deletes, the scope of writes.
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'servicem8', login => 'demo');
my ($rw, $krw) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme',
                                       mode => 'read-write');

# --- the scope query: $filter URL-encoded, the first page asked with cursor=-1 -------------
{
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(GET => "/api/$rw/jobs", key => $krw);
    is($res->code, 200, 'jobs');
    my ($call) = grep { $_->{path} eq '/sm8/api_1.0/job.json' } @{ CATest::requests_since($mark) };
    ok($call, 'the job collection was asked');
    like($call->{query} // '', qr/(?:^|&)(?:%24|\$)filter=company_uuid%20eq%20%27co_acme%27(?:&|$)/,
         '$filter sent URL-encoded');
    unlike($call->{query} // '', qr/'| /, 'no raw quote or space');
    like($call->{query} // '', qr/(?:^|&)cursor=-1(?:&|$)/, 'first page: cursor=-1');
    is($doc->{count}, 10, 'a page of the sandbox (10 records)');
    ok($doc->{next_cursor}, 'x-next-cursor mapped to next_cursor');
}

# --- create: the module sets company_uuid, the id comes from x-record-uuid -----------------
my $id;
{
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
                                  json => { job_description => 'Leaking tap', status => 'Quote' });
    is($res->code, 201, 'create a job') or diag($res->decoded_content);
    $id = $doc->{data}{uuid};
    like($id // '', qr/^job_new_/, 'the new record, read back by its x-record-uuid');
    is($doc->{data}{company_uuid}, 'co_acme', 'born in the endpoint\'s company');
    is($doc->{data}{job_description}, 'Leaking tap', 'with the fields sent');
    like($res->header('Location') // '', qr{/api/$rw/jobs/\Q$id\E$}, 'Location');
    my ($w) = @{ CATest::writes_since($mark) };
    is($w->{method}, 'POST', 'one POST reached the provider');
    is($w->{body}{company_uuid}, 'co_acme', 'company_uuid set by the module');

    $mark = CATest::journal_mark();
    ($res, $doc) = CATest::api(POST => "/api/$rw/jobs", key => $krw,
                               json => { job_description => 'x', company_uuid => 'co_globex' });
    is($res->code, 422, 'a body naming another company: 422');
    is($doc->{code}, 'scope_violation', 'scope_violation');
    is(scalar @{ CATest::writes_since($mark) }, 0, 'nothing reached the provider');
}

# --- update is a POST to the record --------------------------------------------------------
{
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(PATCH => "/api/$rw/jobs/$id", key => $krw,
                                  json => { job_description => 'Leaking tap (kitchen)' });
    is($res->code, 200, 'PATCH a job') or diag($res->decoded_content);
    is($doc->{data}{job_description}, 'Leaking tap (kitchen)', 'the record as it is now');
    my ($w) = @{ CATest::writes_since($mark) };
    is($w->{method}, 'POST', 'sent as POST');
    is($w->{path}, "/sm8/api_1.0/job/$id.json", 'to the record');
    ($res) = CATest::api(PATCH => "/api/$rw/jobs/job_globex_1_01", key => $krw,
                         json => { job_description => 'x' });
    is($res->code, 404, "another company's job cannot be updated");
}

# --- delete is soft: the record stays with active = 0 --------------------------------------
{
    my $mark = CATest::journal_mark();
    my ($res) = CATest::api(DELETE => "/api/$rw/jobs/$id", key => $krw);
    is($res->code, 204, 'DELETE a job');
    my ($w) = @{ CATest::writes_since($mark) };
    is($w && $w->{method}, 'DELETE', 'DELETE reached the provider');
    my $doc;
    ($res, $doc) = CATest::api(GET => "/api/$rw/jobs/$id", key => $krw);
    is($res->code, 200, 'the record is still there (soft delete)');
    is($doc->{data}{active}, 0, 'with active = 0');
    $mark = CATest::journal_mark();
    ($res) = CATest::api(DELETE => "/api/$rw/jobs/job_globex_1_01", key => $krw);
    is($res->code, 404, "another company's job cannot be deleted");
    is(scalar @{ CATest::writes_since($mark) }, 0, 'nothing reached the provider');
}

# --- line items and attachments only through their job --------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$rw/line_items", key => $krw);
    is($res->code, 404, 'no top-level list of line items');
    ($res, $doc) = CATest::api(GET => "/api/$rw", key => $krw);
    my ($jobs) = grep { $_->{name} eq 'jobs' } @{ $doc->{resources} || [] };
    ok($jobs, 'the description lists jobs');
}

done_testing();

# mod_clientapi_proxy.c + ca_scope.c through httpd and the sandbox: a key sees its scope and
# nothing else. Two companies (co_acme, co_globex) and two clients of co_acme; the sandbox's
# account also holds "orphan" records whose company is null (fail closed: never shown).
use strict;
use warnings;
use Test::More;
use CATest;

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($acme, $kacme) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme:Acme');
my ($globex, $kglobex) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_globex');
my ($bakery, $kbakery) = CATest::seed_endpoint(connection => $conn,
                                               scope => 'client:co_acme/cl_acme_2:Bluebird');

sub get { my ($ep, $key, $rest) = @_; return CATest::api(GET => "/api/$ep$rest", key => $key) }

sub all_pages {
    my ($ep, $key, $rest) = @_;
    my (@all, $cursor, $pages);
    do {
        my $sep = $rest =~ /\?/ ? '&' : '?';
        my ($res, $doc) = get($ep, $key, $rest . ($cursor ? "${sep}cursor=$cursor" : ''));
        is($res->code, 200, "page of $rest") or diag($res->decoded_content), return;
        push @all, @{ $doc->{data} };
        is($doc->{count}, scalar @{ $doc->{data} }, 'count is the page size');
        $cursor = $doc->{next_cursor};
        $pages++;
    } while ($cursor && $pages < 20);
    return \@all;
}

# --- lists: every record carries the scope -------------------------------------------
{
    my ($res, $doc) = get($acme, $kacme, '/clients');
    is($res->code, 200, 'company endpoint lists clients');
    is($res->header('Content-Type'), 'application/json', 'JSON');
    like($res->header('X-Request-Id') // '', qr/\S/, 'X-Request-Id');
    is($doc->{provider}, 'sandbox', 'provider');
    is($doc->{company_external_id}, 'co_acme', 'company_external_id');
    ok(exists $doc->{client_external_id} && !defined $doc->{client_external_id},
       'client_external_id null');
    is_deeply([sort map { $_->{id} } @{ $doc->{data} }], [qw(cl_acme_1 cl_acme_2 cl_acme_3)],
              'exactly the three Acme clients');
}
{
    my $jobs = all_pages($acme, $kacme, '/jobs?limit=7');
    is(scalar @$jobs, 40, 'all 40 Acme jobs over several pages (orphan dropped)');
    is(scalar(grep { ($_->{company_id} // '') ne 'co_acme' } @$jobs), 0, 'all co_acme');
    my %seen;
    is(scalar(grep { $seen{$_->{id}}++ } @$jobs), 0, 'no record twice across pages');
}
{
    my $jobs = all_pages($bakery, $kbakery, '/jobs');
    is_deeply([sort map { $_->{id} } @$jobs],
              [qw(job_acme_2_01 job_acme_2_02 job_acme_2_03)],
              'client endpoint: its three jobs, not the orphan with a null company');
}

# --- single records: out of scope is 404 exactly like missing -------------------------
{
    my ($r1, $d1) = get($acme, $kacme, '/jobs/job_globex_1_01');
    my ($r2, $d2) = get($acme, $kacme, '/jobs/job_does_not_exist');
    is($r1->code, 404, "other company's job: 404");
    is($r2->code, 404, 'missing job: 404');
    is($r1->header('Content-Type'), 'application/problem+json', 'problem+json');
    delete $_->{request_id} for $d1, $d2;
    is_deeply($d1, $d2, 'same body for out-of-scope and missing');
    is($d1->{code}, 'not_found', 'code not_found');

    my ($r3, $d3) = get($acme, $kacme, '/jobs/job_acme_1_01');
    is($r3->code, 200, 'own job: 200');
    is($d3->{data}{id}, 'job_acme_1_01', 'the record');
    is($d3->{provider}, 'sandbox', 'single envelope');

    is(get($acme, $kacme, '/jobs/job_acme_orphan')->code, 404, 'orphan (null company): 404');
    is(get($bakery, $kbakery, '/jobs/job_acme_orphan')->code, 404,
       'orphan for its client: still 404 (company unprovable)');
    is(get($bakery, $kbakery, '/jobs/job_acme_1_01')->code, 404, "sibling client's job: 404");
    is(get($acme, $kacme, '/clients/cl_globex_1')->code, 404, "other company's client: 404");
    is(get($bakery, $kbakery, '/clients/cl_acme_1')->code, 404, 'other client: 404');
    is(get($bakery, $kbakery, '/clients/cl_acme_2')->code, 200, 'its own client record: 200');
}

# --- nested and parent-scoped resources ---------------------------------------------
{
    my ($res, $doc) = get($acme, $kacme, '/invoices/inv_acme_1_01/line_items');
    is($res->code, 200, 'nested list of an own invoice');
    is(scalar @{ $doc->{data} }, 2, 'its two line items');
    is(get($acme, $kacme, '/invoices/inv_globex_1_01/line_items')->code, 404,
       "nested list under another company's invoice: 404");
    is(get($acme, $kacme, '/invoices/inv_acme_orphan/line_items')->code, 404,
       'nested list under an orphan invoice: 404');
    is(get($acme, $kacme, '/line_items/li_acme_1_01_1')->code, 200, 'line item via its invoice');
    is(get($acme, $kacme, '/line_items/li_globex_1_01_1')->code, 404,
       "another company's line item: 404");
    is(get($acme, $kacme, '/line_items/li_acme_orphan_1')->code, 404, 'orphan line item: 404');
    is(get($bakery, $kbakery, '/attachments/att_acme_2_01')->code, 200, 'attachment via job');
    is(get($bakery, $kbakery, '/attachments/att_acme_1_01')->code, 404,
       "sibling client's attachment: 404");
    my ($r2, $d2) = get($acme, $kacme, '/line_items');
    is($r2->code, 400, 'top-level list of a parent-scoped resource needs its parent');
    is($d2->{code}, 'bad_request', 'bad_request');
    ($r2, $d2) = get($acme, $kacme, '/line_items?invoice_id=inv_acme_1_02');
    is($r2->code, 200, 'line items by own invoice id');
    is(scalar @{ $d2->{data} }, 2, 'two');
    is(get($acme, $kacme, '/line_items?invoice_id=inv_globex_1_01')->code, 404,
       "line items by another company's invoice id: 404");
}

# --- filters narrow, never widen ---------------------------------------------------
{
    my ($res, $doc) = get($acme, $kacme, '/jobs?company_id=co_globex');
    is($res->code, 200, 'company_id override answered');
    is(scalar(grep { $_->{company_id} ne 'co_acme' } @{ $doc->{data} }), 0,
       '?company_id= of another company shows nothing of it');
    ($res, $doc) = get($bakery, $kbakery, '/jobs?client_id=cl_acme_1');
    is(scalar(grep { $_->{client_id} ne 'cl_acme_2' } @{ $doc->{data} }), 0,
       '?client_id= of a sibling client shows nothing of it');
    ($res, $doc) = get($acme, $kacme, '/jobs?client_id=cl_acme_3');
    is($res->code, 200, 'a company endpoint can narrow to one client');
    is_deeply([sort map { $_->{client_id} } @{ $doc->{data} }], [qw(cl_acme_3 cl_acme_3)],
              'narrowed');
    ($res, $doc) = get($acme, $kacme, '/jobs?client_id=cl_globex_1');
    is(scalar @{ $doc->{data} }, 0, 'narrowing to a client of another company gives nothing');
    ($res, $doc) = get($acme, $kacme, '/jobs?status=scheduled&status=completed');
    is($res->code, 400, 'a repeated parameter is refused');
    like($doc->{detail}, qr/status/, 'naming it');
    ($res, $doc) = get($acme, $kacme, '/jobs?company_id=co_acme&company_id=co_globex');
    is($res->code, 400, 'a repeated scope parameter is refused');
    ($res, $doc) = get($acme, $kacme, '/jobs?bogus=1');
    is($res->code, 400, 'an unknown parameter is refused');
    like($doc->{detail}, qr/bogus/, 'naming it');
    ($res, $doc) = get($acme, $kacme, '/jobs?limit=100000');
    is($res->code, 200, 'a huge limit is capped silently');
    cmp_ok(scalar @{ $doc->{data} }, '<=', 100, 'at most the cap');
    for my $bad ('limit=-1', 'limit=0', 'limit=ten', 'limit=') {
        is(get($acme, $kacme, "/jobs?$bad")->code, 400, "$bad refused");
    }
}

# --- cursors are bound to their endpoint ------------------------------------------
{
    my (undef, $doc) = get($acme, $kacme, '/jobs?limit=5');
    my $cursor = $doc->{next_cursor};
    ok($cursor, 'a next cursor');
    my ($res, $d2) = get($globex, $kglobex, "/jobs?cursor=$cursor");
    is($res->code, 400, "another endpoint's cursor is refused");
    is(get($acme, $kacme, "/jobs?cursor=${cursor}x")->code, 400, 'a tampered cursor is refused');
    is(get($acme, $kacme, '/jobs?cursor=abc')->code, 400, 'a made-up cursor is refused');
    is(get($acme, $kacme, "/clients?cursor=$cursor")->code, 400,
       "another resource's cursor is refused");
}

# --- path tricks, case and unicode: no such URL -----------------------------------
for my $path ('/jobs/..', '/jobs/%2e%2e', '/jobs/%252e%252e', '/jobs/', '/jobs/job_acme_1_01/x/y',
              '/Jobs', '/JOBS/job_acme_1_01', "/j\x{f6}bs", '/jobs%00', '/jobs/job_acme_1_01%20',
              '/jobs/..%2f..%2fclients', '/clients/..', '/company/../clients', '/jobs;x=1') {
    my $res = get($acme, $kacme, $path);
    ok($res->code == 404 || $res->code == 400, "$path: refused (" . $res->code . ')');
    unlike($res->decoded_content, qr/co_globex|cl_globex/, "$path: nothing of another company");
}

# --- the company resource ---------------------------------------------------------
{
    my ($res, $doc) = get($acme, $kacme, '/company');
    is($res->code, 200, 'company list');
    is_deeply([map { $_->{id} } @{ $doc->{data} }], ['co_acme'], 'only its own company');
    is(get($acme, $kacme, '/company/co_globex')->code, 404, 'another company: 404');
}

# --- compatibility route ----------------------------------------------------------
{
    my ($res, $doc);
    ($res, $doc) = CATest::api(GET => "/api/public/$acme/query/?resource=job", key => $kacme);
    is($res->code, 200, 'compat list (singular resource name)');
    is($doc->{company_external_id}, 'co_acme', 'list envelope');
    is(scalar(grep { $_->{company_id} ne 'co_acme' } @{ $doc->{data} }), 0, 'scoped');
    ($res, $doc) = CATest::api(GET => "/api/public/$acme/query/?resource=jobs&id=job_acme_1_02",
                               key => $kacme);
    is($res->code, 200, 'compat single');
    is($doc->{company_external_id}, 'co_acme', 'single envelope with company_external_id');
    is($doc->{data}{id}, 'job_acme_1_02', 'the record');
    ($res, $doc) = CATest::api(GET => "/api/public/$acme/query/?resource=jobs&id=job_globex_1_01",
                               key => $kacme);
    is($res->code, 404, 'compat: out of scope is 404');
    ($res, $doc) = CATest::api(GET => "/api/public/$acme/query/", key => $kacme);
    is($res->code, 400, 'compat: resource is required');
    ($res, $doc) = CATest::api(POST => "/api/public/$acme/query/?resource=jobs", key => $kacme,
                               json => {});
    is($res->code, 405, 'compat: GET only');
}

done_testing();

use Mojo::Base -strict, -signatures;

# Native data API reads: seed, paging, filters, nesting, account isolation.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Test::More;

my $t     = sandbox_t();
my $demo  = {Authorization => 'Bearer ' . issue_token($t, user => 'demo')->{access_token}};
my $other = {Authorization => 'Bearer ' . issue_token($t, user => 'other')->{access_token}};

sub ids ($h, $url) {
    my $tx = $t->ua->get($url => $h);
    die "$url: " . $tx->res->body unless $tx->res->code == 200;
    return [map { $_->{id} } @{$tx->res->json('/data')}];
}

# Follows next_cursor to the end; returns all ids and the page sizes.
sub all_pages ($h, $url) {
    my (@ids, @sizes);
    my $next = $url;
    while (defined $next) {
        my $tx = $t->ua->get($next => $h);
        die "$next: " . $tx->res->body unless $tx->res->code == 200;
        my $json = $tx->res->json;
        push @ids,   map { $_->{id} } @{$json->{data}};
        push @sizes, scalar @{$json->{data}};
        $next = defined $json->{next_cursor}
            ? Mojo::URL->new($url)->query({cursor => $json->{next_cursor}}) : undef;
        die 'runaway paging' if @sizes > 50;
    }
    return (\@ids, \@sizes);
}

my @acme1_jobs = map { sprintf 'job_acme_1_%02d', $_ } 1 .. 35;

subtest 'seed and account isolation' => sub {
    is_deeply ids($demo, '/api/v1/companies'), [qw(co_acme co_globex)], 'demo companies';
    is_deeply ids($other, '/api/v1/companies'), ['co_initech'], 'other companies';
    is_deeply ids($demo, '/api/v1/clients'),
        [qw(cl_acme_1 cl_acme_2 cl_acme_3 cl_globex_1 cl_globex_2)], 'demo clients';
    is_deeply ids($other, '/api/v1/clients'), [qw(cl_initech_1 cl_initech_2)], 'other clients';

    $t->get_ok('/api/v1/companies/co_acme' => $demo)->status_is(200)
        ->json_is('/data/name', 'Acme Plumbing Ltd')->json_hasnt('/data/_account')
        ->json_hasnt('/data/_seq');
    $t->get_ok('/api/v1/clients/cl_acme_1' => $demo)->status_is(200)
        ->json_is('/data/company_id', 'co_acme')
        ->json_is('/data/email', 'alice.archer@example.com');

    # Records of another account do not exist for you
    for my $path (qw(/api/v1/companies/co_initech /api/v1/clients/cl_initech_1
        /api/v1/jobs/job_initech_1_01 /api/v1/invoices/inv_initech_1_01
        /api/v1/line_items/li_initech_1_01_1 /api/v1/attachments/att_initech_1_01
        /api/v1/invoices/inv_initech_1_01/line_items /api/v1/jobs/job_initech_1_01/attachments
        /api/v1/attachments/att_initech_1_01/content))
    {
        $t->get_ok($path => $demo)->status_is(404)->json_is('/error', 'not_found');
    }
    $t->get_ok('/api/v1/jobs/job_initech_1_01' => $other)->status_is(200);
    is_deeply ids($demo, '/api/v1/jobs?company_id=co_initech'), [], 'filter cannot widen';
    $t->get_ok('/api/v1/clients/cl_nope' => $demo)->status_is(404)->json_is('/error', 'not_found');
    $t->get_ok('/api/v1/widgets' => $demo)->status_is(404)->json_is('/error', 'not_found');
};

subtest 'record shapes and the tricky records' => sub {
    $t->get_ok('/api/v1/invoices/inv_acme_1_03' => $demo)->status_is(200)
        ->json_is('/data/job_id', 'job_acme_1_03')->json_is('/data/client_id', 'cl_acme_1')
        ->json_is('/data/company_id', 'co_acme')->json_is('/data/currency', 'USD')
        ->json_is('/data/status', 'paid')->json_is('/data/total', 127.5);
    my $items = $t->ua->get('/api/v1/invoices/inv_acme_1_03/line_items' => $demo)->res->json;
    is_deeply [sort keys %{$items->{data}[0]}],
        [qw(created_at description id invoice_id quantity unit_price updated_at)],
        'line item fields';
    my $sum = 0;
    $sum += $_->{quantity} * $_->{unit_price} for @{$items->{data}};
    is $sum, 127.5, 'total is the sum of the line items';
    is $items->{next_cursor}, undef, 'single page';

    $t->get_ok('/api/v1/jobs/job_acme_1_01/attachments' => $demo)->status_is(200)
        ->json_is('/data/0/id', 'att_acme_1_01')->json_is('/data/0/content_type', 'image/jpeg')
        ->json_like('/data/0/url',
        qr{\Ahttp://127\.0\.0\.1:\d+/api/v1/attachments/att_acme_1_01/content\z});
    $t->get_ok('/api/v1/attachments/att_acme_1_01/content' => $demo)->status_is(200)
        ->content_type_is('image/jpeg');
    is length $t->tx->res->body, 2049, 'content has the advertised size';
    {
        local $ENV{SANDBOX_PUBLIC_URL} = 'https://sbx.example.test';
        $t->get_ok('/api/v1/attachments/att_acme_1_01' => $demo)
            ->json_is('/data/url',
            'https://sbx.example.test/api/v1/attachments/att_acme_1_01/content');
    }

    # company_id null: visible to its account, never matched by a company filter
    $t->get_ok('/api/v1/jobs/job_acme_orphan' => $demo)->status_is(200)
        ->json_is('/data/company_id', undef)->json_is('/data/client_id', 'cl_acme_2');
    $t->get_ok('/api/v1/invoices/inv_acme_orphan' => $demo)->json_is('/data/company_id', undef);
    $t->get_ok('/api/v1/line_items/li_acme_orphan_1' => $demo)
        ->json_is('/data/invoice_id', 'inv_acme_orphan');
    $t->get_ok('/api/v1/attachments/att_acme_orphan' => $demo)
        ->json_is('/data/job_id', 'job_acme_orphan');
    my ($all) = all_pages($demo, '/api/v1/jobs?limit=100');
    ok scalar(grep { $_ eq 'job_acme_orphan' } @$all), 'orphan in the unfiltered list';
    my ($acme) = all_pages($demo, '/api/v1/jobs?company_id=co_acme&limit=100');
    ok !grep({ $_ eq 'job_acme_orphan' } @$acme), 'orphan not in company_id=co_acme';
    is scalar @$acme, 40, 'co_acme has 40 jobs with its company id';
    is_deeply ids($demo, '/api/v1/jobs?client_id=cl_acme_2'),
        [qw(job_acme_2_01 job_acme_2_02 job_acme_2_03 job_acme_orphan)], 'client filter';
};

subtest 'paging' => sub {
    my ($ids, $sizes) = all_pages($demo, '/api/v1/jobs?client_id=cl_acme_1');
    is_deeply $sizes, [25, 10], 'default limit 25';
    is_deeply $ids, \@acme1_jobs, 'all jobs, in order, once';

    ($ids, $sizes) = all_pages($demo, '/api/v1/jobs?client_id=cl_acme_1&limit=10');
    is_deeply $sizes, [10, 10, 10, 5], 'limit 10';
    is_deeply $ids, \@acme1_jobs, 'same order with another page size';

    ($ids, $sizes) = all_pages($demo, '/api/v1/jobs?client_id=cl_acme_1&limit=35');
    is_deeply $sizes, [35], 'exact fit: no empty trailing page';

    ($ids, $sizes) = all_pages($demo, '/api/v1/jobs?limit=100');
    is scalar @$ids, 45, 'all demo jobs (40 acme + orphan + 4 globex)';
    my %seen;
    ok !grep({ $seen{$_}++ } @$ids), 'no duplicates';

    $t->get_ok('/api/v1/jobs?limit=100' => $demo)->status_is(200);
    for my $bad (0, 101, -1, 'ten', '1.5', '') {
        $t->get_ok("/api/v1/jobs?limit=$bad" => $demo)->status_is(400)
            ->json_is('/error', 'invalid_request');
    }

    my $cursor = $t->ua->get('/api/v1/jobs?limit=2' => $demo)->res->json('/next_cursor');
    ok $cursor, 'got a cursor';
    $t->get_ok("/api/v1/jobs?cursor=$cursor" => $demo)->status_is(200)
        ->json_is('/data/0/id', 'job_acme_1_03');
    $t->get_ok("/api/v1/clients?cursor=$cursor" => $demo)->status_is(400)
        ->json_is('/error', 'invalid_cursor');
    $t->get_ok("/api/v1/jobs?cursor=$cursor" => $other)->status_is(400)
        ->json_is('/error', 'invalid_cursor');
    $t->get_ok('/api/v1/jobs?cursor=bm90LWEtY3Vyc29y' => $demo)->status_is(400)
        ->json_is('/error', 'invalid_cursor');
    $t->get_ok('/api/v1/jobs?cursor=%00%01' => $demo)->status_is(400);
    (my $tampered = $cursor) =~ tr/A-Za-z/B-ZAb-za/;
    $t->get_ok("/api/v1/jobs?cursor=$tampered" => $demo)->status_is(400);

    # Nested lists page too, with their own cursors
    my $nested = $t->ua->get('/api/v1/invoices/inv_acme_1_01/line_items?limit=1' => $demo)
        ->res->json;
    is scalar @{$nested->{data}}, 1, 'nested page of 1';
    $t->get_ok("/api/v1/invoices/inv_acme_1_01/line_items?cursor=$nested->{next_cursor}" => $demo)
        ->status_is(200)->json_is('/data/0/id', 'li_acme_1_01_2')->json_is('/next_cursor', undef);
    $t->get_ok("/api/v1/line_items?cursor=$nested->{next_cursor}" => $demo)->status_is(400);
};

subtest 'filters' => sub {
    is_deeply ids($demo, '/api/v1/clients?company_id=co_globex'), [qw(cl_globex_1 cl_globex_2)],
        'clients by company';
    is_deeply ids($demo, '/api/v1/invoices?job_id=job_acme_1_02'), ['inv_acme_1_02'],
        'invoices by job';
    is_deeply ids($demo, '/api/v1/invoices?client_id=cl_globex_2'),
        [qw(inv_globex_2_01 inv_globex_2_02)], 'invoices by client';
    is_deeply ids($demo, '/api/v1/invoices?company_id=co_globex&limit=100'),
        [qw(inv_globex_1_01 inv_globex_1_02 inv_globex_2_01 inv_globex_2_02)],
        'invoices by company';
    is_deeply ids($demo, '/api/v1/line_items?invoice_id=inv_acme_1_05'),
        [qw(li_acme_1_05_1 li_acme_1_05_2)], 'line items by invoice';
    is_deeply ids($demo, '/api/v1/attachments?job_id=job_acme_3_02'), ['att_acme_3_02'],
        'attachments by job';

    my ($done) = all_pages($demo, '/api/v1/jobs?client_id=cl_acme_1&status=completed');
    is_deeply $done, [map { sprintf 'job_acme_1_%02d', $_ } grep { $_ % 4 == 3 } 1 .. 35],
        'jobs by status';
    my ($two) = all_pages($demo,
        '/api/v1/jobs?client_id=cl_acme_1&status=completed,cancelled&limit=100');
    is scalar @$two, 17, 'comma-separated statuses';
    is_deeply ids($demo, '/api/v1/invoices?status=void&client_id=cl_acme_3'), [],
        'invoice status filter';
    is_deeply ids($demo, '/api/v1/invoices?status=sent&client_id=cl_acme_3'),
        ['inv_acme_3_02'], 'invoice status filter match';

    my ($recent) = all_pages($demo,
        '/api/v1/jobs?client_id=cl_acme_1&updated_since=2026-02-01T12:00:00Z');
    is_deeply $recent, [@acme1_jobs[11 .. 34]], 'updated_since (inclusive)';
    ($recent) = all_pages($demo,
        '/api/v1/jobs?client_id=cl_acme_1&updated_since=2026-02-01T13:00:00%2B01:00');
    is scalar @$recent, 24, 'updated_since with an offset';
    is_deeply ids($demo, '/api/v1/clients?updated_since=2026-01-04'), ['cl_acme_3', 'cl_globex_1',
        'cl_globex_2'], 'updated_since with a date';
    is_deeply ids($demo, '/api/v1/clients?status=archived'), ['cl_globex_2'], 'client status';
    is scalar @{ids($demo, '/api/v1/clients?status=active')}, 4, 'active clients';
    is_deeply ids($demo,
        '/api/v1/line_items?invoice_id=inv_acme_1_30&updated_since=2026-02-02T06:30:00Z'),
        [qw(li_acme_1_30_1 li_acme_1_30_2)], 'line items updated_since (match)';
    is_deeply ids($demo,
        '/api/v1/line_items?invoice_id=inv_acme_1_29&updated_since=2026-02-02T06:30:00Z'),
        [], 'line items updated_since (no match)';
    is_deeply ids($demo, '/api/v1/attachments?updated_since=2026-02-02T11:00:00Z'),
        ['att_acme_1_35'], 'attachments updated_since';

    # Repeated parameters: the last one wins
    is_deeply ids($demo, '/api/v1/jobs?client_id=cl_acme_2&client_id=cl_acme_3'),
        [qw(job_acme_3_01 job_acme_3_02)], 'last client_id wins';
    my $r = $t->ua->get('/api/v1/jobs?limit=1&limit=3' => $demo)->res->json('/data');
    is scalar @$r, 3, 'last limit wins';

    # Bad filters
    for my $bad ('/api/v1/jobs?status=lost', '/api/v1/jobs?updated_since=yesterday',
        '/api/v1/jobs?updated_since=2026-02-30', '/api/v1/clients?status=scheduled',
        '/api/v1/line_items?company_id=co_acme', '/api/v1/jobs?foo=bar',
        '/api/v1/jobs?client_id=', '/api/v1/companies?company_id=co_acme')
    {
        $t->get_ok($bad => $demo)->status_is(400)->json_is('/error', 'invalid_request');
    }
};

subtest 'method checks' => sub {
    $t->post_ok('/api/v1/companies' => $demo => json => {name => 'x'})->status_is(405)
        ->header_is(Allow => 'GET, HEAD');
    $t->delete_ok('/api/v1/companies/co_acme' => $demo)->status_is(405);
    $t->post_ok('/api/v1/jobs/job_acme_1_01' => $demo => json => {})->status_is(405)
        ->header_is(Allow => 'DELETE, GET, PATCH, PUT, HEAD');
    $t->head_ok('/api/v1/jobs/job_acme_1_01' => $demo)->status_is(200);
};

done_testing;

use Mojo::Base -strict, -signatures;

# Native data API writes: create/update/delete, validation, the writes
# journal, Idempotency-Key, bad bodies.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t issue_token);
use Test::More;

my $t     = sandbox_t();
my $demo  = {Authorization => 'Bearer ' . issue_token($t, user => 'demo')->{access_token}};
my $other = {Authorization => 'Bearer ' . issue_token($t, user => 'other')->{access_token}};

sub writes ($since = 0) { return $t->ua->get("/_sandbox/writes?since=$since")->res->json }

subtest 'create, read back, journal' => sub {
    $t->post_ok('/api/v1/clients' => $demo => json => {company_id => 'co_acme',
        name => 'Nora New', email => 'nora@example.com', id => 'ignored', created_at => 'x'})
        ->status_is(201)->json_is('/data/id', 'cl_new_0001')->json_is('/data/name', 'Nora New')
        ->json_is('/data/company_id', 'co_acme')->json_is('/data/phone', undef)
        ->json_is('/data/status', 'active')
        ->json_like('/data/created_at', qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/)
        ->header_like(Location => qr{/api/v1/clients/cl_new_0001\z});
    $t->get_ok('/api/v1/clients/cl_new_0001' => $demo)->status_is(200)
        ->json_is('/data/email', 'nora@example.com');
    $t->get_ok('/api/v1/clients/cl_new_0001' => $other)->status_is(404);

    my $w = writes();
    is scalar @{$w->{data}}, 1, 'one write journaled';
    my $e = $w->{data}[0];
    is $e->{method},   'POST',            'method';
    is $e->{path},     '/api/v1/clients', 'path';
    is $e->{resource}, 'clients',         'resource';
    is $e->{id},       'cl_new_0001',     'id';
    is $e->{status},   201,               'status';
    is $e->{api},      'native',          'api';
    is $e->{body}{name}, 'Nora New', 'body';
    like $e->{time}, qr/\A\d{4}-\d\d-\d\dT[\d:.]+Z\z/, 'time';
    is $w->{last_seq}, $e->{seq}, 'last_seq';
    is scalar @{writes($e->{seq})->{data}}, 0, 'since filters';

    # Jobs inherit company_id from their client; invoices from their job
    $t->post_ok('/api/v1/jobs' => $demo => json => {client_id => 'cl_new_0001', title => 'Fix',
        scheduled_at => '2026-05-01T10:00:00+02:00'})->status_is(201)
        ->json_is('/data/company_id', 'co_acme')->json_is('/data/status', 'scheduled')
        ->json_is('/data/scheduled_at', '2026-05-01T08:00:00Z')
        ->json_is('/data/description', undef);
    my $job = $t->tx->res->json('/data/id');
    $t->post_ok('/api/v1/invoices' => $demo => json => {job_id => $job, total => 999})
        ->status_is(201)
        ->json_is('/data/client_id', 'cl_new_0001')->json_is('/data/company_id', 'co_acme')
        ->json_is('/data/currency', 'USD')->json_is('/data/total', 0)
        ->json_is('/data/status', 'draft')->json_like('/data/number', qr/\ASBX-/);
    my $inv = $t->tx->res->json('/data/id');
    $t->post_ok('/api/v1/line_items' => $demo => json => {invoice_id => $inv,
        description => 'Pipe', quantity => 3, unit_price => 2.5})->status_is(201)
        ->json_is('/data/quantity', 3);
    my $li = $t->tx->res->json('/data/id');
    $t->post_ok('/api/v1/line_items' => $demo => json => {invoice_id => $inv,
        description => 'Call-out', unit_price => 40})->status_is(201)->json_is('/data/quantity', 1);
    $t->get_ok("/api/v1/invoices/$inv" => $demo)->json_is('/data/total', 47.5);
    $t->post_ok('/api/v1/attachments' => $demo => json => {job_id => $job,
        filename => 'before.png', content_type => 'image/png', size => 10})->status_is(201)
        ->json_like('/data/url', qr{/api/v1/attachments/att_new_\d+/content\z});

    # Line item changes keep the invoice total right
    $t->patch_ok("/api/v1/line_items/$li" => $demo => json => {quantity => 1})->status_is(200);
    $t->get_ok("/api/v1/invoices/$inv" => $demo)->json_is('/data/total', 42.5);
    $t->delete_ok("/api/v1/line_items/$li" => $demo)->status_is(204);
    $t->get_ok("/api/v1/invoices/$inv" => $demo)->json_is('/data/total', 40);
};

subtest 'validation and scope of parents' => sub {
    my @bad = (
        ['/api/v1/clients', {name => 'No company'}, 'company_id', 'required'],
        ['/api/v1/clients', {company_id => 'co_initech', name => 'X'}, 'company_id', 'unknown'],
        ['/api/v1/clients', {company_id => 'co_acme'}, 'name', 'required'],
        ['/api/v1/clients', {company_id => 'co_acme', name => 'X', vip => 1}, 'vip', 'unknown'],
        ['/api/v1/clients', {company_id => 'co_acme', name => ['X']}, 'name', 'string'],
        ['/api/v1/clients', {company_id => 'co_acme', name => undef}, 'name', 'null'],
        ['/api/v1/clients', {company_id => 'co_acme', name => 'X', status => 'gone'}, 'status',
            'one of'],
        ['/api/v1/jobs', {client_id => 'cl_acme_1', title => 'x', company_id => 'co_globex'},
            'company_id', 'match'],
        ['/api/v1/jobs', {client_id => 'cl_initech_1', title => 'x'}, 'client_id', 'unknown'],
        ['/api/v1/jobs', {client_id => 'cl_acme_1', title => 'x', status => 'done'}, 'status',
            'one of'],
        ['/api/v1/jobs', {client_id => 'cl_acme_1', title => 'x', scheduled_at => 'soon'},
            'scheduled_at', 'ISO'],
        ['/api/v1/invoices', {job_id => 'job_acme_1_01', currency => 'usd'}, 'currency', 'ISO'],
        ['/api/v1/invoices', {job_id => 'job_acme_1_01', client_id => 'cl_acme_2'}, 'client_id',
            'match'],
        ['/api/v1/line_items', {invoice_id => 'inv_acme_1_01', description => 'x',
            unit_price => -1}, 'unit_price', 'negative'],
        ['/api/v1/line_items', {invoice_id => 'inv_acme_1_01', description => 'x',
            unit_price => 'cheap'}, 'unit_price', 'number'],
        ['/api/v1/line_items', {invoice_id => 'inv_acme_1_01', description => 'x',
            unit_price => 1, quantity => 0}, 'quantity', 'greater'],
        ['/api/v1/attachments', {job_id => 'job_acme_1_01', filename => '../etc/passwd'},
            'filename', 'plain'],
        ['/api/v1/attachments', {job_id => 'job_acme_1_01', filename => 'a', size => -3},
            'size', 'integer'],
    );
    for my $case (@bad) {
        my ($path, $body, $field, $msg) = @$case;
        $t->post_ok($path => $demo => json => $body)->status_is(422)
            ->json_is('/error', 'validation_failed')
            ->json_like("/fields/$field", qr/$msg/, "$path: $field $msg");
    }
    my $w = writes()->{data};
    is $w->[-1]{status}, 422, 'refused writes are journaled with their status';
};

subtest 'update and replace' => sub {
    my $before = $t->ua->get('/api/v1/jobs/job_acme_1_02' => $demo)->res->json('/data');
    $t->patch_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {title => 'Renamed',
        updated_at => '1999-01-01T00:00:00Z'})->status_is(200)
        ->json_is('/data/title', 'Renamed')->json_is('/data/status', $before->{status})
        ->json_is('/data/description', $before->{description});
    isnt $t->tx->res->json('/data/updated_at'), $before->{updated_at}, 'updated_at moved';
    isnt $t->tx->res->json('/data/updated_at'), '1999-01-01T00:00:00Z', 'updated_at read-only';

    # Moving a job to another client moves its company with it
    $t->patch_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {client_id => 'cl_globex_1'})
        ->status_is(200)->json_is('/data/company_id', 'co_globex');
    $t->patch_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {company_id => 'co_acme'})
        ->status_is(422)->json_like('/fields/company_id', qr/match/);
    $t->patch_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {client_id => 'cl_initech_1'})
        ->status_is(422);

    # PUT replaces: required fields needed, omitted optional ones reset
    $t->put_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {title => 'Only title'})
        ->status_is(422)->json_is('/fields/client_id', 'required');
    $t->put_ok('/api/v1/jobs/job_acme_1_02' => $demo => json => {client_id => 'cl_acme_1',
        title => 'Replaced'})->status_is(200)->json_is('/data/description', undef)
        ->json_is('/data/status', 'scheduled')->json_is('/data/scheduled_at', undef)
        ->json_is('/data/company_id', 'co_acme')->json_is('/data/id', 'job_acme_1_02');

    # The orphan stays an orphan on unrelated changes
    $t->patch_ok('/api/v1/jobs/job_acme_orphan' => $demo => json => {status => 'completed'})
        ->status_is(200)->json_is('/data/company_id', undef);

    $t->patch_ok('/api/v1/jobs/job_initech_1_01' => $demo => json => {title => 'hijack'})
        ->status_is(404);
    $t->get_ok('/api/v1/jobs/job_initech_1_01' => $other)->json_is('/data/title',
        'Frieda Gruber job 1');
    $t->patch_ok('/api/v1/jobs/job_nope' => $demo => json => {title => 'x'})->status_is(404)
        ->json_is('/error', 'not_found');
};

subtest 'delete cascades' => sub {
    my $since = writes()->{last_seq};
    $t->delete_ok('/api/v1/clients/cl_acme_3' => $demo)->status_is(204)->content_is('');
    $t->get_ok("/api/v1/$_" => $demo)->status_is(404)
        for qw(clients/cl_acme_3 jobs/job_acme_3_01 invoices/inv_acme_3_02
        line_items/li_acme_3_01_1 attachments/att_acme_3_02);
    my $w = writes($since)->{data};
    is scalar @$w, 1, 'one journal entry';
    is $w->[0]{method},  'DELETE',    'DELETE';
    is $w->[0]{id},      'cl_acme_3', 'id';
    is $w->[0]{cascade}, 10, 'children removed (2 jobs, 2 invoices, 4 items, 2 attachments)';
    $t->delete_ok('/api/v1/clients/cl_acme_3' => $demo)->status_is(404);
    $t->delete_ok('/api/v1/clients/cl_initech_1' => $demo)->status_is(404);
    $t->get_ok('/api/v1/clients/cl_initech_1' => $other)->status_is(200);
};

subtest 'bad bodies' => sub {
    my $since = writes()->{last_seq};
    $t->post_ok('/api/v1/clients' => {%$demo, 'Content-Type' => 'text/plain'} => '{"name":"x"}')
        ->status_is(415)->json_is('/error', 'unsupported_media_type');
    $t->post_ok('/api/v1/clients' => $demo => form => {name => 'x'})->status_is(415);
    $t->post_ok('/api/v1/clients' => $demo => '{"name":"x"}')->status_is(415, 'no content type');
    my %json = (%$demo, 'Content-Type' => 'application/json');
    $t->post_ok('/api/v1/clients' => \%json => '{"name": "x",')->status_is(400)
        ->json_is('/error', 'invalid_json');
    $t->post_ok('/api/v1/clients' => \%json => '[1,2]')->status_is(400)
        ->json_is('/error', 'invalid_json');
    $t->post_ok('/api/v1/clients' => \%json => '')->status_is(400);
    $t->patch_ok('/api/v1/clients/cl_acme_1' => \%json => 'null')->status_is(400);
    $t->post_ok('/api/v1/clients' => {%$demo, 'Content-Type' => 'application/json; charset=utf-8'}
        => '{"company_id":"co_acme","name":"Charset OK"}')->status_is(201);
    $t->post_ok('/api/v1/clients' => {%$demo, 'Content-Type' => 'application/merge-patch+json'}
        => '{"company_id":"co_acme","name":"Suffix OK"}')->status_is(201);
    my @status = map { $_->{status} } @{writes($since)->{data}};
    is_deeply \@status, [415, 415, 415, 400, 400, 400, 400, 201, 201], 'all journaled';
};

subtest 'Idempotency-Key' => sub {
    my $since = writes()->{last_seq};
    my %h    = (%$demo, 'Idempotency-Key' => 'key-1');
    my $body = {company_id => 'co_globex', name => 'Once Only'};
    $t->post_ok('/api/v1/clients' => \%h => json => $body)->status_is(201)
        ->header_is('Idempotent-Replayed' => undef);
    my $first = $t->tx->res->json;
    my $loc   = $t->tx->res->headers->location;
    $t->post_ok('/api/v1/clients' => \%h => json => {name => 'Once Only',
        company_id => 'co_globex'})->status_is(201)->header_is('Idempotent-Replayed' => 'true')
        ->header_is(Location => $loc)->json_is('' => $first);
    my $n = grep { $_->{name} eq 'Once Only' }
        @{$t->ua->get('/api/v1/clients?company_id=co_globex' => $demo)->res->json('/data')};
    is $n, 1, 'created once';
    is scalar @{writes($since)->{data}}, 1, 'one write journaled';

    $t->post_ok('/api/v1/clients' => \%h => json => {%$body, name => 'Different'})
        ->status_is(422)->json_is('/error', 'idempotency_key_reused');
    $t->post_ok('/api/v1/jobs' => \%h => json => {client_id => 'cl_acme_1', title => 'x'})
        ->status_is(422, 'same key on another path');

    # Keys are per account, and a new key writes again
    $t->post_ok('/api/v1/clients' => {%$other, 'Idempotency-Key' => 'key-1'} =>
        json => {company_id => 'co_initech', name => 'Other'})->status_is(201);
    $t->post_ok('/api/v1/clients' => {%$demo, 'Idempotency-Key' => 'key-2'} => json => $body)
        ->status_is(201);
    isnt $t->tx->res->json('/data/id'), $first->{data}{id}, 'new key, new record';
    $t->post_ok('/api/v1/clients' => {%$demo, 'Idempotency-Key' => "bad\tkey"} => json => $body)
        ->status_is(400);
    $t->get_ok('/_sandbox/stats')->json_is('/idempotent_replays', 1);
    $t->get_ok('/_sandbox/requests')->status_is(200);
    my @keys = grep {defined} map { $_->{idempotency_key} } @{$t->tx->res->json('/data')};
    ok scalar(grep { $_ eq 'key-1' } @keys) >= 2, 'keys are in the request journal';
};

done_testing;

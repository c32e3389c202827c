package CATest::Matrix;
# The provider matrix: one entry per provider file, read by t/api/matrix-scope.t and
# t/api/matrix-faults.t, which run the same scope-escape and fault suites against every
# provider the sandbox plays. Adding a provider to the suites means adding an entry here
# (and its ClientAPIProviderURL line in t/conf/extra.conf.in), not writing new tests.
#
# An entry:
#   name          provider name (conf/providers/NAME.json or a test-only file)
#   connect       sub returning a new connection id of the sandbox's "demo" account
#   company       scope of the company endpoint (clientapi endpoint add --scope); a provider
#                 that serves client-scoped endpoints only (Jobber) gives a client scope here
#                 and its lists are checked with that client's envelope
#   other         scope of a second endpoint on the same connection (cursor binding)
#   client        scope of a client endpoint (absent: the provider has no client scope)
#   foreign       regex: text that must never appear in the company endpoint's answers
#   client_foreign  the same for the client endpoint
#   lists         [{ path, count | ids, field => [path, value] }]: company endpoint lists,
#                 read over all pages; `field` is checked on every record. The first one
#                 must have more than one page (cursor tests)
#   client_lists  the same for the client endpoint
#   own / client_own   paths that answer 200 with a record
#   out / client_out   paths of records outside the scope: 404 not_found
#   missing       an item path that does not exist (out-of-scope item answers must equal it)
#   widen         [path]: caller parameters that try to widen the scope (200 without foreign
#                 records, or 400)
#   bad           [path]: malformed list requests (400 bad_request)
#   compat        a resource name for the compatibility route (?resource=)
#   faults        { list, item, auth => 'oauth' | 'api_key', retry_after => N | undef }
#                 undef retry_after: the provider's Retry-After passes through; N: the
#                 provider sends none (ServiceM8) and the file's default_retry_after applies
use strict;
use warnings;
use CATest;

sub _id { my $r = shift; return $r->{id} // $r->{uuid} }

our @PROVIDERS = (
    {
        name    => 'sandbox',
        connect => sub { CATest::seed_connection(provider => 'sandbox', login => 'demo') },
        company => 'company:co_acme:Acme',
        other   => 'company:co_globex',
        client  => 'client:co_acme/cl_acme_2:Bluebird',
        foreign => qr/co_globex|cl_globex|co_initech|_orphan/,
        client_foreign => qr/cl_acme_1|cl_acme_3|co_globex|_orphan/,
        lists => [
            { path => '/jobs?limit=7', count => 40, field => ['company_id', 'co_acme'] },
            { path => '/clients', ids => [qw(cl_acme_1 cl_acme_2 cl_acme_3)] },
            { path => '/company', ids => ['co_acme'] },
            { path => '/invoices/inv_acme_1_01/line_items', count => 2 },
            { path => '/line_items?invoice_id=inv_acme_1_02', count => 2 },
            { path => '/jobs?client_id=cl_acme_3', count => 2,
              field => ['client_id', 'cl_acme_3'] },
        ],
        client_lists => [
            { path => '/jobs', ids => [qw(job_acme_2_01 job_acme_2_02 job_acme_2_03)] },
            { path => '/clients', ids => ['cl_acme_2'] },
        ],
        own => [qw(/jobs/job_acme_1_01 /line_items/li_acme_1_01_1 /company/co_acme
                   /attachments/att_acme_1_01 /invoices/inv_acme_1_01)],
        out => [qw(/jobs/job_globex_1_01 /jobs/job_acme_orphan /clients/cl_globex_1
                   /line_items/li_globex_1_01_1 /line_items/li_acme_orphan_1
                   /invoices/inv_globex_1_01/line_items /invoices/inv_acme_orphan/line_items
                   /company/co_globex /line_items?invoice_id=inv_globex_1_01
                   /jobs/job_initech_1_01)],
        missing => '/jobs/job_does_not_exist',
        client_own => [qw(/clients/cl_acme_2 /attachments/att_acme_2_01 /jobs/job_acme_2_01)],
        client_out => [qw(/jobs/job_acme_1_01 /jobs/job_acme_orphan /clients/cl_acme_1
                          /attachments/att_acme_1_01)],
        widen => ['/jobs?company_id=co_globex', '/jobs?client_id=cl_globex_1'],
        client_widen => ['/jobs?client_id=cl_acme_1'],
        bad => ['/line_items', '/jobs?bogus=1', '/jobs?status=a&status=b',
                '/jobs?company_id=co_acme&company_id=co_globex'],
        compat => 'job',
        faults => { list => '/jobs', item => '/jobs/job_acme_1_01', auth => 'oauth' },
    },
    {
        name    => 'clientcommander',
        connect => sub { CATest::seed_connection(provider => 'clientcommander', login => 'demo') },
        company => 'company:acc_demo:Demo',
        other   => 'client:acc_demo/per_demo_01',
        client  => 'client:acc_demo/per_demo_03',
        foreign => qr/(?:per|deal|usr_cc)_other/,
        client_foreign => qr/"id":"per_demo_(?!03)|deal_demo_0[13-6]|_other/,
        lists => [
            { path => '/people?limit=10', count => 25 },
            { path => '/deals', field => ['id', qr/^deal_demo_/] },
        ],
        client_lists => [
            { path => '/people', ids => ['per_demo_03'] },
            { path => '/deals', ids => ['deal_demo_02'] },
        ],
        own => [qw(/people/per_demo_01 /deals/deal_demo_01)],
        out => [qw(/people/per_other_01 /deals/deal_other_01)],
        missing => '/people/per_does_not_exist',
        client_own => [qw(/people/per_demo_03 /deals/deal_demo_02)],
        client_out => [qw(/people/per_demo_04 /deals/deal_demo_01 /people/per_other_01)],
        widen => [],
        client_widen => [],
        bad => ['/people?bogus=1', '/people?limit=a'],
        compat => 'people',
        faults => { list => '/people', item => '/people/per_demo_01', auth => 'api_key' },
    },
    {
        name    => 'servicem8',
        connect => sub { CATest::seed_connection(provider => 'servicem8', login => 'demo') },
        company => 'company:co_acme:Acme',
        other   => 'company:co_globex',
        foreign => qr/co_globex|cl_globex|co_initech|_orphan/,
        lists => [
            { path => '/jobs', count => 40, field => ['company_uuid', 'co_acme'] },
            { path => '/company', ids => [qw(co_acme cl_acme_1 cl_acme_2 cl_acme_3)] },
            { path => '/jobs/job_acme_1_01/line_items', ids => [qw(li_acme_1_01_1 li_acme_1_01_2)],
              field => ['job_uuid', 'job_acme_1_01'] },
            { path => '/jobs/job_acme_2_01/attachments', ids => ['att_acme_2_01'] },
        ],
        own => [qw(/jobs/job_acme_1_01 /company/co_acme /company/cl_acme_2
                   /line_items/li_acme_1_01_1 /attachments/att_acme_1_01)],
        out => [qw(/jobs/job_globex_1_01 /jobs/job_acme_orphan /company/co_globex
                   /company/cl_globex_1 /line_items/li_globex_1_01_1
                   /line_items/li_acme_orphan_1 /attachments/att_acme_orphan
                   /jobs/job_globex_1_01/line_items /jobs/job_acme_orphan/attachments
                   /jobs/job_initech_1_01 /line_items)],
        missing => '/jobs/job_does_not_exist',
        widen => ["/jobs?%24filter=company_uuid%20eq%20%27co_globex%27",
                  '/jobs?company_uuid=co_globex'],
        bad => ['/jobs?bogus=1', '/jobs?cursor=-1'],
        compat => 'job',
        faults => { list => '/jobs', item => '/jobs/job_acme_1_01', auth => 'oauth',
                    retry_after => 60 },
    },
    {
        name    => 'servicetitan',
        connect => \&servicetitan_connection,
        company => 'company:1001:Acme',
        other   => 'client:1001/111',
        client  => 'client:1001/112:Bluebird',
        # ids of the other tenants (co_globex 1002, co_initech 1003)
        foreign => qr/"(?:id|customerId)":(?:1[23][0-9]|2[23][0-9]{3}|3[23][0-9]{3})[,}]/,
        client_foreign => qr/"(?:id|customerId)":(?:11[13]|1[23][0-9]|2(?:1[13]|[23][0-9])[0-9]{2}|3(?:1[13]|[23][0-9])[0-9]{2})[,}]/,
        lists => [
            { path => '/jobs?limit=7', count => 40 },
            { path => '/clients', ids => [111, 112, 113] },
            { path => '/invoices?limit=15', count => 40 },
        ],
        client_lists => [
            { path => '/jobs', ids => [21201, 21202, 21203], field => ['customerId', 112] },
            { path => '/invoices', ids => [31201, 31202, 31203], field => ['customer.id', 112] },
            { path => '/clients', ids => [112] },
        ],
        own => [qw(/jobs/21101 /clients/111 /invoices/31101 /jobs/21302)],
        out => [qw(/jobs/22101 /clients/121 /invoices/32101 /clients/131 /jobs/23101)],
        missing => '/jobs/99999999',
        client_own => [qw(/clients/112 /jobs/21201 /invoices/31203)],
        client_out => [qw(/clients/111 /jobs/21101 /invoices/31101 /jobs/22101)],
        widen => ['/jobs?customerId=121', '/jobs?tenant=1002'],
        client_widen => ['/jobs?customerId=111', '/invoices?customerId=111'],
        bad => ['/jobs?bogus=1', '/jobs?pageSize=5', '/jobs?page=2'],
        compat => 'job',
        faults => { list => '/jobs', item => '/jobs/21101', auth => 'oauth' },
    },
    {
        # test-only (t/providers/sixth.json): a provider added without C, the native shape
        # under other names
        name    => 'sixth',
        connect => sub { CATest::seed_connection(provider => 'sixth', login => 'demo') },
        company => 'company:co_acme:Acme',
        other   => 'company:co_globex',
        client  => 'client:co_acme/cl_acme_2:Bluebird',
        foreign => qr/co_globex|cl_globex|co_initech|_orphan/,
        client_foreign => qr/cl_acme_1|cl_acme_3|co_globex|_orphan/,
        lists => [
            { path => '/work_orders', count => 40, field => ['company_id', 'co_acme'] },
            { path => '/customers', ids => [qw(cl_acme_1 cl_acme_2 cl_acme_3)] },
            { path => '/bills?limit=50', count => 40, field => ['company_id', 'co_acme'] },
            { path => '/bills/inv_acme_1_01/lines', ids => [qw(li_acme_1_01_1 li_acme_1_01_2)] },
        ],
        client_lists => [
            { path => '/work_orders', ids => [qw(job_acme_2_01 job_acme_2_02 job_acme_2_03)] },
            { path => '/bills/inv_acme_2_01/lines', count => 2 },
        ],
        own => [qw(/work_orders/job_acme_1_01 /customers/cl_acme_1 /bill_lines/li_acme_1_01_1)],
        out => [qw(/work_orders/job_globex_1_01 /work_orders/job_acme_orphan
                   /customers/cl_globex_1 /bill_lines/li_globex_1_01_1
                   /bill_lines/li_acme_orphan_1 /bills/inv_acme_orphan/lines /bill_lines)],
        missing => '/work_orders/job_does_not_exist',
        client_own => [qw(/customers/cl_acme_2 /work_orders/job_acme_2_01)],
        client_out => [qw(/customers/cl_acme_1 /work_orders/job_acme_1_01
                          /bills/inv_acme_1_01/lines)],
        widen => ['/work_orders?company_id=co_globex', '/work_orders?client_id=cl_globex_1'],
        client_widen => ['/work_orders?client_id=cl_acme_1'],
        bad => ['/work_orders?bogus=1', '/work_orders?limit=5&limit=6'],
        compat => 'work_order',
        faults => { list => '/work_orders', item => '/work_orders/job_acme_1_01',
                    auth => 'oauth' },
    },
);

# ---- Jobber: GraphQL, client-scoped endpoints only (one account = one company) ----------
sub _jb { my ($type, $id) = @_; require MIME::Base64;
          return MIME::Base64::encode_base64("gid://Jobber/$type/$id", '') }
my $JB_ACC = _jb(Account => 'acc_demo');
my $JB_CL = _jb(Client => 'cl_acme_1');
push @PROVIDERS, {
    name    => 'jobber',
    connect => \&jobber_connection,
    company => "client:$JB_ACC/$JB_CL:Alice",
    other   => "client:$JB_ACC/" . _jb(Client => 'cl_acme_3'),
    # other clients by name (job titles carry it) and by id (records carry client { id })
    foreign => do {
        my @ids = map { _jb(Client => $_) } qw(cl_acme_2 cl_acme_3 cl_globex_1 cl_globex_2
                                               cl_initech_1 cl_initech_2);
        my $alt = join '|', map { quotemeta } @ids, 'Bluebird', 'Carlos', 'Dana Ellis',
                                              'Evergreen', 'Frieda', 'Hofmann';
        qr/$alt/;
    },
    lists => [
        { path => '/jobs?limit=10', count => 35, field => ['client.id', $JB_CL] },
        { path => '/clients', ids => [$JB_CL] },
        { path => '/invoices?limit=20', count => 35, field => ['client.id', $JB_CL] },
        { path => '/invoices/' . _jb(Invoice => 'inv_acme_1_01') . '/line_items', count => 2 },
        { path => '/line_items?invoice_id=' . _jb(Invoice => 'inv_acme_1_02'), count => 2 },
        { path => '/jobs/' . _jb(Job => 'job_acme_1_03') . '/attachments',
          ids => [_jb(NoteAttachment => 'att_acme_1_03')] },
    ],
    own => ['/jobs/' . _jb(Job => 'job_acme_1_01'), "/clients/$JB_CL",
            '/invoices/' . _jb(Invoice => 'inv_acme_1_01')],
    out => ['/jobs/' . _jb(Job => 'job_acme_2_01'), '/jobs/' . _jb(Job => 'job_acme_orphan'),
            '/clients/' . _jb(Client => 'cl_acme_2'), '/invoices/' . _jb(Invoice => 'inv_acme_2_01'),
            '/invoices/' . _jb(Invoice => 'inv_acme_2_01') . '/line_items',
            '/jobs/' . _jb(Job => 'job_acme_2_01') . '/attachments',
            '/line_items?invoice_id=' . _jb(Invoice => 'inv_acme_orphan'),
            '/jobs/' . _jb(Job => 'job_initech_1_01'), '/clients/' . _jb(Client => 'cl_initech_1')],
    missing => '/jobs/' . _jb(Job => 'job_does_not_exist'),
    widen => ['/jobs?client_id=' . _jb(Client => 'cl_acme_2'),
              '/jobs?clientId=' . _jb(Client => 'cl_acme_2')],
    bad => ['/line_items', '/jobs?bogus=1', '/jobs?after=x', '/jobs?first=5'],
    compat => 'job',
    faults => { list => '/jobs', item => '/jobs/' . _jb(Job => 'job_acme_1_01'),
                auth => 'oauth' },
};

# Jobber's tokens come from the sandbox's Jobber shape (a JWT access token); the connection's
# external id is the account's GraphQL id.
sub jobber_connection {
    my $tok = CATest::sandbox(POST => '/_sandbox/jobber/tokens', { user => 'demo' });
    die 'sandbox issued no Jobber token' unless $tok && $tok->{access_token};
    my $state = $CATest::STATE;
    my $out = CATest::clientapi_ok('connection', 'add', '--user', CATest::seed_user(),
        '--provider', 'jobber', '--account-id', $JB_ACC, '--label', 'Jobber demo',
        '--access-token-file', CATest::write_file("$state/jat.$$", "$tok->{access_token}\n"),
        '--refresh-token-file', CATest::write_file("$state/jrt.$$", "$tok->{refresh_token}\n"),
        '--expires-in', 3600);
    unlink "$state/jat.$$", "$state/jrt.$$";
    my ($id) = $out =~ /^(\d+)\s*$/m or die "no connection id in: $out";
    return $id;
}

# ServiceTitan connects with client credentials and a tenant pasted in the dashboard
# (POST /connections/servicetitan/credentials); the sandbox's client "sandbox-client" may
# mint tokens for its service account, acc_demo, whose tenants are 1001 and 1002.
sub servicetitan_connection {
    require lib;
    lib->import("$CATest::ROOT/t/connect");
    require ConnectTest;
    my ($ua) = ConnectTest::signed_in();
    my ($res, $j) = ConnectTest::call($ua, POST => '/connections/servicetitan/credentials',
        json => { client_id => 'sandbox-client', client_secret => 'sandbox-secret',
                  tenant => '1001' });
    die 'servicetitan connection: ' . $res->status_line . ' ' . $res->decoded_content
        unless $res->code == 201;
    return $j->{connection}{id};
}

# Providers to run: all, or those named in CA_MATRIX (comma-separated) while developing.
sub providers {
    my @p = @PROVIDERS;
    if (my $only = $ENV{CA_MATRIX}) {
        my %want = map { $_ => 1 } split /,/, $only;
        @p = grep { $want{$_->{name}} } @p;
    }
    return @p;
}

sub record_id { _id($_[0]) }

1;

# Jobber (conf/providers/jobber.json) through the module against the sandbox's Jobber shape:
# the GraphQL transport (variables, Relay paging behind sealed cursors), client scope, GraphQL
# errors, THROTTLED in a 200 body, JWT expiry, single-use refresh tokens.
use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(ceil);
use CATest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my $ACCOUNT = enc(Account => 'acc_demo');
my $CLIENT = enc(Client => 'cl_acme_1');

sub enc { my ($type, $id) = @_; return encode_base64("gid://Jobber/$type/$id", '') }
sub stats { CATest::sandbox_stats() }
sub jobber_config { CATest::sandbox(POST => '/_sandbox/jobber/config', $_[0]) }

# a Jobber connection with tokens the sandbox's Jobber shape issued (JWT access token)
sub jobber_connection {
    my (%o) = @_;
    my $tok = CATest::sandbox(POST => '/_sandbox/jobber/tokens', { user => $o{login} || 'demo' });
    die 'no Jobber token' unless $tok && $tok->{access_token};
    my $state = $CATest::STATE;
    my $out = CATest::clientapi_ok('connection', 'add', '--user', CATest::seed_user(),
        '--provider', 'jobber', '--account-id', $ACCOUNT, '--label', 'Jobber demo',
        '--access-token-file', CATest::write_file("$state/jat.$$", "$tok->{access_token}\n"),
        '--refresh-token-file', CATest::write_file("$state/jrt.$$", "$tok->{refresh_token}\n"),
        '--expires-in', 3600);
    unlink "$state/jat.$$", "$state/jrt.$$";
    my ($id) = $out =~ /^(\d+)\s*$/m or die "no connection id in: $out";
    return ($id, $tok);
}

sub client_endpoint {
    my ($conn, $client) = @_;
    return CATest::seed_endpoint(connection => $conn,
                                 scope => "client:$ACCOUNT/" . ($client || $CLIENT));
}

sub graphql_calls {
    my ($mark) = @_;
    return scalar grep { $_->{path} eq '/jobber/api/graphql' } @{ CATest::requests_since($mark) };
}

my ($conn) = jobber_connection();
my ($ep, $key) = client_endpoint($conn);

# ---- the description, scope of lists, paging -----------------------------------------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep", key => $key);
    is($res->code, 200, 'description') or diag($res->decoded_content);
    my ($res2, $list) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($res2->code, 200, 'clients') or diag($res2->decoded_content);
    is($list->{provider}, 'jobber', 'provider jobber');
    is($list->{company_external_id}, $ACCOUNT, 'the account is the company');
    is($list->{client_external_id}, $CLIENT, 'the client');
    is_deeply([map { $_->{id} } @{ $list->{data} }], [$CLIENT], 'only the client itself');

    my (@ids, $cursor, $pages);
    my $mark = CATest::journal_mark();
    while (1) {
        my $path = "/api/$ep/jobs?limit=10" . ($cursor ? "&cursor=$cursor" : '');
        my ($r, $page) = CATest::api(GET => $path, key => $key);
        is($r->code, 200, 'jobs page ' . ++$pages) or diag($r->decoded_content);
        last unless $r->code == 200;
        ok($page->{count} <= 10, 'at most the limit');
        push @ids, map { $_->{id} } @{ $page->{data} };
        is(scalar(grep { $_->{client}{id} ne $CLIENT } @{ $page->{data} }), 0,
           'every job is the client\'s');
        $cursor = $page->{next_cursor} or last;
        unlike($cursor, qr/gid|Z2lk/, 'the provider cursor is sealed') if $pages == 1;
        last if $pages > 10;
    }
    is(scalar @ids, 35, '35 jobs of the client over the pages');
    is($pages, 4, 'four pages of 10');
    my %seen;
    is(scalar(grep { !$seen{$_}++ } @ids), 35, 'no job twice');
    is($ids[-1], enc(Job => 'job_acme_1_35'), 'in the provider\'s order');
    is(graphql_calls($mark), 4, 'one GraphQL POST per page');
    my $req = (grep { $_->{path} eq '/jobber/api/graphql' } @{ CATest::requests_since($mark) })[0];
    is($req->{method}, 'POST', 'GraphQL is a POST');
    is($req->{query}, '', 'nothing in the URL: the values travel as GraphQL variables');

    my ($other_ep, $other_key) = client_endpoint($conn, enc(Client => 'cl_acme_2'));
    my ($r, $d) = CATest::api(GET => "/api/$other_ep/jobs?limit=2", key => $other_key);
    is($r->code, 200, 'another client\'s endpoint');
    my ($r2) = CATest::api(GET => "/api/$other_ep/jobs?cursor=$d->{next_cursor}", key => $key);
    is($r2->code, 401, 'its key does not open this endpoint');
    ($r2, my $d2) = CATest::api(GET => "/api/$ep/jobs?cursor=$d->{next_cursor}", key => $key);
    is($r2->code, 400, 'a cursor of another endpoint is refused');
}

# ---- one record: in scope, of another client (404 exactly as missing), nested ----------------
{
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_02'),
                                  key => $key);
    is($res->code, 200, 'a job of the client');
    is($doc->{data}{title}, 'Alice Archer job 2', 'its record');
    my ($miss, $m) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_nosuch'), key => $key);
    my ($out, $o) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_2_01'),
                                key => $key);
    my ($acc, $a) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_initech_1_01'),
                                key => $key);
    is($miss->code, 404, 'a missing job: 404');
    is($out->code, 404, 'a job of another client: 404');
    is($acc->code, 404, 'a job of another account: 404');
    delete $_->{request_id} for $m, $o, $a;
    is_deeply($o, $m, 'another client\'s job answers exactly as a missing one');
    is_deeply($a, $m, 'so does another account\'s');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients/" . enc(Client => 'cl_acme_2'),
                               key => $key);
    is($res->code, 404, 'another client record: 404');
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients/$CLIENT", key => $key);
    is($res->code, 200, 'the client record');

    ($res, $doc) = CATest::api(GET => "/api/$ep/invoices/" . enc(Invoice => 'inv_acme_1_01')
                               . '/line_items', key => $key);
    is($res->code, 200, 'line items of an invoice') or diag($res->decoded_content);
    is($doc->{count}, 2, 'two lines');
    is($doc->{data}[0]{name}, 'Labour (hours)', 'the labour line');
    ($res, $doc) = CATest::api(GET => "/api/$ep/line_items?invoice_id="
                               . enc(Invoice => 'inv_acme_1_03'), key => $key);
    is($res->code, 200, 'line items by ?invoice_id=');
    is($doc->{count}, 2, 'two lines');
    ($res) = CATest::api(GET => "/api/$ep/line_items", key => $key);
    is($res->code, 400, 'line items without their invoice: 400');
    ($res) = CATest::api(GET => "/api/$ep/invoices/" . enc(Invoice => 'inv_acme_2_01')
                         . '/line_items', key => $key);
    is($res->code, 404, 'line items of another client\'s invoice: 404');
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_05')
                               . '/attachments', key => $key);
    is($res->code, 200, 'note attachments of a job');
    is($doc->{data}[0]{fileName}, 'job-acme-1-05.jpg', 'its file');
    ($res) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_orphan')
                         . '/attachments', key => $key);
    is($res->code, 404, 'attachments of another client\'s job: 404');
    # the parent of a nested list is the verified one in the path: a caller parameter of the
    # same name (the variable the nested query uses) cannot replace it
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_05')
                               . '/attachments?job_id=' . enc(Job => 'job_acme_2_01'),
                               key => $key);
    ok($res->code == 200 || $res->code == 400, 'a nested list with another parent in the query');
    unlike($res->decoded_content, qr/job-acme-2-01/, 'does not list that parent\'s children');
    ($res, $doc) = CATest::api(GET => "/api/$ep/invoices/" . enc(Invoice => 'inv_acme_1_01')
                               . '/line_items?invoice_id=' . enc(Invoice => 'inv_initech_1_01'),
                               key => $key);
    ok($res->code == 200 || $res->code == 400, 'the same for line items');
    is(scalar(grep { $_->{unitPrice} && $_->{name} } @{ $doc->{data} || [] }),
       $res->code == 200 ? 2 : 0, 'only the verified invoice\'s lines');
    ($res) = CATest::api(GET => "/api/$ep/company", key => $key);
    is($res->code, 404, 'Jobber has no company resource');
    ($res, $doc) = CATest::api(POST => "/api/$ep/jobs", key => $key, json => { title => 'x' });
    is($res->code, 405, 'read-only');
    ($res, $doc) = CATest::api(GET => "/api/public/$ep/query/?resource=job&id="
                               . enc(Job => 'job_acme_1_01'), key => $key);
    is($res->code, 200, 'the compatibility route');
}

# ---- company-scoped endpoints are refused ----------------------------------------------
{
    my ($cep, $ckey) = CATest::seed_endpoint(connection => $conn, scope => "company:$ACCOUNT");
    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(GET => "/api/$cep/jobs", key => $ckey);
    is($res->code, 403, 'a company-scoped endpoint on Jobber: 403');
    like($doc->{detail}, qr/client-scoped endpoints only/, 'it says why');
    is(graphql_calls($mark), 0, 'and Jobber was not asked');
}

# ---- GraphQL errors in a 200 body: 502 -----------------------------------------------------
{
    jobber_config({ errors => 1 });
    my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_02'),
                                  key => $key);
    is($res->code, 502, 'GraphQL errors: 502');
    is($doc->{code}, 'provider_error', 'provider_error');
    like($doc->{detail}, qr/GraphQL errors: INTERNAL_SERVER_ERROR/, 'names the error code');
    ($res) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_02'), key => $key);
    is($res->code, 200, 'the next call works');
}

# ---- THROTTLED: 429 with the wait computed from the cost, and the connection backs off ------
{
    my ($tconn) = jobber_connection();
    my ($tep, $tkey) = client_endpoint($tconn);
    # what the module's jobs query costs at limit=10, as the sandbox counts it
    my $file = CATest::decode(do { local $/; open my $fh, '<', "$CATest::ROOT/conf/providers/jobber.json" or die $!; <$fh> });
    my $tok = CATest::sandbox(POST => '/_sandbox/jobber/tokens', { user => 'demo' });
    jobber_config({ cost_max => 0, restore_rate => 7 });
    require HTTP::Request;
    my $probe = HTTP::Request->new(POST => CATest::sandbox_url() . '/jobber/api/graphql');
    $probe->header(Authorization => "Bearer $tok->{access_token}",
                   'Content-Type' => 'application/json', 'X-JOBBER-GRAPHQL-VERSION' => '2025-01-20');
    $probe->content(CATest::json()->encode({ query => $file->{resources}{jobs}{list}{graphql},
        variables => { client_id => $CLIENT, first => 10, after => undef } }));
    my $answer = CATest::decode(CATest::ua()->request($probe)->decoded_content);
    my $cost = $answer->{extensions}{cost}{requestedQueryCost};
    is($answer->{errors}[0]{extensions}{code}, 'THROTTLED', 'the sandbox throttles');
    ok($cost > 7, "the query costs $cost points");

    my $mark = CATest::journal_mark();
    my ($res, $doc) = CATest::api(GET => "/api/$tep/jobs?limit=10", key => $tkey);
    is($res->code, 429, 'THROTTLED in a 200: 429') or diag($res->decoded_content);
    is($doc->{code}, 'rate_limited', 'rate_limited');
    is($res->header('Retry-After'), ceil($cost / 7),
       'Retry-After = (requested - available) / restoreRate, rounded up');
    is(graphql_calls($mark), 1, 'one call reached Jobber');
    ($res, $doc) = CATest::api(GET => "/api/$tep/jobs/" . enc(Job => 'job_acme_1_01'),
                               key => $tkey);
    is($res->code, 429, 'the connection backs off');
    ok($res->header('Retry-After') >= 1, 'with a Retry-After');
    is(graphql_calls($mark), 1, 'without asking Jobber again');
    jobber_config({ cost_max => 10000, restore_rate => 500 });
    ($res) = CATest::api(GET => "/api/$ep/jobs/" . enc(Job => 'job_acme_1_01'), key => $key);
    is($res->code, 200, 'other connections are not held back');
}

# ---- expiry from the JWT exp claim (the token answer has no expires_in) -------------------
{
    # these checks change expires_at and the refresh token in the database behind the
    # server's back: the virtual host without the key cache reads them on every call
    local $CATest::BASE_URL = CATest::nocache_url();
    my ($rconn, $tok) = jobber_connection();
    my ($rep, $rkey) = client_endpoint($rconn);
    my ($old_rt) = $dbh->selectrow_array(
        'SELECT refresh_token_enc FROM provider_connections WHERE id = ?', undef, $rconn);
    CATest::sandbox(POST => '/_sandbox/config', { access_ttl => 777 });
    $dbh->do('UPDATE provider_connections SET expires_at = ? WHERE id = ?', undef,
             time - 1, $rconn);
    my $before = stats();
    my $t0 = time;
    my ($res) = CATest::api(GET => "/api/$rep/clients", key => $rkey);
    my $t1 = time;
    is($res->code, 200, 'an expired token is renewed') or diag($res->decoded_content);
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 1, 'one refresh');
    my ($exp, $new_rt) = $dbh->selectrow_array(
        'SELECT expires_at, refresh_token_enc FROM provider_connections WHERE id = ?', undef,
        $rconn);
    ok($exp >= $t0 + 777 - 1 && $exp <= $t1 + 777,
       'expires_at is the JWT exp (777 s), not the 3600 s default') or diag("$exp vs $t0");
    isnt($new_rt, $old_rt, 'the rotated refresh token is stored');
    ($res) = CATest::api(GET => "/api/$rep/clients", key => $rkey);
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 1, 'no refresh while the JWT is fresh');

    # a JWT that expires within the refresh margin is renewed on the next call
    CATest::sandbox(POST => '/_sandbox/config', { access_ttl => 30 });
    $dbh->do('UPDATE provider_connections SET expires_at = ? WHERE id = ?', undef,
             time - 1, $rconn);
    ($res) = CATest::api(GET => "/api/$rep/clients", key => $rkey);
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 2, 'renewed (a 30 s JWT)');
    ($res) = CATest::api(GET => "/api/$rep/clients", key => $rkey);
    is($res->code, 200, 'and used');
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 3,
       'its exp is inside the margin: renewed again');
    CATest::sandbox(POST => '/_sandbox/config', { access_ttl => 3600 });

    # ---- single-use refresh tokens: presenting a used one gets invalid_grant ---------------
    $dbh->do('UPDATE provider_connections SET refresh_token_enc = ?, expires_at = ? WHERE id = ?',
             undef, $old_rt, time - 1, $rconn);
    my ($res2, $doc2) = CATest::api(GET => "/api/$rep/clients", key => $rkey);
    is($res2->code, 503, 'a used refresh token: 503');
    is($doc2->{code}, 'reauthorization_required', 'reauthorization_required');
    my ($status) = $dbh->selectrow_array(
        'SELECT status FROM provider_connections WHERE id = ?', undef, $rconn);
    is($status, 'reauthorization_required', 'the connection is marked');
    ok(stats()->{refresh_reuse} > $before->{refresh_reuse}, 'the sandbox saw the reuse');
}

# ---- faults of the Jobber shape -------------------------------------------------------------
{
    my $job = "/api/$ep/jobs/" . enc(Job => 'job_acme_1_03');
    CATest::sandbox(POST => '/_sandbox/faults', { status => 503, path => '^/jobber/api/graphql',
                                                 count => 1 });
    my ($res, $doc) = CATest::api(GET => $job, key => $key);
    is($res->code, 502, '5xx: 502');
    CATest::sandbox(POST => '/_sandbox/faults', { malformed => \1, path => '^/jobber/api/graphql',
                                                 count => 1 });
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs", key => $key);
    is($res->code, 502, 'malformed JSON: 502');
    is($doc->{code}, 'provider_error', 'provider_error');
    CATest::sandbox(POST => '/_sandbox/faults', { drop => \1, path => '^/jobber/api/graphql',
                                                 count => 1 });
    ($res) = CATest::api(GET => $job, key => $key);
    is($res->code, 200, 'a dropped connection is retried once');
    CATest::sandbox(POST => '/_sandbox/faults', { expire_tokens => \1 });
    my $before = stats();
    ($res) = CATest::api(GET => $job, key => $key);
    is($res->code, 200, 'a 401: one refresh and a retry');
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 1, 'one refresh');
    CATest::sandbox(DELETE => '/_sandbox/faults');
}

done_testing();

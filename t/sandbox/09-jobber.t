use Mojo::Base -strict, -signatures;

# The Jobber shape: OAuth without PKCE (denied consent without parameters), JWT access tokens
# with exp and no expires_in, single-use refresh tokens, GraphQL with the version header,
# Relay paging, account isolation, the query-cost bucket (THROTTLED in a 200), and faults.

use FindBin;
use lib "$FindBin::Bin/../../sandbox/lib";

use ClientAPI::Sandbox::Test qw(sandbox_t);
use ClientAPI::Sandbox::Controller::Jobber;
use ClientAPI::Sandbox::Util qw(b64url_decode);
use Mojo::JSON qw(decode_json);
use Mojo::URL;
use Test::More;

my $t     = sandbox_t();
my $cb    = 'http://127.0.0.1:9/cb';
my %cred  = (client_id => 'jobber-client', client_secret => 'sandbox-secret');
my $V     = '2025-01-20';
sub enc ($type, $id) { ClientAPI::Sandbox::Controller::Jobber::enc_id($type, $id) }

sub consent (%p) {
    my $tx = $t->ua->post('/jobber/api/oauth/authorize' => form => {response_type => 'code',
        client_id => 'jobber-client', redirect_uri => $cb, user => 'demo',
        decision => 'approve', %p});
    is $tx->res->code, 302, 'consent redirects';
    return Mojo::URL->new($tx->res->headers->location);
}

sub token (%p) { return $t->ua->post('/jobber/api/oauth/token' => form => {%cred, %p})->res }

sub gql ($at, $query, $vars = {}, %h) {
    my $tx = $t->ua->post('/jobber/api/graphql' => {Authorization => "Bearer $at",
        'X-JOBBER-GRAPHQL-VERSION' => $V, %h} => json => {query => $query,
        variables => $vars});
    return $tx->res;
}

my ($at, $rt);

subtest 'OAuth without PKCE, JWT exp, no expires_in' => sub {
    my $u = consent(state => 'abc');
    is $u->query->param('state'), 'abc', 'state comes back when given';
    my $code = $u->query->param('code');
    ok $code, 'a code';
    my $res = token(grant_type => 'authorization_code', code => $code, redirect_uri => $cb);
    is $res->code, 200, 'code exchanged without a verifier';
    my $j = $res->json;
    ok !exists $j->{expires_in}, 'no expires_in';
    ($at, $rt) = @$j{qw(access_token refresh_token)};
    my @parts = split /\./, $at;
    is scalar @parts, 3, 'the access token is a JWT';
    my $claims = decode_json(b64url_decode($parts[1]));
    ok $claims->{exp} > time + 3000 && $claims->{exp} <= time + 3601, 'exp is about an hour away';

    my $no_state = consent();
    ok $no_state->query->param('code'), 'state is optional';
    ok !defined $no_state->query->param('state'), 'and not invented';

    my $tx = $t->ua->post('/jobber/api/oauth/authorize' => form => {response_type => 'code',
        client_id => 'jobber-client', redirect_uri => $cb, state => 's', user => 'demo',
        decision => 'deny'});
    is $tx->res->code, 302, 'deny redirects';
    is $tx->res->headers->location, $cb, 'with no parameter at all (no error, no state)';

    my $pkce = consent(code_challenge => 'x' x 43, code_challenge_method => 'S256');
    is $pkce->query->param('error'), 'invalid_request', 'a PKCE challenge is refused';
    $code = consent()->query->param('code');
    is token(grant_type => 'authorization_code', code => $code, redirect_uri => $cb,
        code_verifier => 'v' x 43)->json->{error}, 'invalid_request', 'so is a verifier';
    is token(grant_type => 'authorization_code', code => consent()->query->param('code'),
        redirect_uri => $cb, client_secret => 'wrong')->code, 401, 'client secret checked';
};

subtest 'single-use refresh tokens' => sub {
    my $res = token(grant_type => 'refresh_token', refresh_token => $rt);
    is $res->code, 200, 'refresh';
    my $new = $res->json;
    isnt $new->{refresh_token}, $rt, 'a new refresh token';
    ok !exists $new->{expires_in}, 'still no expires_in';
    $res = token(grant_type => 'refresh_token', refresh_token => $rt);
    is $res->code, 400, 'the old one is refused';
    is $res->json->{error}, 'invalid_grant', 'invalid_grant';
    is token(grant_type => 'refresh_token', refresh_token => $new->{refresh_token})->code, 200,
        'the new one works once';
    $at = $new->{access_token};
};

subtest 'GraphQL: identity, records, paging' => sub {
    my $res = gql($at, 'query { account { id name } }');
    is $res->code, 200;
    is $res->json->{data}{account}{id}, enc(Account => 'acc_demo'), 'account id';
    is $res->json->{data}{account}{name}, 'Demo Field Services';
    ok $res->json->{extensions}{cost}{requestedQueryCost} >= 1, 'cost reported';

    my $q = 'query J($client_id: EncodedId!, $first: Int!, $after: String) { client(id: '
        . '$client_id) { jobs(first: $first, after: $after) { nodes { id title client { id } } '
        . 'pageInfo { endCursor hasNextPage } } } }';
    my ($after, @ids) = (undef);
    for my $n (1 .. 10) {
        $res = gql($at, $q, {client_id => enc(Client => 'cl_acme_1'), first => 10,
            after => $after});
        my $c = $res->json->{data}{client}{jobs};
        push @ids, map { $_->{id} } @{$c->{nodes}};
        is $_->{client}{id}, enc(Client => 'cl_acme_1'), 'job of the client'
            for @{$c->{nodes}}[0];
        last unless $c->{pageInfo}{hasNextPage};
        $after = $c->{pageInfo}{endCursor};
    }
    is scalar @ids, 35, 'all 35 jobs of cl_acme_1 over 4 pages';
    is $ids[34], enc(Job => 'job_acme_1_35'), 'in order';

    $res = gql($at, 'query($id: EncodedId!) { job(id: $id) { id } }',
        {id => enc(Job => 'job_initech_1_01')});
    ok exists $res->json->{data}{job} && !defined $res->json->{data}{job},
        "another account's record is null";
    $res = gql($at, 'query($id: EncodedId!) { invoice(id: $id) { lineItems(first: 5) '
        . '{ nodes { name quantity unitPrice } } } }', {id => enc(Invoice => 'inv_acme_1_01')});
    is scalar @{$res->json->{data}{invoice}{lineItems}{nodes}}, 2, 'line items';
    $res = gql($at, 'query($id: EncodedId!) { job(id: $id) { noteAttachments(first: 5) '
        . '{ nodes { fileName } } } }', {id => enc(Job => 'job_acme_1_01')});
    is $res->json->{data}{job}{noteAttachments}{nodes}[0]{fileName}, 'job-acme-1-01.jpg',
        'note attachments';
};

subtest 'GraphQL validation' => sub {
    my $res = gql($at, 'query($id: EncodedId!) { job(id: $id) { id } }');
    like $res->json->{errors}[0]{message}, qr/was not provided/, 'required variable';
    $res = gql($at, 'query { job(id: "' . enc(Job => 'job_acme_1_01') . '") { id nope } }');
    like $res->json->{errors}[0]{message}, qr/doesn't exist on type "Job"/, 'unknown field';
    $res = gql($at, 'query { jobs(first: 500) { nodes { id } } }');
    like $res->json->{errors}[0]{message}, qr/between 0 and 100/, 'first is at most 100';
    $res = gql($at, 'query { clients(first: 1, after: "bogus") { nodes { id } } }');
    like $res->json->{errors}[0]{message}, qr/Invalid cursor/, 'cursors are checked';
    $res = gql($at, 'query { account { id } ');
    like $res->json->{errors}[0]{message}, qr/Syntax Error/, 'syntax';
    $res = gql($at, 'query($first: Int!) { clients(first: $first) { nodes { id } } }',
        {first => 'ten'});
    like $res->json->{errors}[0]{message}, qr/invalid value/, 'variable types';
    # values are data, never query text: a hostile id is just an unknown id
    $res = gql($at, 'query($id: EncodedId!) { client(id: $id) { id } }',
        {id => '") { account { id } } #'});
    ok !defined $res->json->{data}{client} && !$res->json->{errors}, 'injection is inert';
    $res = gql($at, 'query { account { id } }', {}, 'X-JOBBER-GRAPHQL-VERSION' => '');
    is $res->code, 400, 'the version header is required';
    is gql('nope', 'query { account { id } }')->code, 401, 'bad token: 401';
};

subtest 'THROTTLED from the cost bucket' => sub {
    $t->post_ok('/_sandbox/jobber/config' => json => {cost_max => 0, restore_rate => 7})
        ->status_is(200);
    my $res = gql($at, 'query { clients(first: 20) { nodes { id } } }');
    is $res->code, 200, 'throttling is a 200';
    my $j = $res->json;
    is $j->{errors}[0]{extensions}{code}, 'THROTTLED', 'THROTTLED';
    is $j->{extensions}{cost}{requestedQueryCost}, 40, 'requested cost: 20 for the page, 1 per node';
    is $j->{extensions}{cost}{throttleStatus}{currentlyAvailable}, 0, 'nothing available';
    is $j->{extensions}{cost}{throttleStatus}{restoreRate}, 7, 'restore rate';
    $t->post_ok('/_sandbox/jobber/config' => json => {cost_max => 10000, restore_rate => 500});
    is gql($at, 'query { clients(first: 20) { nodes { id } } }')->json->{errors}, undef,
        'a full bucket answers';
};

subtest 'GraphQL errors switch' => sub {
    $t->post_ok('/_sandbox/jobber/config' => json => {errors => 1})->status_is(200);
    my $res = gql($at, 'query { account { id } }');
    is $res->code, 200, 'a 200';
    is $res->json->{errors}[0]{extensions}{code}, 'INTERNAL_SERVER_ERROR', 'with errors';
    ok !defined $res->json->{data}, 'and no data';
    ok gql($at, 'query { account { id } }')->json->{data}{account}, 'once';
};

subtest 'faults apply to the GraphQL endpoint' => sub {
    $t->post_ok('/_sandbox/faults' => json => {status => 503, path => '^/jobber/api/graphql',
        count => 1})->status_is(200);
    is gql($at, 'query { account { id } }')->code, 503, '5xx';
    $t->post_ok('/_sandbox/faults' => json => {malformed => \1, path => '^/jobber/', count => 1});
    ok !eval { decode_json(gql($at, 'query { account { id } }')->body); 1 }, 'malformed JSON';
    $t->post_ok('/_sandbox/faults' => json => {expire_tokens => \1});
    is gql($at, 'query { account { id } }')->code, 401, 'expired tokens: 401';
    my $ctl = $t->ua->post('/_sandbox/jobber/tokens' => json => {user => 'other'})->res;
    is $ctl->code, 201, 'control API issues Jobber tokens';
    is gql($ctl->json->{access_token}, 'query { account { id } }')->json->{data}{account}{id},
        enc(Account => 'acc_other'), 'for the chosen user';
};

done_testing;

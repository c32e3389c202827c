# Connecting Jobber (conf/providers/jobber.json) through the dashboard against the sandbox's
# Jobber shape: the authorization code flow WITHOUT PKCE, expiry from the access token's JWT
# (the token answer has no expires_in), a denied consent that comes back with no parameter at
# all, and client-scoped endpoints only.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use URI;
use MIME::Base64 qw(encode_base64);
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my $public = CATest::base_url();
my @secrets;
my $ACCOUNT = encode_base64('gid://Jobber/Account/acc_demo', '');
my $CLIENT = encode_base64('gid://Jobber/Client/cl_acme_1', '');

my ($ua, $email, $uid) = ConnectTest::signed_in();

# ---- start: the authorize URL has no PKCE ---------------------------------------------------
my ($res, $authz) = ConnectTest::start($ua, 'jobber');
is($res->code, 200, 'start: 200') or diag($res->decoded_content);
my $sb = URI->new(CATest::sandbox_url());
is($authz->host_port, $sb->host_port, 'the sandbox');
is($authz->path, '/jobber/api/oauth/authorize', 'Jobber\'s authorization endpoint');
is($authz->query_param('client_id'), 'jobber-client', 'the admin\'s client id');
is($authz->query_param('redirect_uri'), "$public/oauth/callback", 'our callback');
ok(!defined $authz->query_param('code_challenge'), 'no code_challenge');
ok(!defined $authz->query_param('code_challenge_method'), 'no code_challenge_method');
like($authz->query_param('state'), qr/^[A-Za-z0-9_-]{43}$/, 'a state');
push @secrets, scalar $authz->query_param('state');

# ---- approve: connected, expiry from the JWT --------------------------------------------------
CATest::sandbox(POST => '/_sandbox/config', { access_ttl => 1234 });
my $t0 = time;
my $back = ConnectTest::consent($authz);
push @secrets, scalar $back->query_param('code');
my ($cb, $r) = ConnectTest::callback($ua, $back);
my $t1 = time;
CATest::sandbox(POST => '/_sandbox/config', { access_ttl => 3600 });
is($cb->code, 303, 'callback: 303');
is($r->{result}, 'connected', 'connected') or diag(join ' ', %$r);
my $row = ConnectTest::connection_row($r->{connection});
is($row->{provider}, 'jobber', 'a Jobber connection');
is($row->{account_id}, $ACCOUNT, 'the account from the GraphQL identity query');
is($row->{account_label}, 'Demo Field Services', 'its name');
ok($row->{expires_at} >= $t0 + 1234 && $row->{expires_at} <= $t1 + 1234,
   'expires_at is the JWT exp (1234 s), though the answer had no expires_in')
    or diag("$row->{expires_at} vs $t0");
my @tok = grep { $_->{path} eq '/jobber/api/oauth/token' }
          @{ CATest::sandbox(GET => '/_sandbox/requests')->{data} };
is(scalar @tok, 1, 'one token request');
is($tok[0]{status}, 200, 'accepted: the sandbox refuses a code_verifier, none was sent');

# ---- picking the scope: the account is the one company, its clients come from GraphQL -------
{
    my $conn = $r->{connection};
    my ($pr, $pj) = ConnectTest::call($ua, GET => "/connections/$conn/companies");
    is($pr->code, 200, 'companies: 200') or diag($pr->decoded_content);
    is_deeply([map { $_->{id} } @{ $pj->{data} }], [$ACCOUNT], 'the account is the company');
    my (@names, $cursor, $pages);
    while (1) {
        ($pr, $pj) = ConnectTest::call($ua, GET => "/connections/$conn/companies/$ACCOUNT/clients"
                                       . '?limit=2' . ($cursor ? "&cursor=$cursor" : ''));
        is($pr->code, 200, 'clients page ' . ++$pages) or diag($pr->decoded_content);
        last unless $pr->code == 200;
        push @names, map { $_->{name} } @{ $pj->{data} };
        $cursor = $pj->{next_cursor} or last;
        last if $pages > 5;
    }
    is_deeply(\@names, ['Alice Archer', 'Bluebird Bakery', 'Carlos Diaz', 'Dana Ellis',
                        'Evergreen Dental'], 'the account\'s clients, paged by GraphQL cursors');
    is($pages, 3, 'three pages of two');
    ($pr) = ConnectTest::call($ua, GET => "/connections/$conn/companies/co_acme/clients");
    is($pr->code, 404, 'no other company');
    CATest::sandbox(POST => '/_sandbox/jobber/config', { cost_max => 0, restore_rate => 9 });
    ($pr, $pj) = ConnectTest::call($ua, GET => "/connections/$conn/companies/$ACCOUNT/clients");
    is($pr->code, 429, 'THROTTLED while picking: 429');
    ok($pr->header('Retry-After') >= 1, 'with Retry-After');
    CATest::sandbox(POST => '/_sandbox/jobber/config', { cost_max => 10000, restore_rate => 500,
                                                         errors => 1 });
    ($pr, $pj) = ConnectTest::call($ua, GET => "/connections/$conn/companies/$ACCOUNT/clients");
    is($pr->code, 502, 'GraphQL errors while picking: 502');
}

# ---- endpoints: client-scoped only -------------------------------------------------------
{
    my ($pr, $pj) = ConnectTest::call($ua, GET => '/providers');
    my %by = map { $_->{name} => $_ } @{ $pj->{data} || [] };
    is_deeply($by{jobber}{endpoint_scopes}, ['client'], 'the dashboard learns: Jobber is '
              . 'client-scoped only');
    is_deeply($by{sandbox}{endpoint_scopes}, ['company', 'client'], 'the sandbox serves both');
}
# ---------------------------------------------------------
my ($er, $ej) = ConnectTest::call($ua, POST => '/endpoints', json => {
    connection_id => $r->{connection} + 0, scope_kind => 'company', company_id => $ACCOUNT,
    company_name => 'Demo Field Services', access_mode => 'read-only' });
is($er->code, 422, 'a company-scoped Jobber endpoint is refused at creation');
is($ej->{code}, 'scope_not_supported', 'scope_not_supported');
like($ej->{detail}, qr/client-scoped endpoints only/, 'it says what to do');
my ($ep, $key) = ConnectTest::create_endpoint($ua, $r->{connection}, scope_kind => 'client',
    company_id => $ACCOUNT, company_name => 'Demo Field Services', client_id => $CLIENT,
    client_name => 'Alice Archer');
push @secrets, $key;
my ($ar, $aj) = CATest::api(GET => "/api/$ep/jobs?limit=3", key => $key);
is($ar->code, 200, 'the client-scoped endpoint answers') or diag($ar->decoded_content);
is($aj->{count}, 3, 'three jobs');

# ---- denied consent: Jobber comes back with no parameter at all ------------------------------
{
    my ($res2, $authz2) = ConnectTest::start($ua, 'jobber');
    push @secrets, scalar $authz2->query_param('state');
    my $back2 = ConnectTest::consent($authz2, decision => 'deny');
    is("$back2", "$public/oauth/callback", 'the sandbox redirects without any parameter');
    my ($cb2, $r2) = ConnectTest::callback($ua, $back2);
    is($cb2->code, 303, 'a redirect to the dashboard, not a 400');
    like($cb2->header('Location'), qr{^\Q$public\E/dashboard\.html#connections\?},
         'to the result page');
    is($r2->{result}, 'denied', 'result=denied');
    is($r2->{reason}, 'consent_not_given', 'reason consent_not_given');
    is(scalar @{ ConnectTest::connections_of($uid) }, 1, 'nothing stored');
}

ConnectTest::no_secrets_anywhere('jobber', @secrets);
done_testing();

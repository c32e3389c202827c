# mod_clientapi_connect.c: connecting Client Commander with a pasted API key: the provider
# checks the key before anything is stored; the company and client lists for scope picking.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my $dbh = CATest::dbh();
my $good = 'ccmd_live_demo_0123456789abcdef';
my $wrong = 'ccmd_live_demo_ffffffffffffffff';

my ($ua, $email, $uid) = ConnectTest::signed_in();
my $path = '/connections/clientcommander/apikey';

sub none_stored {
    my ($what) = @_;
    is(scalar @{ ConnectTest::connections_of($uid) }, 0, "$what: nothing stored");
}

# ---- refused keys ------------------------------------------------------------------------
{
    my $mark = CATest::journal_mark();
    my ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => 'sk_live_abc' });
    is($res->code, 422, 'a key without the provider\'s prefix: 422');
    is($j->{code}, 'api_key_invalid', 'api_key_invalid');
    like($j->{detail}, qr/ccmd_/, 'the message says what a key looks like');
    unlike($res->decoded_content, qr/sk_live_abc/, 'the key is not echoed');
    is(scalar @{ CATest::requests_since($mark) }, 0, '... refused before asking the provider');
    none_stored('prefix');

    ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => $wrong });
    is($res->code, 422, 'a key the provider does not know: 422') or diag($res->decoded_content);
    is($j->{code}, 'api_key_invalid', 'api_key_invalid');
    like($j->{detail}, qr/did not accept this API key/, 'a clear message');
    unlike($res->decoded_content, qr/\Q$wrong\E/, 'the key is not echoed');
    my @seen = grep { $_->{path} eq '/cc/v1/me' } @{ CATest::requests_since($mark) };
    is(scalar @seen, 1, 'the provider was asked (identity call)');
    none_stored('wrong key');

    ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => "ccmd_ x" });
    is($res->code, 422, 'a key with a space: 422');
    ($res, $j) = ConnectTest::call($ua, POST => $path, json => {});
    is($res->code, 400, 'no key: 400');
    ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => $good, x => 1 });
    is($res->code, 400, 'unknown member: 400');
    ($res, $j) = ConnectTest::call($ua, POST => $path, body => "api_key=$good",
                                   headers => { 'Content-Type' =>
                                                'application/x-www-form-urlencoded' });
    is($res->code, 415, 'a form body: 415');
    ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => $good },
                                   csrf => undef);
    is($res->code, 403, 'no CSRF token: 403');
    ($res, $j) = ConnectTest::call($ua, POST => '/connections/sandbox/apikey',
                                   json => { api_key => $good });
    is($res->code, 409, 'an OAuth provider takes no API key: 409');
    none_stored('refusals');
}

# ---- the right key -------------------------------------------------------------------------
my $conn;
{
    my ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => "  $good\n" });
    is($res->code, 201, 'a valid key: 201') or diag($res->decoded_content);
    $conn = $j->{connection}{id};
    is($j->{connection}{provider}, 'clientcommander', 'provider');
    is($j->{connection}{account_id}, 'acc_demo', 'account from the identity call');
    is($j->{connection}{account_label}, 'Demo Field Services', 'label');
    is($j->{connection}{auth_mode}, 'api_key', 'auth mode api_key');
    ok(!$j->{reconnected}, 'a new connection');
    unlike($res->decoded_content, qr/\Q$good\E/, 'the key is not echoed');
    my $row = ConnectTest::connection_row($conn);
    like($row->{api_key_enc}, qr/^v1\./, 'the key is stored sealed');
    ok(!defined $row->{access_token_enc}, 'no token');
    ($res, $j) = ConnectTest::call($ua, POST => $path, json => { api_key => $good });
    is($res->code, 200, 'the same account again: 200');
    ok($j->{reconnected}, 'reconnected');
    is($j->{connection}{id}, $conn, 'the same connection');
    ($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/refresh");
    is($res->code, 200, 'refresh of an API key connection re-checks the key');
}

# ---- scope picking: the account is the company; people are the clients ------------------------
{
    my ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies");
    is($res->code, 200, 'companies: 200') or diag($res->decoded_content);
    is_deeply($j->{data}, [ { id => 'acc_demo', name => 'Demo Field Services' } ],
              'one company: the connected account');
    is($j->{next_cursor}, undef, 'one page');
    ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/acc_demo"
                                   . '/clients');
    is($res->code, 200, 'clients: 200') or diag($res->decoded_content);
    is(scalar @{ $j->{data} }, 25, 'the 25 people of the account');
    is_deeply($j->{data}[0], { id => 'per_demo_01', name => 'Ava Adams' }, '{id, name}');
    my @all;
    my $cursor;
    my $pages = 0;
    do {
        ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/acc_demo"
                                       . '/clients?limit=10'
                                       . (defined $cursor ? "&cursor=$cursor" : ''));
        is($res->code, 200, "page " . ++$pages);
        push @all, map { $_->{id} } @{ $j->{data} };
        $cursor = $j->{next_cursor};
    } while (defined $cursor && $pages < 5);
    is($pages, 3, 'three pages of 10');
    is(scalar @all, 25, 'all 25 people, once each');
    ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/other/clients");
    is($res->code, 404, 'a company that is not the account: 404');
    ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies?cursor=abc");
    is($res->code, 200, 'companies from the identity have no paging (cursor ignored)');
    ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/acc_demo"
                                   . '/clients?cursor=forged');
    is($res->code, 400, 'a forged cursor: 400');
    ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies?sort=name");
    is($res->code, 400, 'unknown query parameter: 400');
    my ($other) = ConnectTest::signed_in();
    ($res, $j) = ConnectTest::call($other, GET => "/connections/$conn/companies");
    is($res->code, 404, 'another member\'s connection: 404');
}

# ---- an endpoint on it, then disconnect (nothing to revoke for an API key) -------------------
{
    my ($ep, $key) = ConnectTest::create_endpoint($ua, $conn, company_id => 'acc_demo',
                                                  company_name => 'Demo Field Services');
    is(CATest::api(GET => "/api/$ep/people?limit=2", key => $key)->code, 200,
       'an endpoint on the connection works');
    my ($res, $j) = ConnectTest::call($ua, DELETE => "/connections/$conn");
    is($res->code, 200, 'disconnect: 200');
    is($j->{revoked}{access_token}, 'none', 'nothing to revoke');
    ok(!defined ConnectTest::connection_row($conn)->{api_key_enc}, 'the key is deleted');
    is(CATest::api(GET => "/api/$ep/people", key => $key)->code, 403, 'endpoint inactive');
}

ConnectTest::no_secrets_anywhere('apikey', $good, $wrong);
done_testing();

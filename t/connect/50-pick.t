# mod_clientapi_connect.c: the provider's own company and client lists for scope picking
# (OAuth sandbox): paged, {id, name}, a client list only holds the picked company's clients.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use ConnectTest;

ConnectTest::require_connect();
CATest::sandbox_reset();
my ($ua) = ConnectTest::signed_in();
my ($r, $code, $state) = ConnectTest::oauth_connect($ua);
is($r->{result}, 'connected', 'connected');
my $conn = $r->{connection};
my ($ua2) = ConnectTest::signed_in();
my ($r2, $code2, $state2) = ConnectTest::oauth_connect($ua2, user => 'other');
my $conn2 = $r2->{connection};

my ($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies");
is($res->code, 200, 'companies: 200') or diag($res->decoded_content);
is_deeply($j->{data}, [ { id => 'co_acme', name => 'Acme Plumbing Ltd' },
                        { id => 'co_globex', name => 'Globex Electrical' } ],
          'the account\'s companies, {id, name}');
is($j->{next_cursor}, undef, 'one page');

($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies?limit=1");
is(scalar @{ $j->{data} }, 1, 'limit=1: one company');
ok($j->{next_cursor}, 'and a cursor');
my $cursor = $j->{next_cursor};
($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies?limit=1&cursor=$cursor");
is($res->code, 200, 'next page: 200');
is($j->{data}[0]{id}, 'co_globex', 'the second company');
($res, $j) = ConnectTest::call($ua2, GET => "/connections/$conn2/companies?cursor=$cursor");
is($res->code, 400, 'a cursor of another connection is refused');

($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/co_acme/clients");
is($res->code, 200, 'clients: 200') or diag($res->decoded_content);
is_deeply([ map { $_->{id} } @{ $j->{data} } ], [ qw(cl_acme_1 cl_acme_2 cl_acme_3) ],
          'co_acme\'s clients only');
is($j->{data}[0]{name}, 'Alice Archer', 'with their names');
($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/companies/co_initech/clients");
is($res->code, 200, 'a company of another account: 200');
is(scalar @{ $j->{data} }, 0, '... and no clients');
($res, $j) = ConnectTest::call($ua2, GET => "/connections/$conn2/companies");
is_deeply([ map { $_->{id} } @{ $j->{data} } ], [ 'co_initech' ], 'the other account\'s');

($res, $j) = ConnectTest::call($ua, POST => "/connections/$conn/companies");
is($res->code, 405, 'POST companies: 405');
($res, $j) = ConnectTest::call($ua, GET => "/connections/$conn/nothing");
is($res->code, 404, 'unknown route below a connection: 404');

ConnectTest::no_secrets_anywhere('pick', $code, $state, $code2, $state2);
done_testing();

# mod_clientapi_connect.c + mod_clientapi_proxy.c: a provider's connect field is not tied to the
# name "tenant": t/providers/regional.json asks for a "region", stores it with the connection,
# and its calls use it as {region}.
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
my $path = '/connections/regional/credentials';
my $cred = { client_id => 'sandbox-client', client_secret => 'sandbox-secret' };

my ($res, $j) = ConnectTest::call($ua, POST => $path, json => $cred);
is($res->code, 400, 'the region is required') or diag($res->decoded_content);
($res, $j) = ConnectTest::call($ua, POST => $path, json => { %$cred, tenant => 'co_acme' });
is($res->code, 400, 'under its own name, not "tenant"');
($res, $j) = ConnectTest::call($ua, POST => $path, json => { %$cred, region => 'co_acme' });
is($res->code, 201, 'connected with a region') or diag($res->decoded_content);
my $conn = $j->{connection}{id};
is($j->{connection}{account_id}, 'co_acme', 'identity from the template');

my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
my $mark = CATest::journal_mark();
my $doc;
($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=50", key => $key);
is($res->code, 200, 'a list through the connection') or diag($res->decoded_content);
is(scalar @{ $doc->{data} }, 40, "the region's jobs");
is(scalar(grep { $_->{company_id} ne 'co_acme' } @{ $doc->{data} }), 0, 'only them');
my ($call) = grep { $_->{path} eq '/api/v1/jobs' } @{ CATest::requests_since($mark) };
like($call && $call->{query}, qr/(?:^|&)company_id=co_acme(?:&|$)/,
     '{region} filled from the connection');

done_testing();

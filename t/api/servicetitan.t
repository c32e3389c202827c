# conf/providers/servicetitan.json through the module and the sandbox's ServiceTitan shape:
# what the matrix (t/api/matrix-*.t) does not cover: the tenant in the URL path, the app key
# header from ClientAPIProviderParam, and page numbers that keep their page size in the cursor.
use strict;
use warnings;
use Test::More;
use CATest;
use CATest::Matrix;

CATest::sandbox_reset();
my $conn = CATest::Matrix::servicetitan_connection();
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:1001');

my $mark = CATest::journal_mark();
my ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=7", key => $key);
is($res->code, 200, 'jobs') or diag($res->decoded_content);
is($doc->{count}, 7, 'a page of 7');
my ($call) = grep { $_->{path} =~ m{^/st/} } @{ CATest::requests_since($mark) };
is($call && $call->{path}, '/st/jpm/v2/tenant/1001/jobs', 'the tenant in the path');
like($call && $call->{query}, qr/(?:^|&)pageSize=7(?:&|$)/, 'limit sent as pageSize');

# the next pages without repeating ?limit=: the cursor keeps the page size
my %seen = map { $_->{id} => 1 } @{ $doc->{data} };
my $pages = 1;
while (my $c = $doc->{next_cursor}) {
    ($res, $doc) = CATest::api(GET => "/api/$ep/jobs?cursor=$c", key => $key);
    is($res->code, 200, 'next page') or last;
    $seen{$_->{id}}++ for @{ $doc->{data} };
    last if ++$pages > 10;
}
is($pages, 6, 'six pages of 7, the size kept by the cursor');
is(scalar keys %seen, 40, 'all 40 jobs');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');

# a limit given again wins over the cursor's
(undef, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=7", key => $key);
($res, $doc) = CATest::api(GET => "/api/$ep/jobs?limit=20&cursor=$doc->{next_cursor}", key => $key);
is($doc->{count}, 20, 'a new limit applies');

# the app key comes from ClientAPIProviderParam (the sandbox refuses calls without it)
$mark = CATest::journal_mark();
is(CATest::api(GET => "/api/$ep/clients/111", key => $key)->code, 200, 'a customer');
($call) = grep { $_->{path} =~ m{^/st/} } @{ CATest::requests_since($mark) };
is($call && $call->{status}, 200, 'the sandbox accepted the ST-App-Key');

done_testing();

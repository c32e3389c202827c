# An endpoint declared in httpd.conf (ClientAPIEndpoint, its key from `clientapi key`): it
# works with the key whose hash the line carries, and is listed as managed by the config.
use strict;
use warnings;
use Test::More;
use CATest;

my $ep = $ENV{CA_DECLARED_EP} or die "CA_DECLARED_EP unset (run build/test.sh)\n";
open my $fh, '<', "$CATest::STATE/declared.key" or die $!;
chomp(my $key = <$fh>);
close $fh;

my ($res, $doc) = CATest::api(GET => "/api/$ep", key => $key);
is($res->code, 200, 'the declared endpoint answers with its key') or diag($res->decoded_content);
is($doc->{endpoint_id}, $ep, 'itself');
is($doc->{access_mode}, 'read-only', 'mode from the line');
is($doc->{scope}{company_external_id}, 'acc_demo', 'scope from the line');
($res, $doc) = CATest::api(GET => "/api/$ep/people?limit=5", key => $key);
is($res->code, 200, 'it proxies');
is(scalar @{ $doc->{data} }, 5, 'people of the account');
($res) = CATest::api(POST => "/api/$ep/people", key => $key, json => {});
is($res->code, 405, 'read-only as declared');

my $dbh = CATest::dbh();
my $row = $dbh->selectrow_hashref('SELECT * FROM endpoints WHERE public_id = ?', undef, $ep);
is($row->{managed_by_config}, 1, 'listed as managed by the configuration');
my ($other) = CATest::clientapi_ok('key') =~ /^key: (cak_\S+)/m;
is(CATest::api(GET => "/api/$ep", key => $other)->code, 401, 'another key: 401');

done_testing();

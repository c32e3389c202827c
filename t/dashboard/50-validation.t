# Input validation of the dashboard API: lengths, formats, unknown members, body size and
# type; HTML and SQL metacharacters are stored verbatim and answered JSON-escaped, never as
# HTML.
use strict;
use warnings;
use utf8;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email) = DashTest::signed_in();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
my %base = (connection_id => $conn, scope_kind => 'company', company_id => 'co_acme',
            company_name => 'Acme Plumbing', access_mode => 'read-only');

sub create { DashTest::call($ua, POST => '/endpoints', json => { %base, @_ }) }

# ---- metacharacters: verbatim in, escaped out --------------------------------------------
my $xss = q{<script>alert("x")</script><img src=x onerror=alert(1)>&amp;};
my $sql = q{Robert'); DROP TABLE endpoints; -- " OR 1=1 /* %s %lld \\};
my ($res, $j) = create(name => $xss, company_name => $sql, client_name => undef);
is($res->code, 201, 'names with HTML and SQL metacharacters are accepted') or diag($res->decoded_content);
my $id = $j->{endpoint}{id};
is($j->{endpoint}{name}, $xss, 'name answered verbatim');
is($j->{endpoint}{company_name}, $sql, 'company name answered verbatim');
unlike($res->content, qr/<script|<img/i, 'no raw < in the JSON text');
like($res->content, qr/\\u003cscript\\u003e/, '< and > are \\u escapes');
like($res->header('Content-Type'), qr{^application/json}, 'served as JSON');
is($res->header('X-Content-Type-Options'), 'nosniff', 'nosniff');
like($res->header('Content-Security-Policy') // '', qr/default-src 'none'/, 'a CSP that allows nothing');
my $row = $dbh->selectrow_hashref('SELECT name, company_name FROM endpoints WHERE public_id = ?',
                                  undef, $id);
is($row->{name}, $xss, 'stored verbatim');
is($row->{company_name}, $sql, 'stored verbatim (no SQL injection)');
ok($dbh->selectrow_array('SELECT count(*) FROM endpoints'), 'the endpoints table is still there');
($res, $j) = DashTest::call($ua, GET => '/endpoints');
my ($listed) = grep { $_->{id} eq $id } @{ $j->{data} };
is($listed->{name}, $xss, 'listed verbatim');
unlike($res->content, qr/<script/, 'list JSON escapes it too');

# ---- lengths -----------------------------------------------------------------------------
is(create(name => 'n' x 200)->code, 201, 'name of 200 characters');
is(create(name => 'é' x 200)->code, 201, 'name of 200 two-byte characters');
($res, $j) = create(name => 'n' x 201);
is($res->code, 400, 'name of 201 characters: 400');
like($j->{detail}, qr/name.*too long/, 'detail says which and why');
is(create(company_name => 'c' x 201)->code, 400, 'company_name of 201 characters: 400');
is(create(company_id => 'x' x 256)->code, 400, 'company id of 256 bytes: 400');
is(create(name => '')->code, 400, 'empty name: 400');
is(create(name => "line\nbreak")->code, 400, 'control character in a name: 400');
is(create(name => "tab\there")->code, 400, 'tab in a name: 400');
is(create(name => "c1\x{85}control")->code, 400, 'C1 control in a name: 400');

# ---- formats -----------------------------------------------------------------------------
is(create(company_id => 'co/acme')->code, 400, 'company id with a slash: 400');
is(create(company_id => 'co acme')->code, 400, 'company id with a space: 400');
is(create(company_id => 'co"acme')->code, 400, 'company id with a quote: 400');
is(create(scope_kind => 'galaxy')->code, 400, 'unknown scope kind: 400');
is(create(scope_kind => 'client')->code, 400, 'client scope without client_id: 400');
is(create(client_id => 'cl_1')->code, 400, 'client_id on a company scope: 400');
is(create(access_mode => 'write-only')->code, 400, 'unknown access mode: 400');
is(create(access_mode => undef)->code, 400, 'access mode missing: 400');
is(create(connection_id => 'abc')->code, 400, 'connection id not a number: 400');
is(create(connection_id => 1.5)->code, 400, 'connection id not an integer: 400');
is(create(connection_id => 0)->code, 400, 'connection id 0: 400');
is(create(connection_id => 999999999)->code, 404, 'unknown connection: 404');
is(create(expires_at => time - 10)->code, 400, 'expiry in the past: 400');
is(create(expires_at => 'tomorrow')->code, 400, 'expiry not a time: 400');
is(create(ip_allow => '10.0.0.0/33')->code, 400, 'bad CIDR: 400');
is(create(ip_allow => 'example.com')->code, 400, 'a host name is not an address: 400');
is(create(ip_allow => [1, 2])->code, 400, 'ip_allow of numbers: 400');
is(create(ip_allow => join(',', map { "10.0.0.$_" } 1 .. 51))->code, 400, 'more than 50 entries: 400');
is(create(name => 42)->code, 400, 'name not a string: 400');
($res, $j) = create(colour => 'blue');
is($res->code, 400, 'unknown member: 400');
like($j->{detail}, qr/colour/, 'named');

# ---- bodies ------------------------------------------------------------------------------
($res, $j) = DashTest::call($ua, POST => '/endpoints', body => '{"name": ',
                            headers => { 'Content-Type' => 'application/json' });
is($res->code, 400, 'malformed JSON: 400');
($res) = DashTest::call($ua, POST => '/endpoints', body => '[1, 2]',
                        headers => { 'Content-Type' => 'application/json' });
is($res->code, 400, 'not an object: 400');
($res) = DashTest::call($ua, POST => '/endpoints', body => '{"name": "a", "name": "b"}',
                        headers => { 'Content-Type' => 'application/json' });
is($res->code, 400, 'a member twice: 400');
($res) = DashTest::call($ua, POST => '/endpoints', body => '{"name": "a\u0000b"}',
                        headers => { 'Content-Type' => 'application/json' });
is($res->code, 400, 'NUL in a string: 400');
($res) = DashTest::call($ua, POST => '/endpoints', body => 'name=x',
                        headers => { 'Content-Type' => 'text/plain' });
is($res->code, 415, 'not JSON: 415');
my $big = CATest::json()->encode({ %base, name => 'x', company_name => 'y' x (70 * 1024) });
($res, $j) = DashTest::call($ua, POST => '/endpoints', body => $big,
                            headers => { 'Content-Type' => 'application/json' });
is($res->code, 413, 'body over 64 KB: 413');
is($j->{code}, 'body_too_large', 'code body_too_large');
($res) = DashTest::call($ua, POST => '/login', csrf => undef,
                        json => { email => ('a' x 250) . '@example.test', password => 'x' });
is($res->code, 400, 'email over 254 characters: 400');
($res) = DashTest::call($ua, POST => '/login', csrf => undef,
                        json => { email => 'a@example.test', password => 'p' x 1025 });
is($res->code, 400, 'password over 1024 bytes: 400');

done_testing();

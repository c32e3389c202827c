# The dashboard journey in a real headless Chromium (Debian's chromium, driven by
# playwright-core from t/browser/package-lock.json; build/test.sh installs both): log in,
# connect the sandbox through its OAuth page, create a client-scoped endpoint with the
# pickers, read the key once, call it, find the call in the request log and the usage chart,
# deactivate, reissue, activate; keyboard and phone-width checks; screenshots of every page in
# t/logs/screenshots/. journey.mjs reports one JSON line per check; this file turns them into
# TAP and then checks, through the database, what the browser did.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use CATest;
use DashTest;
use JSON::PP ();

my $dir = $FindBin::Bin;
my $chromium = $ENV{CA_CHROMIUM} || '/usr/bin/chromium';
ok(-x $chromium, "Debian's chromium is installed ($chromium)")
    or BAIL_OUT('no chromium: build/test.sh installs it (install_browser_deps in build/lib.sh)');
ok(-f "$dir/node_modules/playwright-core/package.json", 'playwright-core is installed')
    or BAIL_OUT('no playwright-core: build/test.sh runs npm ci in t/browser');

DashTest::clear_login_attempts();
my $member = DashTest::user(prefix => 'journey');
my $admin = DashTest::user(prefix => 'journeyadm', role => 'admin');
my $shots = "$CATest::ROOT/t/logs/screenshots";
mkdir $shots;
unlink glob "$shots/*.png";

local $ENV{CA_BASE_URL} = CATest::base_url();
local $ENV{CA_SANDBOX_URL} = CATest::sandbox_url();
local $ENV{CA_MEMBER_EMAIL} = $member;
local $ENV{CA_ADMIN_EMAIL} = $admin;
local $ENV{CA_PASSWORD} = $DashTest::PASSWORD;
local $ENV{CA_SHOTS} = $shots;
local $ENV{CA_CHROMIUM} = $chromium;

open my $out, '-|', 'node', "$dir/journey.mjs" or die "node: $!";
my (%fact, $checks);
while (my $line = <$out>) {
    my $j = eval { JSON::PP::decode_json($line) };
    unless ($j) {
        diag("journey: $line");
        next;
    }
    if ($j->{fact}) {
        %fact = (%fact, %{ $j->{fact} });
        next;
    }
    $checks++;
    ok($j->{ok}, "browser: $j->{name}") or diag(defined $j->{detail} ? "  got: $j->{detail}" : '');
}
close $out;
is($?, 0, 'journey.mjs exited 0');
cmp_ok($checks // 0, '>=', 60, 'the journey ran its checks');

# what the browser did, as the database saw it
my $dbh = CATest::dbh();
my $ep = $dbh->selectrow_hashref(
    'SELECT e.*, u.email FROM endpoints e JOIN users u ON u.id = e.user_id WHERE e.public_id = ?',
    undef, $fact{endpoint} // '');
ok($ep, 'the endpoint the browser made exists') or diag(explain \%fact);
SKIP: {
    skip 'no endpoint', 6 unless $ep;
    is($ep->{email}, lc $member, 'it belongs to the member');
    is($ep->{scope_kind}, 'client', 'client-scoped');
    is($ep->{company_id}, 'co_acme', 'of the company picked (co_acme)');
    like($ep->{client_id}, qr/^cl_acme_/, 'and a client of it picked from the list');
    is($ep->{status}, 'active', 'active again at the end');
    my $keys = $dbh->selectall_arrayref('SELECT * FROM endpoint_keys WHERE endpoint_id = ?'
                                        . ' ORDER BY id', { Slice => {} }, $ep->{id});
    my $stopped = @$keys == 2 && (defined $keys->[0]{revoked_at}
                                  || (defined $keys->[0]{expires_at} && $keys->[0]{expires_at} <= time));
    ok($stopped && !defined $keys->[1]{revoked_at} && !defined $keys->[1]{expires_at},
       'two keys: the first stopped by the reissue (grace 0), the second current');
}
my $conn = $dbh->selectrow_hashref(
    'SELECT c.* FROM provider_connections c JOIN users u ON u.id = c.user_id WHERE u.email = ?',
    undef, lc $member);
is($conn && $conn->{provider}, 'sandbox', 'the OAuth connection is stored for the member');

my @png = glob "$shots/*.png";
cmp_ok(scalar @png, '>=', 25, 'screenshots saved in t/logs/screenshots (' . scalar(@png) . ')');
ok(!grep(/key-once\.png$/, @png), 'the key screenshots are only the masked ones');

done_testing();

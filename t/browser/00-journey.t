# The dashboard journey in a real headless Chromium (Debian's chromium, driven by
# playwright-core from t/browser/vendor/, pinned by package-lock.json; build/test.sh installs
# both): log in, connect the sandbox through its OAuth page, create a client-scoped endpoint with the
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
# playwright-core is installed offline from t/browser/vendor/ (build/lib.sh browser_modules),
# so nothing here depends on reaching the npm registry: an install that failed is a failure.
my $npm_failed = -f "$dir/.npm-failed" ? do {
    open my $fh, '<', "$dir/.npm-failed";
    my $why = <$fh> // 'npm ci failed';
    chomp $why;
    $why;
} : undef;
my $chromium = $ENV{CA_CHROMIUM} || '/usr/bin/chromium';
ok(-x $chromium, "Debian's chromium is installed ($chromium)")
    or BAIL_OUT('no chromium: build/test.sh installs it (install_browser_deps in build/lib.sh)');
ok(-f "$dir/node_modules/playwright-core/package.json", 'playwright-core is installed')
    or BAIL_OUT('no playwright-core: build/test.sh runs npm ci --offline in t/browser'
                . ($npm_failed ? ", which failed: $npm_failed" : ''));

DashTest::clear_login_attempts();
my $member = DashTest::user(prefix => 'journey');
my $admin = DashTest::user(prefix => 'journeyadm', role => 'admin');
my $shots = "$CATest::ROOT/t/logs/screenshots";
mkdir $shots;
unlink glob "$shots/*.png";

local $ENV{CA_BASE_URL} = CATest::base_url();
# the public pages as a deployment serves them (htdocs/ at the root, index.html at /)
my $site = Apache::Test::config()->{vhosts}{clientapi_site}
    or BAIL_OUT('no virtual host clientapi_site in t/conf/extra.conf.in');
local $ENV{CA_SITE_URL} = "http://$site->{hostport}";
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

# what the browser did: the endpoint as the dashboard API described it before the account
# was deleted, then the database after the deletion
my $ep = $fact{before_delete};
ok($ep, 'the endpoint was described before the account deletion') or diag(explain \%fact);
SKIP: {
    skip 'no endpoint', 5 unless $ep;
    is($ep->{scope_kind}, 'client', 'client-scoped');
    is($ep->{company_id}, 'co_acme', 'of the company picked (co_acme)');
    like($ep->{client_id} // '', qr/^cl_acme_/, 'and a client of it picked from the list');
    is($ep->{status}, 'active', 'active again at the end');
    is(join(',', map { $_->{usable} ? 1 : 0 } @{ $ep->{keys} || [] }), '1,0',
       'two keys: the reissued one usable, the first stopped (grace 0)');
}
my $dbh = CATest::dbh();
ok($fact{account_deleted}, 'the account was deleted in the browser');
ok(!DashTest::user_id($member), 'the member account is gone');
is($dbh->selectrow_array('SELECT count(*) FROM endpoints WHERE public_id = ?', undef,
                         $fact{endpoint} // ''), 0, 'its endpoint is gone');
my %actions = map { $_->[0] => 1 } @{ $dbh->selectall_arrayref(
    'SELECT action FROM audit_events WHERE target_id = ?', undef, $fact{endpoint} // '') };
ok($actions{$_}, "audit trail: $_") for qw(endpoint.create endpoint.deactivate key.reissue
                                          endpoint.activate);
my ($disc) = $dbh->selectrow_array(
    "SELECT detail FROM audit_events WHERE action = 'connection.disconnect' AND actor_email = ?"
    . ' ORDER BY id DESC', undef, lc $member);
like($disc // '', qr/sandbox account acc_demo: credentials deleted, refresh token revoked/,
     'the OAuth connection was disconnected with its tokens revoked');

my @png = glob "$shots/*.png";
cmp_ok(scalar @png, '>=', 25, 'screenshots saved in t/logs/screenshots (' . scalar(@png) . ')');
ok(!grep(/key-once\.png$/, @png), 'the key screenshots are only the masked ones');

done_testing();

# Sign-up (ClientAPISignup: off on the suite's server, on in a server of its own on SQLite)
# and account deletion (DELETE /account): the user's provider tokens are revoked at the
# sandbox, its connections, endpoints and sessions are gone, its keys stop working.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Request;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use CATest;
use DashTest;

my $dbh = CATest::dbh();
DashTest::clear_login_attempts();

# ---- sign-up is off by default -------------------------------------------------------------
my $ua = DashTest::browser();
my ($res, $j) = DashTest::call($ua, GET => '/signup');
is($res->code, 200, 'GET /signup answers');
ok($j && !$j->{open}, 'sign-up is closed on the main server');
my $closed = CATest::unique('closed') . '@example.test';
($res, $j) = DashTest::call($ua, POST => '/signup',
                            json => { email => $closed, password => $DashTest::PASSWORD });
is($res->code, 403, 'POST /signup refused');
is($j->{code}, 'signup_closed', 'code signup_closed');
ok(!DashTest::user_id($closed), 'no account was made');

# ---- ... and on where the admin opened it: a server of its own (conf/demo.conf.in on the
# sqlite3 driver, as t/dbd/sqlite.t runs it) with ClientAPISignup on; the same SQL as on
# PostgreSQL
{
    my $dir = tempdir(CLEANUP => 1);
    my $db = "$dir/clientapi.db";
    my $keys = "$dir/secret.keys";
    local $CATest::CLI = { driver => 'sqlite3', params => $db, keys => $keys };
    CATest::clientapi_ok('migrate', '--sql-dir', "$CATest::ROOT/sql");
    system("$CATest::ROOT/clientapi keygen --kid t1 > $keys 2>/dev/null") == 0 or die 'keygen';
    chmod 0600, $keys;
    CATest::write_file("$dir/sandbox-client.secret", "sandbox-secret\n");
    my $port = do { my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                                 LocalPort => 0, ReuseAddr => 1); $s->sockport };
    open my $in, '<', "$CATest::ROOT/conf/demo.conf.in" or die $!;
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s/\@DEMO\@/$dir/g;
    $conf =~ s/\@ROOT\@/$CATest::ROOT/g;
    $conf =~ s/\@PORT\@/$port/g;
    $conf =~ s/\@SANDBOX\@/$ENV{CA_SANDBOX_URL}/g;
    $conf =~ s/\@MODULES\@/$ENV{CA_MODULES_DIR}/g;
    $conf .= "\nClientAPISignup on\n";
    CATest::write_file("$dir/httpd.conf", $conf);
    my $httpd = CATest::httpd_bin();
    system($httpd, '-d', $dir, '-f', "$dir/httpd.conf", '-k', 'start') == 0 or die 'httpd start';
    for (1 .. 100) { last if -s "$dir/httpd.pid"; sleep 0.05 }
    my $base = "http://127.0.0.1:$port";
    my $s = DashTest::browser();
    my $post = sub {
        my ($path, $body, %h) = @_;
        my $req = HTTP::Request->new(POST => "$base$DashTest::API$path");
        $req->header('Content-Type' => $h{ct} // 'application/json');
        $req->content(ref $body ? CATest::json()->encode($body) : $body);
        my $r = ($h{ua} || $s)->request($req);
        return ($r, CATest::decode($r->decoded_content));
    };
    my ($r, $d);
    for (1 .. 50) {   # until the server answers
        $r = $s->get("$base$DashTest::API/signup");
        last if $r->code == 200;
        sleep 0.1;
    }
    ok(CATest::decode($r->decoded_content)->{open}, 'GET /signup: open');
    my $email = CATest::unique('signup') . '@example.test';
    ($r, $d) = $post->('/signup', { email => 'not an address', password => $DashTest::PASSWORD });
    is($r->code, 400, 'a malformed email: 400');
    like($d->{detail}, qr/email/, '... naming the field');
    ($r, $d) = $post->('/signup', { email => $email, password => 'short' });
    is($r->code, 400, 'a short password: 400');
    like($d->{detail}, qr/password/, '... naming the field');
    ($r, $d) = $post->('/signup', { email => $email, password => $DashTest::PASSWORD,
                                    role => 'admin' });
    is($r->code, 400, 'an unknown member (role): 400, nobody picks their role');
    ($r, $d) = $post->('/signup', "email=$email&password=x",
                       ct => 'application/x-www-form-urlencoded');
    is($r->code, 415, 'a form post (cross-site) is refused: 415');
    ($r, $d) = $post->('/signup', { email => "$email'; DROP TABLE users; --",
                                    password => $DashTest::PASSWORD });
    is($r->code, 400, 'SQL metacharacters in the email: refused as an address');
    ($r, $d) = $post->('/signup', { email => ('a' x 300) . '@example.test',
                                    password => $DashTest::PASSWORD });
    is($r->code, 400, 'an oversized email: 400');
    ($r, $d) = $post->('/signup', { email => $email, password => $DashTest::PASSWORD });
    is($r->code, 201, 'a valid sign-up: 201') or diag($r->decoded_content);
    is($d->{user}{role}, 'member', 'a member account');
    is($d->{user}{email}, lc $email, 'with the email');
    ok(DashTest::cookie($s, 'ca_session') && DashTest::cookie($s, 'ca_csrf'),
       'signed in at once');
    $r = $s->get("$base$DashTest::API/me");
    is($r->code, 200, 'GET /me works with the new session');
    ($r, $d) = $post->('/signup', { email => uc $email, password => $DashTest::PASSWORD },
                       ua => DashTest::browser());
    is($r->code, 409, 'the same address again (any case): 409');
    is($d->{code}, 'email_taken', 'code email_taken');
    my $sql = sub {
        my $out = `sqlite3 $db "$_[0]"`;
        chomp $out;
        return $out;
    };
    is($sql->("SELECT role FROM users WHERE email = '" . lc($email) . "'"), 'member',
       'one member row in SQLite');
    is($sql->("SELECT count(*) FROM audit_events WHERE action = 'user.signup'"), 1,
       'audit event user.signup');
    system($httpd, '-d', $dir, '-f', "$dir/httpd.conf", '-k', 'stop');
    for (1 .. 100) { last unless -e "$dir/httpd.pid"; sleep 0.05 }
    open my $log, '<', "$dir/error_log" or die $!;
    my @errors = grep { /:(error|crit|alert|emerg)\]/ } <$log>;
    is(scalar @errors, 0, 'no errors in that server\'s error log') or diag(@errors);
}

# ---- account deletion ----------------------------------------------------------------------
my ($me, $email) = DashTest::signed_in();
my $uid = DashTest::user_id($email);
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo', user => $email);
my $tokens = CATest::last_tokens();
my ($ep, $key) = DashTest::create_endpoint($me, $email, connection => $conn);
is(CATest::api(GET => "/api/$ep->{id}/clients", key => $key)->code, 200,
   'before: the endpoint answers');

($res, $j) = DashTest::call($me, DELETE => '/account', json => { password => $DashTest::PASSWORD },
                            csrf => undef);
is($res->code, 403, 'without the CSRF token: 403');
is($j->{code}, 'csrf_failed', 'code csrf_failed');
($res, $j) = DashTest::call($me, DELETE => '/account', json => { password => 'wrong password!' });
is($res->code, 403, 'a wrong password: 403');
is($j->{code}, 'password_incorrect', 'code password_incorrect');
($res, $j) = DashTest::call($me, DELETE => '/account', json => {});
is($res->code, 400, 'no password: 400');
($res, $j) = DashTest::call($me, DELETE => '/account', json => { password => 'x' x 5000 });
is($res->code, 400, 'an oversized password: 400');
ok(DashTest::user_id($email), 'the account is still there');
DashTest::clear_login_attempts();

my $before = CATest::sandbox_stats();
($res, $j) = DashTest::call($me, DELETE => '/account', json => { password => $DashTest::PASSWORD });
is($res->code, 200, 'the right password: 200') or diag($res->decoded_content);
ok($j->{deleted}, 'deleted');
is($j->{connections_disconnected}, 1, 'one connection disconnected');
is($j->{endpoints_deleted}, 1, 'one endpoint deleted');
my $after = CATest::sandbox_stats();
ok($after->{revoked} > $before->{revoked}, 'the provider tokens were revoked at the sandbox');
ok(!DashTest::user_id($email), 'the account is gone');
is($dbh->selectrow_array('SELECT count(*) FROM provider_connections WHERE user_id = ?', undef,
                         $uid), 0, 'its connections are gone');
is($dbh->selectrow_array('SELECT count(*) FROM endpoints WHERE public_id = ?', undef,
                         $ep->{id}), 0, 'its endpoint is gone');
is($dbh->selectrow_array('SELECT count(*) FROM sessions WHERE user_id = ?', undef, $uid), 0,
   'its sessions are gone');
my $api = CATest::api(GET => "/api/$ep->{id}/clients", key => $key);
ok($api->code == 401 || $api->code == 404, 'the endpoint key stops working (' . $api->code . ')');
($res) = DashTest::call($me, GET => '/me');
is($res->code, 401, 'the browser is signed out');
ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'user.delete'"
                         . ' AND target_id = ?', undef, $uid), 'audit event user.delete stays');

# no secret of the account reached the error log
my $log = do { local $/; open my $fh, '<', "$CATest::ROOT/t/logs/error_log"; <$fh> // '' };
unlike($log, qr/\Q$tokens->{access_token}\E/, 'the access token is not in the error log');
unlike($log, qr/\Q$key\E/, 'the endpoint key is not in the error log');

done_testing();

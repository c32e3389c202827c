# Sign-up (ClientAPISignup: off on the main server, on in the virtual host clientapi_signup)
# and account deletion (DELETE /account): the user's provider tokens are revoked at the
# sandbox, its connections, endpoints and sessions are gone, its keys stop working.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Apache::Test ();
use HTTP::Request;
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

# ---- ... and on where the admin opened it -----------------------------------------------
my $cfg = Apache::Test::config();
SKIP: {
    skip 'no clientapi_signup virtual host', 20 unless $cfg->{vhosts}{clientapi_signup};
    my $base = 'http://' . $cfg->{vhosts}{clientapi_signup}{hostport};
    my $s = DashTest::browser();
    my $post = sub {
        my ($path, $body, %h) = @_;
        my $req = HTTP::Request->new(POST => "$base$DashTest::API$path");
        $req->header('Content-Type' => $h{ct} // 'application/json');
        $req->header('X-CSRF-Token' => $h{csrf}) if $h{csrf};
        $req->content(ref $body ? CATest::json()->encode($body) : $body);
        my $r = $s->request($req);
        return ($r, CATest::decode($r->decoded_content));
    };
    my ($r, $d) = (undef, undef);
    $r = $s->get("$base$DashTest::API/signup");
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
    ($r, $d) = $post->('/signup', "email=$email&password=x", ct => 'application/x-www-form-urlencoded');
    is($r->code, 415, 'a form post (cross-site) is refused: 415');
    ($r, $d) = $post->('/signup', { email => "$email'; DROP TABLE users; --",
                                    password => $DashTest::PASSWORD });
    is($r->code, 400, 'SQL metacharacters in the email: refused as an address');
    ($r, $d) = $post->('/signup', { email => ('a' x 300) . '@example.test',
                                    password => $DashTest::PASSWORD });
    is($r->code, 400, 'an oversized email: 400');
    ok(!DashTest::user_id($email), 'nothing stored so far');
    ($r, $d) = $post->('/signup', { email => $email, password => $DashTest::PASSWORD });
    is($r->code, 201, 'a valid sign-up: 201');
    is($d->{user}{role}, 'member', 'a member account');
    is($d->{user}{email}, lc $email, 'with the email');
    ok(DashTest::cookie($s, 'ca_session') && DashTest::cookie($s, 'ca_csrf'), 'signed in at once');
    $r = $s->get("$base$DashTest::API/me");
    is($r->code, 200, 'GET /me works with the new session');
    my $dup = DashTest::browser();
    my $req = HTTP::Request->new(POST => "$base$DashTest::API/signup");
    $req->header('Content-Type' => 'application/json');
    $req->content(CATest::json()->encode({ email => uc $email, password => $DashTest::PASSWORD }));
    $r = $dup->request($req);
    is($r->code, 409, 'the same address again (any case): 409');
    is(CATest::decode($r->decoded_content)->{code}, 'email_taken', 'code email_taken');
    ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'user.signup'"
                             . ' AND actor_email = ?', undef, lc $email),
       'audit event user.signup');
    # the new account can sign in on the main server too
    my $m = DashTest::browser();
    is(DashTest::login($m, $email)->code, 200, 'the new account signs in');
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

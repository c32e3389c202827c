# Dashboard accounts and sessions: login, cookies, session rotation, idle and absolute
# expiry, logout, password change.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Digest::SHA qw(sha256_hex);
use CATest;
use DashTest;

DashTest::clear_login_attempts();
my $dbh = CATest::dbh();
my $email = DashTest::user();
my $uid = DashTest::user_id($email);

# ---- not signed in -----------------------------------------------------------------------
my $ua = DashTest::browser();
my ($res, $j) = DashTest::call($ua, GET => '/me');
is($res->code, 401, 'GET /me without a session: 401');
is($j->{code}, 'unauthenticated', 'code unauthenticated');
is($res->header('Content-Type'), 'application/problem+json', 'problem+json');
ok($res->header('X-Request-Id'), 'X-Request-Id');
is($j->{request_id}, $res->header('X-Request-Id'), 'request_id equals the header');
is($res->header('Cache-Control'), 'no-store', 'not cached');

# ---- failures ----------------------------------------------------------------------------
($res, $j) = DashTest::login($ua, $email, 'wrong password 123');
is($res->code, 401, 'wrong password: 401');
is($j->{code}, 'login_failed', 'code login_failed');
ok(!DashTest::cookie($ua, 'ca_session'), 'no session cookie after a failure');
my ($res2, $j2) = DashTest::login($ua, 'nobody-' . CATest::unique() . '@example.test', 'whatever pw');
is($res2->code, 401, 'unknown email: 401');
is($j2->{detail}, $j->{detail}, 'the same answer as a wrong password');
($res, $j) = DashTest::call($ua, POST => '/login', body => 'email=a&password=b',
                            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
                            csrf => undef);
is($res->code, 415, 'login needs application/json (a cross-site form cannot post it)');
($res, $j) = DashTest::call($ua, POST => '/login', json => { email => $email }, csrf => undef);
is($res->code, 400, 'password missing: 400');
($res, $j) = DashTest::call($ua, POST => '/login',
                            json => { email => $email, password => 'x', remember => 1 },
                            csrf => undef);
is($res->code, 400, 'unknown member: 400');
like($j->{detail}, qr/remember/, 'detail names the member');
($res, $j) = DashTest::call($ua, GET => '/login');
is($res->code, 405, 'GET /login: 405');
is($res->header('Allow'), 'POST', 'Allow: POST');

my $failed = $dbh->selectrow_array('SELECT failed_logins FROM users WHERE id = ?', undef, $uid);
is($failed, 1, 'the failed login is counted on the account');

# ---- success -----------------------------------------------------------------------------
DashTest::clear_login_attempts();
($res, $j) = DashTest::login($ua, uc $email);
is($res->code, 200, 'login: 200 (email is case-insensitive)') or diag($res->decoded_content);
is($j->{user}{email}, $email, 'user email');
is($j->{user}{role}, 'member', 'role member');
is($j->{user}{id}, $uid, 'user id');
my @cookies = $res->header('Set-Cookie');
my ($sc) = grep { /^ca_session=/ } @cookies;
my ($cc) = grep { /^ca_csrf=/ } @cookies;
ok($sc, 'ca_session cookie set');
like($sc, qr/; HttpOnly/, 'session cookie is HttpOnly');
like($sc, qr/; SameSite=Lax/, 'session cookie is SameSite=Lax');
like($sc, qr/; Path=\//, 'session cookie Path=/');
unlike($sc, qr/Secure/, 'no Secure over plain http');
ok($cc, 'ca_csrf cookie set');
unlike($cc, qr/HttpOnly/, 'CSRF cookie readable by the page');
like($cc, qr/; SameSite=Strict/, 'CSRF cookie SameSite=Strict');
my $sid = DashTest::cookie($ua, 'ca_session');
my $csrf = DashTest::cookie($ua, 'ca_csrf');
like($sid, qr/^[A-Za-z0-9_-]{43}$/, 'session id: 32 random bytes, base64url');
unlike($res->decoded_content, qr/\Q$sid\E|\Q$csrf\E/, 'neither token is in the body');
my $row = $dbh->selectrow_hashref('SELECT * FROM sessions WHERE user_id = ?', undef, $uid);
is($row->{id_hash}, sha256_hex($sid), 'the database keeps only the SHA-256 of the session id');
is($row->{csrf_token_hash}, sha256_hex($csrf), 'and of the CSRF token');
is($row->{ip}, '127.0.0.1', 'address at login');
is($row->{user_agent}, 'dash-test/1.0', 'user agent at login');
ok($row->{expires_at} - $row->{created_at} <= 1800, 'idle timeout 30 min');
is($dbh->selectrow_array('SELECT failed_logins FROM users WHERE id = ?', undef, $uid), 0,
   'success resets the failure count');
ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'user.login'"
                         . ' AND user_id = ?', undef, $uid), 'login audited');

($res, $j) = DashTest::call($ua, GET => '/me');
is($res->code, 200, 'GET /me with the session');
is($j->{user}{email}, $email, '/me names the user');
is($j->{session}{idle_timeout_sec}, 1800, 'idle timeout announced');
is($j->{session}{absolute_timeout_sec}, 43200, 'absolute timeout announced');

# ---- rotation ----------------------------------------------------------------------------
($res) = DashTest::login($ua, $email);
is($res->code, 200, 'second login with the same browser');
my $sid2 = DashTest::cookie($ua, 'ca_session');
isnt($sid2, $sid, 'a new session id at every login');
isnt(DashTest::cookie($ua, 'ca_csrf'), $csrf, 'and a new CSRF token');
is($dbh->selectrow_array('SELECT count(*) FROM sessions WHERE id_hash = ?', undef,
                         sha256_hex($sid)), 0, 'the old session row is gone');
my $old = DashTest::browser();
DashTest::set_cookie($old, ca_session => $sid);
is(DashTest::call($old, GET => '/me')->code, 401, 'the old id no longer works');

# a session id planted before login (fixation) is not adopted
my $planted = DashTest::browser();
DashTest::set_cookie($planted, ca_session => 'A' x 43);
($res) = DashTest::login($planted, $email);
isnt(DashTest::cookie($planted, 'ca_session'), 'A' x 43, 'a planted id is replaced at login');

# ---- idle and absolute expiry ------------------------------------------------------------
my ($ua3) = DashTest::signed_in(email => $email);
my $h3 = sha256_hex(DashTest::cookie($ua3, 'ca_session'));
is(DashTest::call($ua3, GET => '/me')->code, 200, 'fresh session works');
$dbh->do('UPDATE sessions SET last_seen_at = last_seen_at - 1801 WHERE id_hash = ?', undef,
         $h3);
($res, $j) = DashTest::call($ua3, GET => '/me');
is($res->code, 401, 'idle for more than 30 minutes: 401');
ok((grep { /^ca_session=;.*Max-Age=0/ } $res->header('Set-Cookie')), 'cookie cleared');
is($dbh->selectrow_array('SELECT count(*) FROM sessions WHERE id_hash = ?', undef, $h3), 0,
   'the expired row is deleted');

my ($ua4) = DashTest::signed_in(email => $email);
my $h4 = sha256_hex(DashTest::cookie($ua4, 'ca_session'));
$dbh->do('UPDATE sessions SET created_at = created_at - 43201, last_seen_at = ? WHERE id_hash = ?',
         undef, time, $h4);
is(DashTest::call($ua4, GET => '/me')->code, 401, 'older than 12 hours: 401 even if active');

my ($ua5) = DashTest::signed_in(email => $email);
my $h5 = sha256_hex(DashTest::cookie($ua5, 'ca_session'));
$dbh->do('UPDATE sessions SET last_seen_at = last_seen_at - 600 WHERE id_hash = ?', undef, $h5);
is(DashTest::call($ua5, GET => '/me')->code, 200, 'active within the idle timeout');
my ($seen, $exp) = $dbh->selectrow_array(
    'SELECT last_seen_at, expires_at FROM sessions WHERE id_hash = ?', undef, $h5);
ok($seen >= time - 5, 'a request moves last_seen_at');
ok($exp >= time + 1790, 'and the sliding expiry');

# ---- disabled account --------------------------------------------------------------------
my $dis = DashTest::user();
my ($uad) = DashTest::signed_in(email => $dis);
$dbh->do('UPDATE users SET disabled_at = ? WHERE email = ?', undef, time, $dis);
is(DashTest::call($uad, GET => '/me')->code, 401, 'a disabled account loses its sessions');
($res, $j) = DashTest::login(DashTest::browser(), $dis);
is($res->code, 403, 'and cannot sign in');
is($j->{code}, 'account_disabled', 'code account_disabled');

# ---- logout ------------------------------------------------------------------------------
($res, $j) = DashTest::call($ua5, POST => '/logout');
is($res->code, 200, 'logout: 200');
ok((grep { /^ca_session=;.*Max-Age=0/ } $res->header('Set-Cookie')), 'session cookie cleared');
ok((grep { /^ca_csrf=;.*Max-Age=0/ } $res->header('Set-Cookie')), 'CSRF cookie cleared');
is($dbh->selectrow_array('SELECT count(*) FROM sessions WHERE id_hash = ?', undef, $h5), 0,
   'the session row is deleted');
my $again = DashTest::browser();
DashTest::set_cookie($again, ca_session => DashTest::cookie($ua5, 'ca_session') // 'x');
is(DashTest::call($ua5, GET => '/me')->code, 401, 'signed out');
is(DashTest::call(DashTest::browser(), POST => '/logout', csrf => undef)->code, 200,
   'logout without a session is harmless');

# ---- password change ---------------------------------------------------------------------
my $pwuser = DashTest::user();
my ($pa) = DashTest::signed_in(email => $pwuser);
my ($pb) = DashTest::signed_in(email => $pwuser);
($res, $j) = DashTest::call($pa, POST => '/password',
                            json => { current => 'not my password', new => 'new password 123' });
is($res->code, 403, 'wrong current password: 403');
is($j->{code}, 'password_incorrect', 'code password_incorrect');
($res, $j) = DashTest::call($pa, POST => '/password',
                            json => { current => $DashTest::PASSWORD, new => 'short' });
is($res->code, 400, 'too short a new password: 400');
my $before = DashTest::cookie($pa, 'ca_session');
($res, $j) = DashTest::call($pa, POST => '/password',
                            json => { current => $DashTest::PASSWORD, new => 'new password 123' });
is($res->code, 200, 'password changed') or diag($res->decoded_content);
is($j->{sessions_ended}, 2, 'both sessions ended');
isnt(DashTest::cookie($pa, 'ca_session'), $before, 'this browser got a new session');
is(DashTest::call($pa, GET => '/me')->code, 200, 'and stays signed in');
is(DashTest::call($pb, GET => '/me')->code, 401, 'the other browser is signed out');
is(DashTest::login(DashTest::browser(), $pwuser)->code, 401, 'the old password is refused');
is(DashTest::login(DashTest::browser(), $pwuser, 'new password 123')->code, 200,
   'the new one works');

DashTest::clear_login_attempts();
done_testing();

# Login throttling: per account (5 failures lock it for 15 minutes, unknown emails alike) and
# per client address (login_attempts in the database).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

DashTest::clear_login_attempts();
my $dbh = CATest::dbh();

# ---- per account -------------------------------------------------------------------------
my $email = DashTest::user();
my $ua = DashTest::browser();
for my $i (1 .. 5) {
    my ($res, $j) = DashTest::login($ua, $email, "wrong password $i");
    is($res->code, 401, "failure $i: 401");
}
my ($res, $j) = DashTest::login($ua, $email);
is($res->code, 429, 'after 5 failures even the right password is refused: 429');
is($j->{code}, 'rate_limited', 'code rate_limited');
my $ra = $res->header('Retry-After');
ok($ra && $ra > 0 && $ra <= 900, "Retry-After within 15 minutes ($ra)");
my ($locked) = $dbh->selectrow_array('SELECT locked_until FROM users WHERE email = ?', undef,
                                     $email);
ok($locked > time + 800 && $locked <= time + 900, 'users.locked_until about 15 minutes ahead');
ok($dbh->selectrow_array("SELECT count(*) FROM audit_events WHERE action = 'user.lock'"
                         . ' AND actor_email = ?', undef, $email), 'the lock is audited');
($res) = DashTest::login($ua, $email, 'wrong again');
is($res->code, 429, 'a locked account does not even check the password');

# the lock ends: the account starts counting again
$dbh->do('UPDATE users SET locked_until = ? WHERE email = ?', undef, time - 1, $email);
DashTest::clear_login_attempts();
($res) = DashTest::login($ua, $email, 'one more wrong');
is($res->code, 401, 'after the lock: a failure is a plain 401 again');
($res) = DashTest::login($ua, $email);
is($res->code, 200, 'and the right password works');
is($dbh->selectrow_array('SELECT failed_logins FROM users WHERE email = ?', undef, $email), 0,
   'counter reset');

# `clientapi passwd` lifts a lock
my $e2 = DashTest::user();
DashTest::login($ua, $e2, "bad $_") for 1 .. 5;
is(DashTest::login($ua, $e2)->code, 429, 'second account locked');
my $pwf = CATest::write_file("$CATest::STATE/pw2.$$", "another password 42\n");
CATest::clientapi_ok('passwd', '--email', $e2, '--password-file', $pwf);
unlink $pwf;
DashTest::clear_login_attempts();
is(DashTest::login($ua, $e2, 'another password 42')->code, 200, 'clientapi passwd lifts the lock');

# unknown emails are throttled the same way (a lock does not reveal an account)
my $ghost = 'ghost-' . CATest::unique() . '@example.test';
DashTest::login($ua, $ghost, "guess $_") for 1 .. 5;
($res, $j) = DashTest::login($ua, $ghost, 'guess 6');
is($res->code, 429, 'unknown email: 429 after 5 failures too');
ok($res->header('Retry-After'), 'with Retry-After');
DashTest::clear_login_attempts();

# ---- per client address ------------------------------------------------------------------
my $ok_user = DashTest::user();
my $now = time;
my $ins = $dbh->prepare('INSERT INTO login_attempts (email, ip, ts, success) VALUES (?, ?, ?, 0)');
$ins->execute("spray$_\@example.test", '127.0.0.1', $now) for 1 .. 19;
($res) = DashTest::login($ua, $ok_user);
is($res->code, 200, '19 failures from this address: still allowed');
DashTest::call($ua, POST => '/logout');
($res) = DashTest::login($ua, 'spray20@example.test', 'nope nope');
is($res->code, 401, 'the 20th failure');
($res, $j) = DashTest::login($ua, $ok_user);
is($res->code, 429, '20 failures from one address within 15 minutes: 429 for every account');
is($j->{code}, 'rate_limited', 'code rate_limited');
is($res->header('Retry-After'), 900, 'Retry-After: the window');
is($dbh->selectrow_array("SELECT count(*) FROM login_attempts WHERE ip = '127.0.0.1'"
                         . ' AND success = 0'), 20, 'refused attempts are not recorded');
# failures older than the window do not count
$dbh->do("UPDATE login_attempts SET ts = ts - 901 WHERE ip = '127.0.0.1'");
($res) = DashTest::login($ua, $ok_user);
is($res->code, 200, 'failures older than 15 minutes no longer count');

DashTest::clear_login_attempts();
done_testing();

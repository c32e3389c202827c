# No password, session id, CSRF token or endpoint key of a dashboard session ends up in the
# error log, the access log's neighbours or the database in plain text.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

CATest::sandbox_reset();
DashTest::clear_login_attempts();
my $dbh = CATest::dbh();
my $pw = 'Secret-pass ' . CATest::unique();
my $email = DashTest::user(password => $pw);
my $ua = DashTest::browser();

# a failed login with a recognisable wrong password, then the real one
my $wrong = 'Wrong-pass ' . CATest::unique();
is(DashTest::login($ua, $email, $wrong)->code, 401, 'failed login');
is(DashTest::login($ua, $email, $pw)->code, 200, 'login');
my @secrets = ($pw, $wrong);
push @secrets, DashTest::cookie($ua, 'ca_session'), DashTest::cookie($ua, 'ca_csrf');
my ($ep, $key) = DashTest::create_endpoint($ua, $email);
push @secrets, $key;
my ($res, $j) = DashTest::call($ua, POST => "/endpoints/$ep->{id}/reissue");
push @secrets, $j->{key};
# CSRF failures are logged: the token sent must not be
my $bad_token = 'B' x 43;
DashTest::call($ua, POST => "/endpoints/$ep->{id}/deactivate", csrf => $bad_token);
push @secrets, $bad_token;
my $newpw = 'New-pass ' . CATest::unique();
($res) = DashTest::call($ua, POST => '/password', json => { current => $pw, new => $newpw });
is($res->code, 200, 'password changed');
push @secrets, $newpw, DashTest::cookie($ua, 'ca_session'), DashTest::cookie($ua, 'ca_csrf');
is(DashTest::call($ua, POST => '/logout')->code, 200, 'logout');
is(scalar(grep { defined && length >= 8 } @secrets), scalar @secrets, 'every secret captured');

my $dump = join "\n", map { join ' ', map { $_ // '' } @$_ } map {
    @{ $dbh->selectall_arrayref("SELECT * FROM $_") }
} qw(users sessions login_attempts audit_events endpoints endpoint_keys request_logs
     provider_connections contact_messages oauth_states);
open my $fh, '<', "$CATest::ROOT/t/logs/error_log" or die $!;
my $log = do { local $/; <$fh> };
close $fh;
my $i = 0;
for my $s (@secrets) {
    $i++;
    unlike($dump, qr/\Q$s\E/, "secret $i is not stored in plain text");
    unlike($log, qr/\Q$s\E/, "secret $i is not in the error log");
}
like($dbh->selectrow_array('SELECT password_hash FROM users WHERE email = ?', undef, $email),
     qr/^\$ca1\$2y\$/, 'the password is stored as a bcrypt hash');

DashTest::clear_login_attempts();
done_testing();

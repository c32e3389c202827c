# CSRF: every state-changing call of a signed-in session needs X-CSRF-Token equal to the
# ca_csrf cookie and to the session's own token; without it nothing changes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use CATest;
use DashTest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email) = DashTest::signed_in(role => 'admin');
my ($ep, $key, $conn) = DashTest::create_endpoint($ua, $email);
my $id = $ep->{id};
$dbh->do("INSERT INTO contact_messages (name, email, message, ip, created_at)"
         . " VALUES ('csrf test', 'c\@example.test', 'hello', '192.0.2.1', ?)", undef, time);
my ($msg) = $dbh->selectrow_array("SELECT max(id) FROM contact_messages WHERE name = 'csrf test'");

# a second session of another account: its token must not work for this one
my ($ua2) = DashTest::signed_in(role => 'admin');
my $foreign = DashTest::cookie($ua2, 'ca_csrf');
my $own = DashTest::cookie($ua, 'ca_csrf');
my $forged = 'A' x 43;

my @calls = (
    [POST => "/endpoints/$id/deactivate", undef],
    [POST => "/endpoints/$id/activate", undef],
    [POST => "/endpoints/$id/reissue", { grace_seconds => 0 }],
    [DELETE => "/endpoints/$id", undef],
    [POST => '/endpoints', { connection_id => $conn, scope_kind => 'company',
                             company_id => 'co_acme', company_name => 'Acme',
                             access_mode => 'read-only' }],
    [POST => '/password', { current => $DashTest::PASSWORD, new => 'hijacked password 1' }],
    [POST => "/contact-messages/$msg/handled", undef],
    [DELETE => "/contact-messages/$msg", undef],
    [POST => '/logout', undef],
);
my %variants = (
    'no token'                      => { csrf => undef },
    'wrong token'                   => { csrf => 'wrong' },
    'another session\'s token'      => { csrf => $foreign },
    'forged cookie and header pair' => { csrf => $forged, cookie => $forged },
    'empty token'                   => { csrf => '' },
);
my $before = $dbh->selectrow_array('SELECT count(*) FROM audit_events');
for my $c (@calls) {
    my ($m, $path, $body) = @$c;
    for my $v (sort keys %variants) {
        my $o = $variants{$v};
        DashTest::set_cookie($ua, ca_csrf => $o->{cookie}) if $o->{cookie};
        my ($res, $j) = DashTest::call($ua, $m => $path, csrf => $o->{csrf},
                                       (defined $body ? (json => $body) : ()));
        DashTest::set_cookie($ua, ca_csrf => $own) if $o->{cookie};
        is($res->code, 403, "$m $path with $v: 403");
        is($j->{code}, 'csrf_failed', 'code csrf_failed');
    }
}
is($dbh->selectrow_array('SELECT count(*) FROM audit_events'), $before, 'nothing was changed');
is(CATest::api(GET => "/api/$id", key => $key)->code, 200, 'the endpoint and its key are intact');
is(DashTest::call($ua, GET => '/me')->code, 200, 'still signed in');
ok(!$dbh->selectrow_array('SELECT handled_at FROM contact_messages WHERE id = ?', undef, $msg),
   'the message is untouched');

# the header alone, without the cookie, is not enough either (double submit)
my $nocookie = DashTest::browser();
DashTest::set_cookie($nocookie, ca_session => DashTest::cookie($ua, 'ca_session'));
my ($res, $j) = DashTest::call($nocookie, POST => "/endpoints/$id/deactivate", csrf => $own);
is($res->code, 403, 'header without the ca_csrf cookie: 403');

# with the right token every call goes through
($res) = DashTest::call($ua, POST => "/endpoints/$id/deactivate");
is($res->code, 200, 'with the token: deactivated');
($res) = DashTest::call($ua, POST => "/contact-messages/$msg/handled");
is($res->code, 200, 'with the token: message marked handled');
ok($dbh->selectrow_array('SELECT handled_at FROM contact_messages WHERE id = ?', undef, $msg),
   'handled_at set');
($res) = DashTest::call($ua, DELETE => "/contact-messages/$msg");
is($res->code, 200, 'with the token: message deleted');
($res) = DashTest::call($ua, POST => '/logout');
is($res->code, 200, 'with the token: signed out');

# GET needs no token; login needs none (there is no session yet)
($ua) = DashTest::signed_in(email => $email);
is(DashTest::call($ua, GET => '/endpoints', csrf => undef)->code, 200, 'GET without a token');

done_testing();

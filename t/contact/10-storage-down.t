# With the database unreachable the contact form never says "thanks": 503
# storage_unavailable (JSON) or the error page (HTML form); the dashboard answers 503 too.
# Runs against the virtual host clientapi_dbdown of t/conf/extra.conf.in, whose DBDParams
# point nowhere.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../dashboard";
use Test::More;
use Apache::Test ();

use HTTP::Request;
use CATest;
use DashTest;

my $cfg = Apache::Test::config();
plan skip_all => 'no clientapi_dbdown virtual host in the test configuration'
    unless $cfg->{vhosts}{clientapi_dbdown};
my $base = 'http://' . $cfg->{vhosts}{clientapi_dbdown}{hostport};

my $ua = DashTest::browser();
my $post = sub {
    my ($path, $ct, $body) = @_;
    my $req = HTTP::Request->new(POST => "$base$path");
    $req->header('Content-Type' => $ct);
    $req->content($body);
    my $res = $ua->request($req);
    return ($res, CATest::decode($res->decoded_content));
};

my ($res, $j) = $post->($DashTest::CONTACT, 'application/json',
                        '{"name":"Nobody","email":"n@example.test","message":"lost?"}');
is($res->code, 503, 'JSON: 503 while the database is down');
is($j->{code}, 'storage_unavailable', 'code storage_unavailable');
($res) = $post->($DashTest::CONTACT, 'application/x-www-form-urlencoded',
                 'name=Nobody&email=n%40example.test&message=lost%3F');
is($res->code, 303, 'form: redirected');
is($res->header('Location'), '/contact-error.html?reason=storage_unavailable',
   'to the error page, not to the thank-you page');
($res, $j) = $post->("$DashTest::API/login", 'application/json',
                     '{"email":"n@example.test","password":"whatever it is"}');
is($res->code, 503, 'dashboard login: 503');
is($j->{code}, 'storage_unavailable', 'code storage_unavailable');
is(CATest::dbh()->selectrow_array("SELECT count(*) FROM contact_messages WHERE name = 'Nobody'"),
   0, 'nothing reached the real database');
if (open my $fh, '<', "$CATest::ROOT/t/logs/dbdown_error_log") {
    my $log = do { local $/; <$fh> };
    like($log, qr/CA00101/, "the failure is logged in the virtual host's error log");
}

done_testing();

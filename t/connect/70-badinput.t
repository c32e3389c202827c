# Hostile input against the OAuth start and callback (issue 8, item 4), beyond 00-oauth.t:
# missing, repeated, oversized and NUL/CRLF-laden parameters, forged provider errors with
# markup, external redirect targets, traversal in the provider name, unknown methods. The
# callback always redirects to the dashboard page with a fixed reason, never elsewhere, and
# nothing is stored (no connection, the pending state untouched unless it was presented).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use URI;
use CATest;
use ConnectTest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();
my ($ua, $email, $uid) = ConnectTest::signed_in();
my $public = CATest::base_url();
my $cb = "$public/oauth/callback";

# a pending authorization of this session, which none of the forged callbacks may use up
my ($res, $authz) = ConnectTest::start($ua, 'sandbox');
ok($authz, 'an authorization is pending') or diag($res->decoded_content);
my $state = $authz->query_param('state');

my $snapshot = sub {
    return CATest::json()->encode([
        $dbh->selectall_arrayref('SELECT count(*) FROM provider_connections WHERE user_id = ?',
                                 undef, $uid),
        $dbh->selectall_arrayref('SELECT state_hash, used_at FROM oauth_states WHERE user_id = ?'
                                 . ' ORDER BY state_hash', undef, $uid),
        $dbh->selectall_arrayref('SELECT count(*) FROM provider_connections'),
    ]);
};
my $before = $snapshot->();
my $sandbox_before = CATest::sandbox_stats();

my $long = 'S' x 6000;
for my $c (['', 'no parameters'], ['code=abc', 'no state'], ["state=$long&code=x", 'a 6 KB state'],
           ['state=a&state=b&code=x', 'the state twice'], ['state=x&code=a&code=b', 'code twice'],
           ['state=x%00y&code=z', 'NUL in the state'], ['state=x&code=a%0d%0aSet-Cookie:%20a=b',
            'CRLF in the code'], ['state=%ff%fe&code=x', 'invalid UTF-8'],
           ["state=x'%20OR%20'1'='1&code=x", 'SQL in the state'],
           ['error=%3Cscript%3Ealert(1)%3C/script%3E&error_description=%0d%0aX-Injected:%201'
            . '&state=x', 'a forged provider error with markup and CRLF'],
           ['state=x&code=y&redirect_uri=https://evil.example/&return_to=//evil.example/'
            . '&next=https:%2f%2fevil.example', 'external redirect targets'],
           ['state=x&code=y&%zz=1', 'a malformed escape']) {
    my ($q, $name) = @$c;
    my ($r, $frag) = ConnectTest::callback($ua, URI->new($q eq '' ? $cb : "$cb?$q"));
    like($r->code, qr/^30[23]$/, "$name: a redirect") or diag($r->code . ' ' . $r->decoded_content);
    like($r->header('Location') // '',
         qr{^\Q$public\E/dashboard\.html#connections\?result=(?:error|denied)&reason=[a-z_]+$},
         "$name: to the dashboard page with a fixed reason");
    ok(!$r->header('X-Injected') && !grep({ /a=b/ } $r->header('Set-Cookie')),
       "$name: no header injected");
    unlike($r->decoded_content // '', qr/<script/, "$name: no markup echoed");
}
is($snapshot->(), $before, 'no connection made, the pending state untouched');
is(CATest::sandbox_stats()->{token_issued}, $sandbox_before->{token_issued},
   'no token was asked for');

# ---- a foreign session cannot finish it, even with the right state ------------------------------
{
    my $other = ConnectTest::browser();
    my ($r, $frag) = ConnectTest::callback($other, URI->new("$cb?state=$state&code=x"));
    is($frag->{result}, 'error', 'no session: refused');
    ok(!$dbh->selectrow_array('SELECT count(*) FROM provider_connections WHERE user_id = ?',
                              undef, $uid), 'nothing stored');
}

# ---- methods ------------------------------------------------------------------------------------
for my $m (qw(PROPFIND TRACE PUT DELETE)) {
    my $r = $ua->request(HTTP::Request->new($m => "$cb?state=$state&code=x"));
    is($r->code, 405, "$m on the callback: 405");
    unlike($r->decoded_content // '', qr/ca_session|\Q$state\E/, "$m: nothing echoed");
}

# ---- start: provider names -----------------------------------------------------------------------
for my $p ('..%2f..%2fetc%2fpasswd', '%2e%2e', 'sandbox%00', 'sandbox%0d%0a', 'SANDBOX',
           "sandbox'--", 'nope') {
    my ($r, $j) = ConnectTest::call($ua, POST => "/connections/$p/start");
    ok($r->code == 400 || $r->code == 404, "start for provider '$p': 400 or 404")
        or diag($r->code);
    ok(!($j && $j->{authorize_url}), "start for '$p': no authorize URL");
}
{
    my ($r, $j) = ConnectTest::call($ua, POST => '/connections/sandbox/start',
                                    headers => { 'Content-Type' => 'application/json' },
                                    body => '{"redirect_uri":"https://evil.example/"}');
    is($r->code, 400, 'start with a redirect target in the body: 400');
    ($r, $j) = ConnectTest::call($ua,
        POST => '/connections/sandbox/start?redirect_uri=https://evil.example/');
    ok($r->code == 400 || ($j->{authorize_url} // '') !~ /evil/,
       'start with a redirect target in the query: refused or ignored');
}

done_testing();

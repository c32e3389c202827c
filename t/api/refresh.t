# mod_clientapi_token.c: OAuth access tokens are renewed by the module, once, race-free.
use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use CATest;

CATest::sandbox_reset();
my $dbh = CATest::dbh();

sub stats { CATest::sandbox_stats() }

# --- a token at its expiry: 20 concurrent requests, exactly one refresh -------------
{
    # the expiry is moved in the database: through the server without the key cache, which
    # reads the connection on every call
    local $CATest::BASE_URL = CATest::nocache_url();
    my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'works before expiry');
    my $before = stats();
    $dbh->do('UPDATE provider_connections SET expires_at = ? WHERE id = ?', undef,
             time - 1, $conn);
    my @pids;
    pipe(my $rd, my $wr) or die $!;
    for my $i (1 .. 20) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my $res = CATest::api(GET => "/api/$ep/jobs?limit=2", key => $key);
            print $wr $res->code, "\n";
            close $wr;
            POSIX::_exit(0);   # no destructors: the parent's database handle stays open
        }
        push @pids, $pid;
    }
    close $wr;
    my @codes = map { chomp; $_ } <$rd>;
    waitpid $_, 0 for @pids;
    is(scalar @codes, 20, '20 answers');
    is(scalar(grep { $_ == 200 } @codes), 20, 'all 20 succeeded') or diag("@codes");
    my $after = stats();
    is($after->{refresh_ok} - $before->{refresh_ok}, 1, 'exactly one refresh at the provider');
    is($after->{refresh_reuse}, 0, 'no refresh token was ever presented twice');
    my ($exp) = $dbh->selectrow_array('SELECT expires_at FROM provider_connections WHERE id = ?',
                                      undef, $conn);
    ok($exp > time + 600, 'the new expiry is stored');
    is(CATest::api(GET => "/api/$ep/clients", key => $key)->code, 200, 'and used afterwards');
    is(stats()->{refresh_ok}, $after->{refresh_ok}, 'no further refresh while it is fresh');
}

# --- the provider refuses a token before its recorded expiry: one refresh, then success -----
{
    my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
    my $before = stats();
    CATest::sandbox(POST => '/_sandbox/faults', { expire_tokens => \1 });
    CATest::sandbox(DELETE => '/_sandbox/faults');
    my ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($res->code, 200, 'a provider 401 is answered by one refresh and a retry')
        or diag($res->decoded_content);
    is(stats()->{refresh_ok} - $before->{refresh_ok}, 1, 'one refresh');
}

# --- a refresh token the provider revoked: reauthorization_required, and it sticks -----
{
    my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
    my $tok = CATest::last_tokens();
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');
    require HTTP::Request::Common;
    my $res = CATest::ua()->request(HTTP::Request::Common::POST(
        CATest::sandbox_url() . '/oauth/revoke',
        Authorization => 'Basic ' . encode_base64('sandbox-client:sandbox-secret', ''),
        Content => { token => $tok->{refresh_token}, token_type_hint => 'refresh_token' }));
    is($res->code, 200, 'refresh token revoked at the provider');
    my $doc;
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($res->code, 503, 'the endpoint answers 503');
    is($doc->{code}, 'reauthorization_required', 'reauthorization_required');
    my ($status) = $dbh->selectrow_array('SELECT status FROM provider_connections WHERE id = ?',
                                         undef, $conn);
    is($status, 'reauthorization_required', 'the connection is marked');
    my $n = stats()->{api_requests};
    ($res, $doc) = CATest::api(GET => "/api/$ep/clients", key => $key);
    is($doc->{code}, 'reauthorization_required', 'still, on the next call');
    is(stats()->{api_requests}, $n, 'without calling the provider again');
    is(stats()->{refresh_reuse}, 0, 'no refresh token reuse');
}

done_testing();

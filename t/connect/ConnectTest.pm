package ConnectTest;
# Helpers of the provider-connection tests (t/connect): a signed-in browser, dashboard calls
# with the CSRF token, the OAuth round trip through the sandbox's consent form, and checks that
# no secret reached the database or the logs.
use strict;
use warnings;
use CATest;
use Digest::SHA qw(sha256_hex);
use HTTP::Cookies;
use HTTP::Request;
use HTTP::Request::Common ();
use LWP::UserAgent;
use MIME::Base64 qw(encode_base64);
use URI;
use URI::QueryParam;

our $API = '/dashboard/api';
our $PASSWORD = 'correct horse battery staple';    # CATest::seed_user's

sub url { CATest::base_url() . $_[0] }

sub browser {
    my $ua = LWP::UserAgent->new(timeout => 60, max_redirect => 0, keep_alive => 0,
                                 cookie_jar => HTTP::Cookies->new);
    $ua->agent('connect-test/1.0');
    return $ua;
}

sub cookie {
    my ($ua, $name) = @_;
    my $val;
    $ua->cookie_jar->scan(sub { $val = $_[2] if $_[1] eq $name });
    return $val;
}

sub cookie_host {
    my $host = URI->new(CATest::base_url())->host;
    return $host =~ /\./ ? $host : "$host.local";
}

# call($ua, METHOD => '/connections/x/start', json => {...}, csrf => token|undef)
sub call {
    my ($ua, $method, $path, %o) = @_;
    my $req = HTTP::Request->new($method => url("$API$path"));
    my $csrf = exists $o{csrf} ? $o{csrf} : cookie($ua, 'ca_csrf');
    $req->header('X-CSRF-Token' => $csrf) if defined $csrf && $method ne 'GET';
    my %h = %{ $o{headers} || {} };
    $req->header($_ => $h{$_}) for keys %h;
    if (exists $o{json}) {
        $req->header('Content-Type' => 'application/json') unless exists $h{'Content-Type'};
        $req->content(CATest::json()->encode($o{json}));
    }
    elsif (defined $o{body}) {
        $req->content($o{body});
    }
    my $res = $ua->request($req);
    return wantarray ? ($res, CATest::decode($res->decoded_content)) : $res;
}

# A browser signed in as a new account (through POST {dashboard}/login; when the dashboard has
# no login route yet, the session row is made here with the documented hashing: the database
# keeps SHA-256 hex of the cookie values only). Returns (ua, email, user id).
sub signed_in {
    my (%o) = @_;
    my $email = $o{email} || CATest::seed_user();
    my $ua = browser();
    my $res = call($ua, POST => '/login', json => { email => $email, password => $PASSWORD },
                   csrf => undef);
    my ($uid) = CATest::dbh()->selectrow_array('SELECT id FROM users WHERE email = ?', undef,
                                               lc $email);
    if ($res->code == 404) {
        my ($sid, $csrf) = map { random_token() } 1 .. 2;
        my $now = time;
        CATest::dbh()->do('INSERT INTO sessions (id_hash, user_id, csrf_token_hash, created_at,'
                          . ' last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', undef,
                          sha256_hex($sid), $uid, sha256_hex($csrf), $now, $now, $now + 1800);
        $ua->cookie_jar->set_cookie(0, 'ca_session', $sid, '/', cookie_host(), undef, 1, 0,
                                    3600, 0);
        $ua->cookie_jar->set_cookie(0, 'ca_csrf', $csrf, '/', cookie_host(), undef, 1, 0, 3600,
                                    0);
    }
    elsif ($res->code != 200) {
        die "login of $email failed: " . $res->status_line . ' ' . $res->decoded_content;
    }
    CATest::dbh()->do('DELETE FROM login_attempts');
    return ($ua, $email, $uid);
}

sub random_token {
    open my $fh, '<', '/dev/urandom' or die $!;
    read $fh, my $b, 32;
    close $fh;
    (my $t = encode_base64($b, '')) =~ tr{+/}{-_};
    $t =~ s/=+$//;
    return $t;
}

# POST .../start: (response, authorize URL as a URI)
sub start {
    my ($ua, $provider) = @_;
    my ($res, $j) = call($ua, POST => "/connections/$provider/start");
    return ($res, $j && $j->{authorize_url} ? URI->new($j->{authorize_url}) : undef);
}

# The user's decision on the sandbox's consent page: the sandbox's redirect (a URI of our
# callback with code and state, or error), as the browser would follow it.
sub consent {
    my ($authz, %o) = @_;
    my %form = map { $_ => scalar $authz->query_param($_) } $authz->query_param;
    %form = (%form, %{ $o{override} || {} });
    $form{user} = $o{user} || 'demo';
    $form{decision} = $o{decision} || 'approve';
    my $action = $authz->clone;
    $action->query(undef);
    my $res = CATest::ua()->request(HTTP::Request::Common::POST("$action", \%form));
    die 'consent form: ' . $res->status_line . ' ' . $res->decoded_content
        unless $res->code == 302;
    return URI->new($res->header('Location'));
}

# Follow the provider's redirect to our callback in the browser: (response, result fragment
# parameters as a hash, e.g. { result => 'connected', reason => ..., connection => N })
sub callback {
    my ($ua, $uri) = @_;
    my $res = $ua->request(HTTP::Request->new(GET => "$uri"));
    my %r;
    if (my $loc = $res->header('Location')) {
        my ($frag) = $loc =~ /#connections\?(.*)$/;
        %r = map { split /=/, $_, 2 } split /&/, $frag // '';
    }
    return ($res, \%r);
}

# The whole OAuth round trip as a signed-in user: (result hash, code, state, authorize URL)
sub oauth_connect {
    my ($ua, %o) = @_;
    my ($res, $authz) = start($ua, $o{provider} || 'sandbox');
    die 'start: ' . $res->status_line . ' ' . $res->decoded_content unless $authz;
    my $back = consent($authz, %o);
    my (undef, $r) = callback($ua, $back);
    return ($r, scalar $back->query_param('code'), scalar $back->query_param('state'), $authz);
}

# A dashboard endpoint on connection $conn: (endpoint public id, key)
sub create_endpoint {
    my ($ua, $conn, %f) = @_;
    my ($res, $j) = call($ua, POST => '/endpoints', json => {
        connection_id => $conn + 0, scope_kind => 'company', company_id => 'co_acme',
        company_name => 'Acme Plumbing Ltd', access_mode => 'read-only', %f });
    die 'endpoint create: ' . $res->status_line . ' ' . $res->decoded_content
        unless $res->code == 201;
    return ($j->{endpoint}{id} // $j->{endpoint}{public_id}, $j->{key});
}

sub connection_row {
    my ($id) = @_;
    return CATest::dbh()->selectrow_hashref('SELECT * FROM provider_connections WHERE id = ?',
                                            undef, $id);
}

sub connections_of {
    my ($uid) = @_;
    return CATest::dbh()->selectall_arrayref(
        'SELECT * FROM provider_connections WHERE user_id = ? ORDER BY id', { Slice => {} },
        $uid);
}

# Every row of every table of the suite's database, as text.
sub dump_database {
    my $dbh = CATest::dbh();
    my $tables = $dbh->selectcol_arrayref(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    my $out = '';
    for my $t (@$tables) {
        my $rows = $dbh->selectall_arrayref(qq{SELECT * FROM "$t"});
        $out .= join("\t", $t, map { defined $_ ? $_ : '' } @$_) . "\n" for @$rows;
    }
    return $out;
}

sub read_log {
    my ($name) = @_;
    open my $fh, '<', "$CATest::ROOT/t/logs/$name" or return '';
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# Fixed secrets of the sandbox seed that must never be stored or logged in clear.
sub fixed_secrets {
    return ('sandbox-secret', 'ccmd_live_demo_0123456789abcdef',
            'ccmd_live_other_fedcba9876543210');
}

# Assert that none of @secrets (plus the sandbox's token shapes) occurs in the database dump
# or in httpd's error and access logs.
sub no_secrets_anywhere {
    my ($name, @secrets) = @_;
    my %where = (database => dump_database(), error_log => read_log('error_log'),
                 access_log => read_log('access_log'));
    for my $w (sort keys %where) {
        my @hits = grep { defined && length && index($where{$w}, $_) >= 0 }
                   (@secrets, fixed_secrets());
        Test::More::is(scalar @hits, 0, "$name: no secret in the $w")
            or Test::More::diag('found ' . scalar(@hits) . ' secret(s)');
        Test::More::unlike($where{$w}, qr/sbx_(?:at|rt)_[A-Za-z0-9_-]{8}/,
                           "$name: no sandbox token in the $w");
    }
}

# Skip the whole file while mod_clientapi_connect.c is not built into the module or the
# callback handler is not bound (docs/connect.md, Configuration).
sub require_connect {
    my ($ua) = signed_in();
    my ($res, $j) = call($ua, GET => '/connections/0/companies');
    my $cb = browser()->get(url('/oauth/callback'));
    return if ($j->{detail} // '') ne 'no such URL' && $cb->code == 303;
    Test::More::plan(skip_all => 'the connection routes or the OAuth callback are not wired '
                                 . 'into this build (docs/connect.md)');
}

sub sandbox_basic {
    my ($id, $secret) = @_;
    return 'Basic ' . encode_base64("$id:$secret", '');
}

1;

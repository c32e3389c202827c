package DashTest;
# Helpers for the dashboard and contact-form tests: accounts, a browser-like client with a
# cookie jar, calls that send the CSRF token like the dashboard's script does.
use strict;
use warnings;
use CATest;
use Digest::SHA qw(sha256_hex);
use HTTP::Cookies;
use HTTP::Request;
use LWP::UserAgent;

our $PASSWORD = 'correct horse battery staple';
our $API = '/dashboard/api';
our $CONTACT = '/contact/send';

sub url { CATest::base_url() . $_[0] }

# A dashboard account: user(role => 'admin'|'member', password => ...) -> email
sub user {
    my (%o) = @_;
    my $email = CATest::unique($o{prefix} || 'dash') . '@example.test';
    my $pw = CATest::write_file("$CATest::STATE/dashpw.$$", ($o{password} // $PASSWORD) . "\n");
    CATest::clientapi_ok('useradd', '--email', $email, '--role', $o{role} || 'member',
                         '--password-file', $pw);
    unlink $pw;
    return $email;
}

# A browser: its own cookie jar, no redirects followed.
sub browser {
    my $ua = LWP::UserAgent->new(timeout => 30, max_redirect => 0, keep_alive => 0,
                                 cookie_jar => HTTP::Cookies->new);
    $ua->agent('dash-test/1.0');
    return $ua;
}

sub cookie {
    my ($ua, $name) = @_;
    my $val;
    $ua->cookie_jar->scan(sub { $val = $_[2] if $_[1] eq $name });
    return $val;
}

sub set_cookie {
    my ($ua, $name, $value) = @_;
    my $host = URI->new(CATest::base_url())->host;
    $host .= '.local' unless $host =~ /\./;
    $ua->cookie_jar->set_cookie(0, $name, $value, '/', $host, undef, 1, 0, 3600, 0);
}

# call($ua, METHOD => '/me', json => {...}, body => '...', headers => {...},
#      csrf => 'token' | undef (no header); default: the ca_csrf cookie's value)
sub call {
    my ($ua, $method, $path, %o) = @_;
    my $req = HTTP::Request->new($method => url($path =~ m{^/(?:dashboard|contact)/} ? $path
                                                                              : "$API$path"));
    my %h = %{ $o{headers} || {} };
    my $csrf = exists $o{csrf} ? $o{csrf} : cookie($ua, 'ca_csrf');
    $req->header('X-CSRF-Token' => $csrf) if defined $csrf && $method ne 'GET';
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

sub login {
    my ($ua, $email, $pw) = @_;
    return call($ua, POST => '/login', json => { email => $email, password => $pw // $PASSWORD },
                csrf => undef);
}

# A signed-in browser for a new account: (ua, email)
sub signed_in {
    my (%o) = @_;
    my $email = $o{email} || user(%o);
    my $ua = browser();
    my ($res) = login($ua, $email);
    die "login of $email failed: " . $res->status_line . ' ' . $res->decoded_content
        unless $res->code == 200;
    return ($ua, $email);
}

sub user_id {
    my ($email) = @_;
    my ($id) = CATest::dbh()->selectrow_array('SELECT id FROM users WHERE email = ?', undef,
                                              lc $email);
    return $id;
}

# Forget failed logins (the IP throttle counts every failure of the suite's address).
sub clear_login_attempts { CATest::dbh()->do('DELETE FROM login_attempts') }

sub session_hash { sha256_hex($_[0]) }

# A dashboard endpoint on a fresh sandbox connection of $email: (endpoint json, key, conn id)
sub create_endpoint {
    my ($ua, $email, %o) = @_;
    my $conn = $o{connection} || CATest::seed_connection(provider => 'sandbox', login => 'demo',
                                                          user => $email);
    my ($res, $j) = call($ua, POST => '/endpoints', json => {
        connection_id => $conn + 0, scope_kind => 'company', company_id => 'co_acme',
        company_name => 'Acme Plumbing', access_mode => 'read-only', %{ $o{fields} || {} } });
    die "endpoint create failed: " . $res->status_line . ' ' . $res->decoded_content
        unless $res->code == 201;
    return ($j->{endpoint}, $j->{key}, $conn);
}

1;

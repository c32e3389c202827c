package CATest;
# Helpers shared by the Apache::Test suite: where things are, the sandbox's control API, the
# test database, expected error_log lines and `apachectl -t` runs of small configurations.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP ();

our $ROOT = $ENV{CA_ROOT} || abs_path(dirname(__FILE__) . '/../..');
our $STATE = $ENV{CA_STATE} || "$ROOT/t/state";
my $JSON = JSON::PP->new->utf8->canonical;

sub json { $JSON }
sub decode { my $b = shift; my $v = eval { $JSON->decode($b) }; return $v }

sub sandbox_url { $ENV{CA_SANDBOX_URL} or die "CA_SANDBOX_URL is not set (run build/test.sh)\n" }

# A plain LWP agent for the sandbox and for calls that must not go through Apache::TestRequest.
sub ua {
    require LWP::UserAgent;
    return LWP::UserAgent->new(timeout => 30, max_redirect => 0, keep_alive => 0);
}

sub sandbox {
    my ($method, $path, $body) = @_;
    require HTTP::Request;
    my $req = HTTP::Request->new($method => sandbox_url() . $path);
    if (defined $body) {
        $req->header('Content-Type' => 'application/json');
        $req->content($JSON->encode($body));
    }
    my $res = ua()->request($req);
    return wantarray ? ($res, decode($res->decoded_content)) : decode($res->decoded_content);
}

sub sandbox_reset { sandbox(POST => '/_sandbox/reset', {}) }

# Tests that provoke an error line on purpose announce it, so t/zz_error_log.t lets it pass.
sub expect_error {
    my ($re) = @_;
    open my $fh, '>>', "$STATE/expected_errors" or die "$STATE/expected_errors: $!";
    print $fh "$re\n";
    close $fh;
}

sub expected_errors {
    open my $fh, '<', "$STATE/expected_errors" or return ();
    my @re = map { chomp; length ? qr/$_/ : () } <$fh>;
    close $fh;
    return @re;
}

# Database handle on the suite's PostgreSQL (the same one httpd uses).
sub dbh {
    require DBI;
    my %p = map { split /=/, $_, 2 } split ' ', ($ENV{CA_PG_PARAMS} || die "CA_PG_PARAMS unset\n");
    return DBI->connect("dbi:Pg:dbname=$p{dbname};host=$p{host};port=$p{port}", $p{user}, '',
                        { RaiseError => 1, AutoCommit => 1, PrintError => 0,
                          AutoInactiveDestroy => 1 });
}

sub httpd_bin {
    return $ENV{CA_HTTPD} if $ENV{CA_HTTPD};   # the sanitizer run's wrapper
    my $apxs = $ENV{APXS} || 'apxs';
    chomp(my $sbin = `$apxs -q SBINDIR`);
    chomp(my $target = `$apxs -q TARGET`);
    return "$sbin/$target";
}

# Write a minimal httpd.conf that loads the fresh module plus $body, run `httpd -t` on it and
# return (exit status, combined output).
sub configtest {
    my ($body, %opt) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $mods = $ENV{CA_MODULES_DIR} || do { chomp(my $d = `apxs -q LIBEXECDIR`); $d };
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"CONF";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:1
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LoadModule mpm_event_module "$mods/mod_mpm_event.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule dbd_module "$mods/mod_dbd.so"
LoadModule socache_shmcb_module "$mods/mod_socache_shmcb.so"
LoadModule clientapi_module "$ROOT/.libs/mod_clientapi.so"
$body
CONF
    close $fh;
    my $httpd = httpd_bin();
    my $out = `$httpd -t -d "$dir" -f "$dir/httpd.conf" 2>&1`;
    return ($? >> 8, $out);
}

# ---- the clientapi command and seeded data -------------------------------------------

my $SEQ = 0;
our $LAST_TOKENS;
sub unique { return join '', $_[0] // 'x', $$, '_', time, '_', ++$SEQ }

sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    chmod 0600, $path;
    return $path;
}

# The database and key file ./clientapi works on: the suite's PostgreSQL unless a test
# points it elsewhere with local $CATest::CLI = { driver => ..., params => ..., keys => ... }.
our $CLI;

# Run ./clientapi against the suite's database and key file: (exit code, stdout, stderr).
sub clientapi {
    my (@args) = @_;
    local $ENV{CLIENTAPI_DBD_DRIVER} = $CLI ? $CLI->{driver} : 'pgsql';
    local $ENV{CLIENTAPI_DBD_PARAMS} = $CLI ? $CLI->{params} : $ENV{CA_PG_PARAMS};
    local $ENV{CLIENTAPI_KEY_FILE} = $CLI ? $CLI->{keys} : "$STATE/secret.keys";
    my $out = "$STATE/cli.out.$$";
    my $err = "$STATE/cli.err.$$";
    my $cmd = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } "$ROOT/clientapi", @args;
    system("$cmd >$out 2>$err </dev/null");
    my $rc = $? >> 8;
    my ($o, $e) = map { local $/; open my $fh, '<', $_ or die $!; my $x = <$fh>; close $fh; unlink $_; $x }
                  ($out, $err);
    return ($rc, $o, $e);
}

sub clientapi_ok {
    my ($rc, $out, $err) = clientapi(@_);
    die "clientapi @_[0..1] failed ($rc): $err" if $rc;
    return $out;
}

sub seed_user {
    my $email = unique('user') . '@example.test';
    my $pw = write_file("$STATE/pw.$$", "correct horse battery staple\n");
    clientapi_ok('useradd', '--email', $email, '--password-file', $pw);
    unlink $pw;
    return $email;
}

# A provider connection seeded with credentials the sandbox issued:
# seed_connection(provider => 'sandbox'|'clientcommander', login => 'demo', expires_in => N)
sub seed_connection {
    my (%o) = @_;
    my $provider = $o{provider} || 'sandbox';
    my $login = $o{login} || 'demo';
    my $email = $o{user} || seed_user();
    my @secret;
    my $account = $login eq 'demo' ? 'acc_demo' : 'acc_other';
    if ($provider eq 'clientcommander') {
        my $key = $login eq 'demo' ? 'ccmd_live_demo_0123456789abcdef'
                                   : 'ccmd_live_other_fedcba9876543210';
        @secret = ('--api-key-file', write_file("$STATE/apikey.$$", "$key\n"));
    }
    else {
        my $tok = sandbox(POST => '/_sandbox/tokens', { user => $login,
            (defined $o{expires_in} ? (expires_in => $o{expires_in}) : ()),
            ($o{scope} ? (scope => $o{scope}) : ()) });
        die "sandbox issued no token" unless $tok && $tok->{access_token};
        $LAST_TOKENS = $tok;
        @secret = ('--access-token-file', write_file("$STATE/at.$$", "$tok->{access_token}\n"),
                   '--refresh-token-file', write_file("$STATE/rt.$$", "$tok->{refresh_token}\n"),
                   '--expires-in', $tok->{expires_in} // 3600);
    }
    my $out = clientapi_ok('connection', 'add', '--user', $email, '--provider', $provider,
                           '--account-id', $account, '--label', "$login account", @secret);
    unlink "$STATE/at.$$", "$STATE/rt.$$", "$STATE/apikey.$$";
    my ($id) = $out =~ /^(\d+)\s*$/m or die "no connection id in: $out";
    return $id;
}

# The sandbox tokens of the last seed_connection(provider => 'sandbox') (for tests that revoke
# or inspect them).
sub last_tokens { $LAST_TOKENS }

sub sandbox_stats { sandbox(GET => '/_sandbox/stats') }

# seed_endpoint(connection => N, scope => 'company:co_acme', mode => 'read-only', @extra)
sub seed_endpoint {
    my (%o) = @_;
    my @extra = @{ $o{extra} || [] };
    my $out = clientapi_ok('endpoint', 'add', '--connection', $o{connection},
                           '--scope', $o{scope}, '--mode', $o{mode} || 'read-only', @extra);
    my ($ep) = $out =~ /^endpoint: (ep_\S+)/m or die "no endpoint in: $out";
    my ($key) = $out =~ /^key: (cak_\S+)/m or die "no key in: $out";
    return ($ep, $key);
}

# ---- calling the module through the running Apache::Test server --------------------

our $BASE_URL;   # a test talking to another httpd than Apache::Test's sets this

sub base_url {
    return $BASE_URL if $BASE_URL;
    require Apache::Test;
    require Apache::TestRequest;
    my $cfg = Apache::Test::config();
    return 'http://' . Apache::TestRequest::hostport($cfg);
}

# The server without the key cache (virtual host clientapi_nocache of t/conf/extra.conf.in), for
# tests that change rows behind the module's back and expect the very next call to see it.
sub nocache_url {
    require Apache::Test;
    my $v = Apache::Test::config()->{vhosts}{clientapi_nocache};
    return $v ? "http://$v->{hostport}" : base_url();
}

# api(METHOD => '/api/ep_x/jobs', key => K, headers => {...}, json => {...}, body => '...')
sub api {
    my ($method, $path, %o) = @_;
    require HTTP::Request;
    my $req = HTTP::Request->new($method => base_url() . $path);
    $req->header(Authorization => "Bearer $o{key}") if defined $o{key};
    my %h = %{ $o{headers} || {} };
    $req->header($_ => $h{$_}) for keys %h;
    if (exists $o{json}) {
        $req->header('Content-Type' => 'application/json') unless exists $h{'Content-Type'};
        $req->content($JSON->encode($o{json}));
    }
    elsif (defined $o{body}) {
        $req->content($o{body});
    }
    my $res = ua()->request($req);
    return wantarray ? ($res, decode($res->decoded_content)) : $res;
}

# Sandbox journal sequence marks: what reached the provider since a mark.
sub journal_mark {
    my $w = sandbox(GET => '/_sandbox/writes');
    my $r = sandbox(GET => '/_sandbox/requests');
    my $max = sub { my $l = shift; my $m = 0; for (@{ $l->{data} || [] }) { $m = $_->{seq} if $_->{seq} > $m } $m };
    return { writes => $max->($w), requests => $max->($r) };
}

sub writes_since {
    my ($mark) = @_;
    my $w = sandbox(GET => "/_sandbox/writes?since=$mark->{writes}");
    return [ grep { $_->{seq} > $mark->{writes} } @{ $w->{data} || [] } ];
}

sub requests_since {
    my ($mark) = @_;
    my $r = sandbox(GET => "/_sandbox/requests?since=$mark->{requests}");
    return [ grep { $_->{seq} > $mark->{requests} } @{ $r->{data} || [] } ];
}

# Run a cmocka unit test binary built by `make` (t/unit/test_X) with TAP output; its output
# is this test file's output.
sub run_unit {
    my ($name) = @_;
    my $bin = "$ROOT/t/unit/$name";
    unless (-x $bin) {
        print "1..1\nnot ok 1 - $bin was not built (run make)\n";
        exit 1;
    }
    $ENV{CMOCKA_MESSAGE_OUTPUT} = 'TAP';
    $ENV{CA_SQL_DIR} ||= "$ROOT/sql";
    $ENV{CA_TEST_DATA} ||= "$ROOT/t/unit/data";
    $ENV{CA_PROVIDER_DIR} ||= "$ROOT/conf/providers";
    chdir $ROOT or die "$ROOT: $!";
    exec $bin or die "exec $bin: $!";
}

1;

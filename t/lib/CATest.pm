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
                        { RaiseError => 1, AutoCommit => 1, PrintError => 0 });
}

sub httpd_bin {
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
LoadModule clientapi_module "$ROOT/.libs/mod_clientapi.so"
$body
CONF
    close $fh;
    my $httpd = httpd_bin();
    my $out = `$httpd -t -d "$dir" -f "$dir/httpd.conf" 2>&1`;
    return ($? >> 8, $out);
}

1;

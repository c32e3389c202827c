# ca_http.c: the per-thread curl handles keep their connections to the provider open, so steady
# calls reuse them instead of connecting (and, with TLS, handshaking) every time. Counted in the
# kernel's socket table: connections to the sandbox's port that are open or closing.
use strict;
use warnings;
use Test::More;
use URI;
use CATest;

my $port = URI->new(CATest::sandbox_url())->port;

# TCP sockets to or from the sandbox's port (any state but LISTEN): "local:remote" -> state
# (01 established; 06 TIME_WAIT and the others: closing)
sub upstream_sockets {
    my %s;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (<$fh>) {
            my (undef, $local, $remote, $st) = split ' ';
            my ($lport) = $local =~ /:([0-9A-F]+)$/;
            my ($rport) = $remote =~ /:([0-9A-F]+)$/;
            next unless (hex($rport) == $port || hex($lport) == $port) && $st ne '0A';
            $s{"$f:" . hex($lport) . ':' . hex($rport)} = $st;
        }
        close $fh;
    }
    return \%s;
}

CATest::sandbox_reset();
my $conn = CATest::seed_connection(provider => 'sandbox', login => 'demo');
my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => 'company:co_acme');

my $n = 60;
my $ok = 0;
# warm up: the worker threads that answer get their handle and its connection (the MPM spreads
# calls over its threads, so a few rounds)
$ok += CATest::api(GET => "/api/$ep/clients", key => $key)->code == 200 ? 1 : 0 for 1 .. 3 * $n;
my $before = upstream_sockets();
$ok += CATest::api(GET => "/api/$ep/clients", key => $key)->code == 200 ? 1 : 0 for 1 .. $n;
my $after = upstream_sockets();
is($ok, 4 * $n, 4 * $n . ' list calls answered 200');
my @new = grep { !$before->{$_} } keys %$after;
my @closing = grep { $after->{$_} ne '01' } @new;
my $opened = grep { $after->{$_} eq '01' && /:\Q$port\E$/ } @new;    # the module's side
diag("$n calls: $opened new connections to the provider (threads that had none yet), "
     . scalar(@closing) . ' closed');
is(scalar @closing, 0, "no connection to the provider was closed during $n calls");
# (without reuse every call would open one; threads the warm-up missed open their first)
cmp_ok($opened, '<', $n / 2, "most calls reuse an open connection");

done_testing();

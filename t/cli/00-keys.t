# clientapi keygen and clientapi key: formats, and that a printed key matches its hash line.
use strict;
use warnings;
use Test::More;

use CATest::CLI;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 ();

my $B64URL = qr/[A-Za-z0-9_-]/;

# --- keygen --------------------------------------------------------------------------------
{
    my $r = cli({}, 'keygen');
    is($r->{rc}, 0, 'keygen exits 0');
    like($r->{out}, qr/\Ak\d{8}-$B64URL{4} $B64URL{43}\n\z/,
         'keygen prints "<kid> <base64url of 32 bytes>": kid k + UTC date + suffix');
    my ($kid, $key) = $r->{out} =~ /^(\S+) (\S+)$/;
    my ($y, $m, $d) = (gmtime)[5, 4, 3];
    my $today = sprintf('k%04d%02d%02d', $y + 1900, $m + 1, $d);
    my ($y2, $m2, $d2) = (gmtime(time - 5))[5, 4, 3];
    my $before = sprintf('k%04d%02d%02d', $y2 + 1900, $m2 + 1, $d2);
    ok(index($kid, $today) == 0 || index($kid, $before) == 0, "default kid has today's date");
    (my $std = $key) =~ tr/-_/+\//;
    is(length(MIME::Base64::decode_base64($std . '=')), 32, 'the key is 32 bytes');

    my $r2 = cli({}, 'keygen');
    isnt($r2->{out}, $r->{out}, 'two keygen runs differ');

    $r = cli({}, 'keygen', '--kid', 'k_2025-01');
    is($r->{rc}, 0, 'keygen --kid');
    like($r->{out}, qr/\Ak_2025-01 $B64URL{43}\n\z/, 'keygen --kid uses the kid');

    for my $bad ('bad kid', 'a.b', 'x' x 33, '') {
        $r = cli({}, 'keygen', '--kid', $bad);
        is($r->{rc}, 2, "keygen --kid '$bad' is refused with exit 2");
        like($r->{err}, qr/--kid must be/, '... with a message');
        is($r->{out}, '', '... and prints no key');
    }
    $r = cli({}, 'keygen', 'extra');
    is($r->{rc}, 2, 'keygen with an extra argument: exit 2');
}

# --- key -------------------------------------------------------------------------------------
{
    my $r = cli({}, 'key', '--endpoint', 'ep_billing_1', '--connection', '7',
                '--scope', 'client:co-9/cl-42', '--mode', 'read-write');
    is($r->{rc}, 0, 'key exits 0');
    my @lines = split /\n/, $r->{out};
    is(scalar @lines, 2, 'two lines on stdout');
    like($lines[0], qr/\Akey: (cak_$B64URL{49})\z/, 'first the key');
    my ($key) = $lines[0] =~ /^key: (\S+)$/;
    like($lines[1], qr/\AClientAPIEndpoint ep_billing_1 connection=7 scope=client:co-9\/cl-42 (?x)
                      mode=read-write\ key=sha256:[0-9a-f]{64}\z/,
         'then the httpd.conf line');
    my ($hash) = $lines[1] =~ /key=sha256:([0-9a-f]{64})/;
    is($hash, sha256_hex($key), 'the line holds the SHA-256 of the printed key');
    unlike($lines[1], qr/cak_/, 'the line does not hold the key');
    like($r->{err}, qr/shown only now/, 'stderr says the key is shown once');

    $r = cli({}, 'key');
    is($r->{rc}, 0, 'key without options');
    like($r->{out}, qr/^ClientAPIEndpoint ep_$B64URL{22} connection=CONNECTION-ID (?x)
                      scope=company:COMPANY-ID\ mode=read-only\ key=sha256:[0-9a-f]{64}$/m,
         'a new ep_ id, placeholders and read-only by default');
    like($r->{err}, qr/filling in connection= and scope=/, 'and a note to fill them in');
    my $r2 = cli({}, 'key');
    isnt($r2->{out}, $r->{out}, 'every run makes a new key and id');

    $r = cli({}, 'key', '--scope', 'company:acme-1', '--connection', '3');
    like($r->{out}, qr/ connection=3 scope=company:acme-1 mode=read-only /, 'company scope');

    my @bad = (
        [['--scope', 'acme'], qr/bad --scope/],
        [['--scope', 'client:nocl'], qr/bad --scope/],
        [['--scope', 'client:co/'], qr/bad --scope/],
        [['--scope', 'company:'], qr/bad --scope/],
        [['--scope', 'company:a b'], qr/bad --scope/],
        [['--scope', 'company:a:Name'], qr/bad --scope/],
        [['--mode', 'rw'], qr/--mode must be/],
        [['--connection', '0'], qr/--connection must be/],
        [['--connection', 'x1'], qr/--connection must be/],
        [['--endpoint', 'xx_1'], qr/--endpoint must be/],
        [['--endpoint', 'ep_a/b'], qr/--endpoint must be/],
        [['--key', 'cak_x'], qr/unknown option/],
        [['--mode'], qr/missing its value/],
    );
    for my $c (@bad) {
        $r = cli({}, 'key', @{ $c->[0] });
        is($r->{rc}, 2, "key @{ $c->[0] }: exit 2");
        like($r->{err}, $c->[1], '... with a clear message');
        is($r->{out}, '', '... and no key');
    }
}

# --- general usage errors ------------------------------------------------------------------
{
    my $r = cli({}, 'frobnicate');
    is($r->{rc}, 2, 'unknown command: exit 2');
    like($r->{err}, qr/unknown command "frobnicate"/, '... named');
    $r = cli({});
    is($r->{rc}, 2, 'no command: exit 2');
    $r = cli({}, 'endpoint', 'frob');
    is($r->{rc}, 2, 'unknown subcommand: exit 2');
    like($r->{err}, qr/unknown subcommand "frob"/, '... named');
    $r = cli({}, 'help');
    is($r->{rc}, 0, 'help');
    like($r->{out}, qr/endpoint reissue/, 'help lists the subcommands');
    $r = cli({}, 'help', 'endpoint', 'add');
    like($r->{out}, qr/usage: clientapi endpoint add --connection N/, 'help endpoint add');
    $r = cli({}, 'rekey', '--help');
    is($r->{rc}, 0, '--help on a command');
    like($r->{out}, qr/usage: clientapi rekey/, '... shows its usage');
    $r = cli({}, 'version');
    like($r->{out}, qr/^clientapi \S+ \(schema version \d+\)$/, 'version');
    $r = cli({}, 'purge', '--days', '30');
    is($r->{rc}, 2, 'no database given: exit 2');
    like($r->{err}, qr/--driver \(or \$CLIENTAPI_DBD_DRIVER\) is required/, '... says so');
    $r = cli({}, 'purge', '--days', '30', '--driver', 'mysql', '--params', 'x');
    like($r->{err}, qr/--driver must be pgsql or sqlite3/, 'unknown driver refused');
    $r = cli({ env => { CLIENTAPI_DBD_DRIVER => 'sqlite3',
                        CLIENTAPI_DBD_PARAMS => "$TMP/none/x.db" } }, 'purge', '--days', '3');
    is($r->{rc}, 1, 'a database that cannot be opened: exit 1');
}

done_testing();

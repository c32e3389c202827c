# clientapi keygen and clientapi key: formats, and that a printed key matches its hash line.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(_exit);

# --- harness: the built command, temp files, backends ------------------------------------
my $ROOT = $ENV{CA_ROOT} || '.';
my $BIN = $ENV{CA_CLIENTAPI} || "$ROOT/clientapi";
plan skip_all => "$BIN is not built (run make)" unless -x $BIN;
my $SQL_DIR = $ENV{CA_SQL_DIR} || "$ROOT/sql";
my $TMP = tempdir('ca_cli_XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $TAG = sprintf('%x%x%04x', time, $$, int(rand(65536)));     # unique rows on a shared db

sub spew {
    my ($path, $text, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    chmod($mode // 0600, $path);
    return $path;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

# cli({env => {...}, stdin => '...'}, args...) -> {rc, out, err}
my $runs = 0;
sub cli {
    my ($opt, @args) = @_;
    $runs++;
    my ($in, $out, $err) = map { "$TMP/run$runs.$_" } qw(in out err);
    spew($in, defined $opt->{stdin} ? $opt->{stdin} : '');
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        delete @ENV{qw(CLIENTAPI_DBD_DRIVER CLIENTAPI_DBD_PARAMS CLIENTAPI_KEY_FILE)};
        my %env = %{ $opt->{env} || {} };
        @ENV{keys %env} = values %env;
        open STDIN, '<', $in or _exit(126);
        open STDOUT, '>', $out or _exit(126);
        open STDERR, '>', $err or _exit(126);
        { no warnings 'exec'; exec { $BIN } $BIN, @args; }
        _exit(127);
    }
    waitpid($pid, 0);
    return { rc => $? >> 8, out => slurp($out), err => slurp($err) };
}

# Backends: a temp SQLite file always; PostgreSQL when CA_PG_PARAMS is set (shared: only
# rows this test makes, with unique emails and ids, are looked at or removed).
sub backends {
    my @b = ({ name => 'sqlite3', driver => 'sqlite3', params => "$TMP/ca-$TAG.db" });
    push @b, { name => 'pgsql', driver => 'pgsql', params => $ENV{CA_PG_PARAMS} }
        if $ENV{CA_PG_PARAMS};
    for my $b (@b) {
        $b->{env} = { CLIENTAPI_DBD_DRIVER => $b->{driver},
                      CLIENTAPI_DBD_PARAMS => $b->{params} };
        my $r = cli({}, 'migrate', '--driver', $b->{driver}, '--params', $b->{params},
                    '--sql-dir', $SQL_DIR);
        BAIL_OUT("migrate $b->{name}: $r->{err}") if $r->{rc} != 0;
    }
    return @b;
}

sub dbh {
    my ($b) = @_;
    require DBI;
    if ($b->{driver} eq 'sqlite3') {
        return DBI->connect("dbi:SQLite:dbname=$b->{params}", '', '',
                            { RaiseError => 1, PrintError => 0 });
    }
    my %p = map { split /=/, $_, 2 } split ' ', $b->{params};
    my $dsn = join ';', map { "$_=$p{$_}" } grep { $p{$_} } qw(dbname host port);
    return DBI->connect("dbi:Pg:$dsn", $p{user} || '', $p{password} || '',
                        { RaiseError => 1, PrintError => 0 });
}

# Everything the database holds for the connections table, as text.
sub dump_text {
    my ($b) = @_;
    if ($b->{driver} eq 'sqlite3') {
        return scalar `sqlite3 "$b->{params}" .dump 2>&1`;
    }
    my $t = `pg_dump --data-only --table=provider_connections --dbname="$b->{params}" 2>&1`;
    my $rows = dbh($b)->selectall_arrayref('SELECT * FROM provider_connections');
    return $t . join("\n", map { join('|', map { $_ // '' } @$_) } @$rows);
}

sub new_key_file {
    my ($name, @kids) = @_;
    my $text = '';
    for my $kid (@kids) {
        my $r = cli({}, 'keygen', '--kid', $kid);
        die "keygen: $r->{err}" if $r->{rc};
        $text .= $r->{out};
    }
    return spew("$TMP/$name", $text);
}
# --- end of harness ----------------------------------------------------------------------
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

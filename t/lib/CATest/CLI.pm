package CATest::CLI;
# The harness of the t/cli tests: the built `clientapi` command run in a child with its own
# environment and stdin, temp files, and the backends (a temp SQLite file always, the suite's
# PostgreSQL when CA_PG_PARAMS is set: shared, so tests touch only rows they make).
use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX qw(_exit);
use Test::More ();
use Exporter 'import';
our @EXPORT = qw(spew slurp cli backends dbh dump_text new_key_file $ROOT $BIN $SQL_DIR $TMP $TAG);

# --- harness: the built command, temp files, backends ------------------------------------
our $ROOT = $ENV{CA_ROOT} || '.';
our $BIN = $ENV{CA_CLIENTAPI} || "$ROOT/clientapi";
-x $BIN or die "$BIN is not built (run make)\n";
our $SQL_DIR = $ENV{CA_SQL_DIR} || "$ROOT/sql";
our $TMP = tempdir('ca_cli_XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $TAG = sprintf('%x%x%04x', time, $$, int(rand(65536)));     # unique rows on a shared db

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
        Test::More::BAIL_OUT("migrate $b->{name}: $r->{err}") if $r->{rc} != 0;
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

1;

# clientapi useradd / passwd / userdel against SQLite (and PostgreSQL with CA_PG_PARAMS).
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

for my $b (backends()) {
    my $n = $b->{name};
    my $env = $b->{env};
    my $email = "cli-user-$TAG\@example.com";
    my $dbh = dbh($b);
    my $hash_of = sub {
        my ($row) = $dbh->selectrow_array('SELECT password_hash FROM users WHERE email = ?',
                                          undef, lc shift);
        return $row;
    };

    # create, password from a file
    my $pwfile = spew("$TMP/pw-$n", "correct horse battery staple\n");
    my $r = cli({ env => $env }, 'useradd', '--email', uc($email), '--role', 'admin',
                '--password-file', $pwfile);
    is($r->{rc}, 0, "$n: useradd") or diag $r->{err};
    like($r->{out}, qr/^created user \Q$email\E \(id \d+, role admin\)$/m,
         "$n: useradd reports the (lower-cased) user");
    my $h1 = $hash_of->($email);
    like($h1, qr/\A\$ca1\$2y\$12\$[.\/A-Za-z0-9]{53}\z/, "$n: a \$ca1\$ bcrypt hash is stored");
    unlike($h1, qr/horse/, "$n: not the password");
    my ($role) = $dbh->selectrow_array('SELECT role FROM users WHERE email = ?', undef,
                                       $email);
    is($role, 'admin', "$n: role stored");

    # a second account with the same email
    $r = cli({ env => $env, stdin => "another good password\n" }, 'useradd', '--email',
             $email);
    is($r->{rc}, 1, "$n: duplicate email: exit 1");
    like($r->{err}, qr/already exists/, "$n: ... says so");

    # member from stdin
    my $email2 = "cli-member-$TAG\@example.com";
    $r = cli({ env => $env, stdin => "from stdin 12345\n" }, 'useradd', '--email', $email2);
    is($r->{rc}, 0, "$n: useradd with the password on stdin") or diag $r->{err};
    like($r->{out}, qr/role member/, "$n: member by default");

    # bad input
    my @bad = (
        [{ stdin => "short\n" }, ['--email', "x-$TAG\@example.com"], 2, qr/shorter than 10/],
        [{ stdin => "caf\xe9 au lait 123\n" }, ['--email', "x-$TAG\@example.com"], 2,
         qr/not valid UTF-8/],
        [{ stdin => 'x' x 1025 }, ['--email', "x-$TAG\@example.com"], 2, qr/longer than 1024/],
        [{ stdin => "good password 123\n" }, ['--email', 'not-an-email'], 2,
         qr/not an email address/],
        [{ stdin => "good password 123\n" }, ['--email', "x-$TAG\@example.com", '--role',
                                              'root'], 2, qr/--role must be admin or member/],
        [{ stdin => "good password 123\n" }, [], 2, qr/--email is required/],
        [{}, ['--email', "x-$TAG\@example.com", '--password-file', "$TMP/missing"], 1,
         qr/cannot open/],
        [{}, ['--email', "x-$TAG\@example.com", '--password', 'secret123456'], 2,
         qr/unknown option/],
    );
    for my $c (@bad) {
        my ($o, $args, $rc, $re) = @$c;
        $r = cli({ env => $env, %$o }, 'useradd', @$args);
        is($r->{rc}, $rc, "$n: useradd @$args: exit $rc");
        like($r->{err}, $re, "$n: ... $re");
    }
    my ($none) = $dbh->selectrow_array('SELECT count(*) FROM users WHERE email = ?', undef,
                                       "x-$TAG\@example.com");
    is($none, 0, "$n: no refused user was created");

    # NUL byte inside a password file
    spew("$TMP/nul-$n", "0123456789\0abc\n");
    $r = cli({ env => $env }, 'useradd', '--email', "x-$TAG\@example.com", '--password-file',
             "$TMP/nul-$n");
    is($r->{rc}, 2, "$n: a NUL byte in the password: exit 2");
    like($r->{err}, qr/NUL/, "$n: ... says so");

    # passwd
    $r = cli({ env => $env, stdin => "a brand new password\n" }, 'passwd', '--email', $email);
    is($r->{rc}, 0, "$n: passwd") or diag $r->{err};
    like($r->{out}, qr/password changed for \Q$email\E/, "$n: passwd reports");
    my $h2 = $hash_of->($email);
    isnt($h2, $h1, "$n: the stored hash changed");
    like($h2, qr/\A\$ca1\$2y\$12\$/, "$n: still a \$ca1\$ hash");
    $r = cli({ env => $env, stdin => "tiny\n" }, 'passwd', '--email', $email);
    is($r->{rc}, 2, "$n: passwd refuses a weak password");
    is($hash_of->($email), $h2, "$n: ... and keeps the old hash");
    $r = cli({ env => $env, stdin => "a brand new password\n" }, 'passwd', '--email',
             "nobody-$TAG\@example.com");
    is($r->{rc}, 1, "$n: passwd for an unknown user: exit 1");
    like($r->{err}, qr/no user with email/, "$n: ... says so");

    # userdel
    for my $e ($email, $email2) {
        $r = cli({ env => $env }, 'userdel', '--email', $e);
        is($r->{rc}, 0, "$n: userdel $e") or diag $r->{err};
    }
    my ($left) = $dbh->selectrow_array('SELECT count(*) FROM users WHERE email IN (?, ?)',
                                       undef, $email, $email2);
    is($left, 0, "$n: the users are gone");
    $r = cli({ env => $env }, 'userdel', '--email', $email);
    is($r->{rc}, 1, "$n: userdel of an unknown user: exit 1");
    like($r->{err}, qr/no user with email/, "$n: ... says so");
    $dbh->disconnect;
}

done_testing();

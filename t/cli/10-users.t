# clientapi useradd / passwd / userdel against SQLite (and PostgreSQL with CA_PG_PARAMS).
use strict;
use warnings;
use Test::More;

use CATest::CLI;

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

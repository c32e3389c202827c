# clientapi connection add / list and rekey: secrets read from files, stored sealed (no
# plaintext in a database dump), key rotation by appending a key line and running rekey.
use strict;
use warnings;
use Test::More;

use CATest::CLI;

sub conn_rows {
    my ($dbh, $email) = @_;
    return $dbh->selectall_arrayref(
        'SELECT c.id, c.provider, c.account_id, c.account_label, c.auth_mode,'
        . ' c.access_token_enc, c.refresh_token_enc, c.api_key_enc, c.scopes, c.expires_at,'
        . ' c.status FROM provider_connections c JOIN users u ON u.id = c.user_id'
        . ' WHERE u.email = ? ORDER BY c.id', { Slice => {} }, $email);
}

my $keys = new_key_file('keys', 'k1');

for my $b (backends()) {
    my $n = $b->{name};
    my $env = { %{ $b->{env} }, CLIENTAPI_KEY_FILE => $keys };
    my $email = "cli-conn-$TAG\@example.com";
    my $dbh = dbh($b);
    my $r = cli({ env => $env, stdin => "owner password 1\n" }, 'useradd', '--email', $email);
    is($r->{rc}, 0, "$n: owner created") or diag $r->{err};

    # --- api key connection -------------------------------------------------------------
    my $apikey = "cc-apikey-$TAG-Zq8";
    my $kf = spew("$TMP/apikey-$n", "$apikey\n");
    $r = cli({ env => $env }, 'connection', 'add', '--user', $email, '--provider',
             'clientcommander', '--account-id', "acct-$TAG", '--label', 'Acme Field',
             '--api-key-file', $kf);
    is($r->{rc}, 0, "$n: connection add --api-key-file") or diag $r->{err};
    like($r->{out}, qr/\A\d+\n\z/, "$n: prints the connection id");
    my ($cid1) = $r->{out} =~ /(\d+)/;
    unlike($r->{out} . $r->{err}, qr/\Q$apikey\E/, "$n: the key is not echoed");

    # --- OAuth tokens ---------------------------------------------------------------------
    my ($access, $refresh) = ("at-$TAG-access-Yk2", "rt-$TAG-refresh-Jw5");
    my $af = spew("$TMP/access-$n", "  $access\r\n");
    my $rf = spew("$TMP/refresh-$n", $refresh);
    my $t0 = time;
    $r = cli({ env => $env }, 'connection', 'add', '--user', $email, '--provider', 'sandbox',
             '--account-id', "co-$TAG", '--access-token-file', $af, '--refresh-token-file',
             $rf, '--expires-in', '3600', '--scopes', 'read write');
    is($r->{rc}, 0, "$n: connection add --access-token-file") or diag $r->{err};
    my ($cid2) = $r->{out} =~ /\A(\d+)\n\z/;
    ok($cid2 && $cid2 != $cid1, "$n: a second id");

    my $rows = conn_rows($dbh, $email);
    is(scalar @$rows, 2, "$n: two rows");
    my ($c1, $c2) = @$rows;
    is($c1->{id}, $cid1, "$n: printed id is the row's");
    is($c1->{auth_mode}, 'api_key', "$n: auth_mode api_key");
    is($c1->{account_label}, 'Acme Field', "$n: label");
    like($c1->{api_key_enc}, qr/\Av1\.k1\.[A-Za-z0-9_-]+\z/, "$n: api key sealed with k1");
    ok(!defined $c1->{access_token_enc}, "$n: no access token on the api-key connection");
    is($c2->{auth_mode}, 'oauth2', "$n: auth_mode oauth2");
    like($c2->{access_token_enc}, qr/\Av1\.k1\./, "$n: access token sealed");
    like($c2->{refresh_token_enc}, qr/\Av1\.k1\./, "$n: refresh token sealed");
    is($c2->{scopes}, 'read write', "$n: scopes");
    ok($c2->{expires_at} >= $t0 + 3600 && $c2->{expires_at} <= time + 3600,
       "$n: expires_at = now + 3600");
    is($c2->{status}, 'active', "$n: active");

    my $dump = dump_text($b);
    like($dump, qr/v1\.k1\./, "$n: the dump holds the sealed values");
    for my $secret ($apikey, $access, $refresh) {
        unlike($dump, qr/\Q$secret\E/, "$n: no plaintext '$secret' in the database dump");
    }

    # --- list --------------------------------------------------------------------------------
    $r = cli({ env => $env }, 'connection', 'list', '--user', $email);
    is($r->{rc}, 0, "$n: connection list --user");
    like($r->{out}, qr/^ID\s+USER\s+PROVIDER/m, "$n: a header");
    like($r->{out}, qr/^$cid1\s+\Q$email\E\s+clientcommander\s+acct-$TAG\s+Acme Field\s+api_key\s+active\s+-\s+1 sealed \(kid k1\)$/m,
         "$n: the api-key connection, secrets as 'sealed (kid k1)'");
    like($r->{out}, qr/^$cid2\s+\Q$email\E\s+sandbox\s+co-$TAG\s+-\s+oauth2\s+active\s+\d{4}-\S+ \S+\s+2 sealed \(kid k1\)$/m,
         "$n: the oauth connection");
    for my $secret ($apikey, $access, $refresh, 'v1.k1.') {
        unlike($r->{out}, qr/\Q$secret\E/, "$n: list never shows '$secret'");
    }
    $r = cli({ env => $env }, 'connection', 'list');
    like($r->{out}, qr/^$cid1\s/m, "$n: connection list without --user lists it too");
    $r = cli({ env => $env }, 'connection', 'list', '--user', "nobody-$TAG\@example.com");
    is($r->{rc}, 1, "$n: list for an unknown user: exit 1");

    # --- refused input ---------------------------------------------------------------------
    my $empty = spew("$TMP/empty-$n", "\n");
    my $spaced = spew("$TMP/spaced-$n", "two words\n");
    my $badkeys = spew("$TMP/badkeys-$n", "k1 not-a-key\n");
    my @base = ('--user', $email, '--provider', 'sandbox', '--account-id', "co-$TAG");
    my @bad = (
        [[@base[0 .. 1], '--provider', 'Bad Name', @base[4 .. 5], '--api-key-file', $kf], 2,
         qr/bad provider name "Bad Name"/],
        [[@base[0 .. 1], '--provider', '../x', @base[4 .. 5], '--api-key-file', $kf], 2,
         qr/bad provider name/],
        [[@base], 2, qr/exactly one of --api-key-file and --access-token-file/],
        [[@base, '--api-key-file', $kf, '--access-token-file', $af], 2, qr/exactly one of/],
        [[@base, '--api-key-file', $kf, '--refresh-token-file', $rf], 2,
         qr/go with --access-token-file/],
        [[@base, '--access-token-file', $af, '--expires-in', 'soon'], 2, qr/--expires-in/],
        [[@base, '--access-token-file', $af, '--expires-in', '0'], 2, qr/--expires-in/],
        [[@base, '--api-key', $apikey], 2, qr/unknown option/],
        [['--user', $email, '--provider', 'sandbox', '--api-key-file', $kf], 2,
         qr/--account-id are required/],
        [['--user', "nobody-$TAG\@example.com", @base[2 .. 5], '--api-key-file', $kf], 1,
         qr/no user with email/],
        [[@base, '--api-key-file', "$TMP/missing"], 1, qr/cannot open/],
        [[@base, '--api-key-file', $empty], 1, qr/is empty/],
        [[@base, '--api-key-file', $spaced], 1, qr/whitespace or control characters/],
        [[@base, '--api-key-file', $kf, '--key-file', $badkeys], 1, qr/key file .*line 1/],
        [[@base, '--api-key-file', $kf, '--key-file', "$TMP/nokeys"], 1, qr/key file/],
    );
    for my $c (@bad) {
        my ($args, $rc, $re) = @$c;
        $r = cli({ env => $env }, 'connection', 'add', @$args);
        is($r->{rc}, $rc, "$n: connection add @$args: exit $rc");
        like($r->{err}, $re, "$n: ... $re");
        unlike($r->{err}, qr/\Q$apikey\E/, "$n: ... without the secret");
    }
    $r = cli({ env => $b->{env} }, 'connection', 'add', @base, '--api-key-file', $kf);
    is($r->{rc}, 2, "$n: no key file: exit 2");
    like($r->{err}, qr/--key-file \(or \$CLIENTAPI_KEY_FILE\) is required/, "$n: ... says so");
    is(scalar @{ conn_rows($dbh, $email) }, 2, "$n: no refused connection was stored");

    $r = cli({ env => $env }, 'userdel', '--email', $email);
    is($r->{rc}, 0, "$n: userdel removes the owner and its connections");
    is(scalar @{ conn_rows($dbh, $email) }, 0, "$n: connections gone");
    $dbh->disconnect;
}

# --- rekey: in a database of its own (on PostgreSQL a private schema, dropped at the end),
# since a rekey reads every connection ---------------------------------------------------
my @iso = ({ name => 'sqlite3', driver => 'sqlite3', params => "$TMP/rekey-$TAG.db" });
if ($ENV{CA_PG_PARAMS}) {
    my $schema = "ca_cli_rekey_$TAG";
    my $b = { name => 'pgsql', driver => 'pgsql', params => $ENV{CA_PG_PARAMS} };
    dbh($b)->do("CREATE SCHEMA $schema");
    push @iso, { name => 'pgsql', driver => 'pgsql', schema => $schema,
                 params => "$ENV{CA_PG_PARAMS} options=-csearch_path=$schema" };
}
END {
    for my $b (grep { $_->{schema} } @iso) {
        eval {
            my $dbh = dbh({ driver => 'pgsql', params => $ENV{CA_PG_PARAMS} });
            $dbh->do('SET client_min_messages TO warning');
            $dbh->do("DROP SCHEMA IF EXISTS $b->{schema} CASCADE");
        };
    }
}
for my $b (@iso) {
    my $n = "$b->{name} (rekey)";
    my $keyfile = new_key_file("rekey-keys-$b->{name}", 'k1');
    $b->{env} = { CLIENTAPI_DBD_DRIVER => $b->{driver}, CLIENTAPI_DBD_PARAMS => $b->{params},
                  CLIENTAPI_KEY_FILE => $keyfile };
    my $env = $b->{env};
    my $r = cli({ env => $env }, 'migrate', '--sql-dir', $SQL_DIR);
    is($r->{rc}, 0, "$n: migrate") or diag $r->{err};
    my $email = "cli-rekey-$TAG\@example.com";
    $r = cli({ env => $env, stdin => "owner password 1\n" }, 'useradd', '--email', $email);
    is($r->{rc}, 0, "$n: owner");
    my $kf = spew("$TMP/rk-api-$b->{name}", "rekey-api-$TAG");
    my $af = spew("$TMP/rk-at-$b->{name}", "rekey-at-$TAG");
    my $rf = spew("$TMP/rk-rt-$b->{name}", "rekey-rt-$TAG");
    $r = cli({ env => $env }, 'connection', 'add', '--user', $email, '--provider', 'cc',
             '--account-id', 'a1', '--api-key-file', $kf);
    is($r->{rc}, 0, "$n: api-key connection") or diag $r->{err};
    $r = cli({ env => $env }, 'connection', 'add', '--user', $email, '--provider', 'sandbox',
             '--account-id', 'a2', '--access-token-file', $af, '--refresh-token-file', $rf);
    is($r->{rc}, 0, "$n: oauth connection") or diag $r->{err};

    $r = cli({ env => $env }, 'rekey');
    is($r->{rc}, 0, "$n: rekey with one key");
    like($r->{out}, qr/^re-encrypted 0 secrets with key k1$/m, "$n: nothing to do");

    # rotate: append a new key line, rekey
    my $line = cli({}, 'keygen', '--kid', 'k2')->{out};
    open my $fh, '>>', $keyfile or die $!;
    print $fh $line;
    close $fh;
    $r = cli({ env => $env }, 'rekey');
    is($r->{rc}, 0, "$n: rekey after appending k2") or diag $r->{err};
    like($r->{out}, qr/^re-encrypted 3 secrets with key k2$/m, "$n: three secrets re-sealed");
    my $dbh = dbh($b);
    $dbh->do("SET search_path TO $b->{schema}") if $b->{schema};
    my $vals = $dbh->selectall_arrayref('SELECT access_token_enc, refresh_token_enc,'
                                        . ' api_key_enc FROM provider_connections');
    my @sealed = grep { defined } map { @$_ } @$vals;
    is(scalar @sealed, 3, "$n: three sealed values");
    is(scalar(grep { /\Av1\.k2\./ } @sealed), 3, "$n: all sealed with k2 now");
    $r = cli({ env => $env }, 'connection', 'list');
    like($r->{out}, qr/1 sealed \(kid k2\)/, "$n: list shows kid k2");
    like($r->{out}, qr/2 sealed \(kid k2\)/, "$n: ... for both");
    $r = cli({ env => $env }, 'rekey');
    like($r->{out}, qr/^re-encrypted 0 secrets with key k2$/m, "$n: a second rekey: nothing");

    # the old key can go; a ring without k2 cannot open the values: refused, unchanged
    spew($keyfile, $line);
    $r = cli({ env => $env }, 'rekey');
    is($r->{rc}, 0, "$n: rekey with k2 only");
    my $k3 = new_key_file("rekey-k3-$b->{name}", 'k3');
    $r = cli({ env => { %$env, CLIENTAPI_KEY_FILE => $k3 } }, 'rekey');
    is($r->{rc}, 1, "$n: rekey without the key that sealed the values: exit 1");
    like($r->{err}, qr/unknown key id 'k2'.*nothing was changed/, "$n: ... says why");
    my $after = $dbh->selectall_arrayref('SELECT access_token_enc, refresh_token_enc,'
                                         . ' api_key_enc FROM provider_connections');
    is_deeply($after, $vals, "$n: ... and the values are unchanged");
    unlike(dump_text($b), qr/rekey-(?:api|at|rt)-\Q$TAG\E/, "$n: no plaintext in the dump");
    $r = cli({ env => $env }, 'purge', '--days', '30');
    is($r->{rc}, 0, "$n: purge --days 30") or diag $r->{err};
    like($r->{out}, qr/^purged \d+ rows? /, "$n: ... reports rows");
    spew("$keyfile.loose", $line, 0644);
    $r = cli({ env => { %$env, CLIENTAPI_KEY_FILE => "$keyfile.loose" } }, 'rekey');
    like($r->{err}, qr/warning: key file .*chmod 600/, "$n: a loose key file is warned about")
        or diag explain $r;
    $dbh->disconnect;
}

done_testing();

# clientapi endpoint add / list / deactivate / activate / reissue / delete.
use strict;
use warnings;
use Test::More;

use CATest::CLI;
use Digest::SHA qw(sha256_hex);

my $keys = new_key_file('keys', 'k1');
my $EP = qr/ep_[A-Za-z0-9_-]{22}/;
my $KEY = qr/cak_[A-Za-z0-9_-]{49}/;

for my $b (backends()) {
    my $n = $b->{name};
    my $env = { %{ $b->{env} }, CLIENTAPI_KEY_FILE => $keys };
    my $email = "cli-ep-$TAG\@example.com";
    my $dbh = dbh($b);
    my $r = cli({ env => $env, stdin => "owner password 1\n" }, 'useradd', '--email', $email);
    is($r->{rc}, 0, "$n: owner") or diag $r->{err};
    my ($uid) = $dbh->selectrow_array('SELECT id FROM users WHERE email = ?', undef, $email);
    my $kf = spew("$TMP/k-$n", "api-key-$TAG");
    $r = cli({ env => $env }, 'connection', 'add', '--user', $email, '--provider',
             'clientcommander', '--account-id', "acct-$TAG", '--api-key-file', $kf);
    my ($cid) = $r->{out} =~ /\A(\d+)\n\z/;
    ok($cid, "$n: connection $cid") or diag $r->{err};
    my $keys_of = sub {
        return $dbh->selectall_arrayref(
            'SELECT k.key_hash, k.key_hint, k.expires_at, k.revoked_at FROM endpoint_keys k'
            . ' JOIN endpoints e ON e.id = k.endpoint_id WHERE e.public_id = ? ORDER BY k.id',
            { Slice => {} }, shift);
    };
    my $ep_row = sub {
        return $dbh->selectrow_hashref('SELECT * FROM endpoints WHERE public_id = ?', undef,
                                       shift);
    };

    # --- add ----------------------------------------------------------------------------------
    my $t0 = time;
    $r = cli({ env => $env }, 'endpoint', 'add', '--connection', $cid, '--scope',
             "company:co-$TAG:Acme Plumbing", '--mode', 'read-only');
    is($r->{rc}, 0, "$n: endpoint add (company)") or diag $r->{err};
    my ($ep1, $key1) = $r->{out} =~ /\Aendpoint: ($EP)\nkey: ($KEY)\n\z/;
    ok($ep1 && $key1, "$n: prints the endpoint id and the key") or diag $r->{out};
    like($r->{err}, qr/WARNING: the key is shown only now and is not stored/,
         "$n: warns that the key is not stored");
    my $k = $keys_of->($ep1);
    is(scalar @$k, 1, "$n: one key stored");
    is($k->[0]{key_hash}, 'sha256:' . sha256_hex($key1), "$n: stored as its SHA-256 only");
    is($k->[0]{key_hint}, "cak_\x{2026}" . substr($key1, -4), "$n: hint cak_... + last 4")
        if $b->{driver} eq 'pgsql';
    like($k->[0]{key_hint}, qr/\Acak_.+\Q@{[substr($key1, -4)]}\E\z/, "$n: hint ends like it");
    unlike(dump_text($b) . join('', map { join '', map { $_ // '' } values %$_ } @$k),
           qr/\Q$key1\E/,
           "$n: the key itself is nowhere in the database");
    my $row = $ep_row->($ep1);
    is($row->{user_id}, $uid, "$n: owned by the connection's user");
    is($row->{connection_id}, $cid, "$n: on the connection");
    is($row->{scope_kind}, 'company', "$n: company scope");
    is($row->{company_id}, "co-$TAG", "$n: company id");
    is($row->{company_name}, 'Acme Plumbing', "$n: company name from the scope");
    is($row->{name}, 'Acme Plumbing', "$n: name defaults to it");
    is($row->{access_mode}, 'read-only', "$n: read-only");
    is($row->{status}, 'active', "$n: active");
    is($row->{managed_by_config}, 0, "$n: a command-line endpoint is not config-managed");

    my $exp = time + 86400 * 30;
    $r = cli({ env => $env }, 'endpoint', 'add', '--connection', $cid, '--scope',
             "client:co-$TAG/cl-7", '--mode', 'read-write', '--name', 'Bob jobs',
             '--expires-at', $exp, '--ip-allow', '10.0.0.0/8, 192.168.1.7,2001:db8::/32');
    is($r->{rc}, 0, "$n: endpoint add (client, all options)") or diag $r->{err};
    my ($ep2, $key2) = $r->{out} =~ /\Aendpoint: ($EP)\nkey: ($KEY)\n\z/;
    ok($ep2 && $ep2 ne $ep1 && $key2 ne $key1, "$n: another id and key");
    $row = $ep_row->($ep2);
    is($row->{scope_kind}, 'client', "$n: client scope");
    is($row->{company_id}, "co-$TAG", "$n: its company");
    is($row->{client_id}, 'cl-7', "$n: its client");
    is($row->{name}, 'Bob jobs', "$n: --name");
    is($row->{access_mode}, 'read-write', "$n: read-write");
    is($row->{expires_at}, $exp, "$n: --expires-at");
    is($row->{ip_allow}, '10.0.0.0/8,192.168.1.7,2001:db8::/32', "$n: --ip-allow normalized");

    # --- list -----------------------------------------------------------------------------------
    $r = cli({ env => $env }, 'endpoint', 'list', '--user', $email);
    is($r->{rc}, 0, "$n: endpoint list --user");
    like($r->{out}, qr/^ENDPOINT\s+CONN\s+PROVIDER\s+SCOPE\s+MODE\s+STATUS\s+KEY/m, "$n: header");
    my $h1 = substr($key1, -4);
    like($r->{out}, qr/^\Q$ep1\E\s+$cid\s+clientcommander\s+company:co-$TAG\s+read-only\s+active\s+cak_\S+\Q$h1\E\s+-\s+Acme Plumbing$/m,
         "$n: the company endpoint with its key hint");
    like($r->{out}, qr/^\Q$ep2\E\s+$cid\s+clientcommander\s+client:co-$TAG\/cl-7\s+read-write\s+active\s+\S+\s+\d{4}-\d\d-\d\d \S+\s+Bob jobs$/m,
         "$n: the client endpoint");
    unlike($r->{out}, qr/\Q$key1\E|\Q$key2\E/, "$n: never a key");
    $r = cli({ env => $env }, 'endpoint', 'list', '--connection', $cid);
    is(scalar(() = $r->{out} =~ /^ep_/mg), 2, "$n: endpoint list --connection");

    # --- deactivate / activate ----------------------------------------------------------------
    $r = cli({ env => $env }, 'endpoint', 'deactivate', $ep1);
    is($r->{rc}, 0, "$n: deactivate");
    like($r->{out}, qr/^\Q$ep1\E deactivated$/m, "$n: ... reported");
    is($ep_row->($ep1)->{status}, 'inactive', "$n: ... stored");
    $r = cli({ env => $env }, 'endpoint', 'list', '--user', $email);
    like($r->{out}, qr/^\Q$ep1\E\s.*\sinactive\s/m, "$n: list shows it inactive");
    $r = cli({ env => $env }, 'endpoint', 'deactivate', $ep1);
    is($r->{rc}, 0, "$n: deactivating again is fine");
    like($r->{out}, qr/already inactive/, "$n: ... and says so");
    $r = cli({ env => $env }, 'endpoint', 'activate', $ep1);
    is($r->{rc}, 0, "$n: activate");
    is($ep_row->($ep1)->{status}, 'active', "$n: ... stored");

    # --- reissue ----------------------------------------------------------------------------------
    $r = cli({ env => $env }, 'endpoint', 'reissue', $ep1);
    is($r->{rc}, 0, "$n: reissue") or diag $r->{err};
    my ($key1b) = $r->{out} =~ /\Aendpoint: \Q$ep1\E\nkey: ($KEY)\n\z/;
    ok($key1b && $key1b ne $key1, "$n: a new key is printed");
    like($r->{err}, qr/stopped working now/, "$n: the old key stopped at once");
    $k = $keys_of->($ep1);
    is(scalar @$k, 2, "$n: two keys in the history");
    is($k->[0]{key_hash}, 'sha256:' . sha256_hex($key1), "$n: the old one");
    ok($k->[0]{expires_at} && $k->[0]{expires_at} <= time, "$n: ... has expired");
    is($k->[1]{key_hash}, 'sha256:' . sha256_hex($key1b), "$n: the new one is current");
    ok(!defined $k->[1]{expires_at}, "$n: ... without expiry");
    ok($ep_row->($ep1)->{rotated_at} >= $t0, "$n: rotated_at set");

    $r = cli({ env => $env }, 'endpoint', 'reissue', '--grace', '3600', $ep1);
    is($r->{rc}, 0, "$n: reissue --grace 3600");
    my ($key1c) = $r->{out} =~ /key: ($KEY)/;
    like($r->{err}, qr/previous key keeps working until/, "$n: ... says until when");
    $k = $keys_of->($ep1);
    my ($prev) = grep { $_->{key_hash} eq 'sha256:' . sha256_hex($key1b) } @$k;
    ok($prev->{expires_at} >= time + 3500 && $prev->{expires_at} <= time + 3600,
       "$n: the previous key lives one more hour");
    $r = cli({ env => $env }, 'endpoint', 'reissue', $ep1, '--grace', '86400');
    is($r->{rc}, 0, "$n: reissue --grace 86400 (the maximum), options after the id");

    for my $c ([['--grace', '86401', $ep1], 2, qr/--grace must be .*0 to 86400/],
               [['--grace', '-1', $ep1], 2, qr/--grace must be/],
               [['--grace', '1h', $ep1], 2, qr/--grace must be/],
               [[], 2, qr/missing argument/],
               [[$ep1, $ep2], 2, qr/unexpected argument/],
               [['nope'], 2, qr/not an endpoint id/],
               [["ep_missing$TAG"], 1, qr/no endpoint ep_missing/]) {
        my ($args, $rc, $re) = @$c;
        my $before = scalar @{ $keys_of->($ep1) };
        $r = cli({ env => $env }, 'endpoint', 'reissue', @$args);
        is($r->{rc}, $rc, "$n: reissue @$args: exit $rc");
        like($r->{err}, $re, "$n: ... $re");
        unlike($r->{out}, qr/cak_/, "$n: ... no key printed");
        is(scalar @{ $keys_of->($ep1) }, $before, "$n: ... no key made");
    }

    # --- refused adds -----------------------------------------------------------------------------
    my @ok = ('--connection', $cid, '--scope', 'company:x', '--mode', 'read-only');
    my @bad = (
        [['--connection', 999999999, '--scope', 'company:x', '--mode', 'read-only'], 1,
         qr/unknown connection 999999999/],
        [['--connection', 'one', '--scope', 'company:x', '--mode', 'read-only'], 2,
         qr/--connection must be/],
        [['--connection', $cid, '--scope', 'company', '--mode', 'read-only'], 2, qr/bad --scope/],
        [['--connection', $cid, '--scope', 'team:x', '--mode', 'read-only'], 2, qr/bad --scope/],
        [['--connection', $cid, '--scope', 'client:co', '--mode', 'read-only'], 2,
         qr/bad --scope/],
        [['--connection', $cid, '--scope', 'client:/cl', '--mode', 'read-only'], 2,
         qr/bad --scope/],
        [['--connection', $cid, '--scope', 'company:a b', '--mode', 'read-only'], 2,
         qr/bad --scope/],
        [['--connection', $cid, '--scope', 'company:x', '--mode', 'write'], 2,
         qr/--mode must be read-only or read-write/],
        [['--connection', $cid, '--scope', 'company:x'], 2, qr/--mode are required/],
        [[@ok, '--expires-at', time - 10], 2, qr/in the past/],
        [[@ok, '--expires-at', 'tomorrow'], 2, qr/--expires-at must be/],
        [[@ok, '--ip-allow', '10.0.0.0/33'], 2, qr/"10.0.0.0\/33" is not/],
        [[@ok, '--ip-allow', 'example.com'], 2, qr/--ip-allow/],
        [[@ok, '--name', "a\tb"], 2, qr/--name must be/],
        [[@ok, 'extra'], 2, qr/unexpected argument/],
    );
    my ($count) = $dbh->selectrow_array('SELECT count(*) FROM endpoints WHERE user_id = ?',
                                        undef, $uid);
    for my $c (@bad) {
        my ($args, $rc, $re) = @$c;
        $r = cli({ env => $env }, 'endpoint', 'add', @$args);
        is($r->{rc}, $rc, "$n: endpoint add @$args: exit $rc");
        like($r->{err}, $re, "$n: ... $re");
        unlike($r->{out}, qr/cak_/, "$n: ... no key printed");
    }
    my ($count2) = $dbh->selectrow_array('SELECT count(*) FROM endpoints WHERE user_id = ?',
                                         undef, $uid);
    is($count2, $count, "$n: no refused endpoint was stored");

    # --- delete ---------------------------------------------------------------------------------
    $r = cli({ env => $env }, 'endpoint', 'delete', $ep2);
    is($r->{rc}, 0, "$n: delete");
    like($r->{out}, qr/^deleted \Q$ep2\E$/m, "$n: ... reported");
    ok(!$ep_row->($ep2), "$n: ... gone");
    is(scalar @{ $keys_of->($ep2) }, 0, "$n: ... with its keys");
    $r = cli({ env => $env }, 'endpoint', 'delete', $ep2);
    is($r->{rc}, 1, "$n: deleting it again: exit 1");
    like($r->{err}, qr/no endpoint \Q$ep2\E/, "$n: ... says so");
    for my $sub (qw(deactivate activate delete)) {
        $r = cli({ env => $env }, 'endpoint', $sub, 'xx');
        is($r->{rc}, 2, "$n: endpoint $sub with a bad id: exit 2");
    }

    # --- purge (not on a shared database: it would purge other tests' rows; the PostgreSQL
    # run is in 20-connections.t, in a schema of its own) -----------------------------------
    if ($b->{driver} eq 'sqlite3') {
        my $old = time - 100 * 86400;
        $dbh->do("INSERT INTO request_logs (endpoint_id, ts, method, status, duration_us)"
                 . " VALUES ('$ep1', $old, 'GET', 200, 5), ('$ep1', " . time
                 . ", 'GET', 200, 5)");
        $r = cli({ env => $env }, 'purge', '--days', '90');
        is($r->{rc}, 0, "$n: purge --days 90") or diag $r->{err};
        like($r->{out}, qr/^purged [1-9]\d* rows? /, "$n: ... reports rows");
        my ($left) = $dbh->selectrow_array('SELECT count(*) FROM request_logs');
        is($left, 1, "$n: the old log is gone, the new one stays");
    }
    for my $d ('0', '3651', 'x', '-5') {
        $r = cli({ env => $env }, 'purge', '--days', $d);
        is($r->{rc}, 2, "$n: purge --days $d: exit 2");
    }
    $r = cli({ env => $env }, 'purge');
    like($r->{err}, qr/--days is required/, "$n: purge needs --days");

    # --- audit trail ----------------------------------------------------------------------------
    my $acts = $dbh->selectcol_arrayref(
        'SELECT action FROM audit_events WHERE target_id IN (?, ?) ORDER BY id', undef,
        $ep1, $ep2);
    is_deeply([grep { !/^key\.reissue$/ } @$acts],
              [qw(endpoint.create endpoint.create endpoint.deactivate endpoint.activate
                  endpoint.delete)], "$n: changes are in the audit trail");

    $r = cli({ env => $env }, 'userdel', '--email', $email);
    is($r->{rc}, 0, "$n: cleanup");
    ok(!$ep_row->($ep1), "$n: the user's endpoints went with it");
    $dbh->disconnect;
}

done_testing();

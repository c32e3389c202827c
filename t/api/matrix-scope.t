# The scope-escape suite, run against every provider of t/lib/CATest/Matrix.pm through httpd
# and the sandbox playing that provider's shape: a key sees its scope and nothing else, an
# out-of-scope record answers exactly like a missing one, filters narrow and never widen,
# cursors are bound to their endpoint, path tricks find nothing.
use strict;
use warnings;
use Test::More;
use CATest;
use CATest::Matrix;

sub get { my ($ep, $key, $rest) = @_; return CATest::api(GET => "/api/$ep$rest", key => $key) }

sub strip { my $d = shift; my %c = %{ $d || {} }; delete $c{request_id}; return \%c }

# Every page of a list; checks the envelope of each page. Returns the records.
sub all_pages {
    my ($p, $ep, $key, $rest, $scope_co, $scope_cl) = @_;
    my (@all, $cursor, $pages);
    do {
        my $sep = $rest =~ /\?/ ? '&' : '?';
        my ($res, $doc) = get($ep, $key, $rest . ($cursor ? "${sep}cursor=$cursor" : ''));
        is($res->code, 200, "$p->{name}: page of $rest") or diag($res->decoded_content),
            return \@all;
        is($doc->{provider}, $p->{name}, "$p->{name}: provider");
        is($doc->{company_external_id}, $scope_co, "$p->{name}: company_external_id");
        is($doc->{client_external_id}, $scope_cl, "$p->{name}: client_external_id");
        is($doc->{count}, scalar @{ $doc->{data} }, "$p->{name}: count is the page size");
        push @all, @{ $doc->{data} };
        $cursor = $doc->{next_cursor};
        $pages++;
    } while ($cursor && $pages < 30);
    return \@all;
}

sub field_at {
    my ($rec, $path) = @_;
    my $v = $rec;
    for my $k (split /\./, $path) {
        return undef unless ref $v eq 'HASH';
        $v = $v->{$k};
    }
    return $v;
}

sub check_lists {
    my ($p, $ep, $key, $lists, $co, $cl, $foreign) = @_;
    for my $l (@$lists) {
        my $recs = all_pages($p, $ep, $key, $l->{path}, $co, $cl);
        my $what = "$p->{name} $l->{path}";
        if (defined $l->{count}) {
            is(scalar @$recs, $l->{count}, "$what: $l->{count} records");
        }
        if ($l->{ids}) {
            is_deeply([sort map { CATest::Matrix::record_id($_) } @$recs], [sort @{ $l->{ids} }],
                      "$what: exactly these records");
        }
        if (my $f = $l->{field}) {
            my ($path, $want) = @$f;
            my @bad = grep {
                my $v = field_at($_, $path);
                !defined $v || (ref $want ? "$v" !~ $want : "$v" ne $want)
            } @$recs;
            is(scalar @bad, 0, "$what: every record has $path in scope");
        }
        my %seen;
        is(scalar(grep { $seen{CATest::Matrix::record_id($_)}++ } @$recs), 0,
           "$what: no record twice across pages");
        my $text = CATest::json()->encode($recs);
        unlike($text, $foreign, "$what: nothing outside the scope");
    }
}

sub check_items {
    my ($p, $ep, $key, $own, $out, $foreign) = @_;
    my (undef, $missing) = get($ep, $key, $p->{missing});
    is($missing->{code}, 'not_found', "$p->{name}: a missing record is not_found");
    for my $path (@$own) {
        my ($res, $doc) = get($ep, $key, $path);
        is($res->code, 200, "$p->{name} $path: 200") or diag($res->decoded_content);
        is($doc->{provider}, $p->{name}, "$p->{name} $path: record envelope");
        ok(ref $doc->{data}, "$p->{name} $path: with its record");
        unlike($res->decoded_content, $foreign, "$p->{name} $path: nothing outside the scope");
    }
    for my $path (@$out) {
        my ($res, $doc) = get($ep, $key, $path);
        is($res->code, 404, "$p->{name} $path: 404") or diag($res->decoded_content);
        is($res->header('Content-Type'), 'application/problem+json', "$p->{name} $path: problem");
        is($doc && $doc->{code}, 'not_found', "$p->{name} $path: not_found");
        if ($path =~ m{^/[a-z_]+/[^/?]+$}) {
            is_deeply(strip($doc), strip($missing), "$p->{name} $path: same body as missing");
        }
        unlike($res->decoded_content, $foreign, "$p->{name} $path: nothing leaks");
    }
}

sub check_widen {
    my ($p, $ep, $key, $paths, $foreign) = @_;
    for my $path (@$paths) {
        my ($res, $doc) = get($ep, $key, $path);
        ok($res->code == 200 || $res->code == 400, "$p->{name} $path: answered ("
           . $res->code . ')');
        unlike($res->decoded_content, $foreign, "$p->{name} $path: does not widen the scope");
    }
}

for my $p (CATest::Matrix::providers()) {
    note("provider $p->{name}");
    CATest::sandbox_reset();
    my $conn = $p->{connect}->();
    # the main endpoint is company-scoped, or client-scoped for providers without company
    # endpoints (Jobber)
    my ($co_id, $main_cl) = $p->{company} =~ /^company:([^:]+)/ ? ($1, undef)
                          : $p->{company} =~ m{^client:([^/]+)/([^:]+)};
    my ($ep, $key) = CATest::seed_endpoint(connection => $conn, scope => $p->{company});
    my ($ep2, $key2) = CATest::seed_endpoint(connection => $conn, scope => $p->{other});

    # description: the provider's own resources
    {
        my ($res, $doc) = get($ep, $key, '');
        is($res->code, 200, "$p->{name}: description");
        ok(scalar @{ $doc->{resources} || [] }, "$p->{name}: lists resources");
        is(get($ep, $key, '/no_such_resource')->code, 404, "$p->{name}: unknown resource: 404");
    }

    check_lists($p, $ep, $key, $p->{lists}, $co_id, $main_cl, $p->{foreign});
    check_items($p, $ep, $key, $p->{own}, $p->{out}, $p->{foreign});
    check_widen($p, $ep, $key, $p->{widen} || [], $p->{foreign});

    for my $path (@{ $p->{bad} || [] }) {
        my ($res, $doc) = get($ep, $key, $path);
        is($res->code, 400, "$p->{name} $path: 400") or diag($res->decoded_content);
        is($doc && $doc->{code}, 'bad_request', "$p->{name} $path: bad_request");
    }

    # limits: capped silently, malformed refused
    my ($lpath) = $p->{lists}[0]{path} =~ /^([^?]+)/;
    {
        my ($res, $doc) = get($ep, $key, "$lpath?limit=100000");
        is($res->code, 200, "$p->{name}: a huge limit is capped silently");
        cmp_ok(scalar @{ $doc->{data} || [] }, '<=', 100, "$p->{name}: at most the cap");
        for my $bad ('limit=-1', 'limit=0', 'limit=ten', 'limit=') {
            is(get($ep, $key, "$lpath?$bad")->code, 400, "$p->{name}: $bad refused");
        }
    }

    # cursors are bound to their endpoint and resource
    {
        my (undef, $doc) = get($ep, $key, $p->{lists}[0]{path});
        my $cursor = $doc->{next_cursor};
        ok($cursor, "$p->{name}: the first list has a next cursor");
        $cursor //= 'none';
        is(get($ep2, $key2, "$lpath?cursor=$cursor")->code, 400,
           "$p->{name}: another endpoint's cursor is refused");
        is(get($ep, $key, "$lpath?cursor=${cursor}x")->code, 400,
           "$p->{name}: a tampered cursor is refused");
        is(get($ep, $key, "$lpath?cursor=abc")->code, 400, "$p->{name}: a made-up cursor");
        my ($other) = grep { $_ ne $lpath } map { m{^(/[a-z_]+)(?:\?|$)} ? $1 : () }
                      map { $_->{path} } @{ $p->{lists} };
        if ($other) {
            is(get($ep, $key, "$other?cursor=$cursor")->code, 400,
               "$p->{name}: another resource's cursor is refused");
        }
    }

    # a key works only on its own endpoint
    is(get($ep2, $key, $lpath)->code, 401, "$p->{name}: a key on another endpoint: 401");

    # path tricks, case and unicode: no such URL
    for my $path ("$lpath/..", "$lpath/%2e%2e", "$lpath/%252e%252e", "$lpath/", uc($lpath),
                  "$lpath/x/y/z", "$lpath%00", "$lpath/..%2f..%2fclients", "$lpath;x=1",
                  "/company/../$lpath", "$p->{own}[0]%20") {
        my $res = get($ep, $key, $path);
        ok($res->code == 404 || $res->code == 400, "$p->{name} $path: refused ("
           . $res->code . ')');
        unlike($res->decoded_content, $p->{foreign}, "$p->{name} $path: nothing outside");
    }

    # the compatibility route answers the same scope
    {
        my ($res, $doc) = CATest::api(GET => "/api/public/$ep/query/?resource=$p->{compat}",
                                      key => $key);
        is($res->code, 200, "$p->{name}: compat list") or diag($res->decoded_content);
        is($doc->{company_external_id}, $co_id, "$p->{name}: compat envelope");
        unlike($res->decoded_content, $p->{foreign}, "$p->{name}: compat scoped");
        my ($oid) = $p->{out}[0] =~ m{/([^/?]+)$};
        ($res) = CATest::api(GET => "/api/public/$ep/query/?resource=$p->{compat}&id=$oid",
                             key => $key);
        is($res->code, 404, "$p->{name}: compat out of scope: 404");
    }

    next unless $p->{client};
    my ($cl_co, $cl_id) = $p->{client} =~ m{^client:([^/]+)/([^:]+)};
    my ($cep, $ckey) = CATest::seed_endpoint(connection => $conn, scope => $p->{client});
    check_lists($p, $cep, $ckey, $p->{client_lists}, $cl_co, $cl_id, $p->{client_foreign});
    check_items($p, $cep, $ckey, $p->{client_own}, $p->{client_out}, $p->{client_foreign});
    check_widen($p, $cep, $ckey, $p->{client_widen} || [], $p->{client_foreign});
}

done_testing();

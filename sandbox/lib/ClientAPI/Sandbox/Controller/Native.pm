package ClientAPI::Sandbox::Controller::Native;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# The sandbox's own data API under /api/v1 (Bearer access token required).

use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(iso8601 now parse_iso8601);
use ClientAPI::Sandbox::Write qw(read_json_body check_idempotency remember_idempotent);
use Scalar::Util qw(looks_like_number);

my @CLIENT_STATUSES  = qw(active archived);
my @JOB_STATUSES     = @ClientAPI::Sandbox::Seed::JOB_STATUSES;
my @INVOICE_STATUSES = @ClientAPI::Sandbox::Seed::INVOICE_STATUSES;

# Resource definitions. parent: [field, resource] through which a record
# belongs to its account; inherit: fields copied from the parent record.
our %RES = (
    companies => {readonly => 1, filters => [qw(updated_since)]},
    clients   => {
        prefix  => 'cl',
        parent  => [company_id => 'companies'],
        filters => [qw(company_id status updated_since)],
        fields  => {
            company_id => {type => 'id'},
            name       => {type => 'string', required => 1},
            email      => {type => 'string', null => 1},
            phone      => {type => 'string', null => 1},
            status     => {type => 'enum', values => \@CLIENT_STATUSES, default => 'active'},
        },
    },
    jobs => {
        prefix  => 'job',
        parent  => [client_id => 'clients'],
        inherit => [qw(company_id)],
        filters => [qw(company_id client_id status updated_since)],
        fields  => {
            client_id    => {type => 'id'},
            company_id   => {type => 'id', null => 1},
            title        => {type => 'string', required => 1},
            description  => {type => 'string', null => 1},
            status       => {type => 'enum', values => \@JOB_STATUSES, default => 'scheduled'},
            scheduled_at => {type => 'datetime', null => 1},
        },
    },
    invoices => {
        prefix   => 'inv',
        parent   => [job_id => 'jobs'],
        inherit  => [qw(company_id client_id)],
        filters  => [qw(company_id client_id job_id status updated_since)],
        computed => [qw(total)],
        fields   => {
            job_id     => {type => 'id'},
            company_id => {type => 'id', null => 1},
            client_id  => {type => 'id', null => 1},
            number     => {type => 'string'},
            currency   => {type => 'currency'},
            status     => {type => 'enum', values => \@INVOICE_STATUSES, default => 'draft'},
            issued_at  => {type => 'datetime', null => 1},
        },
    },
    line_items => {
        prefix  => 'li',
        parent  => [invoice_id => 'invoices'],
        filters => [qw(invoice_id updated_since)],
        fields  => {
            invoice_id  => {type => 'id'},
            description => {type => 'string', required => 1},
            quantity    => {type => 'number', positive => 1, default => 1},
            unit_price  => {type => 'number', required => 1},
        },
    },
    attachments => {
        prefix   => 'att',
        parent   => [job_id => 'jobs'],
        filters  => [qw(job_id updated_since)],
        computed => [qw(url)],
        fields   => {
            job_id       => {type => 'id'},
            filename     => {type => 'filename', required => 1},
            content_type => {type => 'mime', default => 'application/octet-stream'},
            size         => {type => 'uint', default => 0},
        },
    },
);

# Children removed with their parent (cascade delete)
my %CHILDREN = (
    clients  => [[jobs => 'client_id']],
    jobs     => [[invoices => 'job_id'], [attachments => 'job_id']],
    invoices => [[line_items => 'invoice_id']],
);

my %READONLY = map { $_ => 1 } qw(id created_at updated_at);

sub _account ($c) { return $c->stash('principal')->{account} }

sub _public ($c, $res, $rec) {
    my %out = map { $_ => $rec->{$_} } grep { !/\A_/ } keys %$rec;
    $out{url} = $c->public_url("/api/v1/attachments/$rec->{id}/content")
        if $res eq 'attachments';
    return \%out;
}

sub not_found ($c) { return $c->api_error(404, 'not_found', 'no such resource') }

sub me ($c) {
    my $p = $c->stash('principal');
    my $data;
    if (defined $p->{user}) {
        my $u = $ClientAPI::Sandbox::Seed::USERS{$p->{user}};
        $data = {map { $_ => $u->{$_} } qw(id login name email account_id)};
    }
    else {
        $data = {
            id         => "svc_$p->{client_id}",
            login      => undef,
            name       => "Service account of $p->{client_id}",
            email      => undef,
            account_id => $p->{account},
        };
    }
    return $c->render(json => {data => $data});
}

# ---------------------------------------------------------------- reads

sub list ($c) { return $c->_list($c->stash('res'), undef, undef) }

sub nested ($c) {
    my $parent = $c->store->find(native => $c->stash('parent'), $c->stash('id'), $c->_account)
        or return $c->not_found;
    return $c->_list($c->stash('res'), $c->stash('parent_field'), $parent->{id});
}

sub _list ($c, $res, $pfield, $pid) {
    my $def = $RES{$res};
    my $q   = $c->req->url->query;
    my %allowed = map { $_ => 1 } @{$def->{filters}}, qw(limit cursor);
    my (%f, $limit, $cursor);
    for my $name (@{$q->names}) {
        return $c->api_error(400, 'invalid_request', "unsupported query parameter '$name' for $res")
            unless $allowed{$name};

        # Repeated parameters: the last occurrence wins
        my $v = $q->every_param($name)->[-1];
        return $c->api_error(400, 'invalid_request', "empty value for '$name'")
            unless defined $v && length $v;
        if    ($name eq 'limit')  { $limit  = $v }
        elsif ($name eq 'cursor') { $cursor = $v }
        else                      { $f{$name} = $v }
    }

    # The parent in the path wins over a query filter of the same name
    $f{$pfield} = $pid if defined $pfield;

    $limit //= 25;
    return $c->api_error(400, 'invalid_request', 'limit must be an integer between 1 and 100')
        unless $limit =~ /\A[0-9]{1,3}\z/ && $limit >= 1 && $limit <= 100;

    my $store = $c->store;
    my $acct  = $c->_account;
    my $list  = defined $pfield ? "$res\@$pid" : $res;
    my $after = 0;
    if (defined $cursor) {
        $after = $store->decode_cursor($list, $acct, $cursor)
            // return $c->api_error(400, 'invalid_cursor', 'cursor is invalid for this list');
    }

    my @match = @{$store->records(native => $res, $acct)};
    for my $name (sort keys %f) {
        my $v = $f{$name};
        if ($name eq 'updated_since') {
            my $since = parse_iso8601($v)
                // return $c->api_error(400, 'invalid_request',
                'updated_since must be an ISO 8601 date-time');
            @match = grep {
                my $u = parse_iso8601($_->{updated_at});
                defined $u && $u >= $since
            } @match;
        }
        elsif ($name eq 'status') {
            my %ok   = map { $_ => 1 } @{$def->{fields}{status}{values}};
            my %want = map { $_ => 1 } split /,/, $v;
            for (keys %want) {
                return $c->api_error(400, 'invalid_request', "unknown status '$_'") unless $ok{$_};
            }
            @match = grep { $want{$_->{status}} } @match;
        }
        else {
            @match = grep { defined $_->{$name} && $_->{$name} eq $v } @match;
        }
    }

    my ($page, $last) = $store->page(\@match, $limit, $after);
    return $c->render(json => {
        data        => [map { $c->_public($res, $_) } @$page],
        next_cursor => defined $last ? $store->encode_cursor($list, $acct, $last) : undef,
    });
}

sub show ($c) {
    my $res = $c->stash('res');
    my $rec = $c->store->find(native => $res, $c->stash('id'), $c->_account)
        or return $c->not_found;
    return $c->render(json => {data => $c->_public($res, $rec)});
}

sub content ($c) {
    my $rec = $c->store->find(native => attachments => $c->stash('id'), $c->_account)
        or return $c->not_found;
    my $size = $rec->{size} > 1_048_576 ? 1_048_576 : $rec->{size};
    my $unit = "clientapi sandbox attachment $rec->{id}\n";
    my $body = substr $unit x (int($size / length $unit) + 1), 0, $size;
    $c->res->headers->content_type($rec->{content_type});
    $c->res->headers->content_disposition(qq{attachment; filename="$rec->{filename}"});
    return $c->render(data => $body);
}

# ---------------------------------------------------------------- writes

sub create ($c) {
    my $res   = $c->stash('res');
    my $def   = $RES{$res};
    my $store = $c->store;
    my ($body, @err) = read_json_body($c);
    return $c->_write_error(undef, undef, @err) unless $body;

    my $scope = join '|', 'native', $c->_account;
    my $idem  = check_idempotency($c, $scope, $body);
    return if $idem && $idem->{done};

    my ($rec, $errors) = $c->_validate($def, $body, 'create', undef);
    return $c->_write_error(undef, $body, 422, 'validation_failed', 'invalid record',
        fields => $errors)
        if $errors;

    my $t = iso8601(now());
    $rec->{id}         = $store->new_id($def->{prefix});
    $rec->{created_at} = $t;
    $rec->{updated_at} = $t;
    $rec->{_seq}       = $store->next_seq;
    $c->_defaults($res, $rec);
    $store->table(native => $res)->{$rec->{id}} = $rec;
    $c->_recompute_total($rec->{invoice_id}) if $res eq 'line_items';

    my $out = {data => $c->_public($res, $rec)};
    $c->res->headers->location($c->public_url("/api/v1/$res/$rec->{id}"));
    remember_idempotent($c, $idem, 201, $out) if $idem;
    return $c->_write_done(201, $out, $rec->{id}, $body);
}

sub update ($c) {
    my $res   = $c->stash('res');
    my $def   = $RES{$res};
    my $store = $c->store;
    my $id    = $c->stash('id');
    my $rec   = $store->find(native => $res, $id, $c->_account)
        or return $c->_write_error($id, undef, 404, 'not_found', "no such $res record");
    my ($body, @err) = read_json_body($c);
    return $c->_write_error($id, undef, @err) unless $body;

    my $mode = $c->req->method eq 'PUT' ? 'replace' : 'merge';
    my ($new, $errors) = $c->_validate($def, $body, $mode, $rec);
    return $c->_write_error($id, $body, 422, 'validation_failed', 'invalid record',
        fields => $errors)
        if $errors;

    my $old_invoice = $rec->{invoice_id};
    %$rec = (%$rec, %$new);
    $rec->{updated_at} = iso8601(now());
    if ($res eq 'line_items') {
        $c->_recompute_total($old_invoice);
        $c->_recompute_total($rec->{invoice_id}) if $rec->{invoice_id} ne $old_invoice;
    }
    return $c->_write_done(200, {data => $c->_public($res, $rec)}, $id, $body);
}

sub remove ($c) {
    my $res   = $c->stash('res');
    my $store = $c->store;
    my $id    = $c->stash('id');
    my $rec   = $store->find(native => $res, $id, $c->_account)
        or return $c->_write_error($id, undef, 404, 'not_found', "no such $res record");
    my $removed = $c->_cascade($res, $rec);
    $c->_recompute_total($rec->{invoice_id}) if $res eq 'line_items';
    $c->store->journal_write(
        api => 'native', account => $c->_account, method => 'DELETE',
        path => $c->req->url->path->to_string, resource => $res, id => $id, body => undef,
        status => 204, cascade => $removed - 1,
    );
    return $c->rendered(204);
}

sub _cascade ($c, $res, $rec) {
    my $store = $c->store;
    my $n     = 1;
    for my $child (@{$CHILDREN{$res} // []}) {
        my ($cres, $field) = @$child;
        my $t = $store->table(native => $cres);
        for my $kid (grep { defined $_->{$field} && $_->{$field} eq $rec->{id} } values %$t) {
            $n += $c->_cascade($cres, $kid) if $t->{$kid->{id}};
        }
    }
    delete $store->table(native => $res)->{$rec->{id}};
    return $n;
}

sub _recompute_total ($c, $invoice_id) {
    my $store = $c->store;
    my $inv   = defined $invoice_id ? $store->table(native => 'invoices')->{$invoice_id} : undef;
    return unless $inv;
    my $total = 0;
    for my $li (values %{$store->table(native => 'line_items')}) {
        $total += $li->{quantity} * $li->{unit_price} if $li->{invoice_id} eq $invoice_id;
    }
    $inv->{total}      = 0 + sprintf '%.2f', $total;
    $inv->{updated_at} = iso8601(now());
}

sub _defaults ($c, $res, $rec) {
    if ($res eq 'invoices') {
        $rec->{total} = 0;
        $rec->{number} //= sprintf 'SBX-%s', uc substr $rec->{id}, 4;
        unless (defined $rec->{currency}) {
            my $co = defined $rec->{company_id}
                ? $c->store->table(native => 'companies')->{$rec->{company_id}} : undef;
            $rec->{currency} = $co ? $co->{currency} : 'USD';
        }
    }
}

sub _write_error ($c, $id, $body, $status, $code, $desc, %extra) {
    $c->store->journal_write(
        api => 'native', account => $c->_account, method => $c->req->method,
        path => $c->req->url->path->to_string, resource => $c->stash('res'), id => $id,
        body => $body, status => $status,
    );
    return $c->api_error($status, $code, $desc, %extra);
}

sub _write_done ($c, $status, $out, $id, $body) {
    $c->store->journal_write(
        api => 'native', account => $c->_account, method => $c->req->method,
        path => $c->req->url->path->to_string, resource => $c->stash('res'), id => $id,
        body => $body, status => $status,
    );
    return $c->render(status => $status, json => $out);
}

# Validate a request body. mode: create | replace (PUT) | merge (PATCH).
# Returns (\%fields_to_set) or (undef, \%errors).
sub _validate ($c, $def, $body, $mode, $current) {
    my (%set, %err);
    my $fields = $def->{fields};
    my %computed = map { $_ => 1 } @{$def->{computed} // []};
    for my $k (sort keys %$body) {
        next if $READONLY{$k} || $computed{$k};
        my $spec = $fields->{$k} or do { $err{$k} = 'unknown field'; next };
        my ($ok, $v) = _check($spec, $body->{$k});
        if ($ok) { $set{$k} = $v }
        else     { $err{$k} = $v }
    }

    my ($pfield, $pres) = @{$def->{parent}};
    my %inherit = map { $_ => 1 } @{$def->{inherit} // []};
    if ($mode ne 'merge') {
        for my $k (sort keys %$fields) {
            next if exists $set{$k} || exists $err{$k} || $inherit{$k};
            my $spec = $fields->{$k};
            if ($spec->{required} || $k eq $pfield) { $err{$k} = 'required'; next }

            # Omitted optional fields: default, else null, else (PUT) unchanged
            if    (exists $spec->{default}) { $set{$k} = $spec->{default} }
            elsif ($spec->{null})           { $set{$k} = undef }
        }
    }
    return (undef, \%err) if %err;

    # Parent: must exist in this account. Inherited fields follow the parent;
    # a body value that disagrees with it is refused.
    my $acct   = $c->_account;
    my $store  = $c->store;
    my $pid    = exists $set{$pfield} ? $set{$pfield} : $current->{$pfield};
    my $parent = $store->find(native => $pres, $pid, $acct);
    unless ($parent) {
        $err{$pfield} = "unknown $pres record";
        return (undef, \%err);
    }
    for my $k (sort keys %inherit) {
        my $pv = $parent->{$k};
        if (exists $set{$pfield}) {
            $err{$k} = "does not match the $pres record's $k"
                if exists $set{$k} && !_same($set{$k}, $pv);
            $set{$k} = $pv;
        }
        elsif (exists $set{$k} && !_same($set{$k}, $current->{$k})) {
            $err{$k} = "does not match the $pres record's $k";
        }
    }
    return (undef, \%err) if %err;
    $set{_account} = $parent->{_account} // $acct;
    return (\%set);
}

sub _same ($x, $y) { return (!defined $x && !defined $y) || (defined $x && defined $y && $x eq $y) }

# Returns (1, normalised value) or (0, error text)
sub _check ($spec, $v) {
    my $t = $spec->{type};
    if (!defined $v) {
        return $spec->{null} ? (1, undef) : (0, 'must not be null');
    }
    return (0, "must be a $t") if ref $v;
    if ($t eq 'id') {
        return length $v && length $v <= 200 ? (1, "$v") : (0, 'must be a record id');
    }
    if ($t eq 'string') {
        return length $v <= 2000 ? (1, "$v") : (0, 'too long');
    }
    if ($t eq 'enum') {
        return (grep { $_ eq $v } @{$spec->{values}})
            ? (1, $v) : (0, 'must be one of ' . join ', ', @{$spec->{values}});
    }
    if ($t eq 'datetime') {
        my $e = parse_iso8601($v);
        return defined $e ? (1, iso8601($e)) : (0, 'must be an ISO 8601 date-time');
    }
    if ($t eq 'currency') {
        return $v =~ /\A[A-Z]{3}\z/ ? (1, $v) : (0, 'must be an ISO 4217 code');
    }
    if ($t eq 'number') {
        return (0, 'must be a number') unless looks_like_number($v) && $v =~ /\A-?[0-9.eE+-]+\z/;
        return (0, 'must be greater than 0') if $spec->{positive} && $v <= 0;
        return (0, 'must not be negative') if $v < 0;
        return (1, 0 + $v);
    }
    if ($t eq 'uint') {
        return $v =~ /\A[0-9]{1,12}\z/ ? (1, 0 + $v) : (0, 'must be a non-negative integer');
    }
    if ($t eq 'filename') {
        return $v =~ m{\A[^/\\\x00-\x1f"]{1,255}\z} ? (1, $v) : (0, 'must be a plain file name');
    }
    if ($t eq 'mime') {
        return $v =~ m{\A[\w.+-]+/[\w.+-]+\z} ? (1, $v) : (0, 'must be a media type');
    }
    return (0, 'unsupported');
}

1;

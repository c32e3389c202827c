package ClientAPI::Sandbox::Controller::Commander;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# The Client Commander API shape under /cc/v1 (pasted API key as Bearer):
# people, deals, users, teams, me; envelope {"data", "meta"}.

use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(iso8601 now);
use ClientAPI::Sandbox::Write qw(read_json_body check_idempotency remember_idempotent);

# Supported list filters: name => record field (scalar equality) or
# [field] (the array in that field contains the value). Other query
# parameters are ignored, as the documented API does.
my %FILTERS = (
    people => {stageId => 'stageId', assignedAgentId => 'assignedAgentId', tag => ['tags']},
    deals  => {personId => ['peopleIds'], stageId => 'stageId', pipelineId => 'pipelineId',
        teamId => ['teamIds']},
    users => {},
    teams => {},
);
my %PREFIX   = (people => 'per', deals => 'deal');
my %READONLY = map { $_ => 1 } qw(id createdAt updatedAt);

sub _account ($c) { return $c->stash('principal')->{account} }

sub _public ($rec) {
    return {map { $_ => $rec->{$_} } grep { !/\A_/ } keys %$rec};
}

sub not_found ($c) { return $c->cc_error(404, 'not_found', 'no such resource') }

sub me ($c) {
    my $u = $c->stash('principal')->{user};
    my $acct = $ClientAPI::Sandbox::Seed::ACCOUNTS{$u->{_account}};
    return $c->render(json => {
        meta => $c->cc_meta,
        data => {%{_public($u)}, accountId => $acct->{id}, accountName => $acct->{name}},
    });
}

sub list ($c) {
    my $res = $c->stash('res');
    my $q   = $c->req->url->query;

    # Repeated parameters: the last occurrence wins
    my %p = map { $_ => $q->every_param($_)->[-1] } @{$q->names};
    my $limit = $p{limit} // 10;
    return $c->cc_error(400, 'invalid_limit', 'limit must be an integer from 1 to 100')
        unless $limit =~ /\A[0-9]{1,3}\z/ && $limit >= 1 && $limit <= 100;

    my $store = $c->store;
    my $acct  = $c->_account;
    my $after = 0;
    if (defined $p{cursor}) {
        $after = $store->decode_cursor("cc:$res", $acct, $p{cursor})
            // return $c->cc_error(400, 'invalid_cursor', 'cursor is not valid for this list');
    }

    my @match = @{$store->records(cc => $res, $acct)};
    my $f     = $FILTERS{$res};
    for my $name (sort grep { exists $f->{$_} } keys %p) {
        my ($field, $v) = ($f->{$name}, $p{$name});
        if (ref $field) {
            @match = grep { grep { $_ eq $v } @{$_->{$field->[0]} // []} } @match;
        }
        else {
            @match = grep { defined $_->{$field} && $_->{$field} eq $v } @match;
        }
    }

    my ($page, $last) = $store->page(\@match, $limit, $after);
    my $next = defined $last ? $store->encode_cursor("cc:$res", $acct, $last) : undef;
    return $c->render(json => {
        data => [map { _public($_) } @$page],
        meta => $c->cc_meta(count => scalar @$page,
            hasMore => defined $next ? Mojo::JSON::true : Mojo::JSON::false,
            nextCursor => $next),
    });
}

sub show ($c) {
    my $rec = $c->store->find(cc => $c->stash('res'), $c->stash('id'), $c->_account)
        or return $c->not_found;
    return $c->render(json => {meta => $c->cc_meta, data => _public($rec)});
}

sub create ($c) {
    my $res = $c->stash('res');
    my ($body, @err) = read_json_body($c);
    return $c->_fail(undef, undef, $err[0], $err[1], $err[2]) unless $body;
    my $idem = check_idempotency($c, 'cc|' . $c->_account, $body);
    return if $idem && $idem->{done};

    my ($set, $errors) = $c->_validate($res, $body, 1);
    return $c->_fail(undef, $body, 422, 'validation_error', 'invalid record', $errors)
        if $errors;
    my $store = $c->store;
    my $t     = iso8601(now());
    my $rec   = {
        %$set,
        id        => $store->new_id($PREFIX{$res}),
        createdAt => $t,
        updatedAt => $t,
        _seq      => $store->next_seq,
        _account  => $c->_account,
    };
    $store->table(cc => $res)->{$rec->{id}} = $rec;
    my $out = {meta => $c->cc_meta, data => _public($rec)};
    $c->res->headers->location($c->public_url("/cc/v1/$res/$rec->{id}"));
    remember_idempotent($c, $idem, 201, $out) if $idem;
    return $c->_done(201, $out, $rec->{id}, $body);
}

sub update ($c) {
    my ($res, $id) = ($c->stash('res'), $c->stash('id'));
    my $rec = $c->store->find(cc => $res, $id, $c->_account)
        or return $c->_fail($id, undef, 404, 'not_found', "no such $res record");
    my ($body, @err) = read_json_body($c);
    return $c->_fail($id, undef, @err) unless $body;
    my ($set, $errors) = $c->_validate($res, $body, 0);
    return $c->_fail($id, $body, 422, 'validation_error', 'invalid record', $errors) if $errors;
    %$rec = (%$rec, %$set, updatedAt => iso8601(now()));
    return $c->_done(200, {meta => $c->cc_meta, data => _public($rec)}, $id, $body);
}

sub remove ($c) {
    my ($res, $id) = ($c->stash('res'), $c->stash('id'));
    my $store = $c->store;
    my $rec   = $store->find(cc => $res, $id, $c->_account)
        or return $c->_fail($id, undef, 404, 'not_found', "no such $res record");
    delete $store->table(cc => $res)->{$id};
    if ($res eq 'people') {
        for my $deal (values %{$store->table(cc => 'deals')}) {
            my @keep = grep { $_ ne $id } @{$deal->{peopleIds}};
            next if @keep == @{$deal->{peopleIds}};
            $deal->{peopleIds} = \@keep;
            $deal->{updatedAt} = iso8601(now());
        }
    }
    $c->_journal(204, $id, undef);
    return $c->rendered(204);
}

sub _journal ($c, $status, $id, $body) {
    $c->store->journal_write(
        api => 'cc', account => $c->_account, method => $c->req->method,
        path => $c->req->url->path->to_string, resource => $c->stash('res'), id => $id,
        body => $body, status => $status,
    );
}

sub _done ($c, $status, $out, $id, $body) {
    $c->_journal($status, $id, $body);
    return $c->render(status => $status, json => $out);
}

sub _fail ($c, $id, $body, $status, $code, $message, $fields = undef) {
    $c->_journal($status, $id, $body);
    my $err = {code => $code, message => $message};
    $err->{fields} = $fields if $fields;
    return $c->render(status => $status, json => {meta => $c->cc_meta, error => $err});
}

# Returns (\%fields_to_set) or (undef, \%errors).
sub _validate ($c, $res, $body, $create) {
    my (%set, %err);
    my $store = $c->store;
    my $acct  = $c->_account;
    my $str   = sub ($v, $null) {
        return (1, $v) if !defined $v && $null;
        return defined $v && !ref $v && length $v <= 500 ? (1, "$v") : (0, 'must be a string');
    };
    my $ids = sub ($v, $table) {
        return (0, 'must be an array of ids') unless ref $v eq 'ARRAY';
        for (@$v) {
            return (0, 'must be an array of ids') if !defined($_) || ref($_);
            return (0, "unknown $table id '$_'") unless $store->find(cc => $table, $_, $acct);
        }
        my %seen;
        return (1, [grep { !$seen{$_}++ } map {"$_"} @$v]);
    };
    my $contacts = sub ($v) {
        return (0, 'must be an array') unless ref $v eq 'ARRAY';
        my @out;
        for my $item (@$v) {
            if (defined $item && !ref $item) { push @out, {value => "$item", type => 'other'} }
            elsif (ref $item eq 'HASH' && defined $item->{value} && !ref $item->{value}) {
                my %extra = map { $_ => 1 } keys %$item;
                delete @extra{qw(value type)};
                return (0, 'items take only value and type') if %extra;
                push @out, {value => "$item->{value}", type => "" . ($item->{type} // 'other')};
            }
            else { return (0, 'items must be strings or {"value", "type"} objects') }
        }
        return (1, \@out);
    };

    my %spec = $res eq 'people'
        ? (
        firstName       => sub { $str->($_[0], 1) },
        lastName        => sub { $str->($_[0], 1) },
        emails          => $contacts,
        phones          => $contacts,
        stageId         => sub { $str->($_[0], 1) },
        assignedAgentId => sub {
            return (1, undef) unless defined $_[0];
            return (0, 'unknown user id') unless !ref $_[0] && $store->find(cc => users => $_[0],
                $acct);
            return (1, $_[0]);
        },
        tags => sub {
            return (0, 'must be an array of strings')
                unless ref $_[0] eq 'ARRAY' && !grep { !defined($_) || ref($_) } @{$_[0]};
            return (1, [map {"$_"} @{$_[0]}]);
        },
        )
        : (
        title      => sub { $str->($_[0], 0) },
        pipelineId => sub { $str->($_[0], 0) },
        stageId    => sub { $str->($_[0], 1) },
        peopleIds  => sub { $ids->($_[0], 'people') },
        teamIds    => sub { $ids->($_[0], 'teams') },
        );

    for my $k (sort keys %$body) {
        next if $READONLY{$k};
        my $check = $spec{$k} or do { $err{$k} = 'unknown field'; next };
        my ($ok, $v) = $check->($body->{$k});
        if ($ok) { $set{$k} = $v }
        else     { $err{$k} = $v }
    }
    if ($create) {
        my %default = $res eq 'people'
            ? (firstName => undef, lastName => undef, emails => [], phones => [],
            stageId => 'stg_lead', assignedAgentId => undef, tags => [])
            : (pipelineId => 'pl_sales', stageId => 'stg_qualify', peopleIds => [],
            teamIds => []);
        exists $set{$_} or $set{$_} = $default{$_} for keys %default;
        if ($res eq 'people') {
            $err{firstName} = 'firstName or lastName is required'
                unless grep { defined($_) && length($_) } @set{qw(firstName lastName)};
        }
        elsif (!defined $set{title} || !length $set{title}) {
            $err{title} //= 'required';
        }
    }
    elsif ($res eq 'deals' && exists $set{title} && !length $set{title}) {
        $err{title} = 'must not be empty';
    }
    return %err ? (undef, \%err) : (\%set);
}

1;

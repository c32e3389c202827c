package ClientAPI::Sandbox::Controller::ServiceM8;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# The ServiceM8 API shape under /sm8/api_1.0, on the native seed data (docs/sandbox.md):
#   company      = a native company (uuid = its id) and its sites = the company's native
#                  clients (parent_company_uuid = the company)
#   job          = a native job (company_uuid = its company, "" when unknown)
#   jobmaterial  = a native line item (job_uuid = the job of its invoice)
#   attachment   = a native attachment (related_object "job", related_object_uuid)
# Collections are bare JSON arrays; paging starts with cursor=-1 and the next cursor is in
# the x-next-cursor response header (absent on the last page). $filter takes
# "field eq 'value'" terms joined by "and", and, as the real API does, is silently ignored
# when its value was not URL-encoded. Creates answer the new uuid in x-record-uuid, updates
# are POSTs to the record, DELETE only sets active = 0. A 429 is text/plain without
# Retry-After. Authentication: an OAuth access token of the sandbox (Bearer).

use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(iso8601 now);
use ClientAPI::Sandbox::Write qw(read_json_body);

our $PAGE_SIZE = 10;
my %STATUS = (scheduled => 'Work Order', in_progress => 'Work Order', completed => 'Completed',
    cancelled => 'Unsuccessful');
my %OBJECTS = map { $_ => 1 } qw(company job jobmaterial attachment);

sub _account ($c) { return $c->stash('principal')->{account} }

sub _error ($c, $status, $message) {
    return $c->render(status => $status, json => {errorCode => $status, message => $message});
}

sub not_found ($c) { return $c->_error(404, 'Not Found') }

sub rate_limited ($c) {
    $c->res->headers->content_type('text/plain');
    return $c->render(status => 429, data => "Rate limit exceeded. Please slow down.\n");
}

# "under" action: the raw query (before anything parses it), the token, the rate limit.
sub auth ($c) {
    $c->stash('sm8.raw_query' => $c->req->url->query->to_string);
    my $h = $c->req->headers->authorization // '';
    my ($token) = $h =~ /\A\s*Bearer\s+(\S+)\s*\z/i;
    my $store = $c->store;
    my ($at, $why) = defined $token ? $store->valid_access($token) : (undef, 'no token');
    unless ($at) {
        $store->count('invalid_token');
        $c->_error(401, "Unauthorized: $why");
        return undef;
    }
    $c->stash(principal => {account => $at->{account}, user => $at->{user}, cred => $token});
    my $r = $store->rate_check($token);
    return 1 if $r->{ok};
    $c->rate_limited;
    return undef;
}

# ---------------------------------------------------------------- records

sub _native ($c, $res) { return $c->store->records(native => $res, $c->_account) }

sub _job_of_invoice ($c, $invoice_id) {
    my $inv = $c->store->find(native => invoices => $invoice_id, $c->_account);
    return $inv ? $inv->{job_id} : undef;
}

sub _company ($c, $rec, $is_site) {
    return {
        uuid                => $rec->{id},
        active              => $rec->{_sm8_inactive} ? 0 : 1,
        name                => $rec->{name},
        email               => $rec->{email} // '',
        parent_company_uuid => $is_site ? $rec->{company_id} // '' : '',
        edit_date           => $rec->{updated_at},
    };
}

sub _job ($c, $rec) {
    return {
        uuid            => $rec->{id},
        active          => $rec->{_sm8_inactive} ? 0 : 1,
        company_uuid    => $rec->{company_id} // '',
        job_description => $rec->{title},
        status          => $STATUS{$rec->{status}} // 'Quote',
        date            => $rec->{scheduled_at} // '',
        edit_date       => $rec->{updated_at},
    };
}

sub _material ($c, $rec) {
    return {
        uuid      => $rec->{id},
        active    => 1,
        job_uuid  => $c->_job_of_invoice($rec->{invoice_id}) // '',
        name      => $rec->{description},
        quantity  => "$rec->{quantity}",
        price     => sprintf('%.2f', $rec->{unit_price}),
        edit_date => $rec->{updated_at},
    };
}

sub _attachment ($c, $rec) {
    return {
        uuid                => $rec->{id},
        active              => 1,
        related_object      => 'job',
        related_object_uuid => $rec->{job_id},
        attachment_name     => $rec->{filename},
        file_type           => $rec->{content_type},
        edit_date           => $rec->{updated_at},
    };
}

# All records of an object in the ServiceM8 shape, in seed order: [ [seq, record], ... ].
sub _all ($c, $obj) {
    if ($obj eq 'company') {
        my @co = map { [$_->{_seq}, $c->_company($_, 0)] } @{$c->_native('companies')};
        my @sites = map { [$_->{_seq}, $c->_company($_, 1)] } @{$c->_native('clients')};
        return [sort { $a->[0] <=> $b->[0] } @co, @sites];
    }
    return [map { [$_->{_seq}, $c->_job($_)] } @{$c->_native('jobs')}] if $obj eq 'job';
    return [map { [$_->{_seq}, $c->_material($_)] } @{$c->_native('line_items')}]
        if $obj eq 'jobmaterial';
    return [map { [$_->{_seq}, $c->_attachment($_)] } @{$c->_native('attachments')}];
}

# $filter: "field eq 'value'" terms joined by " and ". Returns [[field, value], ...] or undef.
sub _parse_filter ($f) {
    my @terms;
    for my $t (split /\s+and\s+/i, $f) {
        my ($field, $v) = $t =~ /\A\s*([A-Za-z_]+)\s+eq\s+'((?:[^']|'')*)'\s*\z/ or return undef;
        $v =~ s/''/'/g;
        push @terms, [$field, $v];
    }
    return \@terms;
}

sub list ($c) {
    my $obj = $c->stash('obj');
    my $q   = $c->req->url->query;
    my $store = $c->store;
    my $acct  = $c->_account;
    my $items = $c->_all($obj);

    my $filter = $q->param('$filter');
    # the real API ignores a $filter that reached it unencoded, and answers everything
    my $raw = $c->stash('sm8.raw_query') // '';
    if (defined $filter && $raw !~ /'/) {
        my $terms = _parse_filter($filter)
            // return $c->_error(400, 'The $filter parameter could not be parsed');
        for my $t (@$terms) {
            my ($field, $v) = @$t;
            $items = [grep { defined $_->[1]{$field} && "$_->[1]{$field}" eq $v } @$items];
        }
    }

    my $cursor = $q->param('cursor') // '-1';
    my $after  = 0;
    if ($cursor ne '-1') {
        $after = $store->decode_cursor("sm8:$obj", $acct, $cursor)
            // return $c->_error(400, 'Invalid cursor');
    }
    my @rest = grep { $_->[0] > $after } @$items;
    my @page = splice @rest, 0, $PAGE_SIZE;
    $c->res->headers->header('x-next-cursor' =>
        $store->encode_cursor("sm8:$obj", $acct, $page[-1][0]))
        if @rest && @page;
    return $c->render(json => [map { $_->[1] } @page]);
}

sub show ($c) {
    my ($obj, $uuid) = ($c->stash('obj'), $c->stash('uuid'));
    my ($hit) = grep { $_->[1]{uuid} eq $uuid } @{$c->_all($obj)};
    return $c->not_found unless $hit;
    return $c->render(json => $hit->[1]);
}

# ---------------------------------------------------------------- job writes

my %JOB_FIELDS = map { $_ => 1 } qw(company_uuid job_description status date active);
my %STATUS_IN = ('Quote' => 'scheduled', 'Work Order' => 'scheduled', 'Completed' => 'completed',
    'Unsuccessful' => 'cancelled');

sub _journal ($c, $status, $id, $body) {
    $c->store->journal_write(
        api => 'sm8', account => $c->_account, method => $c->req->method,
        path => $c->req->url->path->to_string, resource => 'job', id => $id,
        body => $body, status => $status,
    );
}

# Returns (\%native_fields) or (undef, message).
sub _job_fields ($c, $body) {
    my %set;
    for my $k (sort keys %$body) {
        next if $k eq 'uuid' || $k eq 'edit_date';
        return (undef, "Unknown field $k") unless $JOB_FIELDS{$k};
        my $v = $body->{$k};
        return (undef, "$k must be a string") if ref $v;
        if ($k eq 'company_uuid') {
            my $co = $c->store->find(native => companies => $v, $c->_account);
            my $site = $co ? undef : $c->store->find(native => clients => $v, $c->_account);
            return (undef, "company_uuid $v does not exist") unless $co || $site;
            $set{company_id} = $co ? $co->{id} : $site->{company_id};
            $set{client_id}  = $site ? $site->{id} : undef;
        }
        elsif ($k eq 'job_description') { $set{title} = $v // '' }
        elsif ($k eq 'status') {
            $set{status} = $STATUS_IN{$v // ''} // return (undef, 'Unknown status');
        }
        elsif ($k eq 'date')   { $set{scheduled_at} = $v }
        elsif ($k eq 'active') { $set{_sm8_inactive} = $v ? 0 : 1 }
    }
    return (\%set);
}

sub create ($c) {
    return $c->not_found unless $c->stash('obj') eq 'job';
    my ($body, @err) = read_json_body($c);
    return $c->_error($err[0], $err[2]) unless $body;
    my ($set, $msg) = $c->_job_fields($body);
    return $c->_error(400, $msg) unless $set;
    return $c->_error(400, 'company_uuid is required') unless $set->{company_id};
    my $store = $c->store;
    my $t     = iso8601(now());
    my $id    = $store->new_id('job');
    $store->table(native => 'jobs')->{$id} = {
        client_id => undef, title => '', description => undef, status => 'scheduled',
        scheduled_at => undef, %$set, id => $id, created_at => $t, updated_at => $t,
        _seq => $store->next_seq, _account => $c->_account,
    };
    $c->res->headers->header('x-record-uuid' => $id);
    $c->_journal(200, $id, $body);
    return $c->render(json => {errorCode => 0, message => 'OK'});
}

sub update ($c) {
    return $c->not_found unless $c->stash('obj') eq 'job';
    my $id  = $c->stash('uuid');
    my $rec = $c->store->find(native => jobs => $id, $c->_account) or return $c->not_found;
    my ($body, @err) = read_json_body($c);
    return $c->_error($err[0], $err[2]) unless $body;
    my ($set, $msg) = $c->_job_fields($body);
    return $c->_error(400, $msg) unless $set;
    %$rec = (%$rec, %$set, updated_at => iso8601(now()));
    $c->_journal(200, $id, $body);
    return $c->render(json => {errorCode => 0, message => 'OK'});
}

# soft delete: the record stays, with active = 0
sub remove ($c) {
    return $c->not_found unless $c->stash('obj') eq 'job';
    my $id  = $c->stash('uuid');
    my $rec = $c->store->find(native => jobs => $id, $c->_account) or return $c->not_found;
    $rec->{_sm8_inactive} = 1;
    $rec->{updated_at}    = iso8601(now());
    $c->_journal(200, $id, undef);
    return $c->render(json => {errorCode => 0, message => 'OK'});
}

sub vendor ($c) {
    my $acct = $ClientAPI::Sandbox::Seed::ACCOUNTS{$c->_account};
    return $c->render(json => [{uuid => $acct->{id}, name => $acct->{name}}]);
}

sub valid_object ($obj) { return $OBJECTS{$obj} }

1;

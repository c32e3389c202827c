package ClientAPI::Sandbox::Controller::ServiceTitan;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# The ServiceTitan API shape under /st/{module}/v2/tenant/{tenant}/..., on the native seed
# data (docs/sandbox.md). A tenant is a native company: co_acme = 1001, co_globex = 1002,
# co_initech = 1003; a token may use the tenants of its account only. Ids are integers
# derived from the native ids (company index c, client k, job n):
#   customer cl_<co>_<k>       -> 1ck        (cl_acme_2 = 112)
#   job      job_<co>_<k>_<nn> -> 2cknn      (job_acme_2_01 = 21201)
#   invoice  inv_<co>_<k>_<nn> -> 3cknn      (inv_acme_2_01 = 31201)
# Records of unknown company (the seed's orphans) belong to no tenant.
#   crm/v2/tenant/T/customers[/ID]          jpm/v2/tenant/T/jobs[/ID]  (?customerId=)
#   accounting/v2/tenant/T/invoices[/ID]    (?customerId=)
# Lists: {"page", "pageSize", "hasMore", "totalCount", "data"}; page from 1, pageSize 1-5000
# (default 50). Every call needs a sandbox access token (client credentials) and the header
# ST-App-Key: $APP_KEY.

use ClientAPI::Sandbox::Seed;

our $APP_KEY = 'ak1.sandbox-servicetitan-app-key';
my %CO_INDEX = (acme => 1, globex => 2, initech => 3);
my %TENANT = map { ("co_$_" => 1000 + $CO_INDEX{$_}) } keys %CO_INDEX;
my %NATIVE = (customers => 'clients', jobs => 'jobs', invoices => 'invoices');
my %MODULE = (customers => 'crm', jobs => 'jpm', invoices => 'accounting');

sub _error ($c, $status, $title) {
    return $c->render(status => $status,
        json => {type => 'https://httpstatuses.io/' . $status, title => $title,
            status => $status, traceId => $c->stash('sandbox.request_id')});
}

sub not_found ($c) { return $c->_error(404, 'Not Found') }

# The numeric id of a native record (undef when it has none: orphans, records created later).
sub st_id ($native_id) {
    my ($kind, $co, $k, $n) = $native_id =~ /\A(cl|job|inv)_([a-z]+)_([0-9])(?:_([0-9]{2}))?\z/
        or return undef;
    my $c = $CO_INDEX{$co} or return undef;
    return 0 + "1$c$k" if $kind eq 'cl' && !defined $n;
    return undef unless defined $n;
    return 0 + ($kind eq 'job' ? "2$c$k$n" : "3$c$k$n");
}

# "under" action: token, app key, tenant of the token's account, rate limit.
sub auth ($c) {
    my $h = $c->req->headers->authorization // '';
    my ($token) = $h =~ /\A\s*Bearer\s+(\S+)\s*\z/i;
    my $store = $c->store;
    my ($at) = defined $token ? $store->valid_access($token) : ();
    unless ($at) {
        $store->count('invalid_token');
        $c->_error(401, 'Unauthorized');
        return undef;
    }
    my $key = $c->req->headers->header('ST-App-Key') // '';
    unless ($key eq $APP_KEY) {
        $c->_error(403, 'ST-App-Key header is missing or not valid');
        return undef;
    }
    my $tenant = $c->stash('tenant');
    my ($co) = grep { $TENANT{$_} eq $tenant } keys %TENANT;
    my $rec = $co ? $store->find(native => companies => $co, $at->{account}) : undef;
    unless ($rec) {
        $c->_error(403, 'The tenant is not available to this application');
        return undef;
    }
    $c->stash(principal => {account => $at->{account}, cred => $token}, st_company => $co);
    my $r = $store->rate_check($token);
    return 1 if $r->{ok};
    $c->res->headers->header('Retry-After' => $r->{retry_after});
    $c->_error(429, 'Too Many Requests');
    return undef;
}

sub _shape ($c, $res, $rec) {
    my $store = $c->store;
    my $acct  = $c->stash('principal')->{account};
    if ($res eq 'customers') {
        return {id => st_id($rec->{id}), name => $rec->{name}, type => 'Residential',
            active => $rec->{status} eq 'active' ? \1 : \0, email => $rec->{email},
            createdOn => $rec->{created_at}, modifiedOn => $rec->{updated_at}};
    }
    my $cust = defined $rec->{client_id}
        ? $store->find(native => clients => $rec->{client_id}, $acct) : undef;
    my $cid = $cust ? st_id($cust->{id}) : undef;
    if ($res eq 'jobs') {
        return {id => st_id($rec->{id}), jobNumber => st_id($rec->{id}) . '', customerId => $cid,
            jobStatus => $rec->{status}, summary => $rec->{title},
            createdOn => $rec->{created_at}, modifiedOn => $rec->{updated_at}};
    }
    my $job = $store->find(native => jobs => $rec->{job_id}, $acct);
    return {id => st_id($rec->{id}), referenceNumber => $rec->{number},
        customer => $cust ? {id => $cid, name => $cust->{name}} : undef,
        job => $job ? {id => st_id($job->{id}), number => st_id($job->{id}) . ''} : undef,
        total => sprintf('%.2f', $rec->{total}), createdOn => $rec->{created_at},
        modifiedOn => $rec->{updated_at}};
}

# The tenant's records of a resource, in seed order, already in the ServiceTitan shape.
sub _records ($c, $res) {
    return [] unless $c->stash('module') eq $MODULE{$res};
    my $co = $c->stash('st_company');
    my @recs = grep { defined $_->{company_id} && $_->{company_id} eq $co && defined st_id($_->{id}) }
        @{$c->store->records(native => $NATIVE{$res}, $c->stash('principal')->{account})};
    return [map { $c->_shape($res, $_) } @recs];
}

sub list ($c) {
    my $res = $c->stash('res');
    my $q   = $c->req->url->query;
    my $page = $q->param('page') // 1;
    my $size = $q->param('pageSize') // 50;
    return $c->_error(400, 'page must be a positive integer') unless $page =~ /\A[1-9][0-9]{0,6}\z/;
    return $c->_error(400, 'pageSize must be from 1 to 5000')
        unless $size =~ /\A[1-9][0-9]{0,3}\z/ && $size <= 5000;
    my $all = $c->_records($res);
    return $c->not_found unless @$all || $c->stash('module') eq $MODULE{$res};
    if (defined(my $cust = $q->param('customerId'))) {
        return $c->_error(400, 'customerId must be an integer') unless $cust =~ /\A[0-9]+\z/;
        $all = [grep {
            my $v = $res eq 'invoices' ? ($_->{customer} || {})->{id} : $_->{customerId};
            defined $v && $v == $cust
        } @$all] if $res ne 'customers';
    }
    my @data = grep { defined } @$all[($page - 1) * $size .. $page * $size - 1];
    return $c->render(json => {page => 0 + $page, pageSize => 0 + $size,
        hasMore => @$all > $page * $size ? \1 : \0, totalCount => undef, data => \@data});
}

sub show ($c) {
    my $res = $c->stash('res');
    my $id  = $c->stash('id');
    return $c->not_found unless $id =~ /\A[0-9]+\z/;
    my ($rec) = grep { $_->{id} == $id } @{$c->_records($res)};
    return $c->not_found unless $rec;
    return $c->render(json => $rec);
}

1;

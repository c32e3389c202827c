package ClientAPI::Sandbox;
use Mojo::Base 'Mojolicious', -signatures;

# clientapi provider sandbox: a single-process, in-memory HTTP server that
# plays a field-service provider (OAuth 2 + PKCE, a native data API and the
# Client Commander API shape) with rate limits and fault switches. It is a
# test and demo tool and must never be configured as a production provider.

use ClientAPI::Sandbox::Store;
use ClientAPI::Sandbox::Util qw(random_token mask_secret iso8601_ms now);

our $VERSION = '0.1.0';

has store => sub { ClientAPI::Sandbox::Store->new };

sub startup ($self) {
    $self->secrets([random_token(24)]);
    $self->log->level($ENV{MOJO_LOG_LEVEL} // 'info');
    $self->exception_format('json');
    $self->renderer->default_format('json');
    $self->renderer->compress(0);    # byte-exact bodies (truncation fault, Content-Length)
    push @{$self->renderer->classes}, 'ClientAPI::Sandbox::Controller::OAuth';
    $self->routes->namespaces(['ClientAPI::Sandbox::Controller']);
    $self->store;    # fail early on bad SANDBOX_* values

    $self->helper(store      => sub ($c) { $c->app->store });
    $self->helper(public_url => \&_public_url);
    $self->helper(api_error  => \&_api_error);
    $self->helper(cc_meta    => \&_cc_meta);
    $self->helper(cc_error   => \&_cc_error);

    $self->hook(before_dispatch => \&_before_dispatch);
    $self->hook(after_dispatch  => \&_after_dispatch);

    $self->_routes;
}

# Base URL for absolute links: SANDBOX_PUBLIC_URL, else what the request used.
sub _public_url ($c, $path = '') {
    my $base = $ENV{SANDBOX_PUBLIC_URL};
    $base = $c->req->url->to_abs->path('/')->query('')->fragment(undef)->to_string
        unless defined $base && length $base;
    $base =~ s{/+\z}{};
    return $base . $path;
}

# Native API / OAuth style error: {"error": code, "error_description": text}
sub _api_error ($c, $status, $code, $desc = undef, %extra) {
    my %body = (error => $code, %extra);
    $body{error_description} = $desc if defined $desc;
    return $c->render(status => $status, json => \%body);
}

# Client Commander envelope "meta" block
sub _cc_meta ($c, %extra) {
    return {
        requestId => $c->stash('sandbox.request_id'),
        timestamp => ClientAPI::Sandbox::Util::iso8601(now()),
        version   => 'v1',
        %extra,
    };
}

sub _cc_error ($c, $status, $code, $message) {
    return $c->render(status => $status,
        json => {meta => $c->cc_meta, error => {code => $code, message => $message}});
}

sub _classify ($path) {
    return 'control' if $path =~ m{\A/_sandbox(?:/|\z)};
    return 'native'  if $path =~ m{\A/api/v1(?:/|\z)};
    return 'cc'      if $path =~ m{\A/cc/v1(?:/|\z)};
    return 'sm8'     if $path =~ m{\A/sm8/api_1\.0(?:/|\z)};
    return 'st'      if $path =~ m{\A/st/(?:crm|jpm|accounting)/v2(?:/|\z)};
    return 'oauth'   if $path =~ m{\A/oauth/};
    return 'jobber'  if $path =~ m{\A/jobber/};
    return 'other';
}

# Journal every request that is not a control call, and give every response
# a request id.
sub _before_dispatch ($c) {
    my $req  = $c->req;
    my $path = $req->url->path->to_string;
    my $kind = _classify($path);
    my $rid  = 'req_' . random_token(9);
    $c->stash('sandbox.request_id' => $rid, 'sandbox.kind' => $kind);
    $c->res->headers->header('X-Request-Id' => $rid);
    return if $kind eq 'control';

    my $store = $c->store;
    $store->count('api_requests')   if $kind =~ /\A(?:native|cc|sm8|st)\z/;
    $store->count('oauth_requests') if $kind eq 'oauth';

    my ($scheme, $cred) = ($req->headers->authorization // '') =~ /\A\s*(\S+)\s+(\S+)/;
    my $entry = $store->journal_request(
        time            => iso8601_ms(now()),
        request_id      => $rid,
        api             => $kind,
        method          => $req->method,
        path            => $path,
        query           => $req->url->query->to_string,
        user_agent      => $req->headers->user_agent,
        content_type    => $req->headers->content_type,
        idempotency_key => $req->headers->header('Idempotency-Key'),
        auth_scheme     => $scheme,
        auth            => mask_secret($cred),
        status          => undef,
        fault           => undef,
    );
    $c->stash('sandbox.journal' => $entry);
}

sub _after_dispatch ($c) {
    my $res = $c->res;
    if (my $entry = $c->stash('sandbox.journal')) { $entry->{status} = $res->code }

    # Truncation fault: cut the rendered body, keep Content-Length honest
    my $fault = $c->stash('sandbox.fault');
    if ($fault && $fault->{truncated}) {
        my $body = $res->body;
        if (length $body > 1) {
            my $cut = substr $body, 0, int(length($body) / 2);
            $res->body($cut);
            $res->headers->content_length(length $cut);
        }
    }
}

sub _routes ($self) {
    my $r = $self->routes;

    # Control API (loopback only, never journaled nor faulted)
    my $ctl = $r->under('/_sandbox')->to('control#guard');
    $ctl->get('/health')->to('control#health');
    $ctl->post('/reset')->to('control#reset');
    $ctl->get('/faults')->to('control#faults_get');
    $ctl->post('/faults')->to('control#faults_set');
    $ctl->delete('/faults')->to('control#faults_clear');
    $ctl->get('/config')->to('control#config_get');
    $ctl->post('/config')->to('control#config_set');
    $ctl->get('/requests')->to('control#requests');
    $ctl->get('/writes')->to('control#writes');
    $ctl->get('/stats')->to('control#stats');
    $ctl->post('/tokens')->to('control#tokens');
    # Jobber shape: its tokens (JWT access tokens) and its query-cost bucket
    $ctl->post('/jobber/tokens')->to('jobber#control_tokens');
    $ctl->any([qw(GET POST)] => '/jobber/config')->to('jobber#control_config');
    $ctl->any('/*rest' => {rest => ''})->to('control#not_found');

    # Everything else passes the fault gate first
    my $gate = $r->under('/')->to('gate#faults');
    $gate->get('/')->to('control#index');
    $gate->get('/.well-known/oauth-authorization-server')->to('o_auth#metadata');

    # OAuth 2
    _methods($gate, '/oauth/authorize', GET => 'o_auth#authorize', POST => 'o_auth#decide');
    _methods($gate, '/oauth/token',  POST => 'o_auth#token');
    _methods($gate, '/oauth/revoke', POST => 'o_auth#revoke');

    # Native data API
    my $api = $gate->under('/api/v1')->to('gate#native_auth');
    my $res = [res => [qw(clients jobs invoices line_items attachments)]];
    _methods($api, '/me', GET => 'native#me');
    _methods($api, '/companies', GET => 'native#list', {res => 'companies'});
    _methods($api, '/companies/:id', GET => 'native#show', {res => 'companies'});
    _methods($api, '/invoices/:id/line_items', GET => 'native#nested',
        {res => 'line_items', parent => 'invoices', parent_field => 'invoice_id'});
    _methods($api, '/jobs/:id/attachments', GET => 'native#nested',
        {res => 'attachments', parent => 'jobs', parent_field => 'job_id'});
    _methods($api, '/attachments/:id/content', GET => 'native#content',
        {res => 'attachments'});
    _methods($api, '/:res', $res, GET => 'native#list', POST => 'native#create');
    _methods($api, '/:res/:id', $res, GET => 'native#show', PATCH => 'native#update',
        PUT => 'native#update', DELETE => 'native#remove');
    $api->any('/*rest' => {rest => ''})->to('native#not_found');

    # Client Commander shape
    my $cc  = $gate->under('/cc/v1')->to('gate#cc_auth');
    my $ccr = [res => [qw(people deals)]];
    _methods($cc, '/me', GET => 'commander#me');
    _methods($cc, '/users', GET => 'commander#list', {res => 'users'});
    _methods($cc, '/teams', GET => 'commander#list', {res => 'teams'});
    _methods($cc, '/:res', $ccr, GET => 'commander#list', POST => 'commander#create');
    _methods($cc, '/:res/:id', $ccr, GET => 'commander#show', PATCH => 'commander#update',
        DELETE => 'commander#remove');
    $cc->any('/*rest' => {rest => ''})->to('commander#not_found');

    # ServiceM8 shape (Controller/ServiceM8.pm); its token URL is /oauth/access_token
    _methods($gate, '/oauth/access_token', POST => 'o_auth#token');
    my $sm8 = $gate->under('/sm8/api_1.0')->to('service_m8#auth');
    my $sm8o = [obj => [qw(company job jobmaterial attachment)]];
    _methods($sm8, '/vendor.json', GET => 'service_m8#vendor');
    _methods($sm8, '/<obj>.json', $sm8o, GET => 'service_m8#list', POST => 'service_m8#create');
    _methods($sm8, '/<obj>/<uuid>.json', $sm8o, GET => 'service_m8#show',
        POST => 'service_m8#update', DELETE => 'service_m8#remove');
    $sm8->any('/*rest' => {rest => ''})->to('service_m8#not_found');

    # ServiceTitan shape (Controller/ServiceTitan.pm); its token URL is /connect/token
    _methods($gate, '/connect/token', POST => 'o_auth#token');
    my $st = $gate->under('/st/<module>/v2/tenant/<tenant>',
        [module => [qw(crm jpm accounting)], tenant => qr/[0-9]+/])->to('service_titan#auth');
    my $stres = [res => [qw(customers jobs invoices)]];
    _methods($st, '/<res>', $stres, GET => 'service_titan#list');
    _methods($st, '/<res>/<id>', $stres, GET => 'service_titan#show');
    $st->any('/*rest' => {rest => ''})->to('service_titan#not_found');

    # Jobber shape: OAuth without PKCE, JWT access tokens, GraphQL (Controller/Jobber.pm)
    _methods($gate, '/jobber/api/oauth/authorize', GET => 'jobber#authorize',
        POST => 'jobber#decide');
    _methods($gate, '/jobber/api/oauth/token', POST => 'jobber#token');
    _methods($gate, '/jobber/api/graphql', POST => 'jobber#graphql');

    $gate->any('/*rest' => {rest => ''})->to('control#not_found');
}

# One route per method plus a fallback that answers 405 with Allow.
# Usage: _methods($parent, $pattern, [restrictions], METHOD => 'ctl#action', ...,
# {defaults}).
sub _methods ($parent, $pattern, @spec) {
    my @restrict = ref $spec[0] eq 'ARRAY' ? (shift @spec) : ();
    my $defaults = ref $spec[-1] eq 'HASH' ? pop @spec : {};
    my %by = @spec;
    for my $m (sort keys %by) {
        $parent->any([$m] => $pattern => @restrict)->to($by{$m}, %$defaults);
    }
    my $allow = join ', ', sort(keys %by), exists $by{GET} ? 'HEAD' : ();
    $parent->any($pattern => @restrict)->to('gate#not_allowed', allow => $allow);
}

1;

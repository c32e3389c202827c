package ClientAPI::Sandbox::Controller::Gate;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# Intermediate ("under") actions: fault switches, authentication, scopes and
# rate limits. They return true to continue the dispatch chain.

use ClientAPI::Sandbox::Seed;
use Mojo::IOLoop;

my $MALFORMED = qq({"data": [{"id": 'sbx_malformed', "total": NaN,}], "next_cursor": undefined\n);

sub faults ($c) {
    my $fault = $c->store->take_fault($c->req->url->path->to_string) or return 1;
    $c->stash('sandbox.fault' => $fault);
    if (my $entry = $c->stash('sandbox.journal')) {
        $entry->{fault} = join ',', grep { $fault->{$_} } qw(latency_ms status malformed truncated
            drop);
    }

    return $c->_apply_fault($fault) unless $fault->{latency_ms};

    # Non-blocking delay: other connections are served meanwhile. Keep the
    # connection's inactivity timeout longer than the delay.
    my $tx = $c->render_later->tx;
    $c->inactivity_timeout($fault->{latency_ms} / 1000 + 30);
    Mojo::IOLoop->timer($fault->{latency_ms} / 1000 => sub {
        return unless $tx && !$tx->is_finished;
        $c->continue if $c->_apply_fault($fault);
    });
    return undef;
}

# Returns true when the request should proceed to its handler.
sub _apply_fault ($c, $fault) {
    if ($fault->{drop}) {
        $c->render_later;
        my $stream = Mojo::IOLoop->stream($c->tx->connection);
        $stream->close if $stream;
        if (my $entry = $c->stash('sandbox.journal')) { $entry->{status} = undef }
        return undef;
    }
    if (my $status = $fault->{status}) {
        # ServiceM8 answers its 429 in text/plain, without Retry-After
        if ($status == 429 && ($c->stash('sandbox.kind') // '') eq 'sm8') {
            $c->res->headers->content_type('text/plain');
            $c->render(status => 429, data => "Rate limit exceeded. Please slow down.\n");
            return undef;
        }
        $c->res->headers->header('Retry-After' => $fault->{retry_after})
            if defined $fault->{retry_after};
        $c->render(status => $status,
            json => {error => 'sandbox_fault', error_description => "injected $status"});
        return undef;
    }
    if ($fault->{malformed}) {
        $c->res->headers->content_type('application/json;charset=UTF-8');
        $c->render(data => $MALFORMED, status => 200);
        return undef;
    }
    return 1;    # latency only, or truncated (applied after rendering)
}

sub _bearer ($c) {
    my $h = $c->req->headers->authorization // return undef;
    return $h =~ /\A\s*Bearer\s+(\S+)\s*\z/i ? $1 : '';
}

sub _rate ($c, $cred, $error) {
    my $r = $c->store->rate_check($cred);
    my $h = $c->res->headers;
    $h->header('X-RateLimit-Limit'     => $r->{limit});
    $h->header('X-RateLimit-Remaining' => $r->{remaining});
    $h->header('X-RateLimit-Reset'     => $r->{reset});
    return 1 if $r->{ok};
    $h->header('Retry-After' => $r->{retry_after});
    $error->($r->{retry_after});
    return undef;
}

sub native_auth ($c) {
    my $token = $c->_bearer;
    my $store = $c->store;
    if ($c->req->url->query->param('access_token')) {
        $c->render(status => 400, json => {error => 'invalid_request',
            error_description => 'access tokens are not accepted in the query string'});
        return undef;
    }
    unless (defined $token && length $token) {
        $store->count('invalid_token');
        $c->res->headers->www_authenticate('Bearer realm="clientapi-sandbox"');
        $c->render(status => 401,
            json => {error => 'invalid_token', error_description => 'bearer token required'});
        return undef;
    }
    my ($at, $why) = $store->valid_access($token);
    unless ($at) {
        $store->count('invalid_token');
        $c->res->headers->www_authenticate(
            qq{Bearer realm="clientapi-sandbox", error="invalid_token", error_description="$why"});
        $c->render(status => 401, json => {error => 'invalid_token', error_description => $why});
        return undef;
    }

    # read for GET/HEAD, write for everything else; /me needs any scope
    my $method = uc $c->req->method;
    my $need   = $method eq 'GET' || $method eq 'HEAD' ? 'read' : 'write';
    my %have   = map { $_ => 1 } split ' ', $at->{scope} // '';
    my $is_me  = $c->req->url->path->to_string =~ m{\A/api/v1/me/?\z};
    unless ($have{$need} || $is_me) {
        $c->res->headers->www_authenticate(
            qq{Bearer realm="clientapi-sandbox", error="insufficient_scope", scope="$need"});
        $c->render(status => 403, json => {error => 'insufficient_scope',
            error_description => "the token lacks the '$need' scope", scope => $need});
        return undef;
    }

    $c->stash(principal => {
        account   => $at->{account},
        user      => $at->{user},
        client_id => $at->{client_id},
        scope     => $at->{scope},
        cred      => $token,
    });
    return $c->_rate($token, sub ($retry) {
        $c->render(status => 429, json => {error => 'rate_limited',
            error_description => "rate limit exceeded, retry in $retry s",
            retry_after => 0 + $retry});
    });
}

sub cc_auth ($c) {
    my $key   = $c->_bearer;
    my $store = $c->store;
    my $uid   = defined $key ? $ClientAPI::Sandbox::Seed::CC_KEYS{$key} : undef;
    my $user  = defined $uid ? $store->table(cc => 'users')->{$uid} : undef;
    unless ($user) {
        $store->count('invalid_token');
        $c->res->headers->www_authenticate('Bearer realm="clientcommander"');
        $c->cc_error(401, defined $key && length $key ? 'invalid_api_key' : 'missing_api_key',
            'a valid API key is required (Authorization: Bearer ccmd_live_...)');
        return undef;
    }
    $c->stash(principal => {account => $user->{_account}, user => $user, cred => $key});
    return $c->_rate($key, sub ($retry) {
        $c->cc_error(429, 'rate_limited', "rate limit exceeded, retry in $retry s");
    });
}

sub not_allowed ($c) {
    $c->res->headers->allow($c->stash('allow'));
    my $kind = $c->stash('sandbox.kind') // '';
    return $c->cc_error(405, 'method_not_allowed', 'method not allowed') if $kind eq 'cc';
    return $c->render(status => 405,
        json => {error => 'method_not_allowed', error_description => 'method not allowed'});
}

1;

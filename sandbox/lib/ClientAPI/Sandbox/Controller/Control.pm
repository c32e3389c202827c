package ClientAPI::Sandbox::Controller::Control;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# Control API under /_sandbox: no authentication, loopback clients only.

use ClientAPI::Sandbox::Controller::OAuth;
use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(is_bool is_uint);
use ClientAPI::Sandbox::Write qw(read_json_body);
use Mojo::JSON qw(true false);

sub guard ($c) {
    my $ip = $c->tx->remote_address // '';
    return 1 if $ENV{SANDBOX_CONTROL_ANY};
    return 1 if $ip =~ /\A127\./ || $ip eq '::1' || $ip =~ /\A::ffff:127\./i;
    $c->api_error(403, 'forbidden', 'the control API answers loopback clients only');
    return undef;
}

sub index ($c) {
    return $c->render(json => {
        name    => 'clientapi provider sandbox',
        version => $ClientAPI::Sandbox::VERSION,
        warning => 'test server: never use it as a production provider',
        docs    => 'docs/sandbox.md',
    });
}

sub not_found ($c) { return $c->api_error(404, 'not_found', 'no such resource') }

sub health ($c) { return $c->render(json => {ok => true}) }

sub reset ($c) {
    $c->store->reset;
    return $c->render(json => {ok => true});
}

# ---------------------------------------------------------------- faults

my %FAULT_KEYS = map { $_ => 1 }
    qw(latency_ms status malformed truncated drop expire_tokens count path retry_after);

sub _public_fault ($f) {
    return undef unless $f;
    return {map { $_ => $f->{$_} } grep { $_ ne 'path_re' } keys %$f};
}

sub faults_get ($c) { return $c->render(json => {fault => _public_fault($c->store->fault)}) }

sub faults_clear ($c) {
    $c->store->set_fault(undef);
    return $c->render(json => {ok => true, fault => undef});
}

sub faults_set ($c) {
    my ($body, @err) = read_json_body($c);
    return $c->api_error(@err) unless $body;
    my %f;
    for my $k (sort keys %$body) {
        my $v = $body->{$k};
        return $c->api_error(400, 'invalid_request', "unknown fault key '$k'")
            unless $FAULT_KEYS{$k};
        if ($k =~ /\A(?:malformed|truncated|drop|expire_tokens)\z/) {
            return $c->api_error(400, 'invalid_request', "$k must be a boolean") unless is_bool($v);
            $f{$k} = $v ? true : false;
        }
        elsif ($k eq 'path') {
            return $c->api_error(400, 'invalid_request', 'path must be a regular expression')
                unless defined $v && !ref $v && length $v;
            my $re = eval { qr/$v/ }
                or return $c->api_error(400, 'invalid_request', 'path is not a valid regex');
            @f{qw(path path_re)} = ($v, $re);
        }
        else {
            return $c->api_error(400, 'invalid_request', "$k must be a non-negative integer")
                unless is_uint($v);
            $f{$k} = 0 + $v;
        }
    }
    return $c->api_error(400, 'invalid_request', 'status must be between 400 and 599')
        if exists $f{status} && ($f{status} < 400 || $f{status} > 599);
    return $c->api_error(400, 'invalid_request', 'count must be at least 1')
        if exists $f{count} && $f{count} < 1;
    return $c->api_error(400, 'invalid_request', 'latency_ms must be at most 60000')
        if ($f{latency_ms} // 0) > 60_000;

    my $store   = $c->store;
    my $expired = 0;
    $expired = $store->expire_all_access if delete $f{expire_tokens};
    for (qw(malformed truncated drop latency_ms)) { delete $f{$_} unless $f{$_} }
    my $active = grep { exists $f{$_} } qw(latency_ms status malformed truncated drop);
    $store->set_fault($active ? \%f : undef);
    return $c->render(json => {ok => true, fault => _public_fault($store->fault),
        expired_tokens => $expired});
}

# ---------------------------------------------------------------- config

my %CONFIG_MIN = (access_ttl => 0, code_ttl => 0, rate_limit => 1, rate_window => 1);

sub config_get ($c) { return $c->render(json => $c->store->config) }

sub config_set ($c) {
    my ($body, @err) = read_json_body($c);
    return $c->api_error(@err) unless $body;
    my %cfg;
    for my $k (sort keys %$body) {
        return $c->api_error(400, 'invalid_request', "unknown config key '$k'")
            unless exists $CONFIG_MIN{$k};
        my $v = $body->{$k};
        return $c->api_error(400, 'invalid_request', "$k must be an integer >= $CONFIG_MIN{$k}")
            unless is_uint($v) && $v >= $CONFIG_MIN{$k};
        $cfg{$k} = 0 + $v;
    }
    return $c->render(json => $c->store->set_config(%cfg));
}

# ---------------------------------------------------------------- journals

sub _since ($c) {
    my $since = $c->param('since') // 0;
    return is_uint($since) ? 0 + $since : undef;
}

sub requests ($c) {
    my $since = $c->_since
        // return $c->api_error(400, 'invalid_request', 'since must be a non-negative integer');
    my $store = $c->store;
    return $c->render(json => {data => $store->requests_since($since),
        last_seq => $store->last_request_seq});
}

sub writes ($c) {
    my $since = $c->_since
        // return $c->api_error(400, 'invalid_request', 'since must be a non-negative integer');
    my $store = $c->store;
    return $c->render(json => {data => $store->writes_since($since),
        last_seq => $store->last_write_seq});
}

sub stats ($c) { return $c->render(json => $c->store->stats) }

# ---------------------------------------------------------------- tokens

sub tokens ($c) {
    my ($body, @err) = read_json_body($c);
    return $c->api_error(@err) unless $body;
    my %known = map { $_ => 1 } qw(user scope expires_in client_id);
    for (sort keys %$body) {
        return $c->api_error(400, 'invalid_request', "unknown key '$_'") unless $known{$_};
    }
    my $login = $body->{user} // '';
    my $user  = !ref $login && $ClientAPI::Sandbox::Seed::USERS{$login}
        or return $c->api_error(400, 'invalid_request', 'user must be a sandbox user login');
    my $cid    = $body->{client_id} // 'sandbox-client';
    my $client = !ref $cid && $ClientAPI::Sandbox::Seed::OAUTH_CLIENTS{$cid}
        or return $c->api_error(400, 'invalid_request', 'unknown client_id');
    my ($scope, $bad) = ClientAPI::Sandbox::Controller::OAuth::normalize_scope($body->{scope});
    return $c->api_error(400, 'invalid_scope', "unknown scope '$bad'") if defined $bad;
    my $ttl = $body->{expires_in};
    return $c->api_error(400, 'invalid_request', 'expires_in must be a non-negative integer')
        if defined $ttl && !is_uint($ttl);

    my ($resp) = $c->store->issue(
        client_id => $client->{client_id},
        user      => $user->{login},
        account   => $user->{account_id},
        scope     => $scope,
        defined $ttl ? (ttl => 0 + $ttl) : (),
    );
    return $c->render(status => 201,
        json => {%$resp, client_id => $client->{client_id}, user => $user->{login}});
}

1;

package ClientAPI::Sandbox::Controller::Jobber;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# The Jobber shape (developer.getjobber.com, as summarised in ../shared/providers.md):
#
#   /jobber/api/oauth/authorize   OAuth 2 authorization code, no PKCE; a denied consent
#                                 redirects with no parameters at all; state is optional
#   /jobber/api/oauth/token       form-encoded, client_id/client_secret in the body; the
#                                 answer has no expires_in: the access token is a JWT whose
#                                 exp says when it expires; refresh tokens are single use
#   /jobber/api/graphql           GraphQL over the same seeded data as the native API (a
#                                 Jobber account is a sandbox account), X-JOBBER-GRAPHQL-VERSION
#                                 required, Relay paging (first/after, pageInfo), a query-cost
#                                 bucket answering THROTTLED in a 200 body
#
# The GraphQL executor is small but real: it parses the document (operations, variable
# definitions, fields, aliases, arguments), checks variables against their declared types,
# resolves fields against the schema below and refuses unknown fields and arguments (when it
# resolves them: the selection under a null is not checked). No
# fragments, directives or mutations (the shape is read-only).

use ClientAPI::Sandbox::Controller::OAuth ();
use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(b64url b64url_decode random_token now iso8601 is_uint);
use ClientAPI::Sandbox::Write qw(read_json_body);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64 decode_base64);
use Mojo::JSON qw(encode_json true false);
use Mojo::URL;
use Mojo::Util qw(secure_compare);
use POSIX qw(ceil floor);

our %CLIENTS = (
    'jobber-client' => {client_id => 'jobber-client', secret => 'sandbox-secret',
        name => 'Jobber app (sandbox)'},
);
our $VERSION_HEADER = 'X-JOBBER-GRAPHQL-VERSION';
# cost_max / restore_rate: the query-cost bucket; errors: how many next answers carry a
# GraphQL error (HTTP 200, data null) instead of data
our %DEFAULTS = (cost_max => 10_000, restore_rate => 500, errors => 0);
my $MAX_FIRST = 100;
my $JWT_KEY   = ClientAPI::Sandbox::Util::random_bytes(32);

# Per-store state (tokens live in the store's own tables; this is the cost bucket and config)
sub _state ($c) {
    my $s = $c->store->{shapes}{jobber} //= {config => {%DEFAULTS}, buckets => {}};
    return $s;
}

# ---------------------------------------------------------------- ids

sub enc_id ($type, $id) { return encode_base64("gid://Jobber/$type/$id", '') }

sub dec_id ($type, $text) {
    return undef unless defined $text && !ref $text && $text =~ m{\A[A-Za-z0-9+/]+={0,2}\z};
    my $raw = decode_base64($text) // return undef;
    return $raw =~ m{\Agid://Jobber/\Q$type\E/([A-Za-z0-9_]+)\z} ? $1 : undef;
}

# ---------------------------------------------------------------- OAuth

sub authorize ($c) { return $c->_authz($c->req->query_params, 0) }
sub decide    ($c) { return $c->_authz($c->req->body_params, 1) }

sub _page ($c, $status, $msg) {
    $c->res->headers->cache_control('no-store');
    return $c->render(status => $status, format => 'html',
        inline => "<!DOCTYPE html><title>Jobber sandbox</title><p><%= \$msg %></p>",
        msg => $msg);
}

sub _authz ($c, $p, $posted) {
    for my $name (qw(client_id redirect_uri)) {
        return $c->_page(400, "$name must be given exactly once")
            unless @{$p->every_param($name)} == 1;
    }
    my $client = $CLIENTS{$p->param('client_id')}
        or return $c->_page(400, 'unknown client_id');
    my $redirect = $p->param('redirect_uri');
    return $c->_page(400, 'invalid redirect_uri')
        unless ClientAPI::Sandbox::Controller::OAuth::valid_redirect_uri($redirect);
    my $url = Mojo::URL->new($redirect);
    my $state = $p->param('state');
    my $err = sub ($code) {
        $url->query->append(error => $code);
        $url->query->append(state => $state) if defined $state;
        return $c->redirect_to($url);
    };
    return $err->('unsupported_response_type') unless ($p->param('response_type') // '') eq 'code';
    # Jobber documents no PKCE: a client that sends it is talking to the wrong shape
    return $err->('invalid_request')
        if defined $p->param('code_challenge') || defined $p->param('code_challenge_method');
    unless ($posted) {
        return $c->_page(200, "Authorize $client->{name}: POST this form with user=demo|other "
            . 'and decision=approve|deny.');
    }
    my $user = $ClientAPI::Sandbox::Seed::USERS{$p->param('user') // ''}
        or return $c->_page(400, 'unknown sandbox user');
    my $decision = $p->param('decision') // '';
    $c->res->headers->cache_control('no-store');
    # Jobber: a denied consent comes back with no parameter at all
    return $c->redirect_to(Mojo::URL->new($redirect)) if $decision eq 'deny';
    return $c->_page(400, 'decision must be approve or deny') unless $decision eq 'approve';
    my $code = $c->store->add_code(client_id => $client->{client_id}, redirect_uri => $redirect,
        challenge => undef, user => $user->{login}, account => $user->{account_id},
        scope => 'read write');
    $url->query->append(code => $code);
    $url->query->append(state => $state) if defined $state;
    return $c->redirect_to($url);
}

sub _jwt ($c, %claims) {
    my $h = b64url(encode_json({alg => 'HS256', typ => 'JWT'}));
    my $b = b64url(encode_json(\%claims));
    return "$h.$b." . b64url(hmac_sha256("$h.$b", $JWT_KEY));
}

# Tokens the Jobber way: a JWT access token (exp inside, no expires_in) and a refresh token.
sub issue_tokens ($c, %a) {
    my $store = $c->store;
    my $ttl   = $a{ttl} // $store->config->{access_ttl};
    my $t     = int now();
    my $jwt   = $c->_jwt(sub => $a{user}, account_id => $a{account}, app_id => $a{client_id},
        iat => $t, exp => $t + $ttl, jti => random_token(9));
    my ($resp, $fam) = $store->issue(%a, access_token => $jwt, ttl => $ttl);
    return ({access_token => $resp->{access_token}, refresh_token => $resp->{refresh_token}},
        $fam);
}

sub _token_error ($c, $status, $code, $desc) {
    return $c->render(status => $status, json => {error => $code, error_description => $desc});
}

sub token ($c) {
    $c->res->headers->cache_control('no-store');
    my $ct = $c->req->headers->content_type // '';
    return $c->_token_error(400, invalid_request => 'the body must be form-encoded')
        unless $ct =~ m{\A\s*application/x-www-form-urlencoded\s*(?:;|\z)}i;
    my $p = $c->req->body_params;
    for my $name (@{$p->names}) {
        return $c->_token_error(400, invalid_request => "parameter $name repeated")
            if @{$p->every_param($name)} > 1;
    }
    my $client = $CLIENTS{$p->param('client_id') // ''};
    return $c->_token_error(401, invalid_client => 'client authentication failed')
        unless $client && defined $p->param('client_secret')
        && secure_compare($p->param('client_secret'), $client->{secret});
    return $c->_token_error(400, invalid_request => 'PKCE is not supported')
        if defined $p->param('code_verifier');
    my $store = $c->store;
    my $gt = $p->param('grant_type') // '';
    if ($gt eq 'authorization_code') {
        my $rec = $store->code($p->param('code'))
            or return $c->_token_error(400, invalid_grant => 'unknown authorization code');
        return $c->_token_error(400, invalid_grant => 'code already used') if $rec->{used};
        return $c->_token_error(400, invalid_grant => 'code of another client')
            unless $rec->{client_id} eq $client->{client_id};
        $rec->{used} = 1;
        return $c->_token_error(400, invalid_grant => 'code expired') if now() >= $rec->{expires_at};
        return $c->_token_error(400, invalid_grant => 'redirect_uri does not match')
            unless ($p->param('redirect_uri') // '') eq $rec->{redirect_uri};
        my ($resp, $fam) = $c->issue_tokens(client_id => $client->{client_id},
            user => $rec->{user}, account => $rec->{account}, scope => $rec->{scope});
        $rec->{family} = $fam->{id};
        return $c->render(json => $resp);
    }
    if ($gt eq 'refresh_token') {
        my $rec = $store->refresh_token($p->param('refresh_token'));
        return $c->_token_error(400, invalid_grant => 'unknown refresh token')
            unless $rec && $rec->{client_id} eq $client->{client_id};
        if ($rec->{state} ne 'active') {
            # single use: a refresh token presented twice is refused
            $store->count('refresh_reuse') if $rec->{state} eq 'rotated';
            return $c->_token_error(400, invalid_grant => 'refresh token already used or revoked');
        }
        $rec->{state} = 'rotated';
        my ($resp) = $c->issue_tokens(client_id => $client->{client_id}, user => $rec->{user},
            account => $rec->{account}, scope => $rec->{scope},
            family => $store->family($rec->{family}));
        $store->count('refresh_ok');
        return $c->render(json => $resp);
    }
    return $c->_token_error(400, unsupported_grant_type => 'unsupported grant_type');
}

# ---------------------------------------------------------------- control

sub control_tokens ($c) {
    my ($body, @err) = read_json_body($c);
    return $c->api_error(@err) unless $body;
    for (sort keys %$body) {
        return $c->api_error(400, 'invalid_request', "unknown key '$_'")
            unless /\A(?:user|expires_in)\z/;
    }
    my $user = $ClientAPI::Sandbox::Seed::USERS{$body->{user} // ''}
        or return $c->api_error(400, 'invalid_request', 'user must be a sandbox user login');
    my $ttl = $body->{expires_in};
    return $c->api_error(400, 'invalid_request', 'expires_in must be a non-negative integer')
        if defined $ttl && !is_uint($ttl);
    my ($resp) = $c->issue_tokens(client_id => 'jobber-client', user => $user->{login},
        account => $user->{account_id}, scope => 'read write',
        defined $ttl ? (ttl => 0 + $ttl) : ());
    return $c->render(status => 201, json => {%$resp, user => $user->{login}});
}

sub control_config ($c) {
    my $cfg = $c->_state->{config};
    if ($c->req->method eq 'POST') {
        my ($body, @err) = read_json_body($c);
        return $c->api_error(@err) unless $body;
        for my $k (sort keys %$body) {
            return $c->api_error(400, 'invalid_request', "unknown key '$k'")
                unless exists $DEFAULTS{$k};
            return $c->api_error(400, 'invalid_request', "$k must be a non-negative integer")
                unless is_uint($body->{$k});
            return $c->api_error(400, 'invalid_request', 'restore_rate must be at least 1')
                if $k eq 'restore_rate' && $body->{$k} < 1;
            $cfg->{$k} = 0 + $body->{$k};
        }
        $c->_state->{buckets} = {};
    }
    return $c->render(json => $cfg);
}

# ---------------------------------------------------------------- GraphQL endpoint

sub _gql_error ($c, $status, $message, $code = undef, %extra) {
    my $e = {message => $message, $code ? (extensions => {code => $code}) : ()};
    return $c->render(status => $status, json => {errors => [$e], %extra});
}

sub graphql ($c) {
    my $store = $c->store;
    my $h     = $c->req->headers;
    my ($token) = ($h->authorization // '') =~ /\A\s*Bearer\s+(\S+)\s*\z/i;
    my ($at) = defined $token ? $store->valid_access($token) : ();
    unless ($at && $at->{client_id} eq 'jobber-client') {
        $store->count('invalid_token');
        return $c->render(status => 401, json => {message => 'Unauthorized'});
    }
    $store->count('api_requests');
    my $r = $store->rate_check($token);
    unless ($r->{ok}) {
        $c->res->headers->header('Retry-After' => $r->{retry_after});
        return $c->render(status => 429, json => {message => 'Too many requests'});
    }
    my $version = $h->header($VERSION_HEADER);
    return $c->_gql_error(400, "the $VERSION_HEADER header (YYYY-MM-DD) is required",
        'MISSING_VERSION') unless defined $version && $version =~ /\A\d{4}-\d{2}-\d{2}\z/;
    my $ct = $h->content_type // '';
    return $c->_gql_error(415, 'send application/json') unless $ct =~ m{\Aapplication/json\b}i;
    my $req = eval { Mojo::JSON::decode_json($c->req->body) };
    return $c->_gql_error(400, 'the body must be a JSON object')
        unless ref $req eq 'HASH' && defined $req->{query} && !ref $req->{query};
    my $vars = $req->{variables} // {};
    return $c->_gql_error(400, 'variables must be an object') unless ref $vars eq 'HASH';

    my $doc = eval { parse_document($req->{query}) };
    return $c->_gql_error(200, _clean($@), 'GRAPHQL_PARSE_FAILED') unless $doc;
    my $op = eval { pick_operation($doc, $req->{operationName}) };
    return $c->_gql_error(200, _clean($@), 'GRAPHQL_VALIDATION_FAILED') unless $op;
    my $values = eval { coerce_variables($op, $vars) };
    return $c->_gql_error(200, _clean($@), 'BAD_USER_INPUT') unless $values;

    my $cfg = $c->_state->{config};
    if ($cfg->{errors} > 0) {
        $cfg->{errors}--;
        return $c->render(json => {data => undef, errors => [{message => 'Internal error '
            . '(sandbox switch)', extensions => {code => 'INTERNAL_SERVER_ERROR'}}]});
    }

    # the query-cost bucket (Jobber: 10,000 points, restored at 500/s)
    my $cost   = query_cost($op->{sel}, $values, 1);
    my $bucket = $c->_state->{buckets}{$at->{account}} //= {available => $cfg->{cost_max},
        at => now()};
    my $t = now();
    $bucket->{available} = $cfg->{cost_max}
        if ($bucket->{available} += ($t - $bucket->{at}) * $cfg->{restore_rate})
        > $cfg->{cost_max};
    $bucket->{at} = $t;
    my $avail = floor($bucket->{available});
    my $status = sub ($actual) {
        return {cost => {requestedQueryCost => $cost, actualQueryCost => $actual,
            throttleStatus => {maximumAvailable => $cfg->{cost_max},
                currentlyAvailable => 0 + floor($bucket->{available}),
                restoreRate => $cfg->{restore_rate}}}};
    };
    if ($cost > $avail) {
        $store->count('rate_limited');
        return $c->_gql_error(200, 'Throttled', 'THROTTLED', extensions => $status->(undef));
    }
    $bucket->{available} -= $cost;

    my $ctx = {c => $c, account => $at->{account}, vars => $values};
    my $data = eval { resolve_selection($ctx, 'Query', {}, $op->{sel}) };
    return $c->_gql_error(200, _clean($@), 'GRAPHQL_EXECUTION_FAILED',
        extensions => $status->($cost)) unless $data;
    return $c->render(json => {data => $data, extensions => $status->($cost)});
}

sub _clean ($e) { $e =~ s/ at \S+ line \d+\.?\n?\z//; chomp $e; return $e }

# ---------------------------------------------------------------- GraphQL parser

sub _tokens ($src) {
    my @t;
    pos($src) = 0;
    while (1) {
        $src =~ /\G(?:[\s,\x{FEFF}]+|#[^\n\r]*)*/gc;
        last if pos($src) >= length $src;
        if ($src =~ /\G(\.\.\.|[!\$():=@\[\]{}|])/gc) { push @t, ['p', $1] }
        elsif ($src =~ /\G([_A-Za-z][_0-9A-Za-z]*)/gc) { push @t, ['n', $1] }
        elsif ($src =~ /\G(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/gc) {
            push @t, ['num', $1];
        }
        elsif ($src =~ /\G"((?:[^"\\\n\r]|\\["\\\/bfnrt]|\\u[0-9A-Fa-f]{4})*)"/gc) {
            my $s = $1;
            $s =~ s{\\(?:u([0-9A-Fa-f]{4})|(.))}{
                defined $1 ? chr hex $1 : {b => "\b", f => "\f", n => "\n", r => "\r",
                    t => "\t"}->{$2} // $2
            }ge;
            push @t, ['str', $s];
        }
        else { die sprintf "Syntax Error: unexpected character at offset %d\n", pos $src }
    }
    return \@t;
}

sub parse_document ($src) {
    die "Syntax Error: the query is empty\n" unless length $src && length $src <= 100_000;
    my $t = _tokens($src);
    my $i = 0;
    my $peek = sub ($k = 0) { return $t->[$i + $k] // ['eof', ''] };
    my $is   = sub ($v) { my $x = $peek->(); return $x->[0] ne 'str' && $x->[1] eq $v };
    my $take = sub ($v = undef) {
        my $x = $t->[$i] // die "Syntax Error: unexpected end of the document\n";
        die "Syntax Error: expected \"$v\", found \"$x->[1]\"\n"
            if defined $v && ($x->[0] eq 'str' || $x->[1] ne $v);
        $i++;
        return $x;
    };
    my $name = sub { my $x = $take->(); die "Syntax Error: expected a name, found \"$x->[1]\"\n"
        unless $x->[0] eq 'n'; return $x->[1] };
    my ($value, $type, $selset);
    $value = sub {
        my $x = $peek->();
        if ($x->[0] eq 'p' && $x->[1] eq '$') { $take->(); return ['var', $name->()] }
        if ($x->[0] eq 'num') { $take->(); return ['lit', 0 + $x->[1]] }
        if ($x->[0] eq 'str') { $take->(); return ['lit', $x->[1]] }
        if ($x->[0] eq 'p' && $x->[1] eq '[') {
            $take->();
            my @l;
            push @l, $value->() until $is->(']');
            $take->(']');
            return ['list', \@l];
        }
        if ($x->[0] eq 'p' && $x->[1] eq '{') {
            $take->();
            my %o;
            until ($is->('}')) { my $k = $name->(); $take->(':'); $o{$k} = $value->() }
            $take->('}');
            return ['obj', \%o];
        }
        if ($x->[0] eq 'n') {
            $take->();
            return ['lit', true] if $x->[1] eq 'true';
            return ['lit', false] if $x->[1] eq 'false';
            return ['lit', undef] if $x->[1] eq 'null';
            return ['enum', $x->[1]];
        }
        die "Syntax Error: unexpected \"$x->[1]\"\n";
    };
    $type = sub {
        my $ty;
        if ($is->('[')) { $take->(); $ty = {list => $type->()}; $take->(']') }
        else { $ty = {name => $name->()} }
        if ($is->('!')) { $take->(); $ty->{nonnull} = 1 }
        return $ty;
    };
    $selset = sub {
        $take->('{');
        my @sel;
        until ($is->('}')) {
            die "Syntax Error: fragments are not supported by the sandbox\n" if $is->('...');
            die "Syntax Error: directives are not supported by the sandbox\n" if $is->('@');
            my $n = $name->();
            my $f = {name => $n, alias => $n, args => {}};
            if ($is->(':')) { $take->(); $f->{name} = $name->() }
            if ($is->('(')) {
                $take->();
                until ($is->(')')) {
                    my $a = $name->();
                    die "Validation: argument \"$a\" given twice\n" if exists $f->{args}{$a};
                    $take->(':');
                    $f->{args}{$a} = $value->();
                }
                $take->(')');
            }
            $f->{sel} = $selset->() if $is->('{');
            push @sel, $f;
        }
        $take->('}');
        die "Syntax Error: empty selection set\n" unless @sel;
        return \@sel;
    };
    my @ops;
    while ($peek->()[0] ne 'eof') {
        my $op = {type => 'query', vars => []};
        if ($is->('{')) { $op->{sel} = $selset->(); push @ops, $op; next }
        my $kw = $name->();
        die "Syntax Error: fragments are not supported by the sandbox\n" if $kw eq 'fragment';
        die "Syntax Error: unknown definition \"$kw\"\n"
            unless $kw =~ /\A(?:query|mutation|subscription)\z/;
        $op->{type} = $kw;
        $op->{name} = $name->() if $peek->()[0] eq 'n';
        if ($is->('(')) {
            $take->();
            until ($is->(')')) {
                $take->('$');
                my $v = {name => $name->()};
                $take->(':');
                $v->{type} = $type->();
                if ($is->('=')) { $take->(); $v->{default} = $value->() }
                push @{$op->{vars}}, $v;
            }
            $take->(')');
        }
        $op->{sel} = $selset->();
        push @ops, $op;
    }
    die "Syntax Error: no operation\n" unless @ops;
    return \@ops;
}

sub pick_operation ($ops, $name) {
    my @m = defined $name ? grep { ($_->{name} // '') eq $name } @$ops : @$ops;
    die "Validation: unknown operation named \"$name\"\n" if defined $name && !@m;
    die "Validation: operationName is required with several operations\n" if @m > 1;
    my $op = $m[0];
    die "Validation: only queries are available in the sandbox's Jobber shape\n"
        unless $op->{type} eq 'query';
    return $op;
}

my %SCALAR = (
    Int => sub ($v) { !ref $v && $v =~ /\A-?(?:0|[1-9][0-9]{0,8})\z/ },
    String => sub ($v) { !ref $v }, ID => sub ($v) { !ref $v }, EncodedId => sub ($v) { !ref $v },
    Boolean => sub ($v) { ref $v eq 'JSON::PP::Boolean' },
);

sub _type_text ($t) {
    return ($t->{list} ? '[' . _type_text($t->{list}) . ']' : $t->{name}) . ($t->{nonnull} ? '!' : '');
}

sub _check_value ($t, $v, $what) {
    if (!defined $v) {
        die "Variable \"\$$what\" of non-null type \"" . _type_text($t) . "\" must not be null.\n"
            if $t->{nonnull};
        return;
    }
    if ($t->{list}) {
        die "Variable \"\$$what\" expected a list.\n" unless ref $v eq 'ARRAY';
        _check_value($t->{list}, $_, $what) for @$v;
        return;
    }
    my $ok = $SCALAR{$t->{name}} or die "Unknown type \"$t->{name}\".\n";
    die "Variable \"\$$what\" got an invalid value for type \"$t->{name}\".\n" unless $ok->($v);
}

sub coerce_variables ($op, $given) {
    my %out;
    for my $v (@{$op->{vars}}) {
        my $val = exists $given->{$v->{name}} ? $given->{$v->{name}}
            : $v->{default} ? _literal($v->{default}) : undef;
        if (!exists $given->{$v->{name}} && !$v->{default} && $v->{type}{nonnull}) {
            die "Variable \"\$$v->{name}\" of required type \"" . _type_text($v->{type})
                . "\" was not provided.\n";
        }
        _check_value($v->{type}, $val, $v->{name});
        $out{$v->{name}} = $val;
    }
    return \%out;
}

sub _literal ($ast) {
    return $ast->[1] if $ast->[0] eq 'lit' || $ast->[0] eq 'enum';
    return [map { _literal($_) } @{$ast->[1]}] if $ast->[0] eq 'list';
    return {map { $_ => _literal($ast->[1]{$_}) } keys %{$ast->[1]}} if $ast->[0] eq 'obj';
    die "Validation: variables are not allowed in default values\n";
}

sub _arg ($ctx, $ast) {
    return undef unless $ast;
    if ($ast->[0] eq 'var') {
        die "Validation: variable \"\$$ast->[1]\" is not defined by the operation\n"
            unless exists $ctx->{vars}{$ast->[1]};
        return $ctx->{vars}{$ast->[1]};
    }
    return [map { _arg($ctx, $_) } @{$ast->[1]}] if $ast->[0] eq 'list';
    return {map { $_ => _arg($ctx, $ast->[1]{$_}) } keys %{$ast->[1]}} if $ast->[0] eq 'obj';
    return $ast->[1];
}

# Requested cost: 1 per object field, and a connection costs its page size times its contents.
sub query_cost ($sel, $vars, $mult) {
    my $cost = 0;
    for my $f (@$sel) {
        next unless $f->{sel};
        my $first = $f->{args}{first};
        my $n = !$first ? undef : $first->[0] eq 'var' ? $vars->{$first->[1]} : $first->[1];
        if (defined $n && !ref $n && $n =~ /\A\d+\z/) {
            $cost += $mult * $n + query_cost($f->{sel}, $vars, $mult * ($n || 1));
        }
        else {
            $cost += $mult + query_cost($f->{sel}, $vars, $mult);
        }
    }
    return $cost;
}

# ---------------------------------------------------------------- GraphQL schema

sub _rec ($ctx, $res, $id) {
    return $ctx->{c}->store->find(native => $res, $id, $ctx->{account});
}

sub _recs ($ctx, $res, $filter = sub { 1 }) {
    return [grep { $filter->($_) } @{$ctx->{c}->store->records(native => $res, $ctx->{account})}];
}

# A Relay connection over records (keyset paging on the store's _seq, signed cursors).
sub _connection ($ctx, $type, $list_name, $items, $args) {
    my $first = $args->{first} // 20;
    die "Argument \"first\" must be between 0 and $MAX_FIRST.\n"
        if $first < 0 || $first > $MAX_FIRST;
    my $store = $ctx->{c}->store;
    my $after = 0;
    if (defined $args->{after}) {
        $after = $store->decode_cursor("jobber:$list_name", $ctx->{account}, $args->{after})
            // die "Invalid cursor for \"after\".\n";
    }
    my ($page, $last) = $store->page($items, $first, $after);
    my $end = @$page ? $store->encode_cursor("jobber:$list_name", $ctx->{account},
        $page->[-1]{_seq}) : undef;
    return ["${type}Connection", {nodes => [map { [$type, $_] } @$page],
        pageInfo => ['PageInfo', {hasNextPage => defined $last ? true : false,
            hasPreviousPage => $after ? true : false, endCursor => $end,
            startCursor => @$page ? $store->encode_cursor("jobber:$list_name",
                $ctx->{account}, $page->[0]{_seq}) : undef}],
        totalCount => scalar @$items}];
}

my $PAGE = [qw(first after)];
my %SCHEMA;
%SCHEMA = (
    Query => {
        account => [[], sub ($ctx, $o, $a) {
            my $acc = $ClientAPI::Sandbox::Seed::ACCOUNTS{$ctx->{account}};
            return ['Account', $acc];
        }],
        clients => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'Client', 'clients', _recs($ctx, 'clients'), $a);
        }],
        client => [['id'], sub ($ctx, $o, $a) {
            my $r = _rec($ctx, clients => dec_id(Client => $a->{id}));
            return $r ? ['Client', $r] : undef;
        }],
        jobs => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'Job', 'jobs', _recs($ctx, 'jobs'), $a);
        }],
        job => [['id'], sub ($ctx, $o, $a) {
            my $r = _rec($ctx, jobs => dec_id(Job => $a->{id}));
            return $r ? ['Job', $r] : undef;
        }],
        invoices => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'Invoice', 'invoices', _recs($ctx, 'invoices'), $a);
        }],
        invoice => [['id'], sub ($ctx, $o, $a) {
            my $r = _rec($ctx, invoices => dec_id(Invoice => $a->{id}));
            return $r ? ['Invoice', $r] : undef;
        }],
    },
    Account => {
        id   => sub ($ctx, $o) { enc_id(Account => $o->{id}) },
        name => sub ($ctx, $o) { $o->{name} },
    },
    Client => {
        id          => sub ($ctx, $o) { enc_id(Client => $o->{id}) },
        name        => sub ($ctx, $o) { $o->{name} },
        companyName => sub ($ctx, $o) { $o->{name} =~ /\s(?:Bakery|Dental|GmbH)\z/ ? $o->{name} : undef },
        isArchived  => sub ($ctx, $o) { $o->{status} eq 'archived' ? true : false },
        emails      => sub ($ctx, $o) { [['Email', {address => $o->{email}}]] },
        phones      => sub ($ctx, $o) { [['Phone', {number => $o->{phone}}]] },
        createdAt   => sub ($ctx, $o) { $o->{created_at} },
        updatedAt   => sub ($ctx, $o) { $o->{updated_at} },
        jobs        => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'Job', "client:$o->{id}:jobs",
                _recs($ctx, jobs => sub ($r) { ($r->{client_id} // '') eq $o->{id} }), $a);
        }],
        invoices    => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'Invoice', "client:$o->{id}:invoices",
                _recs($ctx, invoices => sub ($r) { ($r->{client_id} // '') eq $o->{id} }), $a);
        }],
    },
    Email => {address => sub ($ctx, $o) { $o->{address} }},
    Phone => {number  => sub ($ctx, $o) { $o->{number} }},
    Job => {
        id        => sub ($ctx, $o) { enc_id(Job => $o->{id}) },
        jobNumber => sub ($ctx, $o) { $o->{id} =~ /_(\d+)\z/ ? 0 + $1 : 0 },
        title     => sub ($ctx, $o) { $o->{title} },
        instructions => sub ($ctx, $o) { $o->{description} },
        jobStatus => sub ($ctx, $o) { $o->{status} },
        startAt   => sub ($ctx, $o) { $o->{scheduled_at} },
        createdAt => sub ($ctx, $o) { $o->{created_at} },
        updatedAt => sub ($ctx, $o) { $o->{updated_at} },
        client    => sub ($ctx, $o) {
            my $r = _rec($ctx, clients => $o->{client_id});
            return $r ? ['Client', $r] : undef;
        },
        noteAttachments => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'NoteAttachment', "job:$o->{id}:noteAttachments",
                _recs($ctx, attachments => sub ($r) { $r->{job_id} eq $o->{id} }), $a);
        }],
    },
    Invoice => {
        id            => sub ($ctx, $o) { enc_id(Invoice => $o->{id}) },
        invoiceNumber => sub ($ctx, $o) { $o->{number} },
        invoiceStatus => sub ($ctx, $o) { $o->{status} },
        issuedDate    => sub ($ctx, $o) { $o->{issued_at} },
        amounts       => sub ($ctx, $o) { ['InvoiceAmounts', {total => $o->{total}}] },
        createdAt     => sub ($ctx, $o) { $o->{created_at} },
        updatedAt     => sub ($ctx, $o) { $o->{updated_at} },
        client        => sub ($ctx, $o) {
            my $r = _rec($ctx, clients => $o->{client_id});
            return $r ? ['Client', $r] : undef;
        },
        lineItems     => [$PAGE, sub ($ctx, $o, $a) {
            _connection($ctx, 'InvoiceLineItem', "invoice:$o->{id}:lineItems",
                _recs($ctx, line_items => sub ($r) { $r->{invoice_id} eq $o->{id} }), $a);
        }],
    },
    InvoiceAmounts => {total => sub ($ctx, $o) { 0 + $o->{total} }},
    InvoiceLineItem => {
        id          => sub ($ctx, $o) { enc_id(InvoiceLineItem => $o->{id}) },
        name        => sub ($ctx, $o) { $o->{description} },
        quantity    => sub ($ctx, $o) { 0 + $o->{quantity} },
        unitPrice   => sub ($ctx, $o) { 0 + $o->{unit_price} },
        totalPrice  => sub ($ctx, $o) { 0 + sprintf '%.2f', $o->{quantity} * $o->{unit_price} },
    },
    NoteAttachment => {
        id          => sub ($ctx, $o) { enc_id(NoteAttachment => $o->{id}) },
        fileName    => sub ($ctx, $o) { $o->{filename} },
        contentType => sub ($ctx, $o) { $o->{content_type} },
        fileSize    => sub ($ctx, $o) { 0 + $o->{size} },
        url         => sub ($ctx, $o) {
            $ctx->{c}->public_url("/api/v1/attachments/$o->{id}/content");
        },
        createdAt   => sub ($ctx, $o) { $o->{created_at} },
    },
    PageInfo => {map { my $k = $_; $k => sub ($ctx, $o) { $o->{$k} } }
        qw(hasNextPage hasPreviousPage endCursor startCursor)},
);

sub resolve_selection ($ctx, $type, $obj, $sel) {
    my %out;
    my $fields = $type =~ /Connection\z/ ? {
        nodes      => sub ($c, $o) { $o->{nodes} },
        pageInfo   => sub ($c, $o) { $o->{pageInfo} },
        totalCount => sub ($c, $o) { $o->{totalCount} },
    } : $SCHEMA{$type} // die "Unknown type \"$type\".\n";
    for my $f (@$sel) {
        die "Validation: field \"$f->{alias}\" is selected twice\n" if exists $out{$f->{alias}};
        if ($f->{name} eq '__typename') { $out{$f->{alias}} = $type; next }
        my $spec = $fields->{$f->{name}}
            // die "Field \"$f->{name}\" doesn't exist on type \"$type\".\n";
        my ($allowed, $fn) = ref $spec eq 'ARRAY' ? @$spec : ([], $spec);
        my %ok = map { $_ => 1 } @$allowed;
        my %args;
        for my $a (sort keys %{$f->{args}}) {
            die "Unknown argument \"$a\" on field \"$type.$f->{name}\".\n" unless $ok{$a};
            $args{$a} = _arg($ctx, $f->{args}{$a});
        }
        die "Field \"$type.$f->{name}\" argument \"id\" is required.\n"
            if $ok{id} && !defined $args{id};
        $out{$f->{alias}} = _complete($ctx, $f,
            ref $spec eq 'ARRAY' ? $fn->($ctx, $obj, \%args) : $fn->($ctx, $obj));
    }
    return \%out;
}

sub _complete ($ctx, $f, $v) {
    return undef unless defined $v;
    if (ref $v eq 'ARRAY' && @$v == 2 && !ref $v->[0] && ref $v->[1] eq 'HASH') {
        die "Field \"$f->{name}\" of type \"$v->[0]\" must have a selection of subfields.\n"
            unless $f->{sel};
        return resolve_selection($ctx, $v->[0], $v->[1], $f->{sel});
    }
    return [map { _complete($ctx, $f, $_) } @$v] if ref $v eq 'ARRAY';
    die "Field \"$f->{name}\" must not have a selection since it has no subfields.\n"
        if $f->{sel};
    return $v;
}

1;

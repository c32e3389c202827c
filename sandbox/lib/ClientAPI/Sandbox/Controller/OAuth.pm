package ClientAPI::Sandbox::Controller::OAuth;
use Mojo::Base 'Mojolicious::Controller', -signatures;

# OAuth 2 authorization server: authorization code with PKCE (RFC 6749,
# RFC 7636, S256 only), refresh-token rotation with reuse detection,
# client credentials and token revocation (RFC 7009).

use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(b64url now);
use Digest::SHA qw(sha256);
use Mojo::URL;
use Mojo::Util qw(b64_decode secure_compare url_unescape);

my %CLIENTS = %ClientAPI::Sandbox::Seed::OAUTH_CLIENTS;
my %SCOPES  = map { $_ => 1 } @ClientAPI::Sandbox::Seed::SCOPES;
my @AUTHZ   = qw(response_type client_id redirect_uri scope state code_challenge
    code_challenge_method);
my $DEFAULT_SCOPE = 'read write';
my $CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    . "frame-ancestors 'none'";

sub metadata ($c) {
    my $base = $c->public_url;
    return $c->render(json => {
        issuer                                => $base,
        authorization_endpoint                => "$base/oauth/authorize",
        token_endpoint                        => "$base/oauth/token",
        revocation_endpoint                   => "$base/oauth/revoke",
        response_types_supported              => ['code'],
        grant_types_supported => [qw(authorization_code refresh_token client_credentials)],
        code_challenge_methods_supported      => ['S256'],
        token_endpoint_auth_methods_supported => [qw(client_secret_basic client_secret_post)],
        scopes_supported                      => [@ClientAPI::Sandbox::Seed::SCOPES],
    });
}

# ---------------------------------------------------------------- authorize

sub authorize ($c) {
    my $req = $c->_check_authz($c->req->query_params) // return;
    return $c->_redirect_error($req) if $req->{error};

    my @hidden = map { [$_ => $req->{params}{$_}] } grep { defined $req->{params}{$_} } @AUTHZ;
    my @users  = map { $ClientAPI::Sandbox::Seed::USERS{$_} }
        sort keys %ClientAPI::Sandbox::Seed::USERS;
    $c->_html_headers;
    return $c->render(
        template     => 'oauth/consent',
        format       => 'html',
        client       => $req->{client},
        scope        => $req->{scope},
        redirect_uri => $req->{redirect_uri},
        hidden       => \@hidden,
        users        => \@users,
    );
}

sub decide ($c) {
    my $ct = $c->req->headers->content_type // '';
    return $c->_error_page(400, 'The consent form must be posted as a form.')
        unless $ct =~ m{\Aapplication/x-www-form-urlencoded\b}i;
    my $p   = $c->req->body_params;
    my $req = $c->_check_authz($p) // return;
    return $c->_redirect_error($req) if $req->{error};

    for my $name (qw(user decision)) {
        return $c->_error_page(400, "The form field '$name' must be given exactly once.")
            unless @{$p->every_param($name)} == 1;
    }
    my $login = $p->param('user');
    my $user  = $ClientAPI::Sandbox::Seed::USERS{$login}
        or return $c->_error_page(400, 'Unknown sandbox user.');
    my $decision = $p->param('decision');
    if ($decision eq 'deny') {
        $req->{error}             = 'access_denied';
        $req->{error_description} = 'the user denied the request';
        return $c->_redirect_error($req);
    }
    return $c->_error_page(400, 'The decision must be approve or deny.')
        unless $decision eq 'approve';

    my $code = $c->store->add_code(
        client_id    => $req->{client}{client_id},
        redirect_uri => $req->{redirect_uri},
        challenge    => $req->{challenge},
        user         => $user->{login},
        account      => $user->{account_id},
        scope        => $req->{scope},
    );
    my $url = Mojo::URL->new($req->{redirect_uri});
    $url->query->append(code => $code);
    $url->query->append(state => $req->{state}) if defined $req->{state};
    $c->res->headers->cache_control('no-store');
    return $c->redirect_to($url);
}

# Validates authorization request parameters. Renders an error page and
# returns undef when the client or redirect URI cannot be trusted; otherwise
# returns a hash (with error/error_description when the client must be told
# through a redirect).
sub _check_authz ($c, $p) {
    for my $name (qw(client_id redirect_uri)) {
        my $n = @{$p->every_param($name)};
        next if $n == 1;
        $c->_error_page(400, $n ? "The parameter $name was given more than once."
            : "The parameter $name is missing.");
        return undef;
    }
    my $client = $CLIENTS{$p->param('client_id')};
    unless ($client) {
        $c->_error_page(400, 'Unknown client_id.');
        return undef;
    }
    my $redirect = $p->param('redirect_uri');
    unless (valid_redirect_uri($redirect)) {
        $c->_error_page(400, 'Invalid redirect_uri: it must be an http(s) URL on 127.0.0.1, '
            . 'localhost or [::1], without fragment or user info.');
        return undef;
    }

    my %params = map { $_ => scalar $p->param($_) } @AUTHZ;
    my $req    = {client => $client, redirect_uri => $redirect, state => $params{state},
        params => \%params};
    my $fail = sub ($code, $desc) {
        @$req{qw(error error_description)} = ($code, $desc);
        return $req;
    };

    for my $name (@AUTHZ) {
        return $fail->(invalid_request => "parameter $name repeated")
            if @{$p->every_param($name)} > 1;
    }
    my $rt = $params{response_type};
    return $fail->(invalid_request => 'response_type is required') unless defined $rt;
    return $fail->(unsupported_response_type => 'only response_type=code is supported')
        unless $rt eq 'code';

    my ($scope, $bad) = normalize_scope($params{scope});
    return $fail->(invalid_scope => "unknown scope '$bad'") if defined $bad;
    $req->{scope} = $scope;

    my ($ch, $method) = @params{qw(code_challenge code_challenge_method)};
    if (defined $ch) {
        return $fail->(invalid_request => 'code_challenge_method must be S256')
            unless defined $method && $method eq 'S256';
        return $fail->(invalid_request => 'code_challenge must be 43-128 base64url characters')
            unless $ch =~ /\A[A-Za-z0-9._~-]{43,128}\z/;
        $req->{challenge} = $ch;
    }
    elsif (defined $method) {
        return $fail->(invalid_request => 'code_challenge_method without code_challenge');
    }
    elsif ($client->{pkce} eq 'required') {
        return $fail->(invalid_request => 'code_challenge required (PKCE, S256)');
    }
    return $req;
}

sub valid_redirect_uri ($uri) {
    return 0 unless defined $uri && length $uri && length $uri <= 2000;
    return 0 if $uri =~ /[\x00-\x20#]/;
    my $u = Mojo::URL->new($uri);
    return 0 unless ($u->scheme // '') =~ /\Ahttps?\z/;
    my $host = lc($u->host // '');
    return 0 unless $host eq '127.0.0.1' || $host eq 'localhost' || $host eq '[::1]';
    return 0 if defined $u->userinfo;
    return 1;
}

# Returns (normalized scope string) or (undef, first unknown scope).
sub normalize_scope ($scope) {
    return ($DEFAULT_SCOPE) unless defined $scope && $scope =~ /\S/;
    my %seen;
    my @s = grep { !$seen{$_}++ } split ' ', $scope;
    for (@s) { return (undef, $_) unless $SCOPES{$_} }
    return (join ' ', @s);
}

sub _redirect_error ($c, $req) {
    my $url = Mojo::URL->new($req->{redirect_uri});
    $url->query->append(error => $req->{error});
    $url->query->append(error_description => $req->{error_description})
        if defined $req->{error_description};
    $url->query->append(state => $req->{state}) if defined $req->{state};
    $c->res->headers->cache_control('no-store');
    return $c->redirect_to($url);
}

sub _html_headers ($c) {
    my $h = $c->res->headers;
    $h->header('Content-Security-Policy' => $CSP);
    $h->header('X-Frame-Options'        => 'DENY');
    $h->header('X-Content-Type-Options' => 'nosniff');
    $h->header('Referrer-Policy'        => 'no-referrer');
    $h->cache_control('no-store');
}

sub _error_page ($c, $status, $message) {
    $c->_html_headers;
    return $c->render(template => 'oauth/error', format => 'html', status => $status,
        message => $message);
}

# ---------------------------------------------------------------- token

sub _token_error ($c, $status, $code, $desc) {
    $c->res->headers->www_authenticate('Basic realm="clientapi-sandbox"') if $status == 401;
    return $c->render(status => $status, json => {error => $code, error_description => $desc});
}

# Checks the form encoding, repeated parameters and client authentication.
# Returns (client, params) or renders an error and returns nothing.
sub _token_request ($c) {
    my $h = $c->res->headers;
    $h->cache_control('no-store');
    $h->header(Pragma => 'no-cache');
    my $ct = $c->req->headers->content_type // '';
    unless ($ct =~ m{\A\s*application/x-www-form-urlencoded\s*(?:;|\z)}i) {
        $c->_token_error(400, invalid_request =>
            'the body must be application/x-www-form-urlencoded');
        return;
    }
    my $p = $c->req->body_params;
    for my $name (@{$p->names}) {
        next if @{$p->every_param($name)} == 1;
        $c->_token_error(400, invalid_request => "parameter $name repeated");
        return;
    }

    my ($id, $secret);
    my $auth = $c->req->headers->authorization;
    if (defined $auth && $auth =~ /\A\s*Basic\s+(\S+)\s*\z/i) {
        my ($i, $s) = split /:/, b64_decode($1) // '', 2;
        if (defined $p->param('client_secret')) {
            $c->_token_error(400, invalid_request => 'use one client authentication method');
            return;
        }
        ($id, $secret) = map { my $v = $_ // ''; $v =~ tr/+/ /; url_unescape($v) } $i, $s;
        my $body_id = $p->param('client_id');
        if (!defined $s || (defined $body_id && $body_id ne $id)) {
            $c->_token_error(401, invalid_client => 'client authentication failed');
            return;
        }
    }
    else {
        ($id, $secret) = ($p->param('client_id'), $p->param('client_secret'));
    }
    my $client = defined $id ? $CLIENTS{$id} : undef;
    unless ($client && defined $secret && secure_compare($secret, $client->{secret})) {
        $c->_token_error(401, invalid_client => 'client authentication failed');
        return;
    }
    return ($client, $p);
}

sub token ($c) {
    my ($client, $p) = $c->_token_request or return;
    my $gt = $p->param('grant_type');
    return $c->_token_error(400, invalid_request => 'grant_type is required') unless defined $gt;
    my %handler = (
        authorization_code => \&_grant_code,
        refresh_token      => \&_grant_refresh,
        client_credentials => \&_grant_client,
    );
    my $h = $handler{$gt}
        or return $c->_token_error(400, unsupported_grant_type => "unsupported grant_type '$gt'");
    return $c->_token_error(400, unauthorized_client => "$gt is not allowed for this client")
        unless grep { $_ eq $gt } @{$client->{grants}};
    return $c->$h($client, $p);
}

sub _grant_code ($c, $client, $p) {
    my $store = $c->store;
    my $code  = $p->param('code');
    return $c->_token_error(400, invalid_request => 'code is required') unless defined $code;
    my $rec = $store->code($code)
        or return $c->_token_error(400, invalid_grant => 'unknown authorization code');

    # RFC 6749 4.1.2: a second use is refused and revokes what the first got
    if ($rec->{used}) {
        $store->count('code_reuse');
        $store->revoke_family($rec->{family}) if $rec->{family};
        return $c->_token_error(400, invalid_grant =>
            'authorization code already used; tokens issued from it are revoked');
    }
    return $c->_token_error(400, invalid_grant => 'code was issued to another client')
        unless $rec->{client_id} eq $client->{client_id};
    $rec->{used} = 1;    # any exchange attempt by its client consumes the code

    return $c->_token_error(400, invalid_grant => 'authorization code expired')
        if now() >= $rec->{expires_at};
    my $redirect = $p->param('redirect_uri');
    return $c->_token_error(400, invalid_grant => 'redirect_uri does not match')
        unless defined $redirect && $redirect eq $rec->{redirect_uri};

    my $verifier = $p->param('code_verifier');
    if (defined $rec->{challenge}) {
        return $c->_token_error(400, invalid_grant => 'code_verifier is required')
            unless defined $verifier;
        return $c->_token_error(400, invalid_grant => 'code_verifier is malformed')
            unless $verifier =~ /\A[A-Za-z0-9._~-]{43,128}\z/;
        return $c->_token_error(400, invalid_grant => 'code_verifier does not match')
            unless secure_compare(b64url(sha256($verifier)), $rec->{challenge});
    }
    elsif (defined $verifier) {
        return $c->_token_error(400, invalid_grant =>
            'code_verifier given but the authorization request had no code_challenge');
    }

    my ($resp, $fam) = $store->issue(
        client_id => $client->{client_id},
        user      => $rec->{user},
        account   => $rec->{account},
        scope     => $rec->{scope},
    );
    $rec->{family} = $fam->{id};
    return $c->render(json => $resp);
}

sub _grant_refresh ($c, $client, $p) {
    my $store = $c->store;
    my $token = $p->param('refresh_token');
    return $c->_token_error(400, invalid_request => 'refresh_token is required')
        unless defined $token;
    my $rec = $store->refresh_token($token)
        or return $c->_token_error(400, invalid_grant => 'unknown refresh token');
    return $c->_token_error(400, invalid_grant => 'refresh token was issued to another client')
        unless $rec->{client_id} eq $client->{client_id};
    if ($rec->{state} eq 'rotated') {
        $store->count('refresh_reuse');
        $store->revoke_family($rec->{family});
        return $c->_token_error(400, invalid_grant =>
            'refresh token reuse detected; the token family is revoked');
    }
    return $c->_token_error(400, invalid_grant => 'refresh token revoked')
        unless $rec->{state} eq 'active';

    my $scope = $rec->{scope};
    my $want = $p->param('scope');
    if (defined $want && $want =~ /\S/) {
        my %have = map { $_ => 1 } split ' ', $scope;
        my ($norm, $bad) = normalize_scope($want);
        $bad //= (grep { !$have{$_} } split ' ', $norm // '')[0];
        return $c->_token_error(400, invalid_scope => "scope '$bad' was not granted")
            if defined $bad;
        $scope = $norm;
    }

    $rec->{state} = 'rotated';
    my ($resp) = $store->issue(
        client_id => $client->{client_id},
        user      => $rec->{user},
        account   => $rec->{account},
        scope     => $scope,
        family    => $store->family($rec->{family}),
    );
    $store->count('refresh_ok');
    return $c->render(json => $resp);
}

sub _grant_client ($c, $client, $p) {
    my ($scope, $bad) = normalize_scope($p->param('scope'));
    return $c->_token_error(400, invalid_scope => "unknown scope '$bad'") if defined $bad;
    my ($resp) = $c->store->issue(
        client_id  => $client->{client_id},
        user       => undef,
        account    => $client->{service_account},
        scope      => $scope,
        no_refresh => 1,
    );
    return $c->render(json => $resp);
}

# ---------------------------------------------------------------- revoke

sub revoke ($c) {
    my ($client, $p) = $c->_token_request or return;
    my $token = $p->param('token');
    return $c->_token_error(400, invalid_request => 'token is required') unless defined $token;

    # Unknown tokens, and tokens of other clients, are answered 200 too
    my $store = $c->store;
    if (my $at = $store->access_token($token)) {
        if ($at->{client_id} eq $client->{client_id} && !$at->{revoked}) {
            $at->{revoked} = 1;
            $store->count('revoked');
        }
    }
    elsif (my $rt = $store->refresh_token($token)) {
        if ($rt->{client_id} eq $client->{client_id} && $rt->{state} ne 'revoked') {
            $store->revoke_family($rt->{family});
            $store->count('revoked');
        }
    }
    return $c->render(json => {});
}

1;

__DATA__

@@ layouts/sandbox.html.ep
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= title %></title>
<style>
body { font-family: system-ui, sans-serif; max-width: 36em; margin: 2em auto; padding: 0 1em; }
.banner { background: #fff3cd; border: 1px solid #e0c060; padding: .5em 1em; }
code { background: #f3f3f3; padding: 0 .2em; }
button { margin-right: 1em; padding: .4em 1.2em; }
</style>
</head>
<body>
<p class="banner">clientapi provider sandbox: a test server, never a production provider.</p>
<%= content %>
</body>
</html>

@@ oauth/consent.html.ep
% layout 'sandbox';
% title 'Authorize ' . $client->{client_id};
<h1>Authorize <%= $client->{name} %></h1>
<p>The application <code><%= $client->{client_id} %></code> asks for access with the scope
<code><%= $scope %></code>. You will be sent back to <code><%= $redirect_uri %></code>.</p>
<form method="post" action="<%= url_for('/oauth/authorize') %>">
% for my $field (@$hidden) {
<input type="hidden" name="<%= $field->[0] %>" value="<%= $field->[1] %>">
% }
<p><label for="user">Sign in as</label>
<select id="user" name="user">
% for my $u (@$users) {
<option value="<%= $u->{login} %>">
<%= $u->{login} %> (<%= $u->{name} %>, <%= $u->{account_id} %>)</option>
% }
</select></p>
<p><button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>

@@ oauth/error.html.ep
% layout 'sandbox';
% title 'Authorization error';
<h1>Authorization error</h1>
<p><%= $message %></p>

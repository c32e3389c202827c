package ClientAPI::Sandbox::Test;
use Mojo::Base -strict, -signatures;

# Helpers for the sandbox's own tests (t/sandbox/*.t) and for other Perl
# tests that want an in-process sandbox.

use ClientAPI::Sandbox;
use ClientAPI::Sandbox::Util qw(b64url random_token);
use Digest::SHA qw(sha256);
use Exporter qw(import);
use Mojo::IOLoop;
use Mojo::URL;
use Test::Mojo;

our @EXPORT_OK = qw(sandbox_t pkce_pair issue_token authorize);

# A Test::Mojo for a fresh sandbox. Client and embedded server both use the
# global event loop, as a real daemon does, so the app's timers (latency
# faults) and connection handling (drop fault) behave as in production.
sub sandbox_t () {
    $ENV{MOJO_LOG_LEVEL} //= 'fatal';
    my $t = Test::Mojo->new(ClientAPI::Sandbox->new);
    $t->ua->ioloop(Mojo::IOLoop->singleton);
    $t->ua->server->ioloop(Mojo::IOLoop->singleton);
    return $t;
}

sub pkce_pair () {
    my $verifier = random_token(32);    # 43 characters
    return ($verifier, b64url(sha256($verifier)));
}

# Access + refresh token pair through the control API.
sub issue_token ($t, %args) {
    $args{user} //= 'demo';
    my $tx = $t->ua->post('/_sandbox/tokens' => json => \%args);
    die 'token issue failed: ' . $tx->res->body unless $tx->res->code == 201;
    return $tx->res->json;
}

# Posts the consent form and returns the redirect as a Mojo::URL (code or
# error in its query). Parameters default to a sandbox-client request.
sub authorize ($t, %p) {
    my %form = (
        response_type => 'code',
        client_id     => 'sandbox-client',
        redirect_uri  => 'http://127.0.0.1:9/callback',
        scope         => 'read write',
        state         => 'st-' . random_token(6),
        user          => 'demo',
        decision      => 'approve',
        %p,
    );
    delete @form{grep { !defined $form{$_} } keys %form};
    my $tx = $t->ua->post('/oauth/authorize' => form => \%form);
    die 'authorize did not redirect: ' . $tx->res->code unless $tx->res->code == 302;
    return Mojo::URL->new($tx->res->headers->location);
}

1;

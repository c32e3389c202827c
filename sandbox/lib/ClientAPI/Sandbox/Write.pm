package ClientAPI::Sandbox::Write;
use Mojo::Base -strict, -signatures;

# Request-body parsing and Idempotency-Key handling shared by the native and
# Client Commander data APIs.

use ClientAPI::Sandbox::Util qw(canonical_json);
use Digest::SHA qw(sha256_hex);
use Exporter qw(import);
use Mojo::JSON qw(decode_json encode_json);

our @EXPORT_OK = qw(read_json_body check_idempotency remember_idempotent);

# Returns ($hashref) or (undef, $status, $code, $description).
sub read_json_body ($c) {
    my $ct = $c->req->headers->content_type // '';
    return (undef, 415, 'unsupported_media_type', 'Content-Type must be application/json')
        unless $ct =~ m{\A\s*application/(?:[\w.-]+\+)?json\s*(?:;|\z)}i;
    my $raw = $c->req->body;
    return (undef, 400, 'invalid_json', 'request body is empty') unless length $raw;
    my $data = eval { decode_json($raw) };
    return (undef, 400, 'invalid_json', 'request body is not valid JSON') if $@;
    return (undef, 400, 'invalid_json', 'request body must be a JSON object')
        unless ref $data eq 'HASH';
    return ($data);
}

sub _error ($c, $status, $code, $desc) {
    return $c->cc_error($status, $code, $desc) if ($c->stash('sandbox.kind') // '') eq 'cc';
    return $c->api_error($status, $code, $desc);
}

# Without an Idempotency-Key header: undef. With one that was seen before:
# the stored answer is replayed (same body) or a different body is refused
# with 422; then {done => 1} is returned. Otherwise a ticket for
# remember_idempotent().
sub check_idempotency ($c, $scope, $body) {
    my $key = $c->req->headers->header('Idempotency-Key');
    return undef unless defined $key;
    unless ($key =~ /\A[\x20-\x7e]{1,255}\z/) {
        _error($c, 400, 'invalid_request', 'Idempotency-Key must be 1-255 printable characters');
        return {done => 1};
    }
    my $fp = sha256_hex(join "\0", $c->req->method, $c->req->url->path->to_string,
        canonical_json($body));
    my $full  = "$scope|$key";
    my $store = $c->store;
    if (my $prev = $store->idem_get($full)) {
        if ($prev->{fingerprint} eq $fp) {
            $store->count('idempotent_replays');
            my $h = $c->res->headers;
            $h->header('Idempotent-Replayed' => 'true');
            $h->location($prev->{location}) if defined $prev->{location};
            $h->content_type('application/json;charset=UTF-8');
            $c->render(status => $prev->{status}, data => $prev->{body});
        }
        else {
            _error($c, 422, 'idempotency_key_reused',
                'this Idempotency-Key was used with a different request');
        }
        return {done => 1};
    }
    return {scope => $full, fingerprint => $fp};
}

sub remember_idempotent ($c, $ticket, $status, $out) {
    $c->store->idem_put($ticket->{scope}, {
        fingerprint => $ticket->{fingerprint},
        status      => $status,
        body        => encode_json($out),
        location    => $c->res->headers->location,
    });
}

1;

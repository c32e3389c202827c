package ClientAPI::Sandbox::Util;
use Mojo::Base -strict, -signatures;

# Small helpers shared by the sandbox modules: randomness, base64url, times,
# canonical JSON and secret masking.

use Exporter qw(import);
use MIME::Base64 qw(encode_base64url decode_base64url);
use POSIX qw(strftime);
use Scalar::Util qw(blessed looks_like_number);
use Time::HiRes ();
use Time::Local qw(timegm);

our @EXPORT_OK = qw(random_bytes random_token b64url b64url_decode now iso8601 iso8601_ms
    parse_iso8601 canonical_json mask_secret is_uint is_bool);

sub random_bytes ($n) {
    my $buf = '';
    if (open my $fh, '<:raw', '/dev/urandom') {
        while (length $buf < $n) {
            my $got = sysread $fh, $buf, $n - length $buf, length $buf;
            last unless $got;
        }
        close $fh;
    }

    # Not a security boundary (this is a test server), but keep going if the
    # platform has no /dev/urandom.
    $buf .= chr int rand 256 while length $buf < $n;
    return $buf;
}

sub random_token ($nbytes = 32) { return b64url(random_bytes($nbytes)) }

sub b64url ($bytes) { return encode_base64url($bytes) }

sub b64url_decode ($text) {
    return undef unless defined $text && $text =~ /\A[A-Za-z0-9_-]+\z/;
    return decode_base64url($text);
}

sub now () { return Time::HiRes::time() }

sub iso8601 ($epoch) { return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime int $epoch) }

sub iso8601_ms ($epoch) {
    my $ms = int(($epoch - int $epoch) * 1000);
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime int $epoch) . sprintf('.%03dZ', $ms);
}

# Accepts YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fff]](Z|+HH:MM|-HH:MM).
# Returns epoch seconds (may be fractional) or undef.
sub parse_iso8601 ($text) {
    return undef unless defined $text && !ref $text;
    my ($y, $mo, $d, $h, $mi, $s, $frac, $tz) = $text =~ m{
        \A (\d{4})-(\d{2})-(\d{2})
        (?: [Tt ] (\d{2}):(\d{2}) (?: :(\d{2}) (\.\d{1,9})? )? (Z|z|[+-]\d{2}:?\d{2}) )?
        \z
    }x or return undef;
    $h //= 0;
    $mi //= 0;
    $s //= 0;
    return undef if $mo < 1 || $mo > 12 || $d < 1 || $d > 31 || $h > 23 || $mi > 59 || $s > 59;
    my $epoch = eval { timegm($s, $mi, $h, $d, $mo - 1, $y) };
    return undef unless defined $epoch;

    # timegm normalises 2026-02-31 silently; refuse dates that do not round trip
    my @t = gmtime $epoch;
    return undef unless $t[3] == $d && $t[4] == $mo - 1;
    if (defined $tz && $tz =~ /\A([+-])(\d{2}):?(\d{2})\z/) {
        my $off = ($2 * 3600 + $3 * 60) * ($1 eq '+' ? 1 : -1);
        $epoch -= $off;
    }
    $epoch += $frac if defined $frac;
    return $epoch;
}

# Deterministic JSON text (sorted keys) used for fingerprints.
sub canonical_json ($v) {
    if (!defined $v) { return 'null' }
    if (ref $v eq 'HASH') {
        return '{' . join(',', map { _str($_) . ':' . canonical_json($v->{$_}) } sort keys %$v)
            . '}';
    }
    if (ref $v eq 'ARRAY') { return '[' . join(',', map { canonical_json($_) } @$v) . ']' }
    if (blessed $v && $v->isa('JSON::PP::Boolean')) { return $v ? 'true' : 'false' }
    return looks_like_number($v) ? "n:$v" : _str($v);
}

sub _str ($s) {
    (my $e = $s) =~ s/(["\\])/\\$1/g;
    return qq{"$e"};
}

# "…" followed by the last four characters; nothing at all for short secrets.
sub mask_secret ($secret) {
    return undef unless defined $secret;
    return "\x{2026}" if length $secret <= 8;
    return "\x{2026}" . substr $secret, -4;
}

sub is_uint ($v) { return defined $v && !ref $v && $v =~ /\A[0-9]{1,12}\z/ }

sub is_bool ($v) {
    return 1 if blessed $v && $v->isa('JSON::PP::Boolean');
    return defined $v && !ref $v && ($v eq '0' || $v eq '1');
}

1;

package ClientAPI::Sandbox::Store;
use Mojo::Base -base, -signatures;

# All mutable sandbox state lives here, in memory: data records, OAuth codes
# and tokens, journals, counters, fault switches, rate-limit windows and the
# idempotency cache. One instance per application object.

use ClientAPI::Sandbox::Seed;
use ClientAPI::Sandbox::Util qw(random_token b64url b64url_decode now iso8601_ms);
use Digest::SHA qw(hmac_sha256);
use Mojo::Util qw(secure_compare);
use POSIX qw(ceil);

use constant JOURNAL_MAX => 10_000;

our @STATS = qw(api_requests oauth_requests token_issued refresh_ok refresh_reuse code_reuse
    families_revoked revoked invalid_token rate_limited writes idempotent_replays
    faults_applied);

has cursor_secret => sub { ClientAPI::Sandbox::Util::random_bytes(32) };
has defaults      => sub {
    return {
        access_ttl  => _env_uint('SANDBOX_ACCESS_TTL',  3600),
        rate_limit  => _env_uint('SANDBOX_RATE_LIMIT',  1000),
        rate_window => _env_uint('SANDBOX_RATE_WINDOW', 60),
        code_ttl    => 60,
    };
};

sub _env_uint ($name, $default) {
    my $v = $ENV{$name};
    return $default unless defined $v && length $v;
    die "$name must be a non-negative integer\n" unless $v =~ /\A[0-9]{1,9}\z/;
    return 0 + $v;
}

sub new {
    my $self = shift->SUPER::new(@_);
    $self->{request_seq} = 0;
    $self->{write_seq}   = 0;
    $self->defaults;
    $self->reset;
    return $self;
}

# Restore the seed and forget everything else. Journal sequence numbers keep
# growing across resets so that a reader's "since" never goes backwards.
sub reset ($self) {
    my $seed = ClientAPI::Sandbox::Seed::build();
    $self->{data}     = {native => $seed->{native}, cc => $seed->{cc}};
    $self->{seq}      = $seed->{seq};
    $self->{new_id}   = 0;
    $self->{config}   = {%{$self->defaults}};
    $self->{codes}    = {};
    $self->{access}   = {};
    $self->{refresh}  = {};
    $self->{families} = {};
    $self->{requests} = [];
    $self->{writes}   = [];
    $self->{stats}    = {map { $_ => 0 } @STATS};
    $self->{fault}    = undef;
    $self->{idem}     = {};
    $self->{rate}     = {};
    $self->{shapes}   = {};    # per-shape state (Controller/Jobber.pm: its cost bucket)
    return $self;
}

sub config ($self) { return $self->{config} }
sub stats  ($self) { return $self->{stats} }
sub count  ($self, $name, $n = 1) { $self->{stats}{$name} += $n }

sub set_config ($self, %cfg) {
    my $window_changed = exists $cfg{rate_window} || exists $cfg{rate_limit};
    @{$self->{config}}{keys %cfg} = values %cfg;
    $self->{rate} = {} if $window_changed;
    return $self->{config};
}

# ---------------------------------------------------------------- records

sub table ($self, $api, $res) { return $self->{data}{$api}{$res} }

sub next_seq ($self) { return ++$self->{seq} }

sub new_id ($self, $prefix) { return sprintf '%s_new_%04d', $prefix, ++$self->{new_id} }

# Records of one account, in insertion order.
sub records ($self, $api, $res, $account) {
    my $t = $self->{data}{$api}{$res} or return [];
    return [sort { $a->{_seq} <=> $b->{_seq} } grep { $_->{_account} eq $account } values %$t];
}

sub find ($self, $api, $res, $id, $account) {
    return undef unless defined $id;
    my $rec = $self->{data}{$api}{$res}{$id} or return undef;
    return $rec->{_account} eq $account ? $rec : undef;
}

# Keyset paging over _seq. Returns (page, last_seq_or_undef_when_no_more).
sub page ($self, $items, $limit, $after) {
    my @rest = grep { $_->{_seq} > $after } @$items;
    my @page = splice @rest, 0, $limit;
    return (\@page, @rest && @page ? $page[-1]{_seq} : undef);
}

# Cursors are opaque, signed, and bound to the list they came from and to the
# account that asked.
sub encode_cursor ($self, $list, $account, $seq) {
    my $payload = join '|', 'c1', $list, $account, $seq;
    my $sig     = substr b64url(hmac_sha256($payload, $self->cursor_secret)), 0, 22;
    return b64url("$payload|$sig");
}

sub decode_cursor ($self, $list, $account, $cursor) {
    my $raw = b64url_decode($cursor) // return undef;
    my ($v, $l, $a, $seq, $sig) = split /\|/, $raw, -1;
    return undef unless defined $sig && $v eq 'c1' && $seq =~ /\A[0-9]+\z/;
    my $want = substr b64url(hmac_sha256(join('|', $v, $l, $a, $seq), $self->cursor_secret)),
        0, 22;
    return undef unless secure_compare($sig, $want);
    return undef unless $l eq $list && $a eq $account;
    return 0 + $seq;
}

# ---------------------------------------------------------------- OAuth state

sub add_code ($self, %code) {
    my $code = random_token(32);
    $self->{codes}{$code} = {
        %code,
        code       => $code,
        expires_at => now() + $self->{config}{code_ttl},
        used       => 0,
        family     => undef,
    };
    return $code;
}

sub code ($self, $code) { return defined $code ? $self->{codes}{$code} : undef }

# Issue an access token (and, unless no_refresh, a refresh token) in a token
# family. A new family is created unless one is given.
sub issue ($self, %a) {
    my $fam = $a{family} // $self->new_family;
    my $ttl = $a{ttl} // $self->{config}{access_ttl};
    my $t   = now();
    my $at  = $a{access_token} // 'sbx_at_' . random_token(32);    # Jobber: a JWT
    $self->{access}{$at} = {
        token      => $at,
        client_id  => $a{client_id},
        user       => $a{user},
        account    => $a{account},
        scope      => $a{scope},
        family     => $fam->{id},
        issued_at  => $t,
        expires_at => $t + $ttl,
        revoked    => 0,
    };
    push @{$fam->{access}}, $at;
    my %resp = (access_token => $at, token_type => 'Bearer', expires_in => 0 + $ttl,
        scope => $a{scope});
    unless ($a{no_refresh}) {
        my $rt = 'sbx_rt_' . random_token(32);
        $self->{refresh}{$rt} = {
            token     => $rt,
            client_id => $a{client_id},
            user      => $a{user},
            account   => $a{account},
            scope     => $a{scope},
            family    => $fam->{id},
            state     => 'active',
        };
        push @{$fam->{refresh}}, $rt;
        $resp{refresh_token} = $rt;
    }
    $self->count('token_issued');
    return (\%resp, $fam);
}

sub new_family ($self) {
    my $id = 'fam_' . random_token(9);
    return $self->{families}{$id} = {id => $id, access => [], refresh => [], revoked => 0};
}

sub family ($self, $id) { return defined $id ? $self->{families}{$id} : undef }

sub revoke_family ($self, $id) {
    my $fam = $self->family($id) or return 0;
    return 0 if $fam->{revoked};
    $fam->{revoked} = 1;
    $self->{access}{$_}{revoked} = 1 for @{$fam->{access}};
    $self->{refresh}{$_}{state} = 'revoked' for @{$fam->{refresh}};
    $self->count('families_revoked');
    return 1;
}

sub access_token ($self, $token) { return defined $token ? $self->{access}{$token} : undef }

sub refresh_token ($self, $token) { return defined $token ? $self->{refresh}{$token} : undef }

# The access token record if it is usable now, else undef and a reason.
sub valid_access ($self, $token) {
    my $at = $self->access_token($token) or return (undef, 'unknown access token');
    return (undef, 'access token revoked') if $at->{revoked};
    return (undef, 'access token expired') if now() >= $at->{expires_at};
    return ($at);
}

sub expire_all_access ($self) {
    my $t = now() - 1;
    my $n = 0;
    for my $at (values %{$self->{access}}) {
        next if $at->{expires_at} <= $t;
        $at->{expires_at} = $t;
        $n++;
    }
    return $n;
}

# ---------------------------------------------------------------- journals

sub journal_request ($self, %e) {
    my $entry = {seq => ++$self->{request_seq}, %e};
    push @{$self->{requests}}, $entry;
    shift @{$self->{requests}} while @{$self->{requests}} > JOURNAL_MAX;
    return $entry;
}

sub journal_write ($self, %e) {
    my $entry = {seq => ++$self->{write_seq}, time => iso8601_ms(now()), %e};
    push @{$self->{writes}}, $entry;
    shift @{$self->{writes}} while @{$self->{writes}} > JOURNAL_MAX;
    $self->count('writes');
    return $entry;
}

sub requests_since ($self, $since) { return [grep { $_->{seq} > $since } @{$self->{requests}}] }
sub writes_since   ($self, $since) { return [grep { $_->{seq} > $since } @{$self->{writes}}] }
sub last_request_seq ($self) { return $self->{request_seq} }
sub last_write_seq   ($self) { return $self->{write_seq} }

# ---------------------------------------------------------------- faults

sub fault ($self) { return $self->{fault} }

sub set_fault ($self, $fault) { $self->{fault} = $fault }

# Returns a copy of the active fault if it applies to this path, consuming
# one use of a counted fault. Without a "path" regex only data API requests
# (/api/v1, /cc/v1, /sm8/api_1.0, /st/*/v2, /jobber/api/graphql) match; with one, every
# non-control path is tested.
sub take_fault ($self, $path) {
    my $f = $self->{fault} or return undef;
    my $hit = defined $f->{path} ? $path =~ $f->{path_re}
        : $path =~ m{\A/(?:(?:api|cc)/v1|sm8/api_1\.0|st/[a-z]+/v2|jobber/api/graphql)
                     (?:/|\z)}x;
    return undef unless $hit;
    if (defined $f->{count}) {
        $self->{fault} = undef if --$f->{count} <= 0;
    }
    $self->count('faults_applied');
    return {%$f};
}

# ---------------------------------------------------------------- rate limits

# Fixed window per credential. Returns a hash: ok, limit, remaining, reset,
# retry_after (only when not ok).
sub rate_check ($self, $cred) {
    my ($limit, $window) = @{$self->{config}}{qw(rate_limit rate_window)};
    my $t = now();
    my $w = $self->{rate}{$cred};
    $w = $self->{rate}{$cred} = {start => $t, count => 0}
        if !$w || $t >= $w->{start} + $window;
    my $reset = ceil($w->{start} + $window - $t);
    $reset = 1 if $reset < 1;
    if ($w->{count} >= $limit) {
        $self->count('rate_limited');
        return {ok => 0, limit => $limit, remaining => 0, reset => $reset, retry_after => $reset};
    }
    $w->{count}++;
    return {ok => 1, limit => $limit, remaining => $limit - $w->{count}, reset => $reset};
}

# ---------------------------------------------------------------- idempotency

sub idem_get ($self, $scope) { return $self->{idem}{$scope} }
sub idem_put ($self, $scope, $entry) { $self->{idem}{$scope} = $entry }

1;

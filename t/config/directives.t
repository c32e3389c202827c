# mod_clientapi_config.c: every directive validates its value, and `httpd -t` stops with a
# message naming the directive; the shipped example configuration passes.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use CATest;

my $tmp = tempdir(CLEANUP => 1);
my $keys = "$tmp/secret.keys";
system("$CATest::ROOT/clientapi keygen --kid k1 > $keys") == 0 or die "clientapi keygen failed";
chmod 0600, $keys;
my $providers = "$CATest::ROOT/conf/providers";

my ($rc, $out) = CATest::configtest(<<"CONF");
ClientAPIProviderFile "$providers"
ClientAPISecretKeyFile "$keys"
ClientAPIPublicURL https://api.example.com
ClientAPIUpstreamTimeout 2s 500ms
ClientAPIMaxLimit 1000
ClientAPIRateLimit 100 per 60
ClientAPILogSpool "$tmp/spool" max=64M
ClientAPISignup on
<Location /api>
    SetHandler clientapi-api
</Location>
CONF
is($rc, 0, 'a valid configuration passes httpd -t') or diag($out);
like($out, qr/Syntax OK/, 'Syntax OK');

my @bad = (
    [ 'ClientAPIMaxLimit 1001',          qr/ClientAPIMaxLimit: '1001' is not allowed \(expected an integer from 1 to 1000\)/ ],
    [ 'ClientAPIMaxLimit -5',            qr/ClientAPIMaxLimit: '-5' is not allowed/ ],
    [ 'ClientAPIMaxLimit ten',           qr/ClientAPIMaxLimit: 'ten'/ ],
    [ 'ClientAPIUpstreamTimeout forever', qr/ClientAPIUpstreamTimeout: 'forever' is not allowed/ ],
    [ 'ClientAPIUpstreamTimeout 1 5',    qr/ClientAPIUpstreamTimeout: the connect timeout/ ],
    [ 'ClientAPIMaxResponseSize 12Q',    qr/ClientAPIMaxResponseSize: '12Q'/ ],
    [ 'ClientAPIMaxBodySize 10',         qr/ClientAPIMaxBodySize: '10' is not allowed/ ],
    [ 'ClientAPIRateLimit 5 each 60',    qr/ClientAPIRateLimit: expected 'off', N or 'N per SECONDS'/ ],
    [ 'ClientAPIAuthFailLimit 10 every 60', qr/ClientAPIAuthFailLimit: expected 'off', N or 'N per SECONDS'/ ],
    [ 'ClientAPIAuthFailLimit 0',        qr/ClientAPIAuthFailLimit: '0' is not allowed/ ],
    [ 'ClientAPISignup maybe',           qr/ClientAPISignup: 'maybe' is not allowed \(on or off\)/ ],
    [ 'ClientAPILogRetention 0',         qr/ClientAPILogRetention: '0'/ ],
    [ 'ClientAPILogSpool /tmp/x max=1K', qr/ClientAPILogSpool: '1K' is not allowed/ ],
    [ 'ClientAPILogSpool /tmp/x size=1M', qr/ClientAPILogSpool: 'size=1M' is not allowed \(expected max=SIZE/ ],
    [ 'ClientAPILogSpool',               qr/ClientAPILogSpool takes a directory/ ],
    [ 'ClientAPIPublicURL ftp://x.example', qr/ClientAPIPublicURL: 'ftp:\/\/x.example'/ ],
    [ 'ClientAPIPublicURL not-a-url',    qr/ClientAPIPublicURL: 'not-a-url'/ ],
    [ 'ClientAPIProviderURL sandbox http://127.0.0.1:9/api', qr/ClientAPIProviderURL: .*https:\/\/ URL \(plain http only for a base URL marked local-sandbox\)/ ],
    [ 'ClientAPIProviderURL Sandbox https://x.example', qr/ClientAPIProviderURL: 'Sandbox'/ ],
    [ 'ClientAPIProviderURL sandbox https://x.example bogus', qr/ClientAPIProviderURL: 'bogus'/ ],
    [ 'ClientAPIProviderClient sandbox id s3cr3t-inline', qr/ClientAPIProviderClient: the client secret must be given as file:\/path or env:VARIABLE/ ],
    [ 'ClientAPIProviderFile /nonexistent/providers', qr/ClientAPIProviderFile: '\/nonexistent\/providers' is not a readable file or directory/ ],
    [ 'ClientAPISecretKeyFile /nonexistent/keys', qr/ClientAPISecretKeyFile: .*\/nonexistent\/keys/ ],
    [ 'ClientAPIDeployment "bad name"',  qr/ClientAPIDeployment: 'bad name'/ ],
    [ 'ClientAPIUpstreamCAFile /nonexistent.pem', qr/ClientAPIUpstreamCAFile: '\/nonexistent.pem'/ ],
    [ 'ClientAPIEndpoint ep_x connection=1 scope=company:co mode=read-only', qr/ClientAPIEndpoint: expected ep_ID/ ],
    [ 'ClientAPIEndpoint nope connection=1 scope=company:co mode=read-only key=sha256:' . ('a' x 64), qr/ClientAPIEndpoint: 'nope'/ ],
    [ 'ClientAPIEndpoint ep_x connection=1 scope=company:co mode=write key=sha256:' . ('a' x 64), qr/ClientAPIEndpoint: 'mode=write'/ ],
    [ 'ClientAPIEndpoint ep_x connection=1 scope=company:co mode=read-only key=cak_secretsecret', qr/ClientAPIEndpoint: key= must be a key hash/ ],
    [ 'ClientAPIEndpoint ep_x connection=1 scope=client:co mode=read-only key=sha256:' . ('a' x 64), qr/ClientAPIEndpoint: 'scope=client:co'/ ],
    [ "ClientAPIEndpoint ep_x connection=1 scope=company:co mode=read-only key=sha256:" . ('a' x 64) . "\n"
      . "ClientAPIEndpoint ep_x connection=2 scope=company:co mode=read-only key=sha256:" . ('b' x 64),
      qr/ClientAPIEndpoint: endpoint ep_x is declared twice/ ],
    [ 'ClientAPIKeyCache bogus',         qr/ClientAPIKeyCache: 'bogus' is not allowed \(expected off, shmcb/ ],
    [ 'ClientAPIKeyCache',               qr/ClientAPIKeyCache: expected off, shmcb/ ],
    [ 'ClientAPIKeyCache shmcb ttl=0',   qr/ClientAPIKeyCache: '0' is not allowed \(expected an integer from 1 to 86400\)/ ],
    [ 'ClientAPIKeyCache shmcb ttl=1m',  qr/ClientAPIKeyCache: '1m' is not allowed/ ],
    [ 'ClientAPIKeyCache shmcb stale=-1', qr/ClientAPIKeyCache: '-1' is not allowed/ ],
    [ 'ClientAPIKeyCache shmcb colour=red', qr/ClientAPIKeyCache: 'colour=red' is not allowed/ ],
    [ 'ClientAPIKeyCache shmcb:/tmp/kc(10)', qr/ClientAPIKeyCache: 'shmcb:\/tmp\/kc\(10\)': .*size/ ],
    [ 'ClientAPIKeyCache memcache',      qr/ClientAPIKeyCache: memcache needs HOST:PORT/ ],
    [ 'ClientAPIKeyCache redis:',        qr/ClientAPIKeyCache: redis needs HOST:PORT/ ],
    [ 'ClientAPIKeyCache memcache:127.0.0.1:11211', qr/ClientAPIKeyCache: the memcache cache needs mod_socache_memcache/ ],
);
for my $case (@bad) {
    my ($line, $re) = @$case;
    my ($rc, $out) = CATest::configtest($line);
    isnt($rc, 0, "refused: $line");
    like($out, $re, "message names the directive: $line");
}

# the key cache: shmcb (default), memcache and redis (their socache modules loaded first), off
{
    my $mods = $ENV{CA_MODULES_DIR} || do { chomp(my $d = `apxs -q LIBEXECDIR`); $d };
    for my $line ('ClientAPIKeyCache off', 'ClientAPIKeyCache shmcb ttl=30 stale=0',
                  'ClientAPIKeyCache shmcb:' . "$tmp/kc(1048576)",
                  "LoadModule socache_memcache_module $mods/mod_socache_memcache.so\n"
                  . 'ClientAPIKeyCache memcache:127.0.0.1:11211 ttl=10',
                  "LoadModule socache_redis_module $mods/mod_socache_redis.so\n"
                  . 'ClientAPIKeyCache redis:127.0.0.1:6379 ttl=10 stale=600') {
        my ($rc, $out) = CATest::configtest($line);
        is($rc, 0, "accepted: $line") or diag($out);
    }
}

# a broken provider file stops httpd -t naming the file, the field and the reason
{
    open my $in, '<', "$providers/sandbox.json" or die $!;
    my $json = do { local $/; <$in> };
    close $in;
    my @broken = (
        [ 'unknown kind', sub { $_[0] =~ s/"kind": "field", "path": "company_id"/"kind": "fieldd", "path": "company_id"/ },
          qr{sandbox\.json: resources\.clients\.scope\.company: unknown kind 'fieldd'} ],
        [ 'unknown key', sub { $_[0] =~ s/"display_name":/"display_nam":/ },
          qr{sandbox\.json: display_nam\b.*unknown} ],
        [ 'not JSON', sub { $_[0] =~ s/\}\s*\z// },
          qr{sandbox\.json: .*(JSON|json)} ],
    );
    for my $b (@broken) {
        my ($name, $edit, $re) = @$b;
        my $copy = $json;
        $edit->($copy) or die "fixture edit failed: $name";
        mkdir "$tmp/prov-$name";
        CATest::write_file("$tmp/prov-$name/sandbox.json", $copy);
        my ($rc, $out) = CATest::configtest(qq{ClientAPIProviderFile "$tmp/prov-$name"});
        isnt($rc, 0, "broken provider file ($name) refused");
        like($out, qr/ClientAPIProviderFile: /, "$name: names the directive");
        like($out, $re, "$name: names file, field and reason") or diag($out);
    }
    my ($rc, $out) = CATest::configtest(qq{ClientAPIProviderFile "$providers"\n}
        . qq{ClientAPIProviderURL nosuch https://api.example.com});
    isnt($rc, 0, 'an override for an unknown provider is refused');
    like($out, qr/no ClientAPIProviderFile defines a provider named 'nosuch'/, 'saying so');
    ($rc, $out) = CATest::configtest(qq{ClientAPIProviderFile "$providers"\n}
        . qq{ClientAPIProviderClient sandbox id env:CA_SURELY_UNSET_VARIABLE});
    isnt($rc, 0, 'a client secret from an unset variable is refused');
    like($out, qr/CA_SURELY_UNSET_VARIABLE is not set/, 'naming the variable');
}

# what an admin pastes must never be echoed back when it may be a secret
(undef, $out) = CATest::configtest('ClientAPIProviderClient sandbox id s3cr3t-inline');
unlike($out, qr/s3cr3t-inline/, 'an inline secret is not echoed in the error');
(undef, $out) = CATest::configtest('ClientAPIEndpoint ep_x connection=1 scope=company:co mode=read-only key=cak_secretsecret');
unlike($out, qr/cak_secretsecret/, 'a key pasted instead of its hash is not echoed');

# the shipped example, with only its install paths pointed at this tree
open my $fh, '<', "$CATest::ROOT/conf/clientapi.conf" or die $!;
my $example = do { local $/; <$fh> };
close $fh;
$example =~ s{/usr/share/mod_clientapi/providers}{$providers}g;
$example =~ s{/etc/clientapi/secret.keys}{$keys}g;
$example =~ s{/var/lib/clientapi/clientapi.db}{$tmp/clientapi.db}g;
($rc, $out) = CATest::configtest($example);
is($rc, 0, 'conf/clientapi.conf passes httpd -t') or diag($out);

done_testing();

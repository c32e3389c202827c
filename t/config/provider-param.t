# mod_clientapi_config.c: ClientAPIProviderParam sets a value a provider file declares in
# api.config_params (ServiceTitan's app_key); `httpd -t` refuses undeclared names, unreadable
# sources and duplicates, names the directive, and never prints the value.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use CATest;

my $tmp = tempdir(CLEANUP => 1);
my $providers = "$CATest::ROOT/conf/providers";
open my $fh, '>', "$tmp/app.key" or die $!;
print $fh "ak1.from-a-file\n";
close $fh;

sub conf { return qq{ClientAPIProviderFile "$providers"\n} . join("\n", @_) . "\n" }

my ($rc, $out) = CATest::configtest(conf("ClientAPIProviderParam servicetitan app_key file:$tmp/app.key"));
is($rc, 0, 'a declared parameter from a file passes') or diag($out);
($rc, $out) = CATest::configtest(conf('ClientAPIProviderParam servicetitan app_key ak1.inline-value'));
is($rc, 0, 'an inline value passes') or diag($out);

my @bad = (
    [ 'ClientAPIProviderParam servicetitan tenant_key s3cr3t-value',
      qr/ClientAPIProviderParam servicetitan tenant_key: the provider file declares no such parameter/ ],
    [ 'ClientAPIProviderParam servicem8 app_key s3cr3t-value',
      qr/ClientAPIProviderParam servicem8 app_key: the provider file declares no such parameter/ ],
    [ 'ClientAPIProviderParam nosuch app_key s3cr3t-value',
      qr/no ClientAPIProviderFile defines a provider named 'nosuch'/ ],
    [ 'ClientAPIProviderParam servicetitan app_key env:CA_TEST_SURELY_UNSET_VAR',
      qr/ClientAPIProviderParam servicetitan app_key: environment variable CA_TEST_SURELY_UNSET_VAR is not set/ ],
    [ "ClientAPIProviderParam servicetitan app_key file:$tmp/missing",
      qr/ClientAPIProviderParam servicetitan app_key: cannot read/ ],
    [ 'ClientAPIProviderParam servicetitan App-Key s3cr3t-value',
      qr/ClientAPIProviderParam: 'App-Key' is not allowed/ ],
    [ "ClientAPIProviderParam servicetitan app_key s3cr3t-value\n"
      . 'ClientAPIProviderParam servicetitan app_key s3cr3t-value',
      qr/ClientAPIProviderParam: servicetitan app_key is set twice/ ],
    [ 'ClientAPIProviderParam servicetitan app_key', qr/ClientAPIProviderParam takes three arguments/ ],
);
for my $case (@bad) {
    my ($line, $re) = @$case;
    ($rc, $out) = CATest::configtest(conf($line));
    isnt($rc, 0, "refused: $line");
    like($out, $re, 'with a message naming the directive');
    unlike($out, qr/s3cr3t-value/, 'the value is not printed');
}

done_testing();

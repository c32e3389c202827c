# Runs last: the suite fails on any [error] (or worse) line in t/logs/error_log that no test
# announced with CATest::expect_error(qr/.../).
use strict;
use warnings;
use Test::More;
use CATest;

my $log = "$CATest::ROOT/t/logs/error_log";
ok(-f $log, 'error_log exists') or done_testing(), exit;
my @expected = CATest::expected_errors();
open my $fh, '<', $log or die "$log: $!";
my @unexpected;
while (my $line = <$fh>) {
    next unless $line =~ /\[(?:[\w.]+:)?(?:error|crit|alert|emerg)\]/;
    next if grep { $line =~ $_ } @expected;
    push @unexpected, $line;
}
close $fh;
is(scalar @unexpected, 0, 'no unexpected [error] lines in t/logs/error_log')
    or diag("unexpected:\n", join('', @unexpected[0 .. ($#unexpected > 19 ? 19 : $#unexpected)]));
# a sanitizer build (CA_SANITIZERS=1 build/test.sh) writes its reports next to the state
my @reports = glob("$CATest::STATE/sanitizer.*");
is(scalar @reports, 0, 'no AddressSanitizer or UBSan report')
    or diag(map { "== $_\n" . do { local (@ARGV, $/) = ($_); <> } } @reports[0 .. 1]);

done_testing();

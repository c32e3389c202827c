# The libFuzzer targets of fuzz/ (docs/fuzzing.md), each run for CA_FUZZ_SECONDS (default 60)
# by fuzz/run.sh: one test per target. A crash, leak, timeout or broken invariant fails its
# test (the reproducer's path is in the diagnostics); no clang or no libFuzzer runtime fails
# every test: this is not skipped. Skipped only in the sanitizer pass of CI (CA_SANITIZERS=1),
# because the fuzz targets are ASan + UBSan builds already and ran in the first pass.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

if (($ENV{CA_SANITIZERS} // '') eq '1') {
    plan skip_all => 'sanitizer pass: the fuzz targets are ASan + UBSan builds and ran in the '
        . 'first pass already';
}

my $root = $ENV{CA_ROOT} || abs_path(dirname(__FILE__) . '/../..');
my @targets = qw(key route scope provider);
my $secs = $ENV{CA_FUZZ_SECONDS} // 60;
$secs = 60 unless $secs =~ /^[0-9]+$/ && $secs > 0;

plan tests => scalar @targets;

my %result;
my @out;
# run.sh prints the sanitizer's report and the reproducer on its stderr, which prove shows
if (open my $fh, '-|', "$root/fuzz/run.sh", $secs, @targets) {
    while (my $line = <$fh>) {
        push @out, $line;
        print STDERR "# $line" if $ENV{TEST_VERBOSE};
        $result{$1} = [$2, $3] if $line =~ /^fuzz: (\w+) (ok|FAILED)\b\s*(.*)$/;
    }
    close $fh;
}
else {
    diag("cannot run $root/fuzz/run.sh: $!");
}
my $rc = $? >> 8;

for my $t (@targets) {
    my $r = $result{$t};
    if (!$r) {
        ok(0, "fuzz_$t: no result from fuzz/run.sh (exit status $rc)");
        diag(join '', @out) if @out;
        next;
    }
    my ($status, $detail) = @$r;
    ok($status eq 'ok', "fuzz_$t $secs s: $detail") or diag("fuzz_$t: $status $detail");
}

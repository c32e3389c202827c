#!/usr/bin/perl
# The soak's report (bench/soak.sh): answers by class, RSS/fds/DB connections over time, and
# request-log rows against answers. Prints Markdown; exits 1 when a check fails.
use strict;
use warnings;
use Getopt::Long;

my %o;
GetOptions(\%o, 'counts=s', 'faults=s', 'samples=s', 'warmup=i', 'grace=i', 'rows=i',
    'duration=i', 'load=s', 'saturation=s', 'start=i', 'end=i') or die "bad options\n";

my (%by, %sum, @five);
open my $c, '<', $o{counts} or die "$o{counts}: $!\n";
while (<$c>) {
    chomp;
    if (/^S (\w+) (\d+) (\S+) (\d+)$/) { $by{$1}{"$2 $3"} += $4 }
    elsif (/^F (\w+) (\d+) (\d+) (\S+) (\d+)$/) { push @five, [$1, $2, $3, $4, $5] }
    elsif (/^SUM (\w+) (.*)$/) {
        my ($k, $rest) = ($1, $2);
        $sum{$k}{$1} = $2 while $rest =~ /(\w+)=([\d.]+)/g;
    }
}
my @win;
if (open my $f, '<', $o{faults}) {
    while (<$f>) {   # "on T FAULT" when installed, "off T" when cleared
        if (/^on (\d+) (.*)$/) { push @win, [$1, undef, $2] }
        elsif (/^off (\d+)$/ && @win) { $win[-1][1] = $1 }
    }
    $_->[1] //= $o{end} for @win;   # still on when the run ended
}
my @samples;
open my $s, '<', $o{samples} or die "$o{samples}: $!\n";
while (<$s>) { push @samples, [split] if /^\d/ }

my %provider_code = map { $_ => 1 } qw(provider_error provider_unavailable provider_timeout);
sub in_fault {
    my ($t) = @_;
    for my $w (@win) { return 1 if $t >= $w->[0] && $t <= $w->[1] + $o{grace} }
    return 0;
}

my @fail;
my @kinds = grep { $sum{$_} } qw(list item post patch bad);
print "### Soak: $o{duration} s at $o{load} % of saturation\n\n";
print "Saturation of the mix (10 s unpaced): $o{saturation} req/s. Faults switched on during the run:\n";
print "@{[scalar @win]} windows (" . join(', ', map { $_->[2] } @win) . ").\n\n";

print "| kind | answers | req/s | p50 ms | p99 ms | socket errors (connect/read/write/timeout) |\n";
print "|---|---|---|---|---|---|\n";
my $answers = 0;
for my $k (@kinds) {
    my $m = $sum{$k};
    $answers += $m->{requests};
    printf "| %s | %d | %.1f | %.2f | %.2f | %d/%d/%d/%d |\n", $k, $m->{requests},
        $m->{requests} / ($m->{duration_us} / 1e6), $m->{p50_us} / 1000, $m->{p99_us} / 1000,
        map { $m->{"err_$_"} } qw(connect read write timeout);
}

# classes
my %class;
my ($unexp5, $unexp4) = (0, 0);
for my $k (@kinds) {
    for my $sc (sort keys %{$by{$k}}) {
        my ($st, $code) = split / /, $sc;
        my $n = $by{$k}{$sc};
        if ($st < 400) { $class{"$k: $st"} += $n }
        elsif ($st < 500) {
            if ($k eq 'bad' && $st == 401) { $class{"expected 4xx: $k $st $code"} += $n }
            else { $class{"UNEXPECTED 4xx: $k $st $code"} += $n; $unexp4 += $n }
        }
    }
}
for my $e (@five) {
    my ($k, $t, $st, $code, $n) = @$e;
    if ($provider_code{$code} && in_fault($t)) { $class{"expected 5xx (fault): $k $st $code"} += $n }
    else { $class{"UNEXPECTED 5xx: $k $st $code"} += $n; $unexp5 += $n }
}
print "\nAnswers by class (5xx are expected when a provider_* code comes during a fault window\n";
print "or up to $o{grace} s after it):\n\n| class | count |\n|---|---|\n";
print "| $_ | $class{$_} |\n" for sort keys %class;
push @fail, "$unexp5 unexpected 5xx" if $unexp5;

# resources over time
print "\nhttpd children, sampled every few seconds (t = seconds since the start):\n\n";
print "| t s | RSS MiB | open fds | PostgreSQL connections | children |\n|---|---|---|---|---|\n";
printf "| %d | %.1f | %d | %d | %d |\n", $_->[0], $_->[1] / 1024, @$_[2 .. 4] for @samples;
my ($base) = grep { $_->[0] >= $o{warmup} } @samples;
my $last = $samples[-1];
if ($base && $last && $base != $last) {
    my $g = ($last->[1] - $base->[1]) * 100 / $base->[1];
    printf "\nRSS after warm-up (t=%d s): %.1f MiB; at the end: %.1f MiB: %+.1f %% (limit 5 %%).\n",
        $base->[0], $base->[1] / 1024, $last->[1] / 1024, $g;
    push @fail, sprintf('RSS grew %.1f %%', $g) if $g > 5;
    print "The set of children changed during the run.\n" if $base->[4] != $last->[4];
    # the trend: the second half of the run alone
    my ($mid) = grep { $_->[0] >= $last->[0] / 2 } @samples;
    printf "Second half alone (t=%d s to the end): %+.1f %%.\n", $mid->[0],
        ($last->[1] - $mid->[1]) * 100 / $mid->[1] if $mid && $mid != $last;
}
else {
    print "\nToo few samples after the warm-up ($o{warmup} s) to compare RSS.\n";
}

# request log
my $lost = $answers - $o{rows};
print "\nRequest log: $answers answers received by wrk, $o{rows} rows added to request_logs (counted\n";
print "once the count stopped growing). Requests in flight when wrk stopped are logged but not counted\n";
print "by wrk, so rows may exceed answers by up to the number of connections.\n";
if ($lost > 0) { print "**$lost rows missing.**\n"; push @fail, "$lost log rows lost" }
print "\nUnexpected 4xx: $unexp4 (reported, not a failure).\n" if $unexp4;
print "\n**Result: " . (@fail ? 'FAIL (' . join('; ', @fail) . ')' : 'pass') . "**\n";
exit(@fail ? 1 : 0);

# The report of valgrind memcheck over httpd -X (CA_VALGRIND=1 build/test.sh, which runs this
# after stopping httpd): no invalid read, write, free or jump and no crash anywhere in the
# process (httpd must exit cleanly, or its cleanups and the leak check mean little), no use of
# uninitialised memory and no definite leak in a stack that passes through mod_clientapi.so (its
# glue and its core, ca_*.c). Other records (httpd's, APR's, the libraries') are counted and
# listed, not failed: build/valgrind.supp holds the known ones.
use strict;
use warnings;
use Test::More;
use CATest;

plan skip_all => 'not a valgrind run (CA_VALGRIND=1 build/test.sh)'
    unless ($ENV{CA_VALGRIND} // '') eq '1';

my @logs = glob("$CATest::STATE/valgrind.*.log");
ok(@logs, 'valgrind wrote a report') or diag("no $CATest::STATE/valgrind.*.log");

my $fatal_re = qr{^(Invalid\ (?:read|write|free) | Mismatched\ free
                  | Source\ and\ destination\ overlap | Jump\ to\ the\ invalid\ address
                  | Process\ terminating)}x;
my $ours = qr{mod_clientapi|\bca_\w+\.c:|\bclientapi\w*\.c:|libcacore};
my (%count, @bad, %lost);
for my $log (@logs) {
    open my $fh, '<', $log or die "$log: $!";
    my @lines = <$fh>;
    close $fh;
    my $text = join '', @lines;
    ok($text =~ /ERROR SUMMARY:/, "$log: valgrind finished (httpd exited)");
    if ($text =~ /definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/) {
        $lost{definite} += $1 =~ tr/,//dr;
    }
    if ($text =~ /indirectly lost: ([\d,]+) bytes/) {
        $lost{indirect} += $1 =~ tr/,//dr;
    }
    # records are runs of "==PID== " lines separated by an empty "==PID== " line
    my @rec;
    my $flush = sub {
        return unless @rec;
        my $head = $rec[0];
        my $body = join "\n", @rec;
        @rec = ();
        my $kind = $head =~ $fatal_re ? $1
                 : $head =~ /definitely lost/ ? 'definitely lost'
                 : $head =~ /indirectly lost/ ? 'indirectly lost'
                 : $head =~ /uninitialised/ ? 'uninitialised'
                 : return;
        $count{$kind}++;
        my $fatal = $kind =~ /^(Invalid|Mismatched|Source|Jump|Process)/
                 || ($kind =~ /lost|uninitialised/ && $body =~ $ours);
        push @bad, "$kind:\n$body" if $fatal;
    };
    for my $l (@lines) {
        chomp $l;
        next unless $l =~ s/^==\d+== ?//;
        if ($l eq '') { $flush->(); next }
        push @rec, $l;
    }
    $flush->();
}
diag(sprintf 'valgrind: %s; definitely lost %d bytes, indirectly lost %d bytes in all',
     join(', ', map { "$_ $count{$_}" } sort keys %count) || 'no error records',
     $lost{definite} // 0, $lost{indirect} // 0);
ok(!@bad, 'no invalid access and no leak or uninitialised read from mod_clientapi')
    or diag(join "\n\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

done_testing;

#!/usr/bin/perl
# Prints one statement of mod_clientapi/ca_store.c as the module sends it: the string literals
# and #define'd macros after its label in ca_store_statements[], concatenated. This way the
# benchmark times whatever SQL the source has now (a rollup query once it lands).
# usage: extract-sql.pl ca_store.c CA_SQL_USAGE_ENDPOINT
use strict;
use warnings;

my ($file, $label) = @ARGV;
die "usage: $0 ca_store.c LABEL\n" unless $label;
open my $fh, '<', $file or die "$file: $!\n";
my $src = do { local $/; <$fh> };
$src =~ s{/\*.*?\*/}{ }gs;            # comments out of the way
$src =~ s{\\\n}{ }g;                   # macro continuation lines joined

my %macro;
while ($src =~ /^\s*#\s*define\s+(\w+)\s+((?:"(?:[^"\\]|\\.)*"\s*|\w+\s*)+)$/mg) {
    $macro{$1} = $2;
}
sub expand {
    my ($text, $depth) = @_;
    die "macro nesting too deep\n" if $depth > 10;
    my $out = '';
    while ($text =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|(\w+))/gc) {
        if (defined $1) { my $s = $1; $s =~ s/\\(.)/$1/g; $out .= $s; }
        elsif (exists $macro{$2}) { $out .= expand($macro{$2}, $depth + 1); }
        else { die "unknown token $2 in the statement\n"; }
    }
    return $out;
}
$src =~ /\{\s*\Q$label\E\s*,((?:\s*(?:"(?:[^"\\]|\\.)*"|\w+))+)\s*\}/s
    or die "$label not found in $file\n";
print expand($1, 0), "\n";

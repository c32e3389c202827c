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

my (%macro, %fmacro);
# object-like macros: string literals, other macros, and calls of one-argument macros
while ($src =~ /^\s*#\s*define\s+(\w+)\s+((?:"(?:[^"\\]|\\.)*"\s*|\w+\s*\(\s*\w+\s*\)\s*|\w+\s*)+)$/mg) {
    $macro{$1} = $2;
}
# one-argument macros such as RS(c) " sum(" #c "),": the body may use #param and param
while ($src =~ /^\s*#\s*define\s+(\w+)\((\w+)\)\s+((?:"(?:[^"\\]|\\.)*"\s*|#?\w+\s*)+)$/mg) {
    $fmacro{$1} = [$2, $3];
}
sub expand {
    my ($text, $depth) = @_;
    die "macro nesting too deep\n" if $depth > 10;
    my $out = '';
    while ($text =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|(\w+)\s*\(\s*(\w+)\s*\)|(\w+))/gc) {
        if (defined $1) { my $s = $1; $s =~ s/\\(.)/$1/g; $out .= $s; }
        elsif (defined $2) {
            die "unknown macro $2 in the statement\n" unless exists $fmacro{$2};
            my ($param, $body, $arg) = (@{$fmacro{$2}}, $3);
            $body =~ s/#\s*\b\Q$param\E\b/"$arg"/g;
            $body =~ s/(?<!")\b\Q$param\E\b(?!")/$arg/g;
            $out .= expand($body, $depth + 1);
        }
        elsif (exists $macro{$4}) { $out .= expand($macro{$4}, $depth + 1); }
        else { die "unknown token $4 in the statement\n"; }
    }
    return $out;
}
$src =~ /\{\s*\Q$label\E\s*,((?:\s*(?:"(?:[^"\\]|\\.)*"|\w+))+)\s*\}/s
    or die "$label not found in $file\n";
print expand($1, 0), "\n";

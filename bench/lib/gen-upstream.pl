#!/usr/bin/perl
# Writes the static provider answers the benchmark's upstream (nginx) serves, in the shape
# bench/provider/bench.json describes (the sandbox's native job records):
#   DIR/v1/me.json                 identity
#   DIR/v1/jobs.json               50 jobs of company co_bench, about 12.6 KB
#   DIR/v1/bigjobs.json            1,000 jobs; every 10th belongs to co_other (dropped by scope)
#   DIR/v1/jobs/job_NNNN.json      one record each (the first 50)
# usage: gen-upstream.pl DIR
use strict;
use warnings;
use JSON::PP;
use File::Path qw(make_path);

my $dir = shift or die "usage: $0 DIR\n";
make_path("$dir/v1/jobs");
my $json = JSON::PP->new->canonical;
my @status = qw(scheduled in_progress completed cancelled);

sub job {
    my ($n, $company, $pad) = @_;
    my $client = sprintf 'cl_%s_%d', $company eq 'co_bench' ? 'bench' : 'other', $n % 7 + 1;
    return {
        id           => sprintf('job_%04d', $n),
        company_id   => $company,
        client_id    => $client,
        title        => "Bench job $n",
        description  => "Boiler check" . ('x' x $pad),
        status       => $status[$n % 4],
        scheduled_at => sprintf('2026-03-%02dT08:00:00Z', $n % 28 + 1),
        created_at   => '2026-01-10T09:00:00Z',
        updated_at   => sprintf('2026-02-%02dT10:%02d:00Z', $n % 28 + 1, $n % 60),
    };
}

sub list {
    my ($records) = @_;
    return $json->encode({ data => $records, next_cursor => undef });
}

sub write_file {
    my ($path, $body) = @_;
    open my $fh, '>', $path or die "$path: $!\n";
    print {$fh} $body;
    close $fh or die "$path: $!\n";
    return length $body;
}

# pad the description so that the 50-record list is about 12.6 KB (issue 7's reference size)
my $pad = 0;
$pad++ while length(list([map { job($_, 'co_bench', $pad) } 1 .. 50])) < 12_600;

my @small = map { job($_, 'co_bench', $pad) } 1 .. 50;
my @big = map { job($_, $_ % 10 == 0 ? 'co_other' : 'co_bench', $pad) } 1 .. 1000;
my %size;
$size{list50} = write_file("$dir/v1/jobs.json", list(\@small));
$size{list1000} = write_file("$dir/v1/bigjobs.json", list(\@big));
for my $r (@small) {
    $size{item} = write_file("$dir/v1/jobs/$r->{id}.json", $json->encode({ data => $r }));
}
write_file("$dir/v1/me.json",
    $json->encode({ data => { id => 'acc_bench', account_id => 'co_bench', name => 'Bench' } }));
printf "%s=%d\n", $_, $size{$_} for sort keys %size;

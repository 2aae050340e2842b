#!/usr/bin/perl
# Summarises an access log: requests per status code and the busiest paths.
use strict;
use warnings;

my (%status, %path);
while (my $line = <>) {
    next unless $line =~ m{"(?:GET|POST|HEAD) (\S+) [^"]*" (\d{3})};
    $path{$1}++;
    $status{$2}++;
}

print "status codes:\n";
printf "  %s %d\n", $_, $status{$_} for sort keys %status;

print "top paths:\n";
my @top = (sort { $path{$b} <=> $path{$a} || $a cmp $b } keys %path)[0 .. 4];
for my $p (grep { defined } @top) {
    printf "  %5d %s\n", $path{$p}, $p;
}

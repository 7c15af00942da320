# SPDX-License-Identifier: LGPL-2.1-or-later
# A perl target for sdfs_exact: allocates and frees strings of many sizes
# (the large ones glibc mmaps and munmaps), arrays and hashes, and writes
# at random into the strings it holds; in two more threads when this perl
# has threads. Prints "ready PID", then runs until killed.
use strict;
use warnings;

my $have_threads = eval { require threads; threads->import(); 1 };
my @sizes = (16, 100, 700, 4096, 30000, 140000, 600000, 2 << 20);

sub churn {
	my ($seed) = @_;
	srand($seed);
	my @live;
	my $n = 0;
	while (1) {
		$n++;
		my $op = int(rand(12));
		if ($op < 4) {
			my $size = $sizes[int(rand(@sizes))];
			push @live, chr(1 + int(rand(255))) x $size;
		} elsif ($op < 6) {
			my %h = map { $_ => "v$_" x 3 } 1 .. int(rand(3000)) + 1;
			push @live, \%h;
		} elsif ($op < 8) {
			push @live, [map { rand() } 1 .. int(rand(20000)) + 1];
		} elsif ($op < 10 && @live) {
			splice(@live, int(rand(@live)), 1);
		} elsif (@live) {
			my $i = int(rand(@live));
			if (!ref $live[$i] && length $live[$i]) {
				for (1 .. 16) {
					substr($live[$i], int(rand(length $live[$i])), 1,
					       chr(1 + int(rand(255))));
				}
			}
		}
		splice(@live, 0, @live / 2) if @live > 40;
		select(undef, undef, undef, 0.002) if $n % 50 == 0;
	}
}

if ($have_threads) {
	threads->create(\&churn, $_)->detach() for 1 .. 2;
}
$| = 1;
print "ready $$\n";
churn(3);

# SPDX-License-Identifier: LGPL-2.1-or-later
# A perl target for sdfs_exact: allocates and frees strings of many sizes
# (the large ones glibc mmaps and munmaps), arrays and hashes, and writes
# at random into the strings it holds; in a second thread when this perl
# has threads, each pausing 5 ms every 10 steps (the machine stays free
# for the daemon and rsync). Prints "ready PID", then runs until killed.
use strict;
use warnings;

my $have_threads = eval { require threads; threads->import(); 1 };
# SDFS_CHURN_PAGES (default 256) bounds the objects and their sizes
my $pages = ($ENV{SDFS_CHURN_PAGES} // 0) >= 16 ? $ENV{SDFS_CHURN_PAGES} : 256;
my @sizes = grep { $_ <= $pages * 4096 }
	(16, 100, 700, 4096, 30000, 140000, 600000, 1 << 20);
my $max_live = int($pages / 8);

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
			my %h = map { $_ => "v$_" x 3 } 1 .. int(rand($pages * 8)) + 1;
			push @live, \%h;
		} elsif ($op < 8) {
			push @live, [map { rand() } 1 .. int(rand($pages * 64)) + 1];
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
		splice(@live, 0, @live / 2) if @live > $max_live;
		select(undef, undef, undef, 0.005) if $n % 10 == 0;
	}
}

if ($have_threads) {
	threads->create(\&churn, 1)->detach();
}
$| = 1;
print "ready $$\n";
churn(3);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scanmasks: what a PAGEMAP_SCAN walk costs with the masks sdfs uses, on
 * this process's own resident anonymous memory (tests/bench/README.md,
 * "Own pages"). Not part of any suite.
 *
 *   scanmasks MIB [REPEATS]    best of REPEATS (7) walks per mask set
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

#define VEC 512

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct masks {
	const char *name;
	uint64_t inverted, mask, anyof, ret;
};

static const struct masks sets[] = {
	{"present or swapped, not the zero page (own, anonymous)",
	 PAGE_IS_PFNZERO, PAGE_IS_PFNZERO, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	 PAGE_IS_PRESENT | PAGE_IS_SWAPPED},
	{"the same, not a file's page (own, as merged)",
	 PAGE_IS_PFNZERO | PAGE_IS_FILE, PAGE_IS_PFNZERO | PAGE_IS_FILE,
	 PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT | PAGE_IS_SWAPPED},
	{"not present, or the zero page (own, from what it is not)",
	 PAGE_IS_PRESENT, 0, PAGE_IS_PRESENT | PAGE_IS_PFNZERO,
	 PAGE_IS_SWAPPED},
	{"neither present nor swapped (holes only)",
	 PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	 0, PAGE_IS_PRESENT},
	{"the zero page only", 0, PAGE_IS_PFNZERO, 0, PAGE_IS_PFNZERO},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: scanmasks MIB [REPEATS]\n");
		return 2;
	}
	size_t size = (size_t)strtoul(argv[1], NULL, 10) << 20;
	int reps = argc > 2 ? atoi(argv[2]) : 7;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	static struct page_region vec[VEC];

	if (p == MAP_FAILED || fd < 0) {
		perror("scanmasks");
		return 1;
	}
	madvise(p, size, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < size; i += ps)
		p[i] = 1;
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		double best = 1e9;
		long regions = 0;
		for (int r = 0; r < reps; r++) {
			struct pm_scan_arg a = {
				.size = sizeof(a),
				.start = (uintptr_t)p,
				.end = (uintptr_t)p + size,
				.vec = (uintptr_t)vec,
				.vec_len = VEC,
				.category_inverted = sets[k].inverted,
				.category_mask = sets[k].mask,
				.category_anyof_mask = sets[k].anyof,
				.return_mask = sets[k].ret,
			};
			double t = now_s();
			regions = 0;
			while (a.start < a.end) {
				long n = ioctl(fd, PAGEMAP_SCAN, &a);
				if (n < 0) {
					perror("PAGEMAP_SCAN");
					return 1;
				}
				regions += n;
				if (n < VEC || a.walk_end <= a.start)
					break;
				a.start = a.walk_end;
			}
			t = now_s() - t;
			if (t < best)
				best = t;
		}
		printf("%-58s %8.2f ms  %ld regions\n", sets[k].name,
		       best * 1e3, regions);
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bigwork: the benchmark's workload. Allocates SIZE bytes of private
 * anonymous memory, populates every page, then writes a chosen fraction of
 * its pages on command with T threads.
 *
 *   bigwork --size BYTES [--threads T] [--thp] [--self-uffd]
 *
 * Prints "ready PID BASE SIZE PAGESIZE" on stdout once populated, then
 * reads commands from stdin, one per line, and answers each with a line:
 *
 *   w PPM seq|rand SEED   write PPM millionths of the pages (at least one);
 *                         rand: a pseudo-random permutation of the pages
 *                         (every chosen page distinct), seq: a contiguous
 *                         run starting at a seed-chosen page, wrapping.
 *                         -> "done PAGES US"
 *   wp                    --self-uffd only: PAGEMAP_SCAN with
 *                         PM_SCAN_WP_MATCHING over the region on itself,
 *                         timed here -> "wp US PAGES"
 *   q                     exit
 *
 * --self-uffd registers the region with a userfaultfd of its own in
 * write-protect async mode, so that the direct baselines can run without
 * sdfs (sdfs refuses a target that already uses userfaultfd there).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "bench_compat.h"

static char *base;
static size_t region_size, page_size, npages;
static unsigned nthreads = 1;

/* the current command, read by every writer thread */
static struct {
	uint64_t count, a, b; /* page i of the job: (a * i + b) % npages */
	unsigned gen;
} job;
static pthread_barrier_t start_bar, end_bar;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t gcd(uint64_t x, uint64_t y)
{
	while (y) {
		uint64_t t = x % y;
		x = y;
		y = t;
	}
	return x;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Write slice `me` of the current job. */
static void write_slice(unsigned me)
{
	uint64_t per = job.count / nthreads, rem = job.count % nthreads;
	uint64_t from = me * per + (me < rem ? me : rem);
	uint64_t to = from + per + (me < rem);

	for (uint64_t i = from; i < to; i++) {
		uint64_t pg = (uint64_t)(((unsigned __int128)job.a * i + job.b) %
					 npages);
		volatile uint64_t *p = (volatile uint64_t *)(base + pg * page_size);
		p[job.gen % (page_size / 8)] += 1;
	}
}

static void *writer(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	for (;;) {
		pthread_barrier_wait(&start_bar);
		write_slice(me);
		pthread_barrier_wait(&end_bar);
	}
	return NULL;
}

/* Run the job on every thread (the main thread is slice 0). */
static void run_job(void)
{
	if (nthreads > 1)
		pthread_barrier_wait(&start_bar);
	write_slice(0);
	if (nthreads > 1)
		pthread_barrier_wait(&end_bar);
}

static void *populate_thread(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	unsigned n = nthreads < 8 ? nthreads : 8;
	for (uint64_t pg = me; pg < npages; pg += n)
		*(uint64_t *)(base + pg * page_size) = pg * 2654435761ULL + 1;
	return NULL;
}

static void populate(void)
{
	unsigned n = nthreads < 8 ? nthreads : 8;
	pthread_t th[8];
	for (unsigned i = 1; i < n; i++)
		pthread_create(&th[i], NULL, populate_thread, (void *)(uintptr_t)i);
	populate_thread((void *)0);
	for (unsigned i = 1; i < n; i++)
		pthread_join(th[i], NULL);
}

static int uffd = -1;

static int self_uffd(void)
{
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		return -errno;
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return -errno;
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)base, .len = region_size},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	return 0;
}

/* PAGEMAP_SCAN WP_MATCHING over the region: returns pages captured. */
static long self_wp(uint64_t *us)
{
	static struct page_region vec[4096];
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint64_t t0 = now_us();
	long pages = 0;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING,
		.start = (uintptr_t)base,
		.end = (uintptr_t)base + region_size,
		.vec = (uintptr_t)vec,
		.vec_len = 4096,
		.category_inverted = PAGE_IS_PFNZERO,
		.category_mask = PAGE_IS_PFNZERO | PAGE_IS_WRITTEN,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_WRITTEN,
	};
	while (a.start < a.end) {
		long n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			close(fd);
			return -errno;
		}
		for (long i = 0; i < n; i++)
			pages += (long)((vec[i].end - vec[i].start) / page_size);
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	*us = now_us() - t0;
	close(fd);
	return pages;
}

static int usage(void)
{
	fprintf(stderr, "usage: bigwork --size BYTES [--threads T] [--thp] [--self-uffd]\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool thp = false, want_uffd = false;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc)
			region_size = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--thp"))
			thp = true;
		else if (!strcmp(argv[i], "--self-uffd"))
			want_uffd = true;
		else
			return usage();
	}
	if (!region_size || !nthreads || nthreads > 1024)
		return usage();
	/* the bench owns us: die with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	region_size = (region_size + page_size - 1) / page_size * page_size;
	npages = region_size / page_size;

	base = mmap(NULL, region_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("bigwork: mmap");
		return 1;
	}
	madvise(base, region_size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	populate();
	if (want_uffd) {
		int r = self_uffd();
		uint64_t us;
		if (r == 0 && self_wp(&us) < 0)
			r = -errno;
		if (r < 0) {
			fprintf(stderr, "bigwork: userfaultfd: %s\n", strerror(-r));
			return 1;
		}
	}
	if (pthread_barrier_init(&start_bar, NULL, nthreads) ||
	    pthread_barrier_init(&end_bar, NULL, nthreads))
		return 1;
	for (unsigned i = 1; i < nthreads; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, writer, (void *)(uintptr_t)i)) {
			fprintf(stderr, "bigwork: cannot start thread %u\n", i);
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d %" PRIxPTR " %zu %zu\n", (int)getpid(), (uintptr_t)base,
	       region_size, page_size);

	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		uint64_t ppm, seed;
		char pat[16];
		if (sscanf(line, "w %" SCNu64 " %15s %" SCNu64, &ppm, pat, &seed) == 3) {
			uint64_t count = (uint64_t)((unsigned __int128)npages * ppm / 1000000);
			if (count < 1)
				count = 1;
			if (count > npages)
				count = npages;
			uint64_t s = seed;
			job.count = count;
			job.gen++;
			job.b = splitmix(&s) % npages;
			if (!strcmp(pat, "seq")) {
				job.a = 1;
			} else {
				/* a multiplier coprime with npages scatters
				 * i -> a*i+b over every page exactly once */
				do
					job.a = (splitmix(&s) % npages) | 1;
				while (npages > 1 && gcd(job.a, npages) != 1);
			}
			uint64_t t0 = now_us();
			run_job();
			printf("done %" PRIu64 " %" PRIu64 "\n", count, now_us() - t0);
		} else if (!strncmp(line, "wp", 2)) {
			uint64_t us = 0;
			long pages = uffd >= 0 ? self_wp(&us) : -EINVAL;
			printf("wp %" PRIu64 " %ld\n", us, pages);
		} else if (line[0] == 'q') {
			break;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}

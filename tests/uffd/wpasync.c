/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uffd-wpasync [ROUNDS [CASE]]: does this kernel report every write to
 * memory write-protected by an asynchronous userfaultfd? The uffd
 * backend's whole promise rests on it (sdfs/uffd_clear.c), and nothing
 * of sdfs is involved here: the process protects its own memory.
 *
 * Anonymous private memory is registered with a userfaultfd in WP mode
 * (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, as sdfs asks) and
 * write-protected with PAGEMAP_SCAN PM_SCAN_WP_MATCHING; then, ROUNDS
 * times (default 20), pages are written and a second scan must report
 * every one of them as PAGE_IS_WRITTEN (and protect them again):
 *   small-*    64-page regions with MADV_NOHUGEPAGE (4 KiB PTEs, arm64's
 *              contiguous-PTE folding where the kernel does it)
 *   thp-*      a 2 MiB-aligned 1024-page region with MADV_HUGEPAGE
 *   *-store    one 8-byte store into each written page
 *   *-memset   the whole page written
 *   *-dontneed MADV_DONTNEED of the page, then a store (a fresh page)
 *   *-thread   a second thread writes pages all the time while the main
 *              thread scans: a page's last write must be reported by a
 *              scan that ran neither before it began nor after the
 *              next scan once it ended
 * Prints a line per case (lost and over-reported pages, the pagemap
 * entries of the first lost ones) and exits 0 when no write was lost, 1
 * when one was, 77 (SKIP) when the kernel lacks the interface, 2 on
 * other errors. CASE runs only the cases whose name contains it.
 *
 * Over-reports (a page reported that was not written) are printed but
 * allowed: a huge page may be split and count whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "compat.h"

#define VEC 512
#define SHOW_MAX 8

static size_t ps;
static int uffd = -1, pm = -1;

static void die(const char *what)
{
	fprintf(stderr, "uffd-wpasync: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void skip(const char *what)
{
	printf("SKIP: %s: %s\n", what, strerror(errno));
	exit(77);
}

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Written pages of [p, p + n pages): seen[i] = 1 for each (seen may be
 * NULL); wp: protect them in the same walk. */
static void scan(uint8_t *p, size_t n, bool wp, uint8_t *seen)
{
	struct page_region v[VEC];
	uint64_t start = (uintptr_t)p, end = start + n * ps;

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags =
				wp ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC
				   : 0,
			.start = start,
			.end = end,
			.vec = (uintptr_t)v,
			.vec_len = VEC,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long got = ioctl(pm, PAGEMAP_SCAN, &a);
		if (got < 0)
			die("PAGEMAP_SCAN");
		for (long i = 0; i < got && seen; i++)
			for (uint64_t q = v[i].start; q < v[i].end; q += ps)
				seen[(q - (uintptr_t)p) / ps] = 1;
		start = a.walk_end;
	}
}

/* Register the region and protect every page of it. */
static void protect_all(uint8_t *p, size_t n)
{
	struct uffdio_register reg = {
		.range = {(uintptr_t)p, n * ps},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		die("UFFDIO_REGISTER");
	scan(p, n, true, NULL);
}

static void show(const char *name, uint8_t *p, size_t i)
{
	uint64_t e = 0;
	off_t off = (off_t)((uintptr_t)(p + i * ps) / ps * 8);
	if (pread(pm, &e, sizeof(e), off) != (ssize_t)sizeof(e))
		die("pread /proc/self/pagemap");
	printf("  %s: page %zu (%p) lost; pagemap %016llx%s%s%s\n", name, i,
	       (void *)(p + i * ps), (unsigned long long)e,
	       e & PM_PRESENT ? " present" : "", e & PM_SWAP ? " swap" : "",
	       e & PM_UFFD_WP ? " uffd-wp" : "");
}

enum how { STORE, MEMSET, DONTNEED };

/* The main thread writes n/4 random pages, one scan checks them. */
static int single(const char *name, uint8_t *p, size_t n, int rounds,
		  enum how how)
{
	uint8_t *want = calloc(n, 1), *seen = calloc(n, 1);
	uint64_t x = 12345;
	int lost = 0, extra = 0;

	if (!want || !seen)
		die("calloc");
	for (size_t i = 0; i < n; i++)
		memset(p + i * ps, 1, ps);
	protect_all(p, n);
	for (int r = 0; r < rounds; r++) {
		memset(want, 0, n);
		memset(seen, 0, n);
		for (size_t k = 0; k < n / 4; k++) {
			size_t i = rng(&x) % n;
			uint8_t *pg = p + i * ps;
			want[i] = 1;
			if (how == MEMSET) {
				memset(pg, (int)(x | 1) & 0xff, ps);
				continue;
			}
			if (how == DONTNEED && madvise(pg, ps, MADV_DONTNEED))
				die("MADV_DONTNEED");
			*(volatile uint64_t *)(pg + 8 * (x % (ps / 8))) = x;
		}
		scan(p, n, true, seen);
		for (size_t i = 0; i < n; i++) {
			if (want[i] && !seen[i] && lost++ < SHOW_MAX)
				show(name, p, i);
			extra += !want[i] && seen[i];
		}
	}
	printf("%s %s: %d rounds, %d writes lost, %d pages over-reported\n",
	       lost ? "FAIL" : "ok", name, rounds, lost, extra);
	free(want);
	free(seen);
	return lost;
}

struct writer {
	uint8_t *p;
	size_t n;
	_Atomic int epoch; /* k: scan k runs (or ran) */
	_Atomic int stop;
	int *from, *to; /* per page: epoch before and after its last write */
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 777;

	while (!atomic_load(&w->stop)) {
		size_t i = rng(&x) % w->n;
		int e0 = atomic_load(&w->epoch);
		*(volatile uint64_t *)(w->p + i * ps + 8 * (x % (ps / 8))) = x;
		int e1 = atomic_load(&w->epoch);
		w->from[i] = e0;
		w->to[i] = e1;
	}
	return NULL;
}

/*
 * Scan k runs after epoch is set to k, so a write that began with epoch
 * e0 began after scan e0 - 1 ended, and one that ended with epoch e1
 * ended before scan e1 + 1 began: some scan in [e0, e1 + 1] must report
 * it. The last scan runs after the writer stopped.
 */
static int threaded(const char *name, uint8_t *p, size_t n, int rounds)
{
	struct writer w = {.p = p, .n = n};
	uint8_t **seen = calloc((size_t)rounds + 2, sizeof(*seen));
	pthread_t th;
	int lost = 0, err;

	w.from = calloc(n, sizeof(int));
	w.to = calloc(n, sizeof(int));
	if (!seen || !w.from || !w.to)
		die("calloc");
	for (size_t i = 0; i < n; i++) {
		memset(p + i * ps, 1, ps);
		w.from[i] = -1;
	}
	protect_all(p, n);
	err = pthread_create(&th, NULL, writer_main, &w);
	if (err) {
		errno = err;
		die("pthread_create");
	}
	for (int k = 1; k <= rounds + 1; k++) {
		if (k == rounds + 1) {
			atomic_store(&w.stop, 1);
			pthread_join(th, NULL);
		}
		atomic_store(&w.epoch, k);
		seen[k] = calloc(n, 1);
		if (!seen[k])
			die("calloc");
		scan(p, n, true, seen[k]);
		usleep(2000);
	}
	for (size_t i = 0; i < n; i++) {
		if (w.from[i] < 0)
			continue;
		bool ok = false;
		for (int k = w.from[i] > 0 ? w.from[i] : 1; k <= w.to[i] + 1;
		     k++)
			ok |= seen[k][i] != 0;
		if (!ok && lost++ < SHOW_MAX)
			show(name, p, i);
	}
	printf("%s %s: %d scans, %d last writes lost\n", lost ? "FAIL" : "ok",
	       name, rounds + 1, lost);
	for (int k = 1; k <= rounds + 1; k++)
		free(seen[k]);
	free(seen);
	free(w.from);
	free(w.to);
	return lost;
}

/* n pages, 2 MiB-aligned; thp: MADV_HUGEPAGE, else MADV_NOHUGEPAGE. */
static uint8_t *region(size_t n, bool thp)
{
	const size_t align = 2u << 20;
	uint8_t *r = mmap(NULL, n * ps + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		die("mmap");
	uint8_t *p = (uint8_t *)(((uintptr_t)r + align - 1) & ~(align - 1));
	if (madvise(p, n * ps, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) &&
	    errno != EINVAL)
		die("madvise");
	return p;
}

static void setup(void)
{
	ps = (size_t)sysconf(_SC_PAGESIZE);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1);
	if (uffd < 0)
		skip("userfaultfd(UFFD_USER_MODE_ONLY)");
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		skip("UFFDIO_API with WP_ASYNC and WP_UNPOPULATED");
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		die("/proc/self/pagemap");
	struct pm_scan_arg a = {.size = sizeof(a)};
	if (ioctl(pm, PAGEMAP_SCAN, &a) < 0 && errno == ENOTTY)
		skip("PAGEMAP_SCAN");
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	const char *only = argc > 2 ? argv[2] : "";
	int lost = 0;

	if (rounds < 1) {
		fprintf(stderr, "usage: uffd-wpasync [ROUNDS [CASE]]\n");
		return 2;
	}
	setup();
	static const struct {
		const char *name;
		size_t pages;
		bool thp;
		int how; /* enum how, or -1: threaded */
	} cases[] = {
		{"small-store", 64, false, STORE},
		{"small-memset", 64, false, MEMSET},
		{"small-dontneed", 64, false, DONTNEED},
		{"small-thread", 64, false, -1},
		{"thp-store", 1024, true, STORE},
		{"thp-memset", 1024, true, MEMSET},
		{"thp-dontneed", 1024, true, DONTNEED},
		{"thp-thread", 1024, true, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strstr(cases[i].name, only))
			continue;
		uint8_t *p = region(cases[i].pages, cases[i].thp);
		lost += cases[i].how < 0
				? threaded(cases[i].name, p, cases[i].pages,
					   rounds)
				: single(cases[i].name, p, cases[i].pages,
					 rounds, (enum how)cases[i].how);
	}
	printf("uffd-wpasync: %d writes lost (page size %zu)\n", lost, ps);
	return lost ? 1 : 0;
}

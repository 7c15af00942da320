/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_churn DIR: a target that frees memory in every way a program can,
 * for the snapshot exactness tests (sdfs_exact, sdfs_stress).
 *
 * It prints "ready PID", starts a second thread and then, one line per
 * command on stdin (answer "ok" or "err MESSAGE" on stdout):
 *   step SEED     one round of churn (below), deterministic for SEED
 *   exit          ok, then exit(0)
 * With SDFS_CHURN_AUTO_MS=N in the environment it reads no commands and
 * runs a step every N milliseconds by itself (seeds 1, 2, ...).
 * SDFS_CHURN_PAGES (default 256) sizes the regions.
 *
 * The second thread runs all the time: random whole-page writes to a
 * region of its own, and glibc malloc/free of 16 B..PAGES/2 pages blocks in its
 * thread arena (the arena's heap is trimmed with MADV_DONTNEED when its
 * top gets free, blocks over the mmap threshold are mmap'd and munmap'd),
 * pausing 1 ms every 8 blocks.
 *
 * A step (main thread, main arena), in order:
 *   1. random page writes to A (anonymous, private);
 *   2. MADV_DONTNEED of a run of A;
 *   3. MADV_FREE of a run of A, then MADV_PAGEOUT of it (the lazily freed
 *      pages are discarded), then a write to one of its pages again;
 *   4. F, a private mapping of DIR/churn-file: a page written (its private
 *      copy), the page written the step before dropped (MADV_DONTNEED)
 *      and read again (the file's content is back);
 *   5. S (memfd, MAP_SHARED) and H (MAP_SHARED|MAP_ANONYMOUS): pages
 *      written, a run of each punched with MADV_REMOVE;
 *   6. M by SEED % 4: 0 map and fill, 1 mremap to a new address (moved),
 *      2 mremap to half its size (shrunk in place), 3 munmap;
 *   7. X: munmap, a new mapping at the same address (MAP_FIXED_NOREPLACE),
 *      only its even pages written (the odd ones read as zero now);
 *   8. brk: the extension made at the step before shrunk with a negative
 *      sbrk (the main arena got room enough at the start, so malloc does
 *      not move the break), then the break extended by a few written
 *      pages;
 *   9. main-arena malloc of blocks (some over the mmap threshold), most
 *      freed, malloc_trim(0).
 * Every page written holds non-zero bytes that differ from step to step.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmdline.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define NBLOCKS 32

static size_t ps, npages;
static uint8_t *A, *W, *F, *S, *H, *X, *M;
static size_t m_pages, f_pages, s_pages;
static long f_prev = -1; /* page of F written at the step before */
static uint8_t *brk_start, *brk_end;
static _Atomic int stop;

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void reply(const char *s)
{
	size_t len = strlen(s);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(STDOUT_FILENO, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		off += (size_t)n;
	}
}

static void die(const char *what)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "err %s: %s\n", what, strerror(errno));
	reply(buf);
	_exit(2);
}

/* Fill a page with bytes that are never zero and depend on salt. */
static void fill(uint8_t *p, uint64_t salt)
{
	uint64_t x = salt * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < ps; i += 8) {
		uint64_t v = rng(&x) | 0x0101010101010101ull;
		memcpy(p + i, &v, 8);
	}
}

/* pages+2 PROT_NONE, the inner pages mapped with flags/fd. */
static uint8_t *guarded(size_t pages, int flags, int fd)
{
	uint8_t *r = mmap(NULL, (pages + 2) * ps, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		die("mmap");
	uint8_t *p = mmap(r + ps, pages * ps, PROT_READ | PROT_WRITE,
			  flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap fixed");
	if (fd < 0 && !(flags & MAP_SHARED))
		madvise(p, pages * ps, MADV_NOHUGEPAGE);
	return p;
}

static void *second_thread(void *arg)
{
	void *blocks[NBLOCKS] = {0};
	uint64_t x = 88172645463325252ull;
	(void)arg;
	for (uint64_t n = 1; !atomic_load(&stop); n++) {
		uint64_t r = rng(&x);
		fill(W + (r % npages) * ps, r);
		int i = (int)((r >> 20) % NBLOCKS);
		free(blocks[i]);
		blocks[i] = NULL;
		if ((r >> 30) % 3) {
			/* 16 B up to npages/2 pages (>= 128 KiB: mmap'd) */
			size_t sz = (size_t)16 << ((r >> 40) % 16);
			if (sz > npages * ps / 2)
				sz = npages * ps / 2;
			blocks[i] = malloc(sz);
			if (blocks[i])
				memset(blocks[i], (int)(r | 1) & 0xff, sz);
		}
		if (n % 512 == 0) { /* all free: the arena's heap shrinks */
			for (int k = 0; k < NBLOCKS; k++) {
				free(blocks[k]);
				blocks[k] = NULL;
			}
		}
		if (n % 8 == 0) /* leaves CPU to the daemon and rsync */
			usleep(1000);
	}
	return NULL;
}

static void step_a(uint64_t *x, uint64_t seed)
{
	for (int i = 0; i < 8; i++) {
		size_t idx = rng(x) % npages;
		fill(A + idx * ps, seed * 1000 + idx);
	}
	size_t run = 1 + rng(x) % 8, at = rng(x) % (npages - run);
	if (madvise(A + at * ps, run * ps, MADV_DONTNEED) < 0)
		die("MADV_DONTNEED");
	run = 1 + rng(x) % 8;
	at = rng(x) % (npages - run);
	if (madvise(A + at * ps, run * ps, MADV_FREE) < 0)
		die("MADV_FREE");
	madvise(A + at * ps, run * ps, MADV_PAGEOUT); /* best effort */
	fill(A + (at + run / 2) * ps, seed * 1000 + 999);
}

static void step_file(uint64_t *x, uint64_t seed)
{
	if (f_prev >= 0) {
		if (madvise(F + f_prev * ps, ps, MADV_DONTNEED) < 0)
			die("MADV_DONTNEED file");
		(void)*(volatile uint8_t *)(F + f_prev * ps); /* read again */
	}
	f_prev = (long)(rng(x) % f_pages);
	fill(F + f_prev * ps, seed * 7 + 3);
}

static void step_shared(uint64_t *x, uint64_t seed)
{
	uint8_t *regs[2] = {S, H};
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 4; i++) {
			size_t idx = rng(x) % s_pages;
			fill(regs[k] + idx * ps, seed * 31 + idx);
		}
		size_t run = 1 + rng(x) % 4, at = rng(x) % (s_pages - run);
		if (madvise(regs[k] + at * ps, run * ps, MADV_REMOVE) < 0)
			die("MADV_REMOVE");
	}
}

static void step_mremap(uint64_t seed)
{
	switch (seed % 4) {
	case 0:
		if (!M) {
			m_pages = npages;
			M = guarded(m_pages, MAP_PRIVATE | MAP_ANONYMOUS, -1);
			for (size_t i = 0; i < m_pages; i++)
				fill(M + i * ps, seed * 100 + i);
		}
		break;
	case 1:
		if (M) {
			uint8_t *to = guarded(m_pages * 2,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1);
			void *p = mremap(M, m_pages * ps, m_pages * 2 * ps,
					 MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (p == MAP_FAILED)
				die("mremap move");
			M = p;
			m_pages *= 2;
			fill(M + (m_pages - 1) * ps,
			     seed); /* in the new part */
		}
		break;
	case 2:
		if (M && m_pages > 1) {
			if (mremap(M, m_pages * ps, m_pages / 2 * ps, 0) ==
			    MAP_FAILED)
				die("mremap shrink");
			m_pages /= 2;
		}
		break;
	default:
		if (M && munmap(M, m_pages * ps) < 0)
			die("munmap");
		M = NULL;
		break;
	}
}

static void step_remap_same(uint64_t seed)
{
	size_t pages = npages / 4;
	if (munmap(X, pages * ps) < 0)
		die("munmap X");
	void *p =
		mmap(X, pages * ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != X)
		die("mmap MAP_FIXED_NOREPLACE");
	madvise(X, pages * ps, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < pages; i += 2)
		fill(X + i * ps, seed * 13 + i);
}

static void step_brk(uint64_t *x, uint64_t seed)
{
	uint8_t *cur = sbrk(0);
	if (brk_end && cur == brk_end) {
		size_t have = (size_t)(brk_end - brk_start) / ps;
		size_t drop = 1 + rng(x) % have;
		if (sbrk(-(intptr_t)(drop * ps)) == (void *)-1)
			die("sbrk shrink");
		brk_end -= drop * ps;
		cur = brk_end;
	}
	if (cur != brk_end) { /* none yet, or malloc moved the break */
		uintptr_t a = ((uintptr_t)cur + ps - 1) & ~(uintptr_t)(ps - 1);
		if (sbrk((intptr_t)(a - (uintptr_t)cur)) == (void *)-1)
			die("sbrk align");
		brk_start = brk_end = (uint8_t *)a;
	}
	size_t add = 1 + rng(x) % 8;
	if (sbrk((intptr_t)(add * ps)) == (void *)-1)
		die("sbrk grow");
	for (size_t i = 0; i < add; i++)
		fill(brk_end + i * ps, seed * 17 + i);
	brk_end += add * ps;
}

static void step_malloc(uint64_t *x)
{
	void *b[32];
	for (int i = 0; i < 32; i++) {
		size_t sz = (size_t)64 << (rng(x) % 13); /* up to 256 KiB */
		b[i] = malloc(sz);
		if (!b[i])
			die("malloc");
		memset(b[i], 0x5a, sz);
	}
	for (int i = 0; i < 32; i++)
		if (i % 8)
			free(b[i]);
	malloc_trim(0);
	for (int i = 0; i < 32; i += 8)
		free(b[i]);
}

static void step(uint64_t seed)
{
	uint64_t x = seed * 2654435761u + 7;
	step_a(&x, seed);
	step_file(&x, seed);
	step_shared(&x, seed);
	step_mremap(seed);
	step_remap_same(seed);
	step_brk(&x, seed);
	step_malloc(&x);
}

static void setup(const char *dir)
{
	char path[4096];
	f_pages = s_pages = npages / 4 > 4 ? npages / 4 : 4;
	A = guarded(npages, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	W = guarded(npages, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	X = guarded(npages / 4, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (size_t i = 0; i < npages; i++) {
		fill(A + i * ps, i + 1);
		fill(W + i * ps, i + 2);
	}
	for (size_t i = 0; i < npages / 4; i++)
		fill(X + i * ps, i + 3);

	snprintf(path, sizeof(path), "%s/churn-file", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	uint8_t *page = malloc(ps);
	for (size_t i = 0; i < f_pages; i++) {
		memset(page, 0xf0 ^ (int)(i & 0xf), ps);
		if (write(fd, page, ps) != (ssize_t)ps)
			die("write churn-file");
	}
	free(page);
	F = guarded(f_pages, MAP_PRIVATE, fd);
	close(fd);
	for (size_t i = 0; i < f_pages; i += 2) /* file pages mapped */
		(void)*(volatile uint8_t *)(F + i * ps);

	fd = (int)syscall(SYS_memfd_create, "churn", 0);
	if (fd < 0 || ftruncate(fd, (off_t)(s_pages * ps)) < 0)
		die("memfd");
	S = guarded(s_pages, MAP_SHARED, fd);
	close(fd);
	H = guarded(s_pages, MAP_SHARED | MAP_ANONYMOUS, -1);
	for (size_t i = 0; i < s_pages; i++) {
		fill(S + i * ps, i + 4);
		fill(H + i * ps, i + 5);
	}
}

int main(int argc, char **argv)
{
	char line[256];
	pthread_t th;
	if (argc != 2) {
		fprintf(stderr, "usage: sdfs_churn DIR\n");
		return 2;
	}
	ps = (size_t)sysconf(_SC_PAGESIZE);
	const char *e = getenv("SDFS_CHURN_PAGES");
	npages = e && atoi(e) >= 16 ? (size_t)atoi(e) : 256;
	/* The main arena gets room once, before the break is extended by
	 * hand: malloc then never moves the break past the extension, and
	 * every step can shrink it (malloc_trim, finding the break is not
	 * the arena's end, gives free pages back with MADV_DONTNEED). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TOP_PAD, 16 << 20);
	free(malloc(64));
	setup(argv[1]);
	if (pthread_create(&th, NULL, second_thread, NULL))
		die("pthread_create");
	snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
	reply(line);

	e = getenv("SDFS_CHURN_AUTO_MS");
	if (e && atoi(e) > 0) {
		for (uint64_t seed = 1;; seed++) {
			step(seed);
			usleep((useconds_t)atoi(e) * 1000);
		}
	}
	while (target_read_line(line, sizeof(line)) == 0) {
		unsigned long long seed;
		if (sscanf(line, "step %llu", &seed) == 1) {
			step(seed);
			reply("ok\n");
		} else if (!strcmp(line, "exit")) {
			reply("ok\n");
			atomic_store(&stop, 1);
			pthread_join(th, NULL);
			return 0;
		} else {
			reply("err unknown command\n");
		}
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_stress_target TAG PAGES THREADS [PAUSE_US]: a target process for the
 * stress and fault tests that keeps writing, and verifying, a known
 * pattern (tests/lib/pattern.h) in its own memory.
 *
 * It maps PAGES anonymous pages between two PROT_NONE guard pages, writes
 * every page at generation 1, prints "ready PID ADDR PAGES" and starts
 * THREADS writers. Writer i owns pages [i*k, (i+1)*k) (k = PAGES/THREADS);
 * it picks one of its pages at random, writes it whole at the next
 * generation (kept in a private table), reads it back and checks it, and
 * after every 64 writes re-checks one of its pages against the table and
 * sleeps PAUSE_US (default 200) microseconds. A mismatch is counted as
 * "bad" (and the first ones printed on stderr): nothing but the writer
 * itself touches its pages, so any mismatch means something else changed
 * the process's memory.
 *
 * Commands on stdin, one line each, answers on stdout:
 *   status        ok WRITES BAD
 *   pause         ok              writers parked (not writing)
 *   resume        ok
 *   check         ok PAGES BAD SUM  writers parked: every page checked
 *                                  against its generation; SUM a checksum
 *   write IDX     ok GEN          (paused) write page IDX at the next gen
 *   sparse N      ok ADDR         a new mapping of 2N pages of which
 *                                  every other one is written (N runs)
 *   fork          ok PID          a child that exits after 0-20 ms
 *   exec          (re-executes itself: a new "ready" line)
 *   exit          ok, then exit(0)
 * EOF on stdin: exit(0).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "pattern.h"

#define MAX_THREADS 16

static size_t ps;
static uint32_t tag;
static size_t npages;
static int nthreads;
static unsigned pause_us = 200;
static uint64_t *region;
static uint32_t *gens; /* private, not in the region */
static _Atomic uint64_t writes, bad;
static _Atomic int want_pause, parked;
static char **saved_argv;

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		off += (int)w;
	}
}

static void report_bad(const char *what, size_t idx, long word)
{
	uint64_t n = atomic_fetch_add(&bad, 1);
	if (n < 5)
		fprintf(stderr,
			"stress-target %d: %s: page %zu word %ld wrong "
			"(gen %u)\n",
			(int)getpid(), what, idx, word, gens[idx]);
}

static uint64_t *page(size_t idx)
{
	return region + idx * (ps / 8);
}

static void *writer(void *arg)
{
	int i = (int)(intptr_t)arg;
	size_t k = npages / (size_t)nthreads, first = (size_t)i * k;
	uint64_t x = (uint64_t)getpid() * 2654435761u + (uint64_t)i + 1;
	size_t rr = 0;

	for (uint64_t n = 1;; n++) {
		if (atomic_load(&want_pause)) {
			atomic_fetch_add(&parked, 1);
			while (atomic_load(&want_pause))
				usleep(200);
			atomic_fetch_sub(&parked, 1);
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t idx = first + (size_t)(x % k);
		uint32_t g = ++gens[idx];
		wpat_fill(page(idx), ps, tag, idx, g);
		long w = wpat_check_gen(page(idx), ps, tag, idx, g);
		if (w >= 0)
			report_bad("write-back", idx, w);
		atomic_fetch_add_explicit(&writes, 1, memory_order_relaxed);
		if (n % 64 == 0) {
			size_t j = first + rr++ % k;
			w = wpat_check_gen(page(j), ps, tag, j, gens[j]);
			if (w >= 0)
				report_bad("re-check", j, w);
			if (pause_us)
				usleep(pause_us);
		}
	}
	return NULL;
}

static void do_pause(void)
{
	atomic_store(&want_pause, 1);
	while (atomic_load(&parked) < nthreads)
		usleep(100);
}

static void do_resume(void)
{
	atomic_store(&want_pause, 0);
}

static void cmd_check(void)
{
	int was = atomic_load(&want_pause);
	uint64_t sum = 0, nbad = 0;
	do_pause();
	for (size_t i = 0; i < npages; i++) {
		long w = wpat_check_gen(page(i), ps, tag, i, gens[i]);
		if (w >= 0) {
			nbad++;
			report_bad("check", i, w);
		}
		for (size_t j = 0; j < ps / 8; j++)
			sum = sum * 31 + page(i)[j];
	}
	if (!was)
		do_resume();
	reply("ok %zu %llu %016llx", npages, (unsigned long long)nbad,
	      (unsigned long long)sum);
}

static void cmd_fork(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pid_t pid = fork();
	if (pid < 0)
		return reply("err fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		usleep((useconds_t)(ts.tv_nsec / 1000 % 20000));
		_exit(0);
	}
	reply("ok %d", (int)pid);
}

static void reap(int sig)
{
	(void)sig;
	int e = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = e;
}

int main(int argc, char **argv)
{
	char line[256];

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s TAG PAGES THREADS [PAUSE_US]\n",
			argv[0]);
		return 2;
	}
	saved_argv = argv;
	ps = (size_t)sysconf(_SC_PAGESIZE);
	tag = (uint32_t)strtoul(argv[1], NULL, 0);
	npages = strtoul(argv[2], NULL, 0);
	nthreads = atoi(argv[3]);
	if (argc == 5)
		pause_us = (unsigned)atoi(argv[4]);
	if (!npages || nthreads < 1 || nthreads > MAX_THREADS ||
	    npages < (size_t)nthreads) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	signal(SIGCHLD, reap);
	uint8_t *res = mmap(NULL, (npages + 2) * ps, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return 4;
	region = mmap(res + ps, npages * ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	gens = calloc(npages, sizeof(*gens));
	if (region == MAP_FAILED || !gens)
		return 4;
	madvise(region, npages * ps, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i++) {
		gens[i] = 1;
		wpat_fill(page(i), ps, tag, i, 1);
	}
	reply("ready %d %lx %zu", (int)getpid(), (unsigned long)region, npages);
	for (int i = 0; i < nthreads; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, writer, (void *)(intptr_t)i))
			return 5;
		pthread_detach(th);
	}
	while (target_read_line(line, sizeof(line)) == 0) {
		if (!strcmp(line, "status")) {
			reply("ok %llu %llu",
			      (unsigned long long)atomic_load(&writes),
			      (unsigned long long)atomic_load(&bad));
		} else if (!strcmp(line, "pause")) {
			do_pause();
			reply("ok");
		} else if (!strcmp(line, "resume")) {
			do_resume();
			reply("ok");
		} else if (!strcmp(line, "check")) {
			cmd_check();
		} else if (!strncmp(line, "write ", 6)) {
			size_t idx = strtoul(line + 6, NULL, 0);
			if (idx >= npages || !atomic_load(&want_pause)) {
				reply("err bad index or not paused");
				continue;
			}
			uint32_t g = ++gens[idx];
			wpat_fill(page(idx), ps, tag, idx, g);
			reply("ok %u", g);
		} else if (!strncmp(line, "sparse ", 7)) {
			size_t n = strtoul(line + 7, NULL, 0);
			uint8_t *p = mmap(NULL, (2 * n + 2) * ps, PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS |
						  MAP_NORESERVE,
					  -1, 0);
			if (!n || p == MAP_FAILED ||
			    mprotect(p + ps, 2 * n * ps,
				     PROT_READ | PROT_WRITE) < 0) {
				reply("err sparse: %s", strerror(errno));
				continue;
			}
			madvise(p + ps, 2 * n * ps, MADV_NOHUGEPAGE);
			for (size_t i = 0; i < n; i++)
				p[ps + 2 * i * ps] = 1;
			reply("ok %lx", (unsigned long)(p + ps));
		} else if (!strcmp(line, "fork")) {
			cmd_fork();
		} else if (!strcmp(line, "exec")) {
			do_pause(); /* no writer mid-page while we go */
			execv("/proc/self/exe", saved_argv);
			do_resume();
			reply("err exec: %s", strerror(errno));
		} else if (!strcmp(line, "exit")) {
			reply("ok");
			_exit(0);
		} else {
			reply("err unknown command '%s'", line);
		}
	}
	return 0; /* end of input */
}

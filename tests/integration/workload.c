/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_workload: a target process the integration tests steer through a
 * line protocol. It prints "ready PID" when it starts (also after `exec`),
 * then reads one command per line on stdin and answers one line on stdout,
 * "ok [VALUES]" or "err MESSAGE". Addresses are lowercase hex without 0x.
 *
 *   pid                                   ok PID
 *   pagesize                              ok BYTES
 *   map NAME PAGES [KIND] [prot=P]        ok ADDR   KIND: anon (default),
 *                                         shared-anon, file PATH, shared-file
 * PATH thp NAME MIB                          ok ADDR   2 MiB aligned,
 * MADV_HUGEPAGE heap NAME PAGES                       ok ADDR   page-aligned
 * sbrk area name NAME LABEL                       ok PR_SET_VMA_ANON_NAME write
 * NAME IDX BYTE                   ok        whole page, pattern.h fill NAME
 * FIRST COUNT BYTE            ok        write on COUNT pages poke NAME IDX BYTE
 * ok        one byte at offset 0 read NAME IDX                         ok BYTE
 * read-only touch mprotect NAME FIRST COUNT PROT        ok munmap NAME ok remap
 * NAME                            ok ADDR   munmap + anon mmap, same address
 *   mremap NAME NEWPAGES                  ok ADDR   moves to a new address
 *   madvise NAME FIRST COUNT ADVICE       ok        dontneed, free, remove,
 *                                                   pageout
 *   scribble NAME COUNT SEED              ok        COUNT random page writes
 *   threads NAME N [PAUSE_US]             ok TID..  racing writers, page i*k..
 * of NAME idle N                                ok TID..  threads blocked
 * forever counts                                ok SEQ..  last sequence number
 * per writer stopthreads                           ok fork ok PID    child
 * sleeps until parent dies zombie                                ok PID child
 * exited, left unreaped exec                                  (re-executes
 * itself: "ready PID") exit CODE                             ok, then exits
 *
 * Every region NAME is placed between two PROT_NONE guard pages so that it
 * never merges with a neighbouring mapping. PROT is a string of r, w, x or
 * "none".
 *
 * Writer thread i of `threads NAME N` owns pages [i*k, (i+1)*k) with
 * k = PAGES/N; it loops seq = 1, 2, ... storing seq into the first word of
 * page i*k + seq%k and into a word that wanders through that page. With
 * PAUSE_US, it picks the page pseudo-randomly instead and sleeps PAUSE_US
 * microseconds after each write, so that at any moment some of its pages
 * are clean and others are being written for the first time in the epoch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmdline.h"
#include "pattern.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define MAX_REGIONS 64
#define MAX_THREADS 16
#define HUGE_SZ (2UL << 20)

struct region {
	char name[32];
	uint8_t *addr;
	size_t pages;
	int mapped;
};

struct writer {
	pthread_t th;
	uint64_t *base;
	size_t first, count;
	unsigned pause_us;
	_Atomic uint64_t seq;
	_Atomic pid_t tid;
};

static struct region regions[MAX_REGIONS];
static struct writer writers[MAX_THREADS];
static int nwriters;
static _Atomic int stop_writers;
static _Atomic int idle_started;
static size_t ps;
static char **saved_argv;

static void reply(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		off += w;
	}
}

static struct region *find(const char *name)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (regions[i].addr && !strcmp(regions[i].name, name))
			return &regions[i];
	return NULL;
}

static struct region *add(const char *name)
{
	struct region *r = find(name);
	if (r)
		return r;
	for (int i = 0; i < MAX_REGIONS; i++)
		if (!regions[i].addr) {
			snprintf(regions[i].name, sizeof(regions[i].name), "%s",
				 name);
			return &regions[i];
		}
	return NULL;
}

static int parse_prot(const char *s)
{
	int prot = 0;
	if (!strcmp(s, "none") || !strcmp(s, "-"))
		return PROT_NONE;
	for (; *s; s++) {
		if (*s == 'r')
			prot |= PROT_READ;
		else if (*s == 'w')
			prot |= PROT_WRITE;
		else if (*s == 'x')
			prot |= PROT_EXEC;
		else
			return -1;
	}
	return prot;
}

/* PROT_NONE reservation of pages+2; returns the address after the guard. */
static uint8_t *reserve(size_t pages)
{
	void *p = mmap(NULL, (pages + 2) * ps, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : (uint8_t *)p + ps;
}

static int open_sized(const char *path, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 ||
	    ((size_t)st.st_size < len && ftruncate(fd, (off_t)len) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cmd_map(char **av, int ac)
{
	if (ac < 3)
		return reply(
			"err usage: map NAME PAGES [KIND [PATH]] [prot=P]");
	size_t pages = strtoul(av[2], NULL, 0);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1,
	    prot = PROT_READ | PROT_WRITE;
	const char *path = NULL;
	int i = 3;
	if (i < ac && strncmp(av[i], "prot=", 5)) {
		const char *kind = av[i++];
		if (!strcmp(kind, "shared-anon")) {
			flags = MAP_SHARED | MAP_ANONYMOUS;
		} else if (!strcmp(kind, "file") ||
			   !strcmp(kind, "shared-file")) {
			if (i >= ac)
				return reply("err %s needs a path", kind);
			path = av[i++];
			flags = kind[0] == 's' ? MAP_SHARED : MAP_PRIVATE;
		} else if (strcmp(kind, "anon")) {
			return reply("err unknown kind %s", kind);
		}
	}
	if (i < ac && !strncmp(av[i], "prot=", 5))
		prot = parse_prot(av[i++] + 5);
	if (prot < 0 || pages == 0 || i != ac)
		return reply("err bad arguments");
	struct region *r = add(av[1]);
	if (!r)
		return reply("err too many regions");
	uint8_t *at = reserve(pages);
	if (!at)
		return reply("err reserve: %s", strerror(errno));
	if (path) {
		fd = open_sized(path, pages * ps);
		if (fd < 0)
			return reply("err %s: %s", path, strerror(errno));
	}
	void *p = mmap(at, pages * ps, prot, flags | MAP_FIXED, fd, 0);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return reply("err mmap: %s", strerror(err));
	if (!path)
		madvise(p, pages * ps, MADV_NOHUGEPAGE);
	r->addr = p;
	r->pages = pages;
	r->mapped = 1;
	reply("ok %lx", (unsigned long)p);
}

static void cmd_thp(char **av, int ac)
{
	if (ac != 3)
		return reply("err usage: thp NAME MIB");
	size_t mib = strtoul(av[2], NULL, 0);
	size_t len = mib << 20, total = len + 2 * HUGE_SZ;
	if (!mib || mib % 2)
		return reply("err MIB must be a positive multiple of 2");
	struct region *r = add(av[1]);
	if (!r)
		return reply("err too many regions");
	uint8_t *p = mmap(NULL, total, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return reply("err mmap: %s", strerror(errno));
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_SZ) & ~(HUGE_SZ - 1));
	if (mprotect(a, len, PROT_READ | PROT_WRITE) < 0)
		return reply("err mprotect: %s", strerror(errno));
	if (madvise(a, len, MADV_HUGEPAGE) < 0)
		return reply("err madvise: %s", strerror(errno));
	r->addr = a;
	r->pages = len / ps;
	r->mapped = 1;
	reply("ok %lx", (unsigned long)a);
}

static void cmd_heap(char **av, int ac)
{
	if (ac != 3)
		return reply("err usage: heap NAME PAGES");
	size_t pages = strtoul(av[2], NULL, 0);
	struct region *r = add(av[1]);
	if (!r || !pages)
		return reply("err bad arguments");
	uintptr_t cur = (uintptr_t)sbrk(0);
	uintptr_t a = (cur + ps - 1) & ~(ps - 1);
	if (sbrk((intptr_t)(a - cur + pages * ps)) == (void *)-1)
		return reply("err sbrk: %s", strerror(errno));
	r->addr = (uint8_t *)a;
	r->pages = pages;
	r->mapped = 1;
	reply("ok %lx", (unsigned long)a);
}

static struct region *lookup(const char *name, size_t idx, size_t count)
{
	struct region *r = find(name);
	if (!r) {
		reply("err no region %s", name);
		return NULL;
	}
	if (idx + count > r->pages || idx + count < idx) {
		reply("err page %zu+%zu out of %s", idx, count, name);
		return NULL;
	}
	return r;
}

static void cmd_write(char **av, int ac, int whole)
{
	if (ac != 4)
		return reply("err usage: write|poke NAME IDX BYTE");
	size_t idx = strtoul(av[2], NULL, 0);
	unsigned byte = (unsigned)strtoul(av[3], NULL, 0);
	struct region *r = lookup(av[1], idx, 1);
	if (!r)
		return;
	if (whole)
		pat_fill(r->addr + idx * ps, ps, byte, idx);
	else
		*(volatile uint8_t *)(r->addr + idx * ps) = (uint8_t)byte;
	reply("ok");
}

static void cmd_fill(char **av, int ac)
{
	if (ac != 5)
		return reply("err usage: fill NAME FIRST COUNT BYTE");
	size_t first = strtoul(av[2], NULL, 0), n = strtoul(av[3], NULL, 0);
	unsigned byte = (unsigned)strtoul(av[4], NULL, 0);
	struct region *r = lookup(av[1], first, n);
	if (!r)
		return;
	for (size_t i = first; i < first + n; i++)
		pat_fill(r->addr + i * ps, ps, byte, i);
	reply("ok");
}

static void cmd_read(char **av, int ac)
{
	if (ac != 3)
		return reply("err usage: read NAME IDX");
	size_t idx = strtoul(av[2], NULL, 0);
	struct region *r = lookup(av[1], idx, 1);
	if (!r)
		return;
	uint8_t v = *(volatile uint8_t *)(r->addr + idx * ps);
	reply("ok %u", v);
}

static void cmd_mprotect(char **av, int ac)
{
	if (ac != 5)
		return reply("err usage: mprotect NAME FIRST COUNT PROT");
	size_t first = strtoul(av[2], NULL, 0), n = strtoul(av[3], NULL, 0);
	int prot = parse_prot(av[4]);
	struct region *r = lookup(av[1], first, n);
	if (!r)
		return;
	if (prot < 0)
		return reply("err bad prot %s", av[4]);
	if (mprotect(r->addr + first * ps, n * ps, prot) < 0)
		return reply("err mprotect: %s", strerror(errno));
	reply("ok");
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* madvise NAME FIRST COUNT dontneed|free|remove|pageout */
static void cmd_madvise(char **av, int ac)
{
	static const struct {
		const char *name;
		int advice;
	} advs[] = {{"dontneed", MADV_DONTNEED}, {"free", MADV_FREE},
		    {"remove", MADV_REMOVE}, {"pageout", MADV_PAGEOUT}};
	if (ac != 5)
		return reply("err usage: madvise NAME FIRST COUNT ADVICE");
	size_t first = strtoul(av[2], NULL, 0), n = strtoul(av[3], NULL, 0);
	struct region *r = lookup(av[1], first, n);
	if (!r)
		return;
	for (size_t i = 0; i < sizeof(advs) / sizeof(advs[0]); i++)
		if (!strcmp(av[4], advs[i].name)) {
			if (madvise(r->addr + first * ps, n * ps,
				    advs[i].advice) < 0)
				return reply("err madvise: %s", strerror(errno));
			return reply("ok");
		}
	reply("err unknown advice %s", av[4]);
}

static void cmd_munmap(char **av, int ac)
{
	struct region *r = ac == 2 ? lookup(av[1], 0, 0) : NULL;
	if (!r)
		return ac == 2 ? (void)0 : reply("err usage: munmap NAME");
	if (munmap(r->addr, r->pages * ps) < 0)
		return reply("err munmap: %s", strerror(errno));
	r->mapped = 0;
	reply("ok");
}

static void cmd_remap(char **av, int ac)
{
	struct region *r = ac == 2 ? lookup(av[1], 0, 0) : NULL;
	if (!r)
		return ac == 2 ? (void)0 : reply("err usage: remap NAME");
	if (r->mapped && munmap(r->addr, r->pages * ps) < 0)
		return reply("err munmap: %s", strerror(errno));
	void *p = mmap(r->addr, r->pages * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return reply("err mmap: %s", strerror(errno));
	madvise(p, r->pages * ps, MADV_NOHUGEPAGE);
	r->mapped = 1;
	reply("ok %lx", (unsigned long)p);
}

static void cmd_mremap(char **av, int ac)
{
	struct region *r = ac == 3 ? lookup(av[1], 0, 0) : NULL;
	if (!r)
		return ac == 3 ? (void)0
			       : reply("err usage: mremap NAME PAGES");
	size_t pages = strtoul(av[2], NULL, 0);
	uint8_t *at = pages ? reserve(pages) : NULL;
	if (!at)
		return reply("err reserve failed");
	void *p = mremap(r->addr, r->pages * ps, pages * ps,
			 MREMAP_MAYMOVE | MREMAP_FIXED, at);
	if (p == MAP_FAILED)
		return reply("err mremap: %s", strerror(errno));
	r->addr = p;
	r->pages = pages;
	reply("ok %lx", (unsigned long)p);
}

static void cmd_scribble(char **av, int ac)
{
	if (ac != 4)
		return reply("err usage: scribble NAME COUNT SEED");
	struct region *r = lookup(av[1], 0, 0);
	if (!r)
		return;
	unsigned long n = strtoul(av[2], NULL, 0);
	uint64_t x = strtoull(av[3], NULL, 0) * 2654435761u + 1;
	for (unsigned long i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t idx = (size_t)(x % r->pages);
		pat_fill(r->addr + idx * ps, ps, (unsigned)(x >> 32), idx);
	}
	reply("ok");
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t words = ps / sizeof(uint64_t);
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	uint64_t x = (uint64_t)(uintptr_t)w * 2654435761u + 1;
	for (uint64_t seq = 1;
	     !atomic_load_explicit(&stop_writers, memory_order_relaxed);
	     seq++) {
		size_t idx = seq % w->count;
		if (w->pause_us) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			idx = (size_t)(x % w->count);
		}
		uint64_t *page = w->base + (w->first + idx) * words;
		volatile uint64_t *vp = page;
		vp[0] = seq;
		vp[1 + (seq / w->count) % (words - 1)] = seq;
		atomic_store_explicit(&w->seq, seq, memory_order_relaxed);
		if (w->pause_us)
			usleep(w->pause_us);
		else if (seq % 4096 == 0)
			sched_yield(); /* let the daemon run (slow VMs) */
	}
	return NULL;
}

static void *idle_main(void *arg)
{
	_Atomic pid_t *tid = arg;
	atomic_store(tid, (pid_t)syscall(SYS_gettid));
	atomic_fetch_add(&idle_started, 1);
	for (;;)
		pause();
	return NULL;
}

static void reply_tids(_Atomic pid_t *const *tids, int n)
{
	char buf[1024] = "ok";
	size_t len = 2;
	for (int i = 0; i < n; i++) {
		while (!atomic_load(tids[i]))
			usleep(1000);
		len += snprintf(buf + len, sizeof(buf) - len, " %d",
				(int)atomic_load(tids[i]));
	}
	reply("%s", buf);
}

static void cmd_threads(char **av, int ac)
{
	if (ac != 3 && ac != 4)
		return reply("err usage: threads NAME N [PAUSE_US]");
	int n = atoi(av[2]);
	unsigned pause_us = ac == 4 ? (unsigned)atoi(av[3]) : 0;
	struct region *r = lookup(av[1], 0, 0);
	if (!r)
		return;
	if (n <= 0 || nwriters + n > MAX_THREADS || r->pages < (size_t)n)
		return reply("err bad thread count");
	_Atomic pid_t *tids[MAX_THREADS];
	size_t k = r->pages / n;
	atomic_store(&stop_writers, 0);
	for (int i = 0; i < n; i++) {
		struct writer *w = &writers[nwriters + i];
		w->base = (uint64_t *)r->addr;
		w->first = i * k;
		w->count = k;
		w->pause_us = pause_us;
		atomic_store(&w->seq, 0);
		atomic_store(&w->tid, 0);
		tids[i] = &w->tid;
		if (pthread_create(&w->th, NULL, writer_main, w))
			return reply("err pthread_create");
	}
	nwriters += n;
	reply_tids(tids, n);
}

static void cmd_idle(char **av, int ac)
{
	static _Atomic pid_t idle_tids[MAX_THREADS];
	_Atomic pid_t *tids[MAX_THREADS];
	int n = ac == 2 ? atoi(av[1]) : 0;
	if (n <= 0 || n > MAX_THREADS || atomic_load(&idle_started))
		return reply("err usage: idle N (once, N <= %d)", MAX_THREADS);
	for (int i = 0; i < n; i++) {
		pthread_t th;
		tids[i] = &idle_tids[i];
		if (pthread_create(&th, NULL, idle_main, &idle_tids[i]))
			return reply("err pthread_create");
		pthread_detach(th);
	}
	reply_tids(tids, n);
}

static void cmd_counts(void)
{
	char buf[1024] = "ok";
	size_t len = 2;
	for (int i = 0; i < nwriters; i++)
		len += snprintf(
			buf + len, sizeof(buf) - len, " %llu",
			(unsigned long long)atomic_load(&writers[i].seq));
	reply("%s", buf);
}

static void cmd_stopthreads(void)
{
	atomic_store(&stop_writers, 1);
	for (int i = 0; i < nwriters; i++)
		pthread_join(writers[i].th, NULL);
	nwriters = 0;
	reply("ok");
}

static void cmd_fork(int zombie)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return reply("err fork: %s", strerror(errno));
	if (pid == 0) {
		if (zombie)
			_exit(0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		for (;;)
			pause();
	}
	if (zombie) {
		siginfo_t si;
		/* Wait for the exit without reaping: the child stays a zombie.
		 */
		while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 &&
		       errno == EINTR)
			;
	}
	reply("ok %d", (int)pid);
}

static void cmd_name(char **av, int ac)
{
	struct region *r = ac == 3 ? lookup(av[1], 0, 0) : NULL;
	if (!r)
		return ac == 3 ? (void)0 : reply("err usage: name NAME LABEL");
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)r->addr,
		  r->pages * ps, (unsigned long)av[2]) < 0)
		return reply("err prctl: %s", strerror(errno));
	reply("ok");
}

static int split(char *line, char **av, int max)
{
	int ac = 0;
	for (char *s = strtok(line, " \t"); s && ac < max;
	     s = strtok(NULL, " \t"))
		av[ac++] = s;
	return ac;
}

static void dispatch(char **av, int ac)
{
	const char *c = av[0];
	if (!strcmp(c, "pid"))
		reply("ok %d", (int)getpid());
	else if (!strcmp(c, "pagesize"))
		reply("ok %zu", ps);
	else if (!strcmp(c, "map"))
		cmd_map(av, ac);
	else if (!strcmp(c, "thp"))
		cmd_thp(av, ac);
	else if (!strcmp(c, "heap"))
		cmd_heap(av, ac);
	else if (!strcmp(c, "name"))
		cmd_name(av, ac);
	else if (!strcmp(c, "write"))
		cmd_write(av, ac, 1);
	else if (!strcmp(c, "poke"))
		cmd_write(av, ac, 0);
	else if (!strcmp(c, "fill"))
		cmd_fill(av, ac);
	else if (!strcmp(c, "read"))
		cmd_read(av, ac);
	else if (!strcmp(c, "mprotect"))
		cmd_mprotect(av, ac);
	else if (!strcmp(c, "madvise"))
		cmd_madvise(av, ac);
	else if (!strcmp(c, "munmap"))
		cmd_munmap(av, ac);
	else if (!strcmp(c, "remap"))
		cmd_remap(av, ac);
	else if (!strcmp(c, "mremap"))
		cmd_mremap(av, ac);
	else if (!strcmp(c, "scribble"))
		cmd_scribble(av, ac);
	else if (!strcmp(c, "threads"))
		cmd_threads(av, ac);
	else if (!strcmp(c, "idle"))
		cmd_idle(av, ac);
	else if (!strcmp(c, "counts"))
		cmd_counts();
	else if (!strcmp(c, "stopthreads"))
		cmd_stopthreads();
	else if (!strcmp(c, "fork"))
		cmd_fork(0);
	else if (!strcmp(c, "zombie"))
		cmd_fork(1);
	else if (!strcmp(c, "exec")) {
		execv("/proc/self/exe", saved_argv);
		reply("err exec: %s", strerror(errno));
	} else if (!strcmp(c, "exit")) {
		reply("ok");
		_exit(ac > 1 ? atoi(av[1]) : 0);
	} else
		reply("err unknown command %s", c);
}

int main(int argc, char **argv)
{
	char line[4096], *av[16];
	(void)argc;
	saved_argv = argv;
	ps = (size_t)sysconf(_SC_PAGESIZE);
	signal(SIGPIPE, SIG_DFL);
	reply("ready %d", (int)getpid());
	while (target_read_line(line, sizeof(line)) == 0) {
		int ac = split(line, av, 16);
		if (ac > 0)
			dispatch(av, ac);
	}
	return 0;
}

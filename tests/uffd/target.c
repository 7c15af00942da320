/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A target process for the uffd / inject tests. Reads one command per line
 * on stdin, answers one line on stdout. Its main thread therefore spends
 * its life blocked in read(), the interrupted-syscall case of injection.
 *
 *   ping                      -> pong
 *   pid                       -> <getpid()>
 *   threads N                 -> ok: N threads checking their registers
 *   check                     -> ok <loops> | bad
 *   sleep MS                  -> slept <elapsed ms>   (one clock_nanosleep)
 *   mmap PAGES [file|shro]    -> <hex addr> (anon rw, or a MAP_SHARED tmp
 *                                file rw, or a read-only shared file)
 *   fill ADDR PAGES SEED      -> ok        (writes every page)
 *   poke ADDR                 -> ok        (writes one byte)
 *   peek ADDR                 -> <byte>    (reads one byte)
 *   sum ADDR PAGES            -> <hex checksum>
 *   munmap ADDR PAGES         -> ok
 *   dontneed ADDR PAGES       -> ok        (madvise MADV_DONTNEED)
 *   mremap ADDR PAGES         -> <new hex addr> (moved)
 *   seccomp errno|kill|trap   -> ok        (filter on userfaultfd)
 *   uffd ADDR PAGES           -> ok        (own userfaultfd, MISSING mode)
 *   exec                      -> (re-executes itself; answers "ready")
 *   churn ADDR PAGES          -> ok: a thread keeps rewriting the pages,
 *                                each with its own counter
 *   verify ADDR PAGES         -> ok | bad  (stop churn; every page holds
 *                                its counter)
 *   sigs                      -> <count of SIGRTMIN received> (handler
 *                                installed at start, SA_RESTART)
 *   trickled                  -> pages the trickle has written so far
 *   stride ADDR PAGES STEP    -> ok        (writes every STEP-th page)
 *   trickle ADDR PAGES USEC   -> ok: a thread writes each page once, one
 *                                every USEC microseconds, in random order
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static size_t ps;
static atomic_int bad;
static atomic_ulong loops;

/* Each checker thread keeps values in many registers across a loop and
 * checks them: a register not restored after an injection shows up. */
static void *checker(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	for (;;) {
		register uint64_t a = seed, b = seed * 3, c = seed * 5,
				  d = seed * 7, e = seed * 11, f = seed * 13;
		for (int i = 0; i < 1000; i++) {
			__asm__ volatile(""
					 : "+r"(a), "+r"(b), "+r"(c), "+r"(d),
					   "+r"(e), "+r"(f));
			if (b != a * 3 || c != a * 5 || d != a * 7 ||
			    e != a * 11 || f != a * 13)
				atomic_store(&bad, 1);
		}
		atomic_fetch_add(&loops, 1);
		seed++;
	}
	return NULL;
}

static volatile int churn_stop;
static atomic_int churn_done = 1; /* no churner running */
static uint64_t *churn_base;
static size_t churn_pages;

static void *churner(void *arg)
{
	(void)arg;
	uint64_t n = 0;
	while (!churn_stop) {
		for (size_t i = 0; i < churn_pages && !churn_stop; i++) {
			volatile uint64_t *p =
				(uint64_t *)((char *)churn_base + i * ps);
			p[0] = n;
			p[1] = ~n;
			p[2] = i;
		}
		n++;
	}
	atomic_store(&churn_done, 1);
	return NULL;
}

static uint64_t *trickle_base;
static size_t trickle_pages;
static unsigned trickle_us;
static atomic_ulong trickle_done;

static void *trickler(void *arg)
{
	(void)arg;
	size_t *order = malloc(trickle_pages * sizeof(*order));
	for (size_t i = 0; i < trickle_pages; i++)
		order[i] = i;
	srand(42);
	for (size_t i = trickle_pages - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < trickle_pages; i++) {
		*(volatile uint64_t *)((char *)trickle_base + order[i] * ps) =
			i + 1;
		atomic_fetch_add(&trickle_done, 1);
		if (trickle_us)
			usleep(trickle_us);
	}
	free(order);
	return NULL;
}

static atomic_ulong rt_count;

static void on_rt(int sig)
{
	(void)sig;
	atomic_fetch_add(&rt_count, 1);
}

static int install_seccomp(const char *how)
{
	uint32_t act = strcmp(how, "kill") == 0	  ? SECCOMP_RET_KILL_PROCESS
		       : strcmp(how, "trap") == 0 ? SECCOMP_RET_TRAP
						  : SECCOMP_RET_ERRNO | EPERM;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, act),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static void *map_pages(unsigned long n, const char *kind)
{
	if (!kind || !*kind)
		return mmap(NULL, n * ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char path[] = "/tmp/sdfs-target-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return MAP_FAILED;
	unlink(path);
	if (ftruncate(fd, (off_t)(n * ps)) < 0)
		return MAP_FAILED;
	void *p;
	if (strcmp(kind, "shro") == 0) {
		/* fill it, then map it through a read-only fd: no VM_MAYWRITE
		 */
		char *buf = calloc(1, ps);
		for (unsigned long i = 0; i < n; i++) {
			buf[0] = (char)i;
			pwrite(fd, buf, ps, (off_t)(i * ps));
		}
		free(buf);
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		int ro = open(proc, O_RDONLY);
		p = mmap(NULL, n * ps, PROT_READ, MAP_SHARED, ro, 0);
		close(ro);
	} else {
		p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
	}
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	char line[256];
	ps = (size_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa = {.sa_handler = on_rt, .sa_flags = SA_RESTART};
	sigaction(SIGRTMIN, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "execd") == 0)
		printf("ready\n");

	for (;;) {
		ssize_t n = 0;
		/* one read(2) per byte: the main thread sits in read() */
		while ((size_t)n < sizeof(line) - 1) {
			ssize_t r = read(0, line + n, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 0;
			if (line[n++] == '\n')
				break;
		}
		line[n] = 0;
		char cmd[32] = "", s2[32] = "";
		unsigned long a = 0, b = 0, c = 0;
		sscanf(line, "%31s %lx %lu %lu", cmd, &a, &b, &c);

		if (!strcmp(cmd, "ping")) {
			printf("pong\n");
		} else if (!strcmp(cmd, "pid")) {
			printf("%d\n", getpid());
		} else if (!strcmp(cmd, "threads")) {
			sscanf(line, "%*s %lu", &a);
			for (unsigned long i = 0; i < a; i++) {
				pthread_t t;
				pthread_create(
					&t, NULL, checker,
					(void *)(uintptr_t)(i * 1000 + 1));
			}
			printf("ok\n");
		} else if (!strcmp(cmd, "check")) {
			if (atomic_load(&bad))
				printf("bad\n");
			else
				printf("ok %lu\n", atomic_load(&loops));
		} else if (!strcmp(cmd, "sleep")) {
			sscanf(line, "%*s %lu", &a);
			struct timespec t0, t1,
				d = {(time_t)(a / 1000),
				     (long)(a % 1000) * 1000000};
			clock_gettime(CLOCK_MONOTONIC, &t0);
			int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			printf("slept %ld %d\n",
			       (long)((t1.tv_sec - t0.tv_sec) * 1000 +
				      (t1.tv_nsec - t0.tv_nsec) / 1000000),
			       r);
		} else if (!strcmp(cmd, "mmap")) {
			sscanf(line, "%*s %lu %31s", &a, s2);
			void *p = map_pages(a, s2);
			printf("%lx\n",
			       p == MAP_FAILED ? 0UL : (unsigned long)p);
		} else if (!strcmp(cmd, "fill")) {
			for (unsigned long i = 0; i < b; i++)
				memset((char *)a + i * ps, (int)(c + i), ps);
			printf("ok\n");
		} else if (!strcmp(cmd, "poke")) {
			(*(volatile char *)a)++;
			printf("ok\n");
		} else if (!strcmp(cmd, "peek")) {
			printf("%d\n", *(volatile char *)a);
		} else if (!strcmp(cmd, "sum")) {
			uint64_t h = 1469598103934665603ULL;
			for (unsigned long i = 0; i < b * ps; i++)
				h = (h ^ ((unsigned char *)a)[i]) *
				    1099511628211ULL;
			printf("%llx\n", (unsigned long long)h);
		} else if (!strcmp(cmd, "munmap")) {
			munmap((void *)a, b * ps);
			printf("ok\n");
		} else if (!strcmp(cmd, "dontneed")) {
			madvise((void *)a, b * ps, MADV_DONTNEED);
			printf("ok\n");
		} else if (!strcmp(cmd, "mremap")) {
			void *p = mremap((void *)a, b * ps, b * ps,
					 MREMAP_MAYMOVE);
			/* force a move: grow in place is not a move */
			void *q = mmap(NULL, b * ps, PROT_NONE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			void *r = mremap(p, b * ps, b * ps,
					 MREMAP_MAYMOVE | MREMAP_FIXED, q);
			printf("%lx\n",
			       r == MAP_FAILED ? 0UL : (unsigned long)r);
		} else if (!strcmp(cmd, "seccomp")) {
			sscanf(line, "%*s %31s", s2);
			printf(install_seccomp(s2) == 0 ? "ok\n" : "fail\n");
		} else if (!strcmp(cmd, "uffd")) {
			int fd = (int)syscall(SYS_userfaultfd,
					      O_CLOEXEC | O_NONBLOCK |
						      1 /* USER_MODE_ONLY */);
			struct uffdio_api api = {.api = UFFD_API};
			struct uffdio_register reg = {
				.range = {a, b * ps},
				.mode = UFFDIO_REGISTER_MODE_MISSING,
			};
			if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0 ||
			    ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
				printf("fail %d\n", errno);
			else
				printf("ok\n");
		} else if (!strcmp(cmd, "exec")) {
			char *av[] = {argv[0], "execd", NULL};
			execv("/proc/self/exe", av);
			printf("fail\n");
		} else if (!strcmp(cmd, "churn")) {
			churn_base = (uint64_t *)a;
			churn_pages = b;
			churn_stop = 0;
			atomic_store(&churn_done, 0);
			pthread_t t;
			pthread_create(&t, NULL, churner, NULL);
			pthread_detach(t);
			printf("ok\n");
		} else if (!strcmp(cmd, "trickled")) {
			printf("%lu\n", atomic_load(&trickle_done));
		} else if (!strcmp(cmd, "sigs")) {
			printf("%lu\n", atomic_load(&rt_count));
		} else if (!strcmp(cmd, "stride")) {
			for (unsigned long i = 0; i < b; i += c)
				(*(volatile char *)(a + i * ps))++;
			printf("ok\n");
		} else if (!strcmp(cmd, "trickle")) {
			trickle_base = (uint64_t *)a;
			trickle_pages = b;
			trickle_us = (unsigned)c;
			pthread_t t;
			pthread_create(&t, NULL, trickler, NULL);
			pthread_detach(t);
			printf("ok\n");
		} else if (!strcmp(cmd, "verify")) {
			churn_stop = 1;
			/* wait for the churner to finish the page it is on
			 * (on a loaded machine it may sleep mid-page) */
			while (!atomic_load(&churn_done))
				usleep(1000);
			int ok = 1;
			for (unsigned long i = 0; i < b; i++) {
				uint64_t *p = (uint64_t *)(a + i * ps);
				if (p[1] != ~p[0] || p[2] != i)
					ok = 0;
			}
			printf(ok ? "ok\n" : "bad\n");
		} else {
			printf("?\n");
		}
	}
}

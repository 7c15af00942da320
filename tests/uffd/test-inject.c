/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_inject_syscall / sdfs_inject_take_fd against real child processes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "inject.h"
#include "inject_priv.h"

#define UFFD_USER_MODE_ONLY 1

static const long no_args[6];

/* The rounds of the long loops below, fewer with SDFS_INJECT_ROUNDS (the
 * emulated arm64 guest of tests/vm). */
static int rounds(int dflt)
{
	const char *e = g_getenv("SDFS_INJECT_ROUNDS");
	int n = e ? atoi(e) : 0;
	return n > 0 && n < dflt ? n : dflt;
}

static long inject(pid_t pid, long nr)
{
	long ret = 0;
	int r = sdfs_inject_syscall(pid, nr, no_args, &ret);
	g_assert_cmpint(r, ==, 0);
	return ret;
}

static void test_getpid_threads(void)
{
	struct tgt t;
	tgt_start(&t);
	g_autofree char *r = tgt_cmd(&t, "threads 4");
	g_assert_cmpstr(r, ==, "ok");
	usleep(50000);
	gint64 t0 = g_get_monotonic_time();
	const int n = rounds(200);
	for (int i = 0; i < n; i++) {
		g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
		g_assert_cmpint(inject(t.pid, SYS_gettid), ==, t.pid);
	}
	g_test_message("one injection (fork injector, seize, run, restore, "
		       "detach): %.0f us on average",
		       (g_get_monotonic_time() - t0) / (2.0 * n));
	g_test_message("register-swap window of the last injection: %llu us",
		       (unsigned long long)sdfs_inject_last_window_us());
	/* the main thread was blocked in read() every time: it still reads */
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	g_autofree char *c = tgt_cmd(&t, "check");
	g_assert_true(g_str_has_prefix(c, "ok "));
	tgt_stop(&t);
}

static void test_nanosleep_restart(void)
{
	struct tgt t;
	tgt_start(&t);
	fprintf(t.in, "sleep 1000\n");
	fflush(t.in);
	usleep(100000);
	g_assert_cmpint(proc_state(t.pid), ==, 'S');
	for (int i = 0; i < 10; i++) {
		g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
		usleep(50000);
	}
	char line[128];
	g_assert_nonnull(fgets(line, sizeof(line), t.out));
	long ms = -1;
	int rc = -1;
	g_assert_cmpint(sscanf(line, "slept %ld %d", &ms, &rc), ==, 2);
	g_test_message("slept %ld ms (asked 1000) across 10 injections", ms);
	g_assert_cmpint(rc, ==, 0);
	g_assert_cmpint(ms, >=, 1000);
	/* restarted, not started over (arm64: see INJ_CALL_AT_ENTRY) */
	g_assert_cmpint(ms, <, 1300);
	tgt_stop(&t);
}

static void test_stopped_stays_stopped(void)
{
	struct tgt t;
	tgt_start(&t);
	kill(t.pid, SIGSTOP);
	g_assert_true(wait_state(t.pid, "T"));
	g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
	usleep(100000);
	g_assert_cmpint(proc_state(t.pid), ==, 'T');
	kill(t.pid, SIGCONT);
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	tgt_stop(&t);
}

static void test_traced_busy(void)
{
	struct tgt t;
	tgt_start(&t);
	int go[2];
	g_assert_cmpint(pipe(go), ==, 0);
	pid_t tracer = fork();
	if (tracer == 0) {
		if (ptrace(PTRACE_SEIZE, t.pid, 0, 0) < 0)
			_exit(1);
		write(go[1], "x", 1);
		pause();
		_exit(0);
	}
	char c;
	g_assert_cmpint(read(go[0], &c, 1), ==, 1);
	long ret;
	g_assert_cmpint(sdfs_inject_syscall(t.pid, SYS_getpid, no_args, &ret),
			==, -EBUSY);
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	/* and once the debugger is gone, injection works */
	g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
	tgt_stop(&t);
	close(go[0]);
	close(go[1]);
}

static void take_uffd_expect(struct tgt *t, int expect)
{
	long args[6] = {O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY};
	long sys = 0;
	char why[128] = "";
	int fd = sdfs_inject_take_fd(t->pid, t->pidfd, SYS_userfaultfd, args,
				     &sys, why, sizeof(why));
	if (fd >= 0)
		close(fd);
	g_test_message("take_fd: %d (%s)", fd, why);
	if (expect >= 0)
		g_assert_cmpint(fd, >=, 0);
	else
		g_assert_cmpint(fd, ==, expect);
}

static void test_take_fd(void)
{
	struct tgt t;
	tgt_start(&t);
	for (int i = 0; i < 20; i++)
		take_uffd_expect(&t, 0);
	/* the target's copies were all closed */
	g_assert_cmpint(count_uffds(t.pid), ==, 0);
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	tgt_stop(&t);
}

static void seccomp_case(const char *how)
{
	struct tgt t;
	tgt_start(&t);
	g_autofree char *r = tgt_cmd(&t, "seccomp %s", how);
	g_assert_cmpstr(r, ==, "ok");
	take_uffd_expect(&t, -ENOTSUP);
	/* never injected: the target lives, and has no uffd */
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	g_assert_cmpint(count_uffds(t.pid), ==, 0);
	/* what the filter allows still works */
	g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
	tgt_stop(&t);
}

static void test_seccomp_errno(void)
{
	seccomp_case("errno");
}

static void test_seccomp_kill(void)
{
	seccomp_case("kill");
}

static void test_seccomp_trap(void)
{
	seccomp_case("trap");
}

static void test_seccomp_eval(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1234, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_MISC | BPF_TXA, 0),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct seccomp_data d = {.nr = 0x164, .arch = 1234};
	uint32_t r;
	g_assert_cmpint(sdfs_seccomp_eval(f, G_N_ELEMENTS(f), &d, &r), ==, 0);
	g_assert_cmphex(r, ==, SECCOMP_RET_ERRNO | 1);
	d.nr = 50;
	g_assert_cmpint(sdfs_seccomp_eval(f, G_N_ELEMENTS(f), &d, &r), ==, 0);
	g_assert_cmphex(r, ==, SECCOMP_RET_ALLOW);
	d.arch = 1;
	g_assert_cmpint(sdfs_seccomp_eval(f, G_N_ELEMENTS(f), &d, &r), ==, 0);
	g_assert_cmphex(r, ==, SECCOMP_RET_KILL_PROCESS);
	/* a jump out of the program is refused */
	struct sock_filter bad[] = {
		BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	g_assert_cmpint(sdfs_seccomp_eval(bad, 2, &d, &r), ==, -EINVAL);
	g_assert_cmphex(
		sdfs_seccomp_combine(SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 5),
		==, SECCOMP_RET_ERRNO | 5);
	g_assert_cmphex(sdfs_seccomp_combine(SECCOMP_RET_KILL_PROCESS,
					     SECCOMP_RET_ERRNO | 5),
			==, SECCOMP_RET_KILL_PROCESS);
}

static volatile int sig_stop;

static void *sig_sender(void *arg)
{
	pid_t pid = (pid_t)(uintptr_t)arg;
	long sent = 0;
	union sigval v = {0};
	while (!sig_stop && sent < 3000) {
		if (sigqueue(pid, SIGRTMIN, v) == 0)
			sent++;
		usleep(50);
	}
	return (void *)sent;
}

/* Signals arriving while we inject are delivered, each exactly once,
 * to the thread's own registers. */
static void test_signals_during(void)
{
	struct tgt t;
	tgt_start(&t);
	sig_stop = 0;
	pthread_t th;
	pthread_create(&th, NULL, sig_sender, (void *)(uintptr_t)t.pid);
	unsigned retries = 0;
	const int n = rounds(300);
	for (int i = 0; i < n; i++) {
		g_assert_cmpint(inject(t.pid, SYS_getpid), ==, t.pid);
		retries += sdfs_inject_last_retries();
	}
	sig_stop = 1;
	void *sent;
	pthread_join(th, &sent);
	usleep(100000);
	g_autofree char *c = tgt_cmd(&t, "sigs");
	g_test_message("%ld signals sent, %s received; %u injections "
		       "started over for a signal",
		       (long)sent, c, retries);
	g_assert_cmpint(atol(c), ==, (long)sent);
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	tgt_stop(&t);
}

/* The target dies while we inject: a clean -ESRCH, never a hang. */
static void test_exit_midway(void)
{
	for (int i = 0; i < 30; i++) {
		struct tgt t;
		tgt_start(&t);
		pid_t killer = fork();
		if (killer == 0) {
			usleep((useconds_t)g_random_int_range(0, 3000));
			kill(t.pid, SIGKILL);
			_exit(0);
		}
		for (int j = 0; j < 50; j++) {
			long ret;
			int r = sdfs_inject_syscall(t.pid, SYS_getpid, no_args,
						    &ret);
			if (r != 0 && r != -ESRCH)
				g_error("inject into a dying process: %d", r);
			if (r == -ESRCH)
				break;
		}
		waitpid(killer, NULL, 0);
		tgt_stop(&t);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (geteuid() != 0) {
		g_test_skip("needs root (ptrace of children is fine, but "
			    "seccomp filter reading is not)");
	}
	g_test_add_func("/inject/seccomp-eval", test_seccomp_eval);
	g_test_add_func("/inject/getpid-threads-read", test_getpid_threads);
	g_test_add_func("/inject/nanosleep-restart", test_nanosleep_restart);
	g_test_add_func("/inject/stopped-stays-stopped",
			test_stopped_stays_stopped);
	g_test_add_func("/inject/traced-ebusy", test_traced_busy);
	g_test_add_func("/inject/take-fd", test_take_fd);
	g_test_add_func("/inject/seccomp-errno", test_seccomp_errno);
	g_test_add_func("/inject/seccomp-kill", test_seccomp_kill);
	g_test_add_func("/inject/seccomp-trap", test_seccomp_trap);
	g_test_add_func("/inject/signals-during", test_signals_during);
	g_test_add_func("/inject/exit-midway", test_exit_midway);
	return g_test_run();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The injector process: the ptrace side of syscall injection, run in a
 * child forked by inject.c (see the analysis there). Raw syscalls only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "inject_arch.h"
#include "inject_priv.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif

#define STOP_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)
#define MAX_ATTEMPTS 16
#define MAX_FILTER_INSNS 4096 /* BPF_MAXINSNS */

/* ===================== the injector (after fork) ====================== */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void nap_us(unsigned us)
{
	struct timespec ts = {0, (long)us * 1000};
	nanosleep(&ts, NULL);
}

/* Value of "Key:\t<n>" in /proc/PID/task/TID/status; -1 if unknown. */
static long status_field(pid_t tid, const char *key)
{
	char path[64] = "/proc/", digits[16], buf[4096];
	size_t nd = 0, pl = strlen(path);

	/* no snprintf: this runs in the forked injector */
	for (unsigned v = (unsigned)tid; nd == 0 || v; v /= 10)
		digits[nd++] = (char)('0' + v % 10);
	while (nd)
		path[pl++] = digits[--nd];
	memcpy(path + pl, "/status", sizeof("/status"));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	size_t klen = strlen(key);
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

enum stop_kind {
	STOP_NONE,
	STOP_GONE,    /* exited or killed */
	STOP_TRAP,    /* PTRACE_EVENT_STOP: interrupt or group stop */
	STOP_SYSCALL, /* syscall-entry or -exit stop */
	STOP_SIGNAL,  /* signal-delivery-stop */
	STOP_OTHER,
};

/* Wait for tid's next stop; deadline 0: no deadline. */
static enum stop_kind wait_stop(pid_t tid, uint64_t deadline, int *sig)
{
	unsigned delay = 5;

	for (;;) {
		int status;
		pid_t r = waitpid(tid, &status,
				  __WALL | (deadline ? WNOHANG : 0));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return STOP_GONE;
		}
		if (r == tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return STOP_GONE;
			if (!WIFSTOPPED(status))
				continue;
			*sig = WSTOPSIG(status);
			int event = status >> 16;
			if (event == PTRACE_EVENT_STOP)
				return STOP_TRAP;
			if (event)
				return STOP_OTHER;
			if (*sig == (SIGTRAP | 0x80))
				return STOP_SYSCALL;
			return STOP_SIGNAL;
		}
		if (mono_ns() > deadline)
			return STOP_NONE;
		nap_us(delay);
		if (delay < 500)
			delay *= 2;
	}
}

/*
 * Bring the seized tid into an interrupt or group stop (where it sits in
 * get_signal(), before the kernel's syscall-restart logic). A signal met
 * on the way is passed on untouched and we interrupt again.
 */
static int reach_trap_stop(pid_t tid, struct inj_reply *rep, bool *group)
{
	uint64_t deadline = mono_ns() + STOP_TIMEOUT_NS;

	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		int sig = 0;
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
			rep->why = WHY_GONE;
			return -ESRCH;
		}
		switch (wait_stop(tid, deadline, &sig)) {
		case STOP_TRAP:
			/* PTRACE_INTERRUPT's stop says SIGTRAP; a group stop
			 * the stopping signal */
			if (group)
				*group = sig != SIGTRAP;
			return 0;
		case STOP_GONE:
			rep->why = WHY_GONE;
			return -ESRCH;
		case STOP_NONE:
			rep->why = WHY_STOP_TIMEOUT;
			return -ETIMEDOUT;
		case STOP_SIGNAL:
			/* deliver it as if we were not here */
			if (ptrace(PTRACE_CONT, tid, 0, sig) < 0) {
				rep->why = WHY_GONE;
				return -ESRCH;
			}
			break;
		default:
			if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
				rep->why = WHY_GONE;
				return -ESRCH;
			}
			break;
		}
	}
	rep->why = WHY_SIGNALS;
	return -EAGAIN;
}

/* The instruction at insn still is a syscall instruction (the target may
 * have exec'd since sdfs looked). */
static bool insn_ok(pid_t tid, uint64_t insn)
{
	unsigned char buf[16];
	uint64_t base = insn & ~7ULL;

	for (int i = 0; i < 2; i++) {
		errno = 0;
		long w = ptrace(PTRACE_PEEKTEXT, tid, base + 8 * i, 0);
		if (errno)
			return false;
		memcpy(buf + 8 * i, &w, 8);
	}
	return memcmp(buf + (insn - base), inj_insn, INJ_INSN_LEN) == 0;
}

static int raw_setresuid_euid(uid_t euid)
{
	return (int)syscall(SYS_setresuid, -1, euid, -1);
}

/*
 * What the thread's seccomp filters would return for each of n syscalls
 * (the worst action of all). 0 if every one is allowed.
 */
static int seccomp_check(pid_t tid, uint64_t insn, const long (*calls)[7],
			 int n, struct inj_reply *rep)
{
	static struct sock_filter prog[MAX_FILTER_INSNS];
	long mode = status_field(tid, "Seccomp");
	uint32_t act[4];

	if (mode <= 0)
		return 0; /* none (or unknown: status always has it since 3.8)
			   */
	if (mode == 1) {
		rep->why = WHY_SECCOMP_STRICT;
		return -ENOTSUP;
	}
	for (int c = 0; c < n; c++)
		act[c] = SECCOMP_RET_ALLOW;
	uid_t euid = geteuid();
	bool raised = false;
	for (unsigned long idx = 0;; idx++) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, idx, NULL);
		if (len < 0 && (errno == EACCES || errno == EPERM) && !raised &&
		    euid != 0 && raw_setresuid_euid(0) == 0) {
			/* we may ptrace it (SEIZE succeeded); reading the
			 * filter needs CAP_SYS_ADMIN, which the daemon has */
			raised = true;
			idx--;
			continue;
		}
		if (len < 0 && errno == ENOENT)
			break; /* no more filters */
		if (len < 0 || len > MAX_FILTER_INSNS ||
		    ptrace(PTRACE_SECCOMP_GET_FILTER, tid, idx, prog) != len) {
			rep->why = WHY_SECCOMP_UNREADABLE;
			if (raised)
				raw_setresuid_euid(euid);
			return -ENOTSUP;
		}
		for (int c = 0; c < n; c++) {
			struct seccomp_data d = {
				.nr = (int)calls[c][0],
				.arch = INJ_AUDIT_ARCH,
				.instruction_pointer = insn + INJ_INSN_LEN,
			};
			for (int a = 0; a < 6; a++)
				d.args[a] = (uint64_t)calls[c][1 + a];
			uint32_t r;
			if (sdfs_seccomp_eval(prog, (unsigned)len, &d, &r) <
			    0) {
				rep->why = WHY_SECCOMP_UNKNOWN;
				if (raised)
					raw_setresuid_euid(euid);
				return -ENOTSUP;
			}
			act[c] = sdfs_seccomp_combine(act[c], r);
		}
	}
	if (raised)
		raw_setresuid_euid(euid);
	for (int c = 0; c < n; c++) {
		uint32_t a = act[c] & SECCOMP_RET_ACTION_FULL;
		if (a != SECCOMP_RET_ALLOW && a != SECCOMP_RET_LOG) {
			rep->why = WHY_SECCOMP_BLOCKS;
			rep->seccomp_action = act[c];
			return -ENOTSUP;
		}
	}
	return 0;
}

/*
 * The thread is at the entry stop of our call: run it to the exit stop,
 * take the result, put *base back (made right by fix). Nothing else can
 * stop the thread between the two (signals and group stops are handled
 * after the exit stop); should anything, it is resumed, never left with
 * our registers: a signal is sent again once they are restored.
 */
static int call_to_exit(pid_t pid, pid_t tid, struct inj_regs *base,
			void (*fix)(struct inj_regs *), long *ret,
			struct inj_reply *rep, uint64_t t0)
{
	struct inj_regs out;
	int sig = 0, late_sig = 0;
	enum stop_kind k;

	if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
		goto gone;
	for (;;) {
		k = wait_stop(tid, 0, &sig);
		if (k == STOP_SYSCALL || k == STOP_GONE)
			break;
		if (k == STOP_SIGNAL)
			late_sig = sig;
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			goto gone;
	}
	/* syscall-exit stop */
	if (k != STOP_SYSCALL || inj_getregs(tid, &out) < 0)
		goto gone;
	*ret = inj_result(&out);
	fix(base);
	if (inj_setregs(tid, base) < 0)
		goto gone;
	/* ---- end of window ---- */
	rep->window_ns += mono_ns() - t0;
	if (late_sig)
		syscall(SYS_tgkill, pid, tid, late_sig);
	return 0;
gone:
	rep->why = WHY_GONE;
	return -ESRCH;
}

/*
 * Run nr(args) in the stopped tid. *base holds the registers the thread
 * has now (it is at a trap stop or at the exit stop of a previous
 * injection) and is updated when the thread had to run in between.
 * On return (success or not) the thread is stopped with its own
 * registers (with the syscall restart applied, see inject_arch.h),
 * unless it is gone.
 */
static int run_one(pid_t pid, pid_t tid, uint64_t insn, long nr,
		   const long args[6], struct inj_regs *base, long *ret,
		   struct inj_reply *rep)
{
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		struct inj_regs mod = *base, out;
		int sig = 0;
		enum stop_kind k;

		inj_set_call(&mod, insn, nr, args);
		uint64_t t0 = mono_ns();
		/* ---- window: the target holds our registers ---- */
		if (inj_setregs(tid, &mod) < 0) {
			rep->why = WHY_PTRACE;
			return -ESRCH;
		}
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			goto gone;
		k = wait_stop(tid, 0, &sig);
		if (k == STOP_GONE)
			goto gone;
		if (k == STOP_SIGNAL) {
			/*
			 * A signal came before our syscall ran: the thread is
			 * in get_signal() about to deliver it. Put its own
			 * registers back and let it go through, untouched;
			 * then stop it again and retry.
			 */
			if (inj_setregs(tid, base) < 0 ||
			    ptrace(PTRACE_CONT, tid, 0, sig) < 0)
				goto gone;
			rep->window_ns += mono_ns() - t0;
			rep->retries++;
			int r = reach_trap_stop(tid, rep, NULL);
			if (r < 0)
				return r;
			if (inj_getregs(tid, base) < 0)
				goto gone;
			continue;
		}
		if (k != STOP_SYSCALL) {
			/* a group stop (or other trap) before our syscall:
			 * we are in get_signal() again; start over here */
			if (inj_setregs(tid, base) < 0)
				goto gone;
			rep->window_ns += mono_ns() - t0;
			rep->retries++;
			continue;
		}
		/* syscall-entry stop */
		if (inj_getregs(tid, &out) < 0)
			goto gone;
		if (!inj_at_entry(&out, insn, nr)) {
			/* cannot happen; restore and give up */
			inj_setregs(tid, base);
			rep->why = WHY_PTRACE;
			return -EPROTO;
		}
		return call_to_exit(pid, tid, base, inj_restore_after_call, ret,
				    rep, t0);
	}
	rep->why = WHY_SIGNALS;
	return -EAGAIN;
gone:
	rep->why = WHY_GONE;
	return -ESRCH;
}

#ifdef INJ_CALL_AT_ENTRY
/*
 * The thread, at an interrupt stop with registers *regs, is let run into
 * the syscall instruction it is stopped on, to that syscall's entry stop
 * (see inject_arch.h: the kernel finishes setting up a restart only
 * then). 1: it is there, *regs its entry registers. 0: it was not on a
 * syscall instruction, or the syscall it entered was not that one (then
 * it is at that syscall's exit stop): *regs are the ones to inject from.
 * -errno if it is gone or cannot be stopped.
 */
static int to_syscall_entry(pid_t tid, struct inj_regs *regs,
			    struct inj_reply *rep)
{
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		uint64_t pc = inj_pc(regs);
		int sig = 0;

		if (!insn_ok(tid, pc))
			return 0;
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			goto gone;
		enum stop_kind k =
			wait_stop(tid, mono_ns() + STOP_TIMEOUT_NS, &sig);
		if (k == STOP_GONE)
			goto gone;
		if (k == STOP_SYSCALL) {
			if (inj_getregs(tid, regs) < 0)
				goto gone;
			if (inj_entered_from(regs, pc))
				return 1;
			/* some other syscall: to its exit stop, from where
			 * an injection is made as after an earlier one */
			if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0 ||
			    wait_stop(tid, 0, &sig) != STOP_SYSCALL ||
			    inj_getregs(tid, regs) < 0)
				goto gone;
			return 0;
		}
		/* a signal on the way is delivered untouched; a timeout or
		 * another stop: stop it again and look */
		if (k == STOP_SIGNAL && ptrace(PTRACE_CONT, tid, 0, sig) < 0)
			goto gone;
		if (k != STOP_TRAP) {
			int r = reach_trap_stop(tid, rep, NULL);
			if (r < 0)
				return r;
		}
		if (inj_getregs(tid, regs) < 0)
			goto gone;
		rep->retries++;
	}
	rep->why = WHY_SIGNALS;
	return -EAGAIN;
gone:
	rep->why = WHY_GONE;
	return -ESRCH;
}

/*
 * nr(args) in place of the syscall tid is entering (*base: its entry
 * registers); then the thread is put back on its syscall instruction, at
 * the exit stop, to make its own call when it runs.
 */
static int run_at_entry(pid_t pid, pid_t tid, long nr, const long args[6],
			struct inj_regs *base, long *ret, struct inj_reply *rep)
{
	struct inj_regs mod = *base;

	inj_set_entry_call(&mod, nr, args);
	uint64_t t0 = mono_ns();
	/* ---- window: the target holds our registers ---- */
	if (inj_setregs(tid, &mod) < 0) {
		rep->why = WHY_GONE;
		return -ESRCH;
	}
	return call_to_exit(pid, tid, base, inj_back_to_insn, ret, rep, t0);
}
#endif

static int injector_work(const struct inj_job *job, struct inj_reply *rep,
			 int *ret_fd)
{
	pid_t tid = job->tid;
	struct inj_regs regs;
	long calls[2][7] = {{job->nr, job->args[0], job->args[1], job->args[2],
			     job->args[3], job->args[4], job->args[5]},
			    {SYS_close, 0, 0, 0, 0, 0, 0}};
	int err;

	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		err = -errno;
		if (err == -EPERM && status_field(tid, "TracerPid") > 0) {
			rep->why = WHY_TRACED;
			return -EBUSY;
		}
		rep->why = err == -ESRCH ? WHY_GONE : WHY_SEIZE;
		return err;
	}
	/* From here on, exiting detaches the thread (with its own
	 * registers: they are only ever swapped inside run_one() and
	 * run_at_entry()). */
	bool group = false;
	err = reach_trap_stop(tid, rep, &group);
	if (err < 0)
		return err;
	if (inj_getregs(tid, &regs) < 0) {
		rep->why = WHY_GONE;
		return -ESRCH;
	}
	if (!inj_native(&regs)) {
		rep->why = WHY_COMPAT;
		err = -ENOTSUP;
		goto out;
	}
	if (!insn_ok(tid, job->insn)) {
		rep->why = WHY_INSN_CHANGED;
		err = -EAGAIN;
		goto out;
	}
	/* the fd number is unknown yet: close(any) is what is checked */
	err = seccomp_check(tid, job->insn, (const long(*)[7])calls,
			    job->take_fd ? 2 : 1, rep);
	if (err < 0)
		goto out;

#ifdef INJ_CALL_AT_ENTRY
	/* (a group-stopped thread is not made to run its syscall) */
	int entered = group ? 0 : to_syscall_entry(tid, &regs, rep);
	if (entered < 0) {
		err = entered;
		goto out;
	}
	if (entered)
		err = run_at_entry(job->pid, tid, job->nr, job->args, &regs,
				   &rep->ret, rep);
	else
#endif
		err = run_one(job->pid, tid, job->insn, job->nr, job->args,
			      &regs, &rep->ret, rep);
	if (err < 0)
		goto out;
	if (job->take_fd && rep->ret >= 0) {
		int fd = (int)syscall(SYS_pidfd_getfd, job->pidfd,
				      (int)rep->ret, 0);
		if (fd < 0)
			rep->getfd_err = -errno;
		else
			*ret_fd = fd;
		long cargs[6] = {rep->ret, 0, 0, 0, 0, 0};
		/* close the target's copy whatever happened */
		err = run_one(job->pid, tid, job->insn, SYS_close, cargs, &regs,
			      &rep->close_ret, rep);
	}
out:
	if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0 && err == 0) {
		rep->why = WHY_GONE;
		err = -ESRCH;
	}
	return err;
}

static int send_reply(int sock, const struct inj_reply *rep, int fd)
{
	struct iovec iov = {(void *)rep, sizeof(*rep)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

_Noreturn void sdfs_injector_main(const struct inj_job *job0, int sock)
{
	struct inj_job job = *job0;
	struct inj_reply rep = {0};
	sigset_t all;
	int fd = -1;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setsid();
	/* visible in ps; and `killall sdfs` (exact comm) leaves it alone */
	prctl(PR_SET_NAME, "sdfs-inject", 0, 0, 0);
	/*
	 * Keep only the socket and the pidfd, where they are: the daemon's
	 * other fds (/dev/fuse...) must not live on in here. Closing around
	 * them needs no free descriptor (the daemon may be at its limit).
	 */
	int keep[2] = {sock, job.take_fd ? job.pidfd : -1};
	if (keep[1] >= 0 && keep[1] < keep[0]) {
		keep[1] = keep[0];
		keep[0] = job.pidfd;
	}
	unsigned lo = 3;
	for (int k = 0; k < 2; k++) {
		if (keep[k] < 0)
			continue;
		if ((unsigned)keep[k] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[k] - 1, 0);
		lo = (unsigned)keep[k] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);

	rep.err = injector_work(&job, &rep, &fd);
	send_reply(sock, &rep, rep.err == 0 ? fd : -1);
	_exit(0);
}

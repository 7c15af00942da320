/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Make another process run one system call (docs/design.md, the kernel facts).
 *
 * How: PTRACE_SEIZE + PTRACE_INTERRUPT one thread, save its registers,
 * point its instruction pointer at a syscall instruction that already
 * exists in its address space (found in [vdso], else in any executable
 * mapping: no code is written, so the other threads run on untouched),
 * load the syscall number and arguments, resume it with PTRACE_SYSCALL
 * to the syscall-entry and then the syscall-exit stop, read the result,
 * put every register back, detach.
 *
 * Why PTRACE_SYSCALL and not PTRACE_SINGLESTEP: a tracer that dies while
 * its tracee single-steps leaves the trap flag set in an untraced
 * process, whose next instruction then raises SIGTRAP and kills it
 * (core). Syscall tracing is switched off by the kernel when the tracer
 * goes away; it has no such after-effect.
 *
 * === What if sdfs is killed (-9) in the middle ===
 *
 * A PTRACE_SEIZE'd tracee whose tracer dies is detached and resumes
 * from its stop *with whatever registers it has then*. While our
 * registers are loaded (from SETREGS(ours) to SETREGS(theirs)), it would
 * execute the syscall and then continue in the [vdso] code after the
 * syscall instruction with a garbage register file: it would crash.
 * This cannot be made harmless without writing code or a signal frame
 * into the target (a single syscall instruction, once executed, falls
 * through into code we do not control). So the ptrace work is not done
 * by sdfs itself: it is done by a small forked *injector* process that
 * owns nothing else and
 *   - blocks every blockable signal and leaves sdfs's session and
 *     process group (setsid), so Ctrl-C, SIGTERM, SIGHUP or a kill of
 *     sdfs's process group never reach it;
 *   - does not die with sdfs (no PR_SET_PDEATHSIG): if sdfs is killed at
 *     any moment, the injector finishes its few microseconds of work,
 *     puts the registers back, closes the target's copy of the new fd,
 *     detaches, finds nobody to report to and exits;
 *   - only ever uses raw syscalls after fork() (no malloc, no locks), so
 *     a multi-threaded sdfs can fork it safely.
 * The one remaining hazard is a SIGKILL aimed at the injector process
 * itself during the window in which the target's registers are swapped
 * (two PTRACE_SYSCALL round trips, measured ~20-60 us; see
 * sdfs_inject_last_window_us()). The window is kept to exactly that:
 * everything that can be prepared (finding the instruction, checking
 * seccomp, reading registers) is done before it.
 *
 * If the *target* is stopped or traced when we come:
 *   - traced by another tracer: PTRACE_SEIZE fails: -EBUSY, nothing
 *     touched;
 *   - group-stopped (SIGSTOP): seizing it reports the group stop; we run
 *     the syscall, restore, detach, and the kernel re-arms the group stop
 *     (__ptrace_unlink), so it is stopped again and runs none of its own
 *     code;
 *   - stopped inside an interrupted syscall: see inj_restore_after_call()
 *     in inject_arch.h: the restart the kernel would have done is done;
 *   - a signal arriving while our registers are loaded: its
 *     signal-delivery-stop comes before our syscall runs; we put the
 *     original registers back and let the signal be delivered to them
 *     unchanged (same siginfo, same restart semantics), then start over;
 *   - seccomp: the target's filters are read (PTRACE_SECCOMP_GET_FILTER)
 *     and evaluated here before anything is injected; unless they allow
 *     the syscalls, nothing is injected (-ENOTSUP). A filter that would
 *     kill or trap on userfaultfd therefore never sees it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "cleanup.h"
#include "compat.h"
#include "inject.h"
#include "scan.h"
#include "inject_arch.h"
#include "inject_priv.h"
#include "log.h"
#include "proc.h"

#define SCAN_LIMIT (1UL << 20) /* bytes of one mapping searched for insn */

/* ========================= the sdfs side ============================== */

static __thread uint64_t last_window_ns;
static __thread unsigned last_retries;

uint64_t sdfs_inject_last_window_us(void)
{
	return last_window_ns / 1000;
}

unsigned sdfs_inject_last_retries(void)
{
	return last_retries;
}

/* A syscall instruction within one page; the injector peeks the two
 * aligned words around it, which must lie in the same page. */
static bool find_in_page(const unsigned char *buf, size_t ps, uint64_t base,
			 uint64_t *out)
{
	for (size_t off = 0; (off & ~7UL) + 16 <= ps; off += INJ_INSN_ALIGN) {
		if (memcmp(buf + off, inj_insn, INJ_INSN_LEN) == 0) {
			*out = base + off;
			return true;
		}
	}
	return false;
}

/*
 * Search the pages of v that are present already. Reading or executing a
 * page that is not would fault it in, and sdfs must not change what the
 * process has in memory: epoch 0 counts every present page.
 */
static bool search_vma(pid_t pid, int pm_fd, const struct sdfs_vma *v,
		       bool present_only, uint64_t *out)
{
	size_t ps = sdfs_page_size();
	uint64_t end = v->end - v->start > SCAN_LIMIT ? v->start + SCAN_LIMIT
						      : v->end;
	g_autofree unsigned char *buf = g_try_malloc(ps);
	if (!buf)
		return false;
	for (uint64_t a = v->start; a < end; a += ps) {
		uint64_t e;
		if (pread(pm_fd, &e, sizeof(e), (off_t)(a / ps * 8)) != sizeof(e))
			return false;
		if (present_only && !(e & PM_PRESENT))
			continue;
		struct iovec l = {buf, ps}, r = {(void *)(uintptr_t)a, ps};
		if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)ps)
			continue;
		if (find_in_page(buf, ps, a, out))
			return true;
	}
	return false;
}

/* A syscall instruction in pid's executable mappings, [vdso] first. */
static int find_syscall_insn(pid_t pid, uint64_t *out)
{
	g_auto(SdfsMaps) m = {0};
	int r = sdfs_maps_read(pid, &m);
	if (r < 0)
		return r;
	sdfs_autofd int pm = sdfs_pagemap_open(pid);
	if (pm < 0)
		return pm;
	/* no mappings: the mm is gone (exiting) */
	r = m.n ? -ENOEXEC : -ESRCH;
	for (size_t i = 0; i < m.n && r < 0; i++)
		if (strcmp(m.vmas[i].path, "[vdso]") == 0 &&
		    search_vma(pid, pm, &m.vmas[i], true, out))
			r = 0;
	for (size_t i = 0; i < m.n && r < 0; i++)
		if (m.vmas[i].perms[2] == 'x' && m.vmas[i].perms[0] == 'r' &&
		    strcmp(m.vmas[i].path, "[vsyscall]") != 0 &&
		    search_vma(pid, pm, &m.vmas[i], true, out))
			r = 0;
	/* a process that has just exec'd may have none present yet: then
	 * [vdso] it is, whose page the injection faults in (it is present
	 * from then on, and counts like any present page in epoch 0) */
	for (size_t i = 0; i < m.n && r < 0; i++)
		if (strcmp(m.vmas[i].path, "[vdso]") == 0 &&
		    search_vma(pid, pm, &m.vmas[i], false, out))
			r = 0;
	return r;
}

/* The state letter of one thread ('R', 'S', 'Z', ...), 0 if it is gone,
 * or -errno when the daemon itself is out of fds or memory. */
static int task_state(pid_t pid, pid_t tid)
{
	char path[64];
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	int r = sdfs_read_file(path, &buf, &len);
	if (sdfs_err_resource(r))
		return r;
	if (r < 0 || sdfs_stat_parse(buf, len, &st) < 0)
		return 0;
	return st.state;
}

/* Gone, a zombie, or on its way there (PF_EXITING). Unknown (the daemon
 * is out of fds or memory) counts as alive: the caller then reports its
 * own error, not "no such process". */
static bool proc_exiting(pid_t pid)
{
	char path[64];
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int r = sdfs_read_file(path, &buf, &len);
	if (sdfs_err_resource(r))
		return false;
	if (r < 0 || sdfs_stat_parse(buf, len, &st) < 0)
		return true;
	return st.state == 'Z' || st.state == 'X' || (st.flags & 0x4);
}

/* The thread to inject into: the leader, unless it is a zombie (it
 * called pthread_exit while other threads live on). */
static pid_t pick_thread(pid_t pid)
{
	int s = task_state(pid, pid);
	if (s < 0)
		return s;
	if (s == 0)
		return -ESRCH;
	if (s != 'Z' && s != 'X')
		return pid;

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return sdfs_err_resource(-errno) ? -errno : -ESRCH;
	pid_t found = -ESRCH;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t tid = sdfs_parse_pid_name(de->d_name);
		if (tid <= 0 || tid == pid)
			continue;
		s = task_state(pid, tid);
		if (s < 0) {
			found = s;
			break;
		}
		if (s && s != 'Z' && s != 'X') {
			found = tid;
			break;
		}
	}
	closedir(d);
	return found;
}

static const char *why_text(const struct inj_reply *rep, char *buf, size_t len)
{
	switch (rep->why) {
	case WHY_TRACED:
		return "traced by another process (a debugger?)";
	case WHY_SEIZE:
		return "PTRACE_SEIZE refused";
	case WHY_STOP_TIMEOUT:
		return "thread did not stop within 2 s (uninterruptible?)";
	case WHY_GONE:
		return "process exited meanwhile";
	case WHY_COMPAT:
		return "thread runs in 32-bit compat mode";
	case WHY_INSN_CHANGED:
		return "address space changed meanwhile (exec?)";
	case WHY_SECCOMP_STRICT:
		return "seccomp strict mode";
	case WHY_SECCOMP_UNREADABLE:
		return "seccomp filter cannot be inspected";
	case WHY_SECCOMP_UNKNOWN:
		return "seccomp filter not understood";
	case WHY_SECCOMP_BLOCKS:
		snprintf(buf, len,
			 "seccomp filter does not allow it (action 0x%08x)",
			 rep->seccomp_action);
		return buf;
	case WHY_SIGNALS:
		return "interrupted by signals too often";
	case WHY_PTRACE:
		return "unexpected ptrace state";
	case WHY_GETFD:
		return "pidfd_getfd failed";
	default:
		return "unknown";
	}
}

static int recv_reply(int sock, struct inj_reply *rep, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {rep, sizeof(*rep)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(*rep))
		return -EPROTO; /* the injector died without a word */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

static int inject_run(pid_t pid, struct inj_job *job, struct inj_reply *rep,
		      int *ret_fd, char *why, size_t why_len)
{
	int r = 0;

	if (!INJ_ARCH_SUPPORTED)
		return -ENOTSUP;
	for (int attempt = 0; attempt < 3; attempt++) {
		int sv[2], fd = -1;

		job->pid = pid;
		job->tid = pick_thread(pid);
		if (job->tid < 0)
			return job->tid;
		r = find_syscall_insn(pid, &job->insn);
		/* in the middle of an execve the new image may not be mapped
		 * yet: give it a moment (at most about a quarter second) */
		for (unsigned wait_us = 1000; r == -ENOEXEC && wait_us <= 128000;
		     wait_us *= 2) {
			if (proc_exiting(pid))
				break;
			usleep(wait_us);
			r = find_syscall_insn(pid, &job->insn);
		}
		if (r == -ENOEXEC && proc_exiting(pid))
			r = -ESRCH;
		if (r < 0) {
			if (why)
				snprintf(
					why, why_len, "%s",
					r == -ENOEXEC
						? "no syscall instruction found"
						: "cannot read its mappings");
			return r == -ENOEXEC ? -ENOTSUP : r;
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) <
		    0)
			return -errno;
		pid_t child = fork();
		if (child < 0) {
			r = -errno;
			close(sv[0]);
			close(sv[1]);
			return r;
		}
		if (child == 0) {
			close(sv[0]);
			sdfs_injector_main(job, sv[1]);
		}
		close(sv[1]);
		memset(rep, 0, sizeof(*rep));
		r = recv_reply(sv[0], rep, &fd);
		close(sv[0]);
		/* it exits right after replying; ECHILD if someone reaped it */
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		if (r < 0)
			return r;
		last_window_ns = rep->window_ns;
		last_retries = rep->retries;
		r = rep->err;
		if (r == 0) {
			*ret_fd = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		/* a dying process refuses PTRACE_SEIZE with EPERM */
		if (r == -EPERM && rep->why == WHY_SEIZE && proc_exiting(pid)) {
			rep->why = WHY_GONE;
			r = -ESRCH;
		}
		/* the thread exited while the process lives, or exec */
		if ((r == -ESRCH && task_state(pid, pid) > 0) ||
		    (r == -EAGAIN && rep->why == WHY_INSN_CHANGED))
			continue;
		break;
	}
	if (why && r < 0) {
		const char *t = why_text(rep, why, why_len);
		if (t != why)
			snprintf(why, why_len, "%s", t);
	}
	return r;
}

int sdfs_inject_syscall(pid_t pid, long nr, const long args[6], long *ret)
{
	struct inj_job job = {.nr = nr, .pidfd = -1};
	struct inj_reply rep;
	char why[128];
	int fd = -1;

	memcpy(job.args, args, sizeof(job.args));
	int r = inject_run(pid, &job, &rep, &fd, why, sizeof(why));
	if (r < 0) {
		if (r != -ESRCH)
			sdfs_log("inject: pid %d: syscall %ld: %s (%s)",
				 (int)pid, nr, g_strerror(-r), why);
		return r;
	}
	*ret = rep.ret;
	return 0;
}

int sdfs_inject_take_fd(pid_t pid, int pidfd, long nr, const long args[6],
			long *ret_sys, char *why, size_t why_len)
{
	struct inj_job job = {.nr = nr, .take_fd = true, .pidfd = pidfd};
	struct inj_reply rep;
	int fd = -1;

	memcpy(job.args, args, sizeof(job.args));
	int r = inject_run(pid, &job, &rep, &fd, why, why_len);
	if (r < 0)
		return r;
	if (rep.ret < 0) {
		*ret_sys = rep.ret;
		if (why)
			snprintf(why, why_len,
				 "the syscall failed in the target: %s",
				 g_strerror((int)-rep.ret));
		return -ECANCELED;
	}
	if (fd < 0) {
		if (why)
			snprintf(why, why_len, "pidfd_getfd: %s",
				 g_strerror(rep.getfd_err ? -rep.getfd_err
							  : EMFILE));
		/* taken in the injector but lost in transit: SCM_RIGHTS drops
		 * a descriptor the receiver has no room for */
		return rep.getfd_err ? rep.getfd_err : -EMFILE;
	}
	*ret_sys = rep.ret;
	return fd;
}

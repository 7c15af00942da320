/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-architecture part of syscall injection (inject.c): which
 * registers hold the syscall number, arguments and result, what the
 * syscall instruction looks like, and how the kernel's syscall-restart
 * logic must be replayed when registers are put back.
 *
 * Only raw syscalls here: this runs in the forked injector process.
 */
#pragma once

#include <errno.h>
#include <linux/audit.h>
#include <linux/elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

/* Kernel-internal restart codes, as they appear in the result register
 * of a thread stopped inside an interrupted syscall. */
#define INJ_ERESTARTSYS 512
#define INJ_ERESTARTNOINTR 513
#define INJ_ERESTARTNOHAND 514
#define INJ_ERESTART_RESTARTBLOCK 516

static inline bool inj_is_restart(long v)
{
	return v == -INJ_ERESTARTSYS || v == -INJ_ERESTARTNOINTR ||
	       v == -INJ_ERESTARTNOHAND || v == -INJ_ERESTART_RESTARTBLOCK;
}

#if defined(__x86_64__)

#define INJ_ARCH_SUPPORTED 1
#define INJ_AUDIT_ARCH AUDIT_ARCH_X86_64
#define INJ_INSN_LEN 2
#define INJ_INSN_ALIGN 1
static const unsigned char inj_insn[INJ_INSN_LEN] = {0x0f, 0x05}; /* syscall */

struct inj_regs {
	struct user_regs_struct r;
};

static inline int inj_getregs(pid_t tid, struct inj_regs *g)
{
	return ptrace(PTRACE_GETREGS, tid, 0, &g->r) < 0 ? -errno : 0;
}

static inline int inj_setregs(pid_t tid, const struct inj_regs *g)
{
	return ptrace(PTRACE_SETREGS, tid, 0, &g->r) < 0 ? -errno : 0;
}

/* A thread running 64-bit code (not ia32 / x32 compat mode). */
static inline bool inj_native(const struct inj_regs *g)
{
	return g->r.cs == 0x33; /* __USER_CS */
}

static inline uint64_t inj_pc(const struct inj_regs *g)
{
	return g->r.rip;
}

/*
 * Registers that make the thread execute nr(args) at the syscall
 * instruction at insn. orig_rax = -1 tells the kernel the thread is not
 * in a syscall, so its restart logic leaves these registers alone on
 * the way back to user mode.
 */
static inline void inj_set_call(struct inj_regs *g, uint64_t insn, long nr,
				const long a[6])
{
	g->r.rip = insn;
	g->r.rax = (unsigned long)nr;
	g->r.orig_rax = (unsigned long)-1L;
	g->r.rdi = (unsigned long)a[0];
	g->r.rsi = (unsigned long)a[1];
	g->r.rdx = (unsigned long)a[2];
	g->r.r10 = (unsigned long)a[3];
	g->r.r8 = (unsigned long)a[4];
	g->r.r9 = (unsigned long)a[5];
}

static inline long inj_result(const struct inj_regs *g)
{
	return (long)g->r.rax;
}

/* At the syscall-entry stop: is this our syscall at our instruction? */
static inline bool inj_at_entry(const struct inj_regs *g, uint64_t insn,
				long nr)
{
	return (long)g->r.orig_rax == nr && g->r.rip == insn + INJ_INSN_LEN;
}

/*
 * The registers to put back when the thread leaves our syscall-exit
 * stop. The original registers were saved in get_signal() (an interrupt
 * or group stop). Had we not intervened, x86's
 * arch_do_signal_or_restart() would, finding no signal to deliver,
 * restart an interrupted syscall: rax = orig_rax (or restart_syscall for
 * -ERESTART_RESTARTBLOCK) and rip back over the syscall instruction.
 * Leaving a syscall-exit stop does not pass through that logic unless a
 * signal happens to be pending, so it is applied here, exactly as the
 * kernel would have. orig_rax = -1 keeps it from being applied twice.
 * A signal that arrives later finds a thread about to (re)issue its
 * syscall: the same as a signal arriving just after a restart.
 */
static inline void inj_restore_after_call(struct inj_regs *g)
{
	if ((long)g->r.orig_rax >= 0 && inj_is_restart((long)g->r.rax)) {
		if ((long)g->r.rax == -INJ_ERESTART_RESTARTBLOCK)
			g->r.rax = SYS_restart_syscall;
		else
			g->r.rax = g->r.orig_rax;
		g->r.rip -= INJ_INSN_LEN;
		g->r.orig_rax = (unsigned long)-1L;
	}
}

#elif defined(__aarch64__)

#define INJ_ARCH_SUPPORTED 1
#define INJ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define INJ_INSN_LEN 4
#define INJ_INSN_ALIGN 4
static const unsigned char inj_insn[INJ_INSN_LEN] = {0x01, 0x00, 0x00,
						     0xd4}; /* svc #0 */

#ifndef NT_ARM_SYSTEM_CALL
#define NT_ARM_SYSTEM_CALL 0x404
#endif

struct inj_regs {
	struct user_regs_struct r; /* glibc: regs[31], sp, pc, pstate */
	int syscallno;
};

static inline int inj_getregs(pid_t tid, struct inj_regs *g)
{
	struct iovec iov = {&g->r, sizeof(g->r)};

	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	iov = (struct iovec){&g->syscallno, sizeof(g->syscallno)};
	if (ptrace(PTRACE_GETREGSET, tid, NT_ARM_SYSTEM_CALL, &iov) < 0)
		return -errno;
	return 0;
}

static inline int inj_setregs(pid_t tid, const struct inj_regs *g)
{
	struct iovec iov = {(void *)&g->r, sizeof(g->r)};

	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	iov = (struct iovec){(void *)&g->syscallno, sizeof(g->syscallno)};
	if (ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &iov) < 0)
		return -errno;
	return 0;
}

static inline bool inj_native(const struct inj_regs *g)
{
	return !(g->r.pstate & 0x10); /* PSR_MODE32_BIT: aarch32 task */
}

static inline uint64_t inj_pc(const struct inj_regs *g)
{
	return g->r.pc;
}

static inline void inj_set_call(struct inj_regs *g, uint64_t insn, long nr,
				const long a[6])
{
	g->r.pc = insn;
	g->r.regs[8] = (unsigned long)nr;
	for (int i = 0; i < 6; i++)
		g->r.regs[i] = (unsigned long)a[i];
	g->syscallno = -1;
}

static inline long inj_result(const struct inj_regs *g)
{
	return (long)g->r.regs[0];
}

static inline bool inj_at_entry(const struct inj_regs *g, uint64_t insn,
				long nr)
{
	return g->syscallno == nr && g->r.pc == insn + INJ_INSN_LEN;
}

/*
 * arm64's do_signal() rewinds an interrupted syscall (x0 = orig_x0,
 * pc -= 4) before get_signal(), where the thread is stopped, and sets up
 * restart_syscall (x8) for -ERESTART_RESTARTBLOCK only after
 * get_signal() returns, if the thread is still at the rewound svc.
 * Injecting from that stop would lose it: an interrupted nanosleep would
 * sleep its full time again. So a thread stopped on a syscall
 * instruction is first let run to the entry stop of that syscall
 * (inject_tracer.c, INJ_CALL_AT_ENTRY), where its registers are final;
 * the first injected call takes that syscall's place there, and the
 * thread is put back on its svc to make its own call afterwards.
 */
#define INJ_CALL_AT_ENTRY 1

static inline void inj_restore_after_call(struct inj_regs *g)
{
	(void)g;
}

/* At a syscall-entry stop: whether the thread entered by the
 * instruction at pc (the one it was stopped on). */
static inline bool inj_entered_from(const struct inj_regs *g, uint64_t pc)
{
	return g->syscallno >= 0 && g->r.pc == pc + INJ_INSN_LEN;
}

/* At a syscall-entry stop: make the syscall being entered nr(a). */
static inline void inj_set_entry_call(struct inj_regs *g, long nr,
				      const long a[6])
{
	g->syscallno = (int)nr;
	g->r.regs[8] = (unsigned long)nr;
	for (int i = 0; i < 6; i++)
		g->r.regs[i] = (unsigned long)a[i];
}

/* Registers taken at a syscall-entry stop, made the ones of a thread
 * about to execute that syscall instruction again (its arguments are
 * still in x0-x5 and x8: nothing ran). */
static inline void inj_back_to_insn(struct inj_regs *g)
{
	g->r.pc -= INJ_INSN_LEN;
	g->syscallno = -1;
}

#else
#define INJ_ARCH_SUPPORTED 0
#endif

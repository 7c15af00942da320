/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decide, before injecting a syscall, what the target's seccomp filters
 * would do with it: a filter that kills or traps on userfaultfd must
 * never see it (it would kill the target). The filters are classic BPF
 * programs (PTRACE_SECCOMP_GET_FILTER); this evaluates them on the
 * seccomp_data the kernel would build. Runs in the forked injector:
 * no allocation, no locks.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "inject_priv.h"

#define DATA_LEN ((uint32_t)sizeof(struct seccomp_data))

static int load_word(const struct seccomp_data *d, uint32_t off, uint32_t *out)
{
	if (off % 4 || off + 4 > DATA_LEN)
		return -EINVAL;
	uint32_t w;
	__builtin_memcpy(&w, (const char *)d + off, 4);
	*out = w;
	return 0;
}

int sdfs_seccomp_eval(const struct sock_filter *prog, unsigned len,
		      const struct seccomp_data *d, uint32_t *ret)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};

	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k, src;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			switch (f->code) {
			case BPF_LD | BPF_W | BPF_ABS:
				if (load_word(d, k, &A) < 0)
					return -EINVAL;
				break;
			case BPF_LD | BPF_W | BPF_LEN:
				A = DATA_LEN;
				break;
			case BPF_LD | BPF_IMM:
				A = k;
				break;
			case BPF_LD | BPF_MEM:
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				A = M[k];
				break;
			default:
				return -EINVAL;
			}
			break;
		case BPF_LDX:
			switch (f->code) {
			case BPF_LDX | BPF_W | BPF_LEN:
				X = DATA_LEN;
				break;
			case BPF_LDX | BPF_IMM:
				X = k;
				break;
			case BPF_LDX | BPF_MEM:
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				X = M[k];
				break;
			default:
				return -EINVAL;
			}
			break;
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			M[k] = BPF_CLASS(f->code) == BPF_ST ? A : X;
			break;
		case BPF_ALU:
			src = BPF_SRC(f->code) == BPF_X ? X : k;
			switch (BPF_OP(f->code)) {
			case BPF_ADD:
				A += src;
				break;
			case BPF_SUB:
				A -= src;
				break;
			case BPF_MUL:
				A *= src;
				break;
			case BPF_DIV:
				if (!src)
					return -EINVAL;
				A /= src;
				break;
			case BPF_MOD:
				if (!src)
					return -EINVAL;
				A %= src;
				break;
			case BPF_AND:
				A &= src;
				break;
			case BPF_OR:
				A |= src;
				break;
			case BPF_XOR:
				A ^= src;
				break;
			case BPF_LSH:
				A = src >= 32 ? 0 : A << src;
				break;
			case BPF_RSH:
				A = src >= 32 ? 0 : A >> src;
				break;
			case BPF_NEG:
				A = -A;
				break;
			default:
				return -EINVAL;
			}
			break;
		case BPF_JMP: {
			bool cond;
			unsigned skip;

			src = BPF_SRC(f->code) == BPF_X ? X : k;
			switch (BPF_OP(f->code)) {
			case BPF_JA:
				skip = k;
				goto jump;
			case BPF_JEQ:
				cond = A == src;
				break;
			case BPF_JGT:
				cond = A > src;
				break;
			case BPF_JGE:
				cond = A >= src;
				break;
			case BPF_JSET:
				cond = (A & src) != 0;
				break;
			default:
				return -EINVAL;
			}
			skip = cond ? f->jt : f->jf;
		jump:
			if ((uint64_t)pc + 1 + skip >= len)
				return -EINVAL; /* the kernel's checker forbids
						   it */
			pc += skip;
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(f->code) == BPF_K)
				*ret = k;
			else if (BPF_RVAL(f->code) == BPF_A)
				*ret = A;
			else
				return -EINVAL;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				X = A;
			else if (BPF_MISCOP(f->code) == BPF_TXA)
				A = X;
			else
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL; /* fell off the end: the kernel rejects such filters */
}

/* The kernel runs every filter and takes the action of highest
 * precedence: the lowest SECCOMP_RET_ACTION_FULL value as a signed
 * number (KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE
 * < LOG < ALLOW). */
uint32_t sdfs_seccomp_combine(uint32_t a, uint32_t b)
{
	int32_t aa = (int32_t)(a & SECCOMP_RET_ACTION_FULL);
	int32_t bb = (int32_t)(b & SECCOMP_RET_ACTION_FULL);
	return bb < aa ? b : a;
}

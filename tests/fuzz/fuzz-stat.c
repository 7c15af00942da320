/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_stat_parse (/proc/PID/stat) against an independent reading of
 * the format: "PID (COMM) S F4 F5 ... F23 ...", COMM ends at the last ')'. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

/* [-]digits, value without overflow; returns the bytes used or 0. */
static size_t num(const char *p, const char *end, uint64_t *out)
{
	const char *s = p;
	unsigned __int128 v = 0;

	if (s < end && *s == '-')
		s++;
	const char *d = s;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT64_MAX)
			return 0;
		s++;
	}
	if (s == d)
		return 0;
	*out = (uint64_t)v;
	return (size_t)(s - p);
}

static int oracle(const char *buf, size_t len, struct sdfs_stat *o)
{
	const char *end = buf + len, *p = buf;
	uint64_t pid;
	size_t n;

	if (p < end && *p == '-')
		return -EINVAL;
	if (!(n = num(p, end, &pid)) || pid > INT_MAX)
		return -EINVAL;
	p += n;
	if (end - p < 2 || p[0] != ' ' || p[1] != '(')
		return -EINVAL;
	p++;
	const char *rp = NULL;
	for (const char *q = end; q > p;)
		if (*--q == ')') {
			rp = q;
			break;
		}
	/* ") S " */
	if (!rp || end - rp < 4 || rp[1] != ' ' || rp[3] != ' ')
		return -EINVAL;
	o->pid = (pid_t)pid;
	o->state = rp[2];
	p = rp + 4;
	for (int f = 4; f <= 23; f++) {
		uint64_t v;
		if (!(n = num(p, end, &v)))
			return -EINVAL;
		bool neg = *p == '-';
		p += n;
		if (f < 23) {
			if (p >= end || *p != ' ')
				return -EINVAL;
			p++;
		}
		if (f == 4)
			o->ppid = neg ? -1 : (pid_t)v;
		else if (f == 9)
			o->flags = (unsigned long)v;
		else if (f == 22)
			o->starttime = v;
		else if (f == 23)
			o->vsize = v;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_dup_exact(data, size);
	struct sdfs_stat st, want;

	memset(&st, 0x5a, sizeof(st));
	memset(&want, 0, sizeof(want));
	int r = sdfs_stat_parse(buf, size, &st);
	int w = oracle(buf, size, &want);
	CHECK(r == w);
	if (r == 0) {
		CHECK(st.pid >= 0);
		CHECK(st.pid == want.pid);
		CHECK(st.state == want.state);
		CHECK(st.flags == want.flags);
		CHECK(st.starttime == want.starttime);
		CHECK(st.vsize == want.vsize);
		/* like the parser, the oracle takes "-N" as -1 and does not
		 * range-check ppid (unused by sdfs) */
		CHECK(st.ppid == want.ppid);
	}
	free(buf);
	return 0;
}

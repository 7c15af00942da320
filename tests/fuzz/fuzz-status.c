/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_status_parse (/proc/PID/status) against an independent reading
 * of the "Key:<tabs/spaces>value" lines it needs. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* digits, no overflow past max; advances *pp */
static bool dec(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
	const char *p = *pp;
	unsigned __int128 v = 0;
	bool any = false;

	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > UINT64_MAX)
			return false;
		any = true;
	}
	if (!any || v > max)
		return false;
	*pp = p;
	*out = (uint64_t)v;
	return true;
}

static int oracle(const char *buf, size_t len, struct sdfs_status *o)
{
	const char *end = buf + len;
	bool tgid = false, pid = false, uid = false, gid = false, state = false;

	for (const char *l = buf; l < end;) {
		const char *le = memchr(l, '\n', (size_t)(end - l));
		if (!le)
			le = end;
		const char *c = memchr(l, ':', (size_t)(le - l));
		if (c) {
			size_t kl = (size_t)(c - l);
			const char *v = skip_ws(c + 1, le);
			uint64_t x;
#define KEY(k) (kl == sizeof(k) - 1 && !memcmp(l, k, kl))
			if (KEY("Tgid") || KEY("Pid")) {
				if (!dec(&v, le, INT_MAX, &x))
					return -EINVAL;
				if (KEY("Tgid")) {
					o->tgid = (pid_t)x;
					tgid = true;
				} else {
					o->pid = (pid_t)x;
					pid = true;
				}
			} else if (KEY("Uid") || KEY("Gid")) {
				uint32_t *ids = KEY("Uid") ? o->uid : o->gid;
				for (int i = 0; i < 4; i++) {
					v = skip_ws(v, le);
					if (!dec(&v, le, UINT32_MAX, &x))
						return -EINVAL;
					ids[i] = (uint32_t)x;
				}
				*(KEY("Uid") ? &uid : &gid) = true;
			} else if (KEY("State")) {
				if (v >= le)
					return -EINVAL;
				o->state = *v;
				state = true;
			}
#undef KEY
		}
		if (le == end)
			break;
		l = le + 1;
	}
	return tgid && pid && uid && gid && state ? 0 : -EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_dup_exact(data, size);
	struct sdfs_status st, want, before;

	memset(&st, 0x5a, sizeof(st));
	before = st;
	memset(&want, 0, sizeof(want));
	int r = sdfs_status_parse(buf, size, &st);
	int w = oracle(buf, size, &want);
	CHECK(r == w);
	if (r == 0) {
		CHECK(st.tgid >= 0 && st.pid >= 0);
		CHECK(st.tgid == want.tgid && st.pid == want.pid);
		CHECK(st.state == want.state);
		CHECK(!memcmp(st.uid, want.uid, sizeof(st.uid)));
		CHECK(!memcmp(st.gid, want.gid, sizeof(st.gid)));
		/* the keys really are in the text */
		CHECK(memmem(buf, size, "Tgid:", 5));
		CHECK(memmem(buf, size, "State:", 6));
	} else {
		CHECK(r == -EINVAL);
		CHECK(!memcmp(&st, &before, sizeof(st))); /* untouched */
	}
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz dirty sets (sdfs/ranges.c) and their rendering (mountd/render.c)
 * against a naive model. The input is a program: each 3-byte op either
 * adds a mapping from a small table (add_vma) or adds a run (add), in any
 * order, valid or not. The model predicts every return value, and at the
 * end the set must equal the model run for run, answer contains and
 * lower_bound like it, and render one well-formed line per run.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "ranges.h"
#include "rangetext.h"
#include "render.h"

#define NPAGES 64 /* the model's address space, in pages */
#define NTAB 8	  /* mappings to pick from */
#define MAXRUNS 256

struct mrun {
	uint64_t start, end;
	uint32_t vma;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t P = sdfs_page_size();
	const uint64_t base = 0x7f0000000000ULL;
	static const char *const paths[] = {"", "[heap]", "/lib/a b.so",
					    "[anon:x]"};
	static const char *const perms[] = {"rw-p", "r--s", "---p", "r-xp"};
	struct sdfs_vma tab[NTAB];
	size_t i = 0;

	/* the mapping table: 2 bytes each, start page and length */
	for (int t = 0; t < NTAB; t++) {
		uint8_t a = i < size ? data[i++] : (uint8_t)(t * 8);
		uint8_t b = i < size ? data[i++] : 4;
		uint64_t s = a % NPAGES, len = 1 + b % 16;
		tab[t] = (struct sdfs_vma){.start = base + s * P,
					   .end = base + (s + len) * P,
					   .path = paths[b >> 6]};
		memcpy(tab[t].perms, perms[(b >> 4) & 3], 5);
	}

	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	/* model */
	struct mrun runs[MAXRUNS];
	size_t nruns = 0;
	int vmas[MAXRUNS]; /* table index of each added mapping */
	size_t nvmas = 0;
	uint64_t pages = 0;

	for (; i + 3 <= size && nruns < MAXRUNS - 1 && nvmas < MAXRUNS - 1;
	     i += 3) {
		uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
		if (op & 1) {
			int t = (op >> 1) % NTAB;
			ssize_t want;
			if (nvmas &&
			    tab[vmas[nvmas - 1]].start == tab[t].start &&
			    tab[vmas[nvmas - 1]].end == tab[t].end)
				want = (ssize_t)nvmas - 1;
			else {
				want = (ssize_t)nvmas;
				vmas[nvmas++] = t;
			}
			CHECK(sdfs_dirtyset_add_vma(&s, &tab[t]) == want);
		} else {
			uint32_t vma = (uint32_t)((op >> 1) % (nvmas + 2));
			uint64_t st = base + (uint64_t)(a % (NPAGES + 8)) * P;
			uint64_t en = base + (uint64_t)(b % (NPAGES + 8)) * P;
			int want = 0;
			if (en <= st || vma >= nvmas ||
			    (nruns && st < runs[nruns - 1].end))
				want = -EINVAL;
			CHECK(sdfs_dirtyset_add(&s, vma, st, en) == want);
			if (want == 0) {
				if (nruns && runs[nruns - 1].end == st &&
				    runs[nruns - 1].vma == vma)
					runs[nruns - 1].end = en;
				else
					runs[nruns++] =
						(struct mrun){st, en, vma};
				pages += (en - st) / P;
			}
		}
	}

	/* the set is the model */
	CHECK(s.n == nruns);
	CHECK(s.nvmas == nvmas);
	CHECK(s.pages == pages);
	struct sdfs_run_iter it;
	struct sdfs_run r, prev = {0};
	sdfs_dirtyset_iter(&s, &it);
	for (size_t k = 0; k < nruns; k++) {
		CHECK(sdfs_run_iter_next(&it, &r));
		CHECK(r.start == runs[k].start);
		CHECK(r.end == runs[k].end);
		CHECK(r.vma == runs[k].vma);
		CHECK(r.start < r.end);
		if (k)
			CHECK(!(prev.end == r.start && prev.vma == r.vma));
		prev = r;
	}
	CHECK(!sdfs_run_iter_next(&it, &r));
	for (size_t k = 0; k < nvmas; k++) {
		const struct sdfs_vma *t = &tab[vmas[k]];
		CHECK(s.vmas[k].start == t->start && s.vmas[k].end == t->end);
		CHECK(!strcmp(s.vmas[k].path, t->path));
		CHECK(!memcmp(s.vmas[k].perms, t->perms, 5));
	}
	for (uint64_t pg = 0; pg < NPAGES + 10; pg++) {
		uint64_t a = base - P + pg * P;
		for (int d = 0; d < 2; d++, a += P - 1) {
			bool in = false;
			size_t lb = nruns;
			for (size_t k = 0; k < nruns; k++)
				if (runs[k].end > a) {
					lb = k;
					in = runs[k].start <= a;
					break;
				}
			CHECK(sdfs_dirtyset_contains(&s, a) == in);
			CHECK(sdfs_dirtyset_lower_bound(&s, a) == lb);
			/* iteration goes on from a seek */
			struct sdfs_run_iter si;
			sdfs_dirtyset_seek(&s, a, &si);
			for (size_t k = lb; k < nruns; k++) {
				CHECK(sdfs_run_iter_next(&si, &r));
				CHECK(r.start == runs[k].start &&
				      r.end == runs[k].end);
			}
			CHECK(!sdfs_run_iter_next(&si, &r));
		}
	}

	/* one line per run, in the shape sdfs(5) gives */
	struct sdfs_text *out = sdfs_text_new();
	CHECK(out);
	sdfs_render_dirtyset(out, &s);
	CHECK(!out->failed);
	const char *p = out->str;
	for (size_t k = 0; k < nruns; k++) {
		const char *nl = strchr(p, '\n');
		CHECK(nl);
		const struct sdfs_vma *t = &tab[vmas[runs[k].vma]];
		char want[256];
		int wl = snprintf(want, sizeof(want),
				  "%016" PRIx64 "-%016" PRIx64 " %" PRIu64
				  " %s%s%s",
				  runs[k].start, runs[k].end,
				  (runs[k].end - runs[k].start) / P, t->perms,
				  *t->path ? " " : "", t->path);
		CHECK(wl > 0 && (size_t)wl == (size_t)(nl - p));
		CHECK(!memcmp(p, want, (size_t)wl));
		p = nl + 1;
	}
	CHECK(*p == '\0');

	/* the same text made on demand, read in pieces of every size from
	 * 1 to 97 bytes, then once more from a point behind the cursor */
	struct sdfs_rangetext rt;
	CHECK(sdfs_rangetext_init(&rt, &s) == 0);
	CHECK(rt.len == out->len);
	char piece[97];
	size_t off = 0;
	for (size_t k = 1; off < rt.len; k = k % sizeof(piece) + 1) {
		ssize_t n = sdfs_rangetext_read(&rt, piece, k, off);
		CHECK(n > 0 && (size_t)n <= k);
		CHECK((size_t)n == k || off + (size_t)n == rt.len);
		CHECK(!memcmp(piece, out->str + off, (size_t)n));
		off += (size_t)n;
	}
	CHECK(sdfs_rangetext_read(&rt, piece, sizeof(piece), rt.len) == 0);
	if (rt.len) {
		size_t back = rt.len / 2;
		ssize_t n = sdfs_rangetext_read(&rt, piece, sizeof(piece), back);
		CHECK(n > 0 && !memcmp(piece, out->str + back, (size_t)n));
	}
	sdfs_rangetext_free(&rt);
	sdfs_text_free(out);

	sdfs_dirtyset_clear(&s);
	CHECK(s.n == 0 && s.nvmas == 0 && s.pages == 0);
	sdfs_dirtyset_free(&s);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for sdfs/ranges.c: dirty sets. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "proc.h"
#include "ranges.h"

static uint64_t P; /* the system page size */

static struct sdfs_vma mkvma(uint64_t start, uint64_t end, const char *perms,
			     const char *path)
{
	struct sdfs_vma v = {.start = start, .end = end, .path = path};
	g_strlcpy(v.perms, perms, sizeof(v.perms));
	return v;
}

/* The k-th run of s. */
static struct sdfs_run run_at(const struct sdfs_dirtyset *s, size_t k)
{
	struct sdfs_run_iter it;
	struct sdfs_run r = {0};

	sdfs_dirtyset_iter(s, &it);
	for (size_t i = 0; i <= k; i++)
		g_assert_true(sdfs_run_iter_next(&it, &r));
	return r;
}

/* Check the structural invariants every dirty set must keep. */
static void check_invariants(const struct sdfs_dirtyset *s)
{
	uint64_t pages = 0;

	struct sdfs_run_iter it;
	struct sdfs_run r, q = {0};
	size_t n = 0;

	g_assert_cmpuint(s->nbytes, <=, s->bcap);
	g_assert_cmpuint(s->nblocks, <=, s->blkcap);
	g_assert_cmpuint(s->nvmas, <=, s->vcap);
	sdfs_dirtyset_iter(s, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		g_assert_cmphex(r.start, <, r.end);
		g_assert_cmpuint(r.vma, <, s->nvmas);
		pages += (r.end - r.start) / P;
		if (n) {
			g_assert_cmphex(q.end, <=, r.start);
			/* maximal: adjacent runs of one mapping are merged */
			g_assert_false(q.end == r.start && q.vma == r.vma);
		}
		q = r;
		n++;
	}
	g_assert_cmpuint(n, ==, s->n);
	g_assert_cmpuint(pages, ==, s->pages);
}

static void test_empty(void)
{
	struct sdfs_dirtyset s;

	sdfs_dirtyset_init(&s);
	g_assert_cmpuint(s.n, ==, 0);
	g_assert_cmpuint(s.pages, ==, 0);
	g_assert_false(sdfs_dirtyset_contains(&s, 0));
	g_assert_false(sdfs_dirtyset_contains(&s, UINT64_MAX));
	g_assert_cmpuint(sdfs_dirtyset_lower_bound(&s, 0), ==, 0);
	g_assert_cmpuint(sdfs_dirtyset_lower_bound(&s, UINT64_MAX), ==, 0);
	/* a run needs a mapping */
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x1000, 0x2000), ==, -EINVAL);
	sdfs_dirtyset_clear(&s);
	sdfs_dirtyset_free(&s);
	sdfs_dirtyset_free(&s);
}

static void test_merge_same_mapping(void)
{
	struct sdfs_dirtyset s;
	struct sdfs_vma v = mkvma(0x10 * P, 0x20 * P, "rw-p", "[heap]");

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10 * P, 0x11 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x11 * P, 0x12 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x12 * P, 0x15 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 1);
	g_assert_cmphex(run_at(&s, 0).start, ==, 0x10 * P);
	g_assert_cmphex(run_at(&s, 0).end, ==, 0x15 * P);
	g_assert_cmpuint(s.pages, ==, 5);
	/* a gap starts a new run */
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x16 * P, 0x17 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 2);
	g_assert_cmpuint(s.pages, ==, 6);
	/* and merges again after it */
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x17 * P, 0x20 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 2);
	g_assert_cmphex(run_at(&s, 1).end, ==, 0x20 * P);
	g_assert_cmpuint(s.pages, ==, 6 + 9);
	check_invariants(&s);
	sdfs_dirtyset_free(&s);
}

static void test_no_merge_across_mappings(void)
{
	struct sdfs_dirtyset s;
	/* two adjacent mappings of the same file, same perms even */
	struct sdfs_vma a = mkvma(0x100 * P, 0x110 * P, "rw-p", "/lib/x.so");
	struct sdfs_vma b = mkvma(0x110 * P, 0x120 * P, "rw-p", "/lib/x.so");
	struct sdfs_vma c = mkvma(0x120 * P, 0x121 * P, "r--p", "");

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10f * P, 0x110 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &b), ==, 1);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 1, 0x110 * P, 0x112 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &c), ==, 2);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 2, 0x120 * P, 0x121 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmpuint(s.pages, ==, 4);
	g_assert_cmpuint(run_at(&s, 0).vma, ==, 0);
	g_assert_cmpuint(run_at(&s, 1).vma, ==, 1);
	g_assert_cmpuint(run_at(&s, 2).vma, ==, 2);
	g_assert_cmphex(run_at(&s, 0).end, ==, run_at(&s, 1).start);
	g_assert_cmpstr(s.vmas[1].path, ==, "/lib/x.so");
	g_assert_cmpstr(s.vmas[2].path, ==, "");
	g_assert_cmpstr(s.vmas[2].perms, ==, "r--p");
	g_assert_cmphex(s.vmas[1].start, ==, 0x110 * P);
	g_assert_cmphex(s.vmas[1].end, ==, 0x120 * P);
	check_invariants(&s);
	sdfs_dirtyset_free(&s);
}

static void test_bad_input(void)
{
	struct sdfs_dirtyset s;
	struct sdfs_vma a = mkvma(0, 0x1000 * P, "rw-p", "");

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10 * P, 0x20 * P), ==, 0);

	struct {
		uint32_t vma;
		uint64_t start, end;
	} bad[] = {
		{0, 0x30 * P, 0x30 * P}, /* empty */
		{0, 0x31 * P, 0x30 * P}, /* reversed */
		{0, 0x0, 0x1 * P},	 /* before the last run */
		{0, 0x10 * P, 0x20 * P}, /* the same run again */
		{0, 0x1f * P, 0x21 * P}, /* overlapping its end */
		{0, 0x15 * P, 0x16 * P}, /* inside it */
		{0, 0x0, 0x30 * P},	 /* covering it */
		{1, 0x30 * P, 0x31 * P}, /* no such mapping */
		{UINT32_MAX, 0x30 * P, 0x31 * P},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("bad add %zu", i);
		g_assert_cmpint(sdfs_dirtyset_add(&s, bad[i].vma, bad[i].start,
						  bad[i].end),
				==, -EINVAL);
		/* nothing changed */
		g_assert_cmpuint(s.n, ==, 1);
		g_assert_cmpuint(s.pages, ==, 0x10);
		g_assert_cmphex(run_at(&s, 0).start, ==, 0x10 * P);
		g_assert_cmphex(run_at(&s, 0).end, ==, 0x20 * P);
	}
	/* still usable afterwards */
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x20 * P, 0x21 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 1);
	g_assert_cmpuint(s.pages, ==, 0x11);
	check_invariants(&s);
	sdfs_dirtyset_free(&s);
}

static void test_add_vma_dedupe(void)
{
	struct sdfs_dirtyset s;
	char path[32] = "/tmp/file";
	struct sdfs_vma a = mkvma(0x10 * P, 0x20 * P, "r--s", path);
	struct sdfs_vma a_grown = mkvma(0x10 * P, 0x30 * P, "r--s", path);
	struct sdfs_vma b = mkvma(0x40 * P, 0x50 * P, "rw-p", NULL);

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpuint(s.nvmas, ==, 1);
	/* the path is copied */
	strcpy(path, "/changed");
	g_assert_cmpstr(s.vmas[0].path, ==, "/tmp/file");
	g_assert_cmpstr(s.vmas[0].perms, ==, "r--s");
	/* a different end is a different mapping */
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a_grown), ==, 1);
	/* NULL path is stored as "" */
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &b), ==, 2);
	g_assert_cmpstr(s.vmas[2].path, ==, "");
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &b), ==, 2);
	g_assert_cmpuint(s.nvmas, ==, 3);
	/* many mappings: the index keeps counting past the first growth */
	for (uint64_t i = 0; i < 100; i++) {
		struct sdfs_vma v = mkvma((0x100 + 2 * i) * P,
					  (0x101 + 2 * i) * P, "rw-p", "");
		g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 3 + i);
		g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 3 + i);
		g_assert_cmpint(sdfs_dirtyset_add(&s, (uint32_t)(3 + i),
						  v.start, v.end),
				==, 0);
	}
	g_assert_cmpuint(s.nvmas, ==, 103);
	g_assert_cmpuint(s.n, ==, 100);
	check_invariants(&s);

	/* clear keeps nothing, and the set is usable again */
	sdfs_dirtyset_clear(&s);
	g_assert_cmpuint(s.n, ==, 0);
	g_assert_cmpuint(s.nvmas, ==, 0);
	g_assert_cmpuint(s.pages, ==, 0);
	g_assert_false(sdfs_dirtyset_contains(&s, 0x100 * P));
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpstr(s.vmas[0].path, ==, "/changed");
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10 * P, 0x11 * P), ==, 0);
	g_assert_true(sdfs_dirtyset_contains(&s, 0x10 * P));
	sdfs_dirtyset_free(&s);
}

static void test_contains_lower_bound(void)
{
	struct sdfs_dirtyset s;
	struct sdfs_vma a = mkvma(0x10 * P, 0x20 * P, "rw-p", "");
	struct sdfs_vma b = mkvma(0x20 * P, 0x30 * P, "rw-p", "");

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &b), ==, 1);
	/* runs: [0x11, 0x13) [0x15, 0x16) in a; [0x20, 0x22) in b */
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x11 * P, 0x13 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x15 * P, 0x16 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 1, 0x20 * P, 0x22 * P), ==, 0);
	g_assert_cmpuint(s.n, ==, 3);
	check_invariants(&s);

	static const struct {
		uint64_t page; /* in pages; -1 offset applied below */
		int off;       /* bytes added to page * P: 0, -1 */
		bool in;
		size_t lb;
	} cases[] = {
		{0, 0, false, 0},    {0x11, -1, false, 0},
		{0x11, 0, true, 0},  {0x12, 0, true, 0},
		{0x13, -1, true, 0}, /* last byte of the run */
		{0x13, 0, false, 1}, /* END is exclusive */
		{0x14, 0, false, 1}, {0x15, -1, false, 1},
		{0x15, 0, true, 1},  {0x16, -1, true, 1},
		{0x16, 0, false, 2}, {0x20, -1, false, 2},
		{0x20, 0, true, 2},  {0x22, -1, true, 2},
		{0x22, 0, false, 3}, {0x1000, 0, false, 3},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t addr =
			cases[i].page * P + (uint64_t)(int64_t)cases[i].off;
		if (cases[i].page == 0 && cases[i].off < 0)
			continue;
		g_test_message("addr %" G_GINT64_MODIFIER "x", addr);
		g_assert_cmpint(sdfs_dirtyset_contains(&s, addr), ==,
				cases[i].in);
		g_assert_cmpuint(sdfs_dirtyset_lower_bound(&s, addr), ==,
				 cases[i].lb);
	}
	g_assert_false(sdfs_dirtyset_contains(&s, UINT64_MAX));
	g_assert_cmpuint(sdfs_dirtyset_lower_bound(&s, UINT64_MAX), ==, 3);
	sdfs_dirtyset_free(&s);
}

/* A run that ends at the very top of the address space. */
static void test_top_of_address_space(void)
{
	struct sdfs_dirtyset s;
	uint64_t top = UINT64_MAX - P + 1; /* the last page */
	struct sdfs_vma v = mkvma(top - P, top, "rw-p", "");

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, top - P, top), ==, 0);
	g_assert_true(sdfs_dirtyset_contains(&s, top - 1));
	g_assert_false(sdfs_dirtyset_contains(&s, top));
	g_assert_false(sdfs_dirtyset_contains(&s, UINT64_MAX));
	g_assert_cmpuint(sdfs_dirtyset_lower_bound(&s, top), ==, 1);
	sdfs_dirtyset_free(&s);
}

/* A naive model: compare against a per-page bitmap over random input. */
static void test_random_against_model(void)
{
	enum { NP = 512 };
	GRand *rng = g_rand_new_with_seed(1234);

	for (int round = 0; round < 200; round++) {
		struct sdfs_dirtyset s;
		bool dirty[NP] = {false};
		int vma_of[NP];
		sdfs_dirtyset_init(&s);

		/* mappings: random partition of [0, NP) with gaps */
		uint64_t pg = 0;
		int nv = 0;
		for (int i = 0; i < NP; i++)
			vma_of[i] = -1;
		while (pg < NP) {
			uint64_t len = (uint64_t)g_rand_int_range(rng, 1, 40);
			if (pg + len > NP)
				len = NP - pg;
			bool mapped = g_rand_int_range(rng, 0, 4) != 0;
			if (mapped) {
				struct sdfs_vma v = mkvma(
					pg * P, (pg + len) * P, "rw-p", "");
				/* walk its pages in order */
				ssize_t idx = -1;
				for (uint64_t p = pg; p < pg + len;) {
					uint64_t rl =
						(uint64_t)g_rand_int_range(
							rng, 1, 6);
					if (p + rl > pg + len)
						rl = pg + len - p;
					if (g_rand_boolean(rng)) {
						idx = sdfs_dirtyset_add_vma(&s,
									    &v);
						g_assert_cmpint(idx, >=, 0);
						g_assert_cmpint(
							sdfs_dirtyset_add(
								&s,
								(uint32_t)idx,
								p * P,
								(p + rl) * P),
							==, 0);
						for (uint64_t q = p; q < p + rl;
						     q++)
							dirty[q] = true;
					}
					p += rl;
				}
				for (uint64_t q = pg; q < pg + len; q++)
					vma_of[q] = nv;
				nv++;
			}
			pg += len;
		}
		check_invariants(&s);

		/* every run lies in one mapping, and runs per mapping are
		 * maximal: compare the run count with the model */
		size_t model_runs = 0;
		uint64_t model_pages = 0;
		for (int i = 0; i < NP; i++) {
			if (!dirty[i])
				continue;
			model_pages++;
			if (i == 0 || !dirty[i - 1] ||
			    vma_of[i - 1] != vma_of[i])
				model_runs++;
		}
		g_assert_cmpuint(s.n, ==, model_runs);
		g_assert_cmpuint(s.pages, ==, model_pages);
		for (int i = 0; i < NP; i++) {
			uint64_t a = (uint64_t)i * P;
			g_assert_cmpint(sdfs_dirtyset_contains(&s, a), ==,
					dirty[i]);
			g_assert_cmpint(sdfs_dirtyset_contains(&s, a + P - 1),
					==, dirty[i]);
			size_t lb = sdfs_dirtyset_lower_bound(&s, a);
			/* the first run with end > a */
			size_t want = 0;
			while (want < s.n && run_at(&s, want).end <= a)
				want++;
			g_assert_cmpuint(lb, ==, want);
		}
		sdfs_dirtyset_free(&s);
	}
	g_rand_free(rng);
}

/* A million runs: builds in linear time, lookups stay logarithmic. No
 * timing is asserted; this catches quadratic growth that would make the
 * test time out, and checks the counts at scale. */
static void test_million_runs(void)
{
	struct sdfs_dirtyset s;
	const uint64_t n = 1000000;
	struct sdfs_vma v = mkvma(0x1000000 * P, (0x1000000 + 2 * n) * P,
				  "rw-p", "[anon:big]");
	uint64_t base = v.start;

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 0);
	gint64 t0 = g_get_monotonic_time();
	for (uint64_t i = 0; i < n; i++) {
		/* every other page, each its own run */
		uint64_t a = base + 2 * i * P;
		g_assert(sdfs_dirtyset_add(&s, 0, a, a + P) == 0);
	}
	gint64 t1 = g_get_monotonic_time();
	g_assert_cmpuint(s.n, ==, n);
	g_assert_cmpuint(s.pages, ==, n);
	for (uint64_t i = 0; i < n; i += 997) {
		uint64_t a = base + 2 * i * P;
		g_assert(sdfs_dirtyset_contains(&s, a));
		g_assert(!sdfs_dirtyset_contains(&s, a + P));
		g_assert(sdfs_dirtyset_lower_bound(&s, a + P) == i + 1);
	}
	gint64 t2 = g_get_monotonic_time();
	g_test_message("1e6 adds: %" G_GINT64_FORMAT
		       " ms; 1e3 lookups: %" G_GINT64_FORMAT " us",
		       (t1 - t0) / 1000, t2 - t1);
	check_invariants(&s);
	/* compact: a run of one page after a one-page gap is 3 bytes, plus
	 * the block table; never the 24 bytes of a struct sdfs_run */
	size_t fp = sdfs_dirtyset_footprint(&s);
	g_test_message("footprint of 1e6 runs: %zu bytes", fp);
	g_assert_cmpuint(fp, <=, 8 * n);
	sdfs_dirtyset_free(&s);

	/* a million adjacent pages collapse into one run */
	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 0);
	for (uint64_t i = 0; i < n; i++)
		g_assert(sdfs_dirtyset_add(&s, 0, base + i * P,
					   base + (i + 1) * P) == 0);
	g_assert_cmpuint(s.n, ==, 1);
	g_assert_cmpuint(s.pages, ==, n);
	sdfs_dirtyset_free(&s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/ranges/empty", test_empty);
	g_test_add_func("/ranges/merge-same-mapping", test_merge_same_mapping);
	g_test_add_func("/ranges/no-merge-across-mappings",
			test_no_merge_across_mappings);
	g_test_add_func("/ranges/bad-input", test_bad_input);
	g_test_add_func("/ranges/add-vma-dedupe", test_add_vma_dedupe);
	g_test_add_func("/ranges/contains-lower-bound",
			test_contains_lower_bound);
	g_test_add_func("/ranges/top-of-address-space",
			test_top_of_address_space);
	g_test_add_func("/ranges/random-vs-model", test_random_against_model);
	g_test_add_func("/ranges/million-runs", test_million_runs);
	return g_test_run();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for sdfs/setops.c: union and difference of dirty sets,
 * against a model (one flag per page). */
#include <string.h>

#include <glib.h>

#include "proc.h"
#include "ranges.h"

#define NPAGES 512
#define NVMAS 4 /* mappings of NPAGES / NVMAS pages each */

static uint64_t P;

static const char *const paths[NVMAS] = {"", "/a", "[heap]", "/b"};

/* A random set over the NVMAS mappings; model[i]: page i is in it. */
static void random_set(struct sdfs_dirtyset *s, bool *model, double density)
{
	memset(model, 0, NPAGES * sizeof(*model));
	for (int v = 0; v < NVMAS; v++) {
		uint64_t vs = (uint64_t)v * (NPAGES / NVMAS) * P;
		struct sdfs_vma vma = {.start = vs,
				       .end = vs + NPAGES / NVMAS * P,
				       .path = paths[v]};
		g_strlcpy(vma.perms, v % 2 ? "r--p" : "rw-p", sizeof(vma.perms));
		ssize_t idx = -1;
		for (int i = 0; i < NPAGES / NVMAS; i++) {
			if (g_random_double() >= density)
				continue;
			if (idx < 0)
				idx = sdfs_dirtyset_add_vma(s, &vma);
			g_assert_cmpint(idx, >=, 0);
			uint64_t a = vs + (uint64_t)i * P;
			g_assert_cmpint(sdfs_dirtyset_add(s, (uint32_t)idx, a, a + P),
					==, 0);
			model[v * (NPAGES / NVMAS) + i] = true;
		}
	}
}

/* s holds exactly the pages of model, each in its right mapping, with
 * adjacent pages of one mapping merged. */
static void check(const struct sdfs_dirtyset *s, const bool *model)
{
	bool seen[NPAGES] = {0};
	struct sdfs_run_iter it;
	struct sdfs_run r, prev = {0};
	uint64_t pages = 0;

	sdfs_dirtyset_iter(s, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		const struct sdfs_vma_info *v = &s->vmas[r.vma];
		g_assert_cmpuint(r.start, >=, v->start);
		g_assert_cmpuint(r.end, <=, v->end);
		int vi = (int)(v->start / (NPAGES / NVMAS * P));
		g_assert_cmpstr(v->path, ==, paths[vi]);
		g_assert_cmpstr(v->perms, ==, vi % 2 ? "r--p" : "rw-p");
		if (pages)
			g_assert_true(r.start > prev.end ||
				      s->vmas[prev.vma].start != v->start);
		for (uint64_t a = r.start; a < r.end; a += P)
			seen[a / P] = true;
		pages += (r.end - r.start) / P;
		prev = r;
	}
	g_assert_cmpuint(pages, ==, s->pages);
	for (int i = 0; i < NPAGES; i++)
		g_assert_cmpint(seen[i], ==, model[i]);
}

static void test_random(void)
{
	for (int round = 0; round < 300; round++) {
		struct sdfs_dirtyset a, b, u, d;
		bool ma[NPAGES], mb[NPAGES], mu[NPAGES], md[NPAGES];
		sdfs_dirtyset_init(&a);
		sdfs_dirtyset_init(&b);
		sdfs_dirtyset_init(&u);
		sdfs_dirtyset_init(&d);
		random_set(&a, ma, g_random_double());
		random_set(&b, mb, g_random_double());
		for (int i = 0; i < NPAGES; i++) {
			mu[i] = ma[i] || mb[i];
			md[i] = ma[i] && !mb[i];
		}
		g_assert_cmpint(sdfs_dirtyset_union(&u, &a, &b), ==, 0);
		g_assert_cmpint(sdfs_dirtyset_subtract(&d, &a, &b), ==, 0);
		check(&u, mu);
		check(&d, md);
		sdfs_dirtyset_free(&a);
		sdfs_dirtyset_free(&b);
		sdfs_dirtyset_free(&u);
		sdfs_dirtyset_free(&d);
	}
}

static void test_empty(void)
{
	struct sdfs_dirtyset a, e, u, d;
	bool ma[NPAGES], none[NPAGES] = {0};
	sdfs_dirtyset_init(&a);
	sdfs_dirtyset_init(&e);
	sdfs_dirtyset_init(&u);
	sdfs_dirtyset_init(&d);
	random_set(&a, ma, 0.5);
	g_assert_cmpint(sdfs_dirtyset_union(&u, &e, &a), ==, 0);
	check(&u, ma);
	g_assert_cmpint(sdfs_dirtyset_subtract(&d, &a, &a), ==, 0);
	check(&d, none);
	sdfs_dirtyset_clear(&d);
	g_assert_cmpint(sdfs_dirtyset_subtract(&d, &e, &a), ==, 0);
	check(&d, none);
	sdfs_dirtyset_free(&a);
	sdfs_dirtyset_free(&u);
	sdfs_dirtyset_free(&d);
}

/* A huge run against scattered holes: the difference is exact and
 * stays small in memory. */
static void test_big(void)
{
	struct sdfs_dirtyset a, b, d;
	struct sdfs_vma v = {.start = 0, .end = (1ULL << 34), .path = ""};
	g_strlcpy(v.perms, "rw-p", sizeof(v.perms));
	sdfs_dirtyset_init(&a);
	sdfs_dirtyset_init(&b);
	sdfs_dirtyset_init(&d);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&a, &v), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&b, &v), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&a, 0, 0, v.end), ==, 0);
	uint64_t holes = 0;
	for (uint64_t x = 0; x + P <= v.end; x += 4096 * P) {
		g_assert_cmpint(sdfs_dirtyset_add(&b, 0, x, x + P), ==, 0);
		holes++;
	}
	g_assert_cmpint(sdfs_dirtyset_subtract(&d, &a, &b), ==, 0);
	g_assert_cmpuint(d.pages, ==, v.end / P - holes);
	g_assert_cmpuint(d.n, ==, holes);
	g_assert_false(sdfs_dirtyset_contains(&d, 4096 * P));
	g_assert_true(sdfs_dirtyset_contains(&d, 4096 * P + P));
	sdfs_dirtyset_free(&a);
	sdfs_dirtyset_free(&b);
	sdfs_dirtyset_free(&d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/setops/random-vs-model", test_random);
	g_test_add_func("/setops/empty", test_empty);
	g_test_add_func("/setops/big", test_big);
	return g_test_run();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/pack (sdfs(5)): a round as one stream. Its header lists exactly
 * last/dropped_ranges and last/dirty_ranges, its pages equal last/pages/
 * byte for byte, a read anywhere equals the same bytes of a read from the
 * start, and an open stream keeps its round. sdfs-apply -p is tested with
 * the other ways of applying a round, in itest-image.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n)*tl_ps)

typedef struct {
	guint64 epoch, page_size, pages;
	GArray *drop, *data; /* Ext */
	gsize header_len;
	char *bytes; /* the whole stream */
	gsize len;
} Pack;

static void pack_clear(Pack *p)
{
	g_array_unref(p->drop);
	g_array_unref(p->data);
	g_free(p->bytes);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Pack, pack_clear)

/* Read and parse last/pack (asserting its syntax and size). */
static void read_pack(Fx *fx, pid_t pid, Pack *p)
{
	g_autofree char *path = mnt_path(&fx->m, pid, "last/pack");
	struct stat st;
	guint64 nd, nr;
	int used = -1;

	p->bytes = read_text(path, &p->len);
	g_assert_nonnull(p->bytes);
	g_assert_no_errno(stat(path, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
	g_assert_cmpuint((guint64)st.st_size, ==, p->len);
	g_assert_cmpint(sscanf(p->bytes,
			       "sdfs-pack 1 epoch %" SCNu64
			       " page_size %" SCNu64 " drop %" SCNu64
			       " data %" SCNu64 " pages %" SCNu64 "\n%n",
			       &p->epoch, &p->page_size, &nd, &nr, &p->pages,
			       &used),
			==, 5);
	g_assert_cmpint(used, >, 0);
	g_assert_cmpuint(p->page_size, ==, tl_ps);
	p->drop = g_array_new(FALSE, FALSE, sizeof(Ext));
	p->data = g_array_new(FALSE, FALSE, sizeof(Ext));
	const char *l = p->bytes + used;
	for (guint64 i = 0; i < nd + nr; i++, l += 39) {
		Ext e;
		char tag[5];
		int n = -1;
		g_assert_cmpint(sscanf(l, "%4s %16" SCNx64 "-%16" SCNx64 "\n%n",
				       tag, &e.start, &e.end, &n),
				==, 3);
		g_assert_cmpint(n, ==, 39);
		g_assert_cmpstr(tag, ==, i < nd ? "drop" : "data");
		g_array_append_val(i < nd ? p->drop : p->data, e);
	}
	p->header_len = (gsize)(l - p->bytes);
	g_assert_cmpuint(p->len, ==, p->header_len + p->pages * tl_ps);
}

/* The lines of a ranges file, unmerged. */
static void assert_lines_are(Fx *fx, pid_t pid, const char *file, GArray *got)
{
	g_autofree char *path = mnt_path(&fx->m, pid, file);
	g_autofree char *text = read_text(path, NULL);
	g_autoptr(GArray) r = ranges_parse(text);
	g_assert_cmpuint(got->len, ==, r->len);
	for (guint i = 0; i < r->len; i++) {
		g_assert_cmphex(g_array_index(got, Ext, i).start, ==,
				g_array_index(r, Range, i).start);
		g_assert_cmphex(g_array_index(got, Ext, i).end, ==,
				g_array_index(r, Range, i).end);
	}
}

/*
 * With the target stopped: the header is last/dropped_ranges and
 * last/dirty_ranges, the pages are last/pages/, and reads of the open
 * file at awkward places give the same bytes. Returns the epoch.
 */
static guint64 check_pack(Fx *fx, pid_t pid, GRand *rng, guint *ndrop)
{
	g_auto(Pack) p = {0};
	guint8 *b = g_malloc(tl_ps);

	g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
	wait_all_threads_state(pid, 'T');
	read_pack(fx, pid, &p);
	assert_lines_are(fx, pid, "last/dropped_ranges", p.drop);
	*ndrop = p.drop->len;
	assert_lines_are(fx, pid, "last/dirty_ranges", p.data);
	guint64 pages = 0;
	const char *at = p.bytes + p.header_len;
	for (guint i = 0; i < p.data->len; i++) {
		Ext *x = &g_array_index(p.data, Ext, i);
		for (guint64 pa = x->start; pa < x->end; pa += tl_ps) {
			g_autofree char *n = page_name(pa);
			g_autofree char *rel =
				g_strdup_printf("last/pages/%s", n);
			g_autofree char *pp = mnt_path(&fx->m, pid, rel);
			g_assert_cmpint(read_page(pp, b), ==, 0);
			if (memcmp(at, b, tl_ps))
				g_error("pack page %s differs from "
					"last/pages/",
					n);
			at += tl_ps;
			pages++;
		}
	}
	g_assert_cmpuint(pages, ==, p.pages);
	/* reads at odd places: across the header's end, inside pages */
	g_autofree char *path = mnt_path(&fx->m, pid, "last/pack");
	int fd = open(path, O_RDONLY);
	g_assert_no_errno(fd);
	g_autofree char *buf = g_malloc(3 * tl_ps);
	for (int k = 0; k < 40; k++) {
		gsize off = k < 10 && p.header_len > 5
				    ? p.header_len - 5 + k
				    : (gsize)g_rand_int_range(rng, 0,
							      (gint32)p.len);
		gsize len =
			(gsize)g_rand_int_range(rng, 1, (gint32)(3 * tl_ps));
		gsize want = off >= p.len ? 0 : MIN(len, p.len - off);
		g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==,
				(ssize_t)want);
		g_assert_cmpmem(buf, want, p.bytes + off, want);
	}
	g_assert_cmpint(pread(fd, buf, 10, (off_t)p.len), ==, 0);
	close(fd);
	g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
	g_free(b);
	return p.epoch;
}

/* Before the first clear: the first line alone. */
static void test_empty(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *path = mnt_path(&fx->m, w->pid, "last/pack");
	g_autofree char *want = g_strdup_printf(
		"sdfs-pack 1 epoch 0 page_size %zu drop 0 data 0 pages 0\n",
		(size_t)tl_ps);
	gsize len;
	g_autofree char *got = read_text(path, &len);
	g_assert_cmpstr(got, ==, want);
	struct stat st;
	g_assert_no_errno(stat(path, &st));
	g_assert_cmpuint((guint64)st.st_size, ==, strlen(want));
}

/* Rounds with writes, a page without read permission, and mappings
 * that go (dropped ranges). */
static void test_rounds(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	GRand *rng = g_rand_new_with_seed(11);
	Workload *w = fx_workload(fx);
	wl_addr(w, "map a 32");
	wl_addr(w, "map b 4");
	wl_addr(w, "map c 8");
	g_free(wl_cmd(w, "fill a 0 32 5"));
	g_free(wl_cmd(w, "fill b 0 4 6"));
	g_free(wl_cmd(w, "fill c 0 8 7"));
	g_free(wl_cmd(w, "mprotect b 1 1 none"));
	guint ndrop;
	guint64 epoch = do_clear(&fx->m, w->pid);
	g_assert_cmpuint(check_pack(fx, w->pid, rng, &ndrop), ==, epoch - 1);
	for (int round = 0; round < 3; round++) {
		g_free(wl_cmd(w, "write a %d %d", 3 + round, 40 + round));
		g_free(wl_cmd(w, "fill a %d 4 %d", 20 + round, 50 + round));
		if (round == 1)
			g_free(wl_cmd(w, "munmap c"));
		epoch = do_clear(&fx->m, w->pid);
		g_assert_cmpuint(check_pack(fx, w->pid, rng, &ndrop), ==,
				 epoch - 1);
		if (round == 1) /* c's pages, at least */
			g_assert_cmpuint(ndrop, >=, 1);
	}
	g_rand_free(rng);
}

/* An open stream keeps its round across a later clear; its pages that
 * are gone read as zeros, never as an error. */
static void test_open_keeps(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 c = wl_addr(w, "map c 8");
	g_free(wl_cmd(w, "fill c 0 8 9"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write c 2 10"));
	g_free(wl_cmd(w, "write c 5 11"));
	do_clear(&fx->m, w->pid);
	g_auto(Pack) p = {0};
	read_pack(fx, w->pid, &p);
	g_autofree char *path = mnt_path(&fx->m, w->pid, "last/pack");
	int fd = open(path, O_RDONLY);
	g_assert_no_errno(fd);
	/* where page c+2 and c+5 are in the stream */
	gsize at2 = 0, at5 = 0, off = p.header_len;
	for (guint i = 0; i < p.data->len; i++) {
		Ext *x = &g_array_index(p.data, Ext, i);
		for (guint64 pa = x->start; pa < x->end; pa += tl_ps) {
			if (pa == c + P(2))
				at2 = off;
			if (pa == c + P(5))
				at5 = off;
			off += tl_ps;
		}
	}
	g_assert_cmpuint(at2, !=, 0);
	g_assert_cmpuint(at5, !=, 0);
	g_free(wl_cmd(w, "write c 7 12"));
	do_clear(&fx->m, w->pid);
	guint8 *buf = g_malloc(p.len);
	g_assert_cmpint(pread(fd, buf, p.header_len, 0), ==,
			(ssize_t)p.header_len);
	g_assert_cmpmem(buf, p.header_len, p.bytes, p.header_len);
	g_assert_cmpint(pread(fd, buf, tl_ps, (off_t)at2), ==, (ssize_t)tl_ps);
	assert_pattern(buf, 10, 2);
	g_free(wl_cmd(w, "munmap c"));
	g_assert_cmpint(pread(fd, buf, tl_ps, (off_t)at5), ==, (ssize_t)tl_ps);
	g_assert_true(tl_all_zero(buf, tl_ps));
	close(fd);
	g_free(buf);
}

void itest_register_pack(void)
{
	itest_add("/pack/empty-before-clear", test_empty);
	itest_add("/pack/rounds-equal-last", test_rounds);
	itest_add("/pack/open-keeps-gone-zero", test_open_keeps);
}

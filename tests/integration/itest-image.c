/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/image (sdfs(5)): the captured pages as one sparse file. Every
 * round's image equals last/pages/ byte for byte, its SEEK_DATA /
 * SEEK_HOLE walk is last/dirty_ranges, holes and vanished pages read as
 * zeros, cp --sparse=always and sdfs-apply copy it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n)*tl_ps)
#define TMPFS_MAGIC 0x01021994

/* The runs of last/dirty_ranges, touching ones merged: the extents the
 * image must have. *pages: their pages. */
static GArray *expected_extents(Fx *fx, pid_t pid, guint64 *pages)
{
	g_autofree char *p = mnt_path(&fx->m, pid, "last/dirty_ranges");
	g_autofree char *text = read_text(p, NULL);
	g_autoptr(GArray) r = ranges_parse(text);
	GArray *e = g_array_new(FALSE, FALSE, sizeof(Ext));
	*pages = 0;
	for (guint i = 0; i < r->len; i++) {
		Range *x = &g_array_index(r, Range, i);
		*pages += x->pages;
		if (e->len && g_array_index(e, Ext, e->len - 1).end == x->start)
			g_array_index(e, Ext, e->len - 1).end = x->end;
		else
			g_array_append_val(e, ((Ext){x->start, x->end}));
	}
	return e;
}

/* The data extents of fd by SEEK_DATA / SEEK_HOLE from 0. */
static GArray *seek_extents(int fd)
{
	GArray *e = g_array_new(FALSE, FALSE, sizeof(Ext));
	off_t off = 0;
	for (;;) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0) {
			g_assert_cmpint(errno, ==, ENXIO);
			break;
		}
		off_t h = lseek(fd, d, SEEK_HOLE);
		g_assert_cmpint(h, >, d);
		g_array_append_val(e, ((Ext){(guint64)d, (guint64)h}));
		off = h;
	}
	return e;
}

static void assert_zero(const guint8 *b, gsize n, guint64 at)
{
	for (gsize i = 0; i < n; i++)
		if (b[i])
			g_error("byte at %" G_GINT64_MODIFIER "x: %#x, want 0",
				at + i, b[i]);
}

/*
 * With the target stopped: the image has the size, blocks and extents of
 * last/dirty_ranges, each captured page reads as last/pages/ADDR, the
 * holes around every extent read as zeros. Returns the extents.
 */
static GArray *check_image(Fx *fx, pid_t pid)
{
	g_autofree char *img = mnt_path(&fx->m, pid, "last/image");
	guint64 pages;
	GArray *want = expected_extents(fx, pid, &pages);
	guint8 *a = g_malloc(2 * tl_ps), *b = g_malloc(tl_ps);
	struct stat st;

	g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
	wait_all_threads_state(pid, 'T');
	int fd = open(img, O_RDONLY);
	g_assert_no_errno(fd);
	g_assert_no_errno(fstat(fd, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
	guint64 size =
		want->len ? g_array_index(want, Ext, want->len - 1).end : 0;
	g_assert_cmpuint((guint64)st.st_size, ==, size);
	g_assert_cmpuint((guint64)st.st_blocks, ==, pages * (tl_ps / 512));

	g_autoptr(GArray) got = seek_extents(fd);
	g_assert_cmpuint(got->len, ==, want->len);
	for (guint i = 0; i < want->len; i++) {
		Ext *x = &g_array_index(want, Ext, i),
		    *y = &g_array_index(got, Ext, i);
		g_assert_cmphex(y->start, ==, x->start);
		g_assert_cmphex(y->end, ==, x->end);
	}
	guint64 prev_end = 0;
	for (guint i = 0; i < want->len; i++) {
		Ext *x = &g_array_index(want, Ext, i);
		for (guint64 pa = x->start; pa < x->end; pa += tl_ps) {
			g_autofree char *n = page_name(pa);
			g_autofree char *rel =
				g_strdup_printf("last/pages/%s", n);
			g_autofree char *pp = mnt_path(&fx->m, pid, rel);
			g_assert_cmpint(read_page(pp, b), ==, 0);
			g_assert_cmpint(pread(fd, a, tl_ps, (off_t)pa), ==,
					(ssize_t)tl_ps);
			if (memcmp(a, b, tl_ps))
				g_error("image at %s differs from last/pages/",
					n);
		}
		/* the hole before it, and one read across into the data */
		if (x->start > prev_end) {
			g_assert_cmpint(pread(fd, a, 2 * tl_ps,
					      (off_t)(x->start - tl_ps)),
					==, (ssize_t)(2 * tl_ps));
			assert_zero(a, tl_ps, x->start - tl_ps);
			g_assert_cmpint(pread(fd, b, tl_ps, (off_t)x->start),
					==, (ssize_t)tl_ps);
			g_assert_cmpmem(a + tl_ps, tl_ps, b, tl_ps);
			g_assert_cmpint(pread(fd, a, tl_ps, (off_t)prev_end),
					==, (ssize_t)tl_ps);
			assert_zero(a, tl_ps, prev_end);
		}
		prev_end = x->end;
	}
	/* the end */
	g_assert_cmpint(pread(fd, a, tl_ps, (off_t)size), ==, 0);
	g_assert_cmpint(pread(fd, a, tl_ps, (off_t)size + 12345), ==, 0);
	g_assert_cmpint(lseek(fd, (off_t)size, SEEK_DATA), ==, -1);
	g_assert_cmpint(errno, ==, ENXIO);
	close(fd);
	g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
	g_free(a);
	g_free(b);
	return want;
}

/* Before the first clear: an empty file. */
static void test_empty(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *img = mnt_path(&fx->m, w->pid, "last/image");
	struct stat st;
	char c;

	g_assert_no_errno(stat(img, &st));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
	g_assert_cmpint(st.st_size, ==, 0);
	g_assert_cmpint(st.st_blocks, ==, 0);
	int fd = open(img, O_RDONLY);
	g_assert_no_errno(fd);
	g_assert_cmpint(read(fd, &c, 1), ==, 0);
	g_assert_cmpint(lseek(fd, 0, SEEK_DATA), ==, -1);
	g_assert_cmpint(errno, ==, ENXIO);
	g_assert_cmpint(lseek(fd, 0, SEEK_HOLE), ==, -1);
	g_assert_cmpint(errno, ==, ENXIO);
	close(fd);
	/* not writable, by anyone */
	g_assert_cmpint(open(img, O_WRONLY), ==, -1);
}

/* Rounds: the full first one, then small ones; a PROT_NONE page read
 * through /proc/PID/mem. */
static void test_rounds(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 32");
	guint64 b = wl_addr(w, "map b 4");
	g_free(wl_cmd(w, "fill a 0 32 5"));
	g_free(wl_cmd(w, "fill b 0 4 6"));
	g_free(wl_cmd(w, "mprotect b 1 1 none"));
	do_clear(&fx->m, w->pid);
	g_autoptr(GArray) e1 = check_image(fx, w->pid);
	g_assert_cmpuint(e1->len, >, 2);

	for (int round = 0; round < 3; round++) {
		g_free(wl_cmd(w, "write a %d %d", 3 + round, 40 + round));
		g_free(wl_cmd(w, "write a %d %d", 20 + round, 50 + round));
		g_free(wl_cmd(w, "write a 31 %d", 60 + round));
		do_clear(&fx->m, w->pid);
		g_autoptr(GArray) e = check_image(fx, w->pid);
		/* the pages written, whatever else the workload touched */
		guint64 in_a = 0;
		for (guint i = 0; i < e->len; i++) {
			Ext *x = &g_array_index(e, Ext, i);
			if (x->start >= a && x->end <= a + P(32))
				in_a += (x->end - x->start) / tl_ps;
		}
		g_assert_cmpuint(in_a, ==, 3);
	}
	/* the PROT_NONE page of b was in the first round: read again now
	 * through a round that captures it */
	g_free(wl_cmd(w, "mprotect b 1 1 rw"));
	g_free(wl_cmd(w, "write b 1 77"));
	g_free(wl_cmd(w, "mprotect b 1 1 none"));
	do_clear(&fx->m, w->pid);
	g_autoptr(GArray) e2 = check_image(fx, w->pid);
	g_autofree char *img = mnt_path(&fx->m, w->pid, "last/image");
	int fd = open(img, O_RDONLY);
	g_assert_no_errno(fd);
	guint8 *buf = g_malloc(tl_ps);
	g_assert_cmpint(pread(fd, buf, tl_ps, (off_t)(b + P(1))), ==,
			(ssize_t)tl_ps);
	assert_pattern(buf, 77, 1);
	close(fd);
	g_free(buf);
}

/* A captured page that is no longer mapped reads as zeros, also through
 * a file opened before it went; an open file keeps its capture. */
static void test_vanished_and_kept(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 c = wl_addr(w, "map c 8");
	g_free(wl_cmd(w, "fill c 0 8 9"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write c 2 10"));
	g_free(wl_cmd(w, "write c 5 11"));
	do_clear(&fx->m, w->pid);
	g_autofree char *img = mnt_path(&fx->m, w->pid, "last/image");
	int fd = open(img, O_RDONLY);
	g_assert_no_errno(fd);
	guint8 *buf = g_malloc(4 * tl_ps);
	g_assert_cmpint(pread(fd, buf, tl_ps, (off_t)(c + P(2))), ==,
			(ssize_t)tl_ps);
	assert_pattern(buf, 10, 2);

	/* another clear: this open file keeps the two pages */
	g_free(wl_cmd(w, "write c 7 12"));
	do_clear(&fx->m, w->pid);
	g_assert_cmpint(lseek(fd, 0, SEEK_DATA), <=, (off_t)(c + P(2)));
	g_assert_cmpint(lseek(fd, (off_t)(c + P(3)), SEEK_DATA), ==,
			(off_t)(c + P(5)));
	g_assert_cmpint(lseek(fd, (off_t)(c + P(5)), SEEK_HOLE), ==,
			(off_t)(c + P(6)));
	int fd2 = open(img, O_RDONLY);
	g_assert_no_errno(fd2);
	g_assert_cmpint(lseek(fd2, (off_t)(c + P(3)), SEEK_DATA), ==,
			(off_t)(c + P(7)));

	/* unmapped: zeros, never an error */
	g_free(wl_cmd(w, "munmap c"));
	g_assert_cmpint(pread(fd, buf, 4 * tl_ps, (off_t)(c + P(2))), ==,
			(ssize_t)(4 * tl_ps));
	assert_zero(buf, 4 * tl_ps, c + P(2));
	g_assert_cmpint(pread(fd2, buf, tl_ps, (off_t)(c + P(7))), ==,
			(ssize_t)tl_ps);
	assert_zero(buf, tl_ps, c + P(7));
	close(fd);
	close(fd2);
	g_free(buf);
}

static gboolean is_tmpfs(const char *dir)
{
	struct statfs sf;
	return statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static void run(const char *const *argv)
{
	g_autofree char *out = NULL, *err = NULL;
	int status;
	g_autoptr(GError) e = NULL;
	if (!g_spawn_sync(NULL, (char **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES, NULL,
			  NULL, &out, &err, &status, &e))
		g_error("%s: %s", argv[0], e->message);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("%s failed (0x%x): %s%s", argv[0], status, out, err);
}

/* A directory on tmpfs for copies (their offsets are addresses: ext4
 * cannot hold them); NULL and a skip message if there is none. */
static char *tmpfs_dir(void)
{
	if (!is_tmpfs("/dev/shm")) {
		g_test_skip(
			"/dev/shm is not a tmpfs: no file system here holds "
			"files as large as an address space");
		return NULL;
	}
	char *d = g_strdup("/dev/shm/sdfs-itest-image-XXXXXX");
	g_assert_nonnull(g_mkdtemp(d));
	return d;
}

static void rm_dir(char *d)
{
	const char *argv[] = {"rm", "-rf", d, NULL};
	run(argv);
	g_free(d);
}

/* Compare the bytes of a copy with the process's memory over extents. */
static void compare_copy(const char *copy, pid_t pid, GArray *ext, guint64 size)
{
	struct stat st;
	guint8 *a = g_malloc(tl_ps), *b = g_malloc(tl_ps);
	int fd = open(copy, O_RDONLY);
	g_assert_no_errno(fd);
	g_assert_no_errno(fstat(fd, &st));
	g_assert_cmpuint((guint64)st.st_size, ==, size);
	for (guint i = 0; i < ext->len; i++) {
		Ext *x = &g_array_index(ext, Ext, i);
		for (guint64 pa = x->start; pa < x->end; pa += tl_ps) {
			g_assert_cmpint(pread(fd, a, tl_ps, (off_t)pa), ==,
					(ssize_t)tl_ps);
			read_mem(pid, pa, b, tl_ps);
			if (memcmp(a, b, tl_ps))
				g_error("copy %s differs from memory at "
					"%" G_GINT64_MODIFIER "x",
					copy, pa);
		}
	}
	close(fd);
	g_free(a);
	g_free(b);
}

/* cp --sparse=always makes a sparse copy with the same bytes, data only
 * inside the image's extents. */
static void test_cp_sparse(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *img = mnt_path(&fx->m, w->pid, "last/image");
	wl_addr(w, "map a 16");
	g_free(wl_cmd(w, "fill a 0 16 3"));
	do_clear(&fx->m, w->pid);
	char *dir = tmpfs_dir();
	if (!dir)
		return;
	g_autofree char *copy = g_build_filename(dir, "image", NULL);
	g_assert_cmpint(kill(w->pid, SIGSTOP), ==, 0);
	wait_all_threads_state(w->pid, 'T');
	const char *argv[] = {"cp", "--sparse=always", img, copy, NULL};
	run(argv);
	guint64 pages;
	g_autoptr(GArray) want = expected_extents(fx, w->pid, &pages);
	guint64 size = g_array_index(want, Ext, want->len - 1).end;
	compare_copy(copy, w->pid, want, size);
	/* the copy's data lies inside the image's extents */
	int fd = open(copy, O_RDONLY);
	g_assert_no_errno(fd);
	g_autoptr(GArray) got = seek_extents(fd);
	close(fd);
	guint j = 0;
	for (guint i = 0; i < got->len; i++) {
		Ext *y = &g_array_index(got, Ext, i);
		while (j < want->len &&
		       g_array_index(want, Ext, j).end <= y->start)
			j++;
		g_assert_cmpuint(j, <, want->len);
		g_assert_cmphex(y->start, >=,
				g_array_index(want, Ext, j).start);
		g_assert_cmphex(y->end, <=, g_array_index(want, Ext, j).end);
	}
	g_assert_cmpint(kill(w->pid, SIGCONT), ==, 0);
	rm_dir(dir);
}

/*
 * sdfs-apply of a round onto the copy of the round before gives the
 * memory at the second clear, and the mapping unmapped in between reads
 * as zeros: with the extents from SEEK_DATA, with them from
 * last/dirty_ranges (-r; gaps 0 and the default), and from the round as
 * one stream (-p last/pack, from the file and through a pipe).
 */
static void test_apply(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	const char *apply = g_getenv("SDFS_APPLY");
	if (!apply) {
		g_test_skip("SDFS_APPLY is not set");
		return;
	}
	Workload *w = fx_workload(fx);
	g_autofree char *img = mnt_path(&fx->m, w->pid, "last/image");
	g_autofree char *pack = mnt_path(&fx->m, w->pid, "last/pack");
	g_autofree char *dropped =
		mnt_path(&fx->m, w->pid, "last/dropped_ranges");
	g_autofree char *ranges = mnt_path(&fx->m, w->pid, "last/dirty_ranges");
	guint64 a = wl_addr(w, "map a 16");
	guint64 c = wl_addr(w, "map c 4");
	g_free(wl_cmd(w, "fill a 0 16 3"));
	g_free(wl_cmd(w, "fill c 0 4 4"));
	do_clear(&fx->m, w->pid);
	char *dir = tmpfs_dir();
	if (!dir)
		return;
	enum { SEEK, RANGES, RANGES_G0, PACK, PACK_PIPE, N };
	const char *names[N] = {"base", "base-r", "base-r0", "base-p",
				"base-p-pipe"};
	char *base[N];
	for (int i = 0; i < N; i++)
		base[i] = g_build_filename(dir, names[i], NULL);
	guint64 pages;
	g_autoptr(GArray) e1 = expected_extents(fx, w->pid, &pages);
	for (int i = 0; i < N; i++) {
		const char *cp[] = {"cp", "--sparse=always", img, base[i],
				    NULL};
		run(cp);
	}
	g_free(wl_cmd(w, "write a 4 20"));
	g_free(wl_cmd(w, "fill a 9 3 21"));
	g_free(wl_cmd(w, "munmap c"));
	do_clear(&fx->m, w->pid);
	g_assert_cmpint(kill(w->pid, SIGSTOP), ==, 0);
	wait_all_threads_state(w->pid, 'T');
	g_autoptr(GArray) e2 = expected_extents(fx, w->pid, &pages);
	const char *ap0[] = {apply, "-d", dropped, img, base[SEEK], NULL};
	const char *ap1[] = {apply,  "-d", dropped,	 "-r",
			     ranges, img,  base[RANGES], NULL};
	const char *ap2[] = {apply, "-d", dropped,	   "-r", ranges, "-g",
			     "0",   img,  base[RANGES_G0], NULL};
	const char *ap3[] = {apply, "-p", pack, base[PACK], NULL};
	g_autofree char *sh = g_strdup_printf("cat '%s' | '%s' -p - '%s'", pack,
					      apply, base[PACK_PIPE]);
	const char *ap4[] = {"sh", "-c", sh, NULL};
	run(ap0);
	run(ap1);
	run(ap2);
	run(ap3);
	run(ap4);
	guint64 size = MAX(g_array_index(e1, Ext, e1->len - 1).end,
			   g_array_index(e2, Ext, e2->len - 1).end);
	/* the second round's pages, and the whole region of the first
	 * round (whatever else the first round held may have gone since) */
	g_autoptr(GArray) region = g_array_new(FALSE, FALSE, sizeof(Ext));
	g_array_append_val(region, ((Ext){a, a + P(16)}));
	guint8 *buf = g_malloc(P(4));
	for (int i = 0; i < N; i++) {
		compare_copy(base[i], w->pid, e2, size);
		compare_copy(base[i], w->pid, region, size);
		/* c was dropped */
		int fd = open(base[i], O_RDONLY);
		g_assert_no_errno(fd);
		g_assert_cmpint(pread(fd, buf, P(4), (off_t)c), ==,
				(ssize_t)P(4));
		assert_zero(buf, P(4), c);
		close(fd);
		g_free(base[i]);
	}
	g_free(buf);
	g_assert_cmpint(kill(w->pid, SIGCONT), ==, 0);
	rm_dir(dir);
}

void itest_register_image(void)
{
	itest_add("/image/empty-before-clear", test_empty);
	itest_add("/image/rounds-equal-last-pages", test_rounds);
	itest_add("/image/vanished-zero-open-keeps", test_vanished_and_kept);
	itest_add("/image/cp-sparse", test_cp_sparse);
	itest_add("/image/sdfs-apply", test_apply);
}

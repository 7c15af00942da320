/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile input against a root mount (sdfs(5) ERRORS and decisions
 * 1, 3, 11, 12 and ERRORS): exact errnos, no crash, no hang, no wrong data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sectest.h"

typedef struct {
	Mount sm;
	Workload *w;
	guint64 a; /* region "a": 2 pages, page 0 written with byte 6 */
	char *page; /* MNT/PID/pages/ADDR of page 0 */
} H;

static void h_start(H *h)
{
	memset(h, 0, sizeof(*h));
	sec_mount_start(&h->sm, 0, NULL, FALSE);
	h->w = wl_start();
	h->a = wl_addr(h->w, "map a 2");
	wl_do(h->w, "write a 0 6");
	g_autofree char *pg = page_name(h->a);
	g_autofree char *rel = g_strdup_printf("pages/%s", pg);
	h->page = mnt_path(&h->sm, h->w->pid, rel);
}

static void h_stop(H *h)
{
	if (h->w)
		wl_kill(h->w);
	sec_mount_stop(&h->sm);
	g_free(h->page);
}

static char *hp(H *h, const char *rel)
{
	return mnt_path(&h->sm, h->w->pid, rel);
}

/* ---- clear ------------------------------------------------------------- */

/* One write(2) of len bytes at offset off (-1: write, not pwrite) to an
 * fd opened O_WRONLY: 0 or -errno; *n the count written. */
static int clear_write(H *h, const void *buf, size_t len, off_t off,
		       ssize_t *n)
{
	g_autofree char *p = hp(h, "clear");
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	ssize_t r = off < 0 ? write(fd, buf, len) : pwrite(fd, buf, len, off);
	int e = r < 0 ? errno : 0;
	close(fd);
	if (n)
		*n = r;
	return -e;
}

static void test_clear_writes(void)
{
	H h;
	h_start(&h);
	pid_t pid = h.w->pid;
	guint64 e = read_epoch(&h.sm, pid);
	g_assert_cmpuint(e, ==, 0);
	ssize_t n;

	struct {
		const char *what;
		const char *buf;
		size_t len;
	} bad[] = {
		{"0", "0", 1},	       {"2", "2", 1},	     {"11", "11", 2},
		{"1 ", "1 ", 2},       {"\\n", "\n", 1},     {"14", "14", 2},
		{"1\\n\\n", "1\n\n", 3}, {"4\\r\\n", "4\r\n", 3}, {"NUL", "\0", 1},
		{"1 NUL", "1\0", 2},   {"binary", "\x01\xff\x80", 3},
		{"\\n1", "\n1", 2},    {"+1", "+1", 2},	     {"01", "01", 2},
		{" 1", " 1", 2},       {"1\\r", "1\r", 2},   {"one", "one", 3},
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("clear <- \"%s\"", bad[i].what);
		g_assert_cmpint(clear_write(&h, bad[i].buf, bad[i].len, -1, &n),
				==, -EINVAL);
		g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	}
	/* 1 MiB of '1's: split by the kernel into FUSE writes, each too long */
	size_t big = 1 << 20;
	char *ones = g_malloc(big);
	memset(ones, '1', big);
	g_assert_cmpint(clear_write(&h, ones, big, -1, &n), ==, -EINVAL);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	/* "1" followed by 1 MiB - 1 of newlines */
	memset(ones + 1, '\n', big - 1);
	g_assert_cmpint(clear_write(&h, ones, big, -1, &n), ==, -EINVAL);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	g_free(ones);

	/* a zero-length write never reaches FUSE: success, nothing changes */
	g_assert_cmpint(clear_write(&h, "", 0, -1, &n), ==, 0);
	g_assert_cmpint(n, ==, 0);
	g_assert_cmpint(clear_write(&h, "1", 0, 100, &n), ==, 0);
	g_assert_cmpint(n, ==, 0);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	/* opening with O_TRUNC alone changes nothing */
	g_autofree char *pc = hp(&h, "clear");
	int fd = open(pc, O_WRONLY | O_TRUNC | O_CLOEXEC);
	g_assert_no_errno(fd);
	close(fd);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);

	/* the valid ones: one clear each */
	const char *good[] = {"1", "4", "1\n", "4\n"};
	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_cmpint(clear_write(&h, good[i], strlen(good[i]), -1,
					    &n),
				==, 0);
		g_assert_cmpint(n, ==, (ssize_t)strlen(good[i]));
		g_assert_cmpuint(read_epoch(&h.sm, pid), ==, ++e);
	}
	/* decision 3: the offset is ignored */
	g_assert_cmpint(clear_write(&h, "1", 1, 100, &n), ==, 0);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, ++e);
	g_assert_cmpint(clear_write(&h, "4\n", 2, (off_t)1 << 40, &n), ==, 0);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, ++e);

	/* partial writes on one fd are judged one by one */
	fd = open(pc, O_WRONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	g_assert_cmpint(write(fd, "1", 1), ==, 1); /* a clear */
	g_assert_cmpint(write(fd, "\n", 1), ==, -1); /* a bad write */
	g_assert_cmpint(errno, ==, EINVAL);
	/* writev of "1" + "\n" is one FUSE write: one clear */
	struct iovec iov[2] = {{"1", 1}, {"\n", 1}};
	g_assert_cmpint(writev(fd, iov, 2), ==, 2);
	close(fd);
	e += 2;
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	/* O_RDWR: the epoch read back after the write is the one at open */
	fd = open(pc, O_RDWR | O_CLOEXEC);
	g_assert_no_errno(fd);
	g_assert_cmpint(write(fd, "1", 1), ==, 1);
	char buf[32];
	ssize_t rn = pread(fd, buf, sizeof(buf), 0);
	g_autofree char *want = g_strdup_printf("%" G_GUINT64_FORMAT "\n", e);
	g_assert_cmpmem(buf, rn, want, strlen(want));
	close(fd);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, ++e);
	/* truncation of clear: only to 0 */
	g_assert_no_errno(truncate(pc, 0));
	g_assert_cmpint(truncate(pc, 1), ==, -1);
	g_assert_cmpint(errno, ==, EPERM);
	g_assert_cmpuint(read_epoch(&h.sm, pid), ==, e);
	h_stop(&h);
}

/* ---- reads at every offset ---------------------------------------------- */

static void check_offsets_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	char whole[65536];
	ssize_t len = pread(fd, whole, sizeof(whole), 0);
	g_assert_cmpint(len, >=, 0);
	g_assert_cmpint(len, <, (ssize_t)sizeof(whole));
	g_test_message("%s: %zd bytes", path, len);
	for (ssize_t off = 0; off <= len + 1; off++) {
		char b[65536];
		ssize_t n = pread(fd, b, sizeof(b), off);
		g_assert_cmpint(n, ==, off <= len ? len - off : 0);
		g_assert_cmpmem(b, n, whole + (off <= len ? off : len), n);
		n = pread(fd, b, 1, off);
		g_assert_cmpint(n, ==, off < len ? 1 : 0);
		if (n == 1)
			g_assert_cmpint(b[0], ==, whole[off]);
	}
	char b[16];
	g_assert_cmpint(pread(fd, b, sizeof(b), (off_t)1 << 62), ==, 0);
	g_assert_cmpint(pread(fd, b, sizeof(b), -1), ==, -1);
	g_assert_cmpint(errno, ==, EINVAL);
	/* sequential read(2) gives the same */
	GString *s = g_string_new(NULL);
	ssize_t n;
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	while ((n = read(fd, b, 3)) > 0)
		g_string_append_len(s, b, n);
	g_assert_cmpint(n, ==, 0);
	g_assert_cmpmem(s->str, s->len, whole, len);
	g_string_free(s, TRUE);
	close(fd);
}

static void test_read_offsets(void)
{
	H h;
	h_start(&h);
	do_clear(&h.sm, h.w->pid);
	wl_do(h.w, "write a 0 6");
	const char *texts[] = {"dirty_ranges", "status", "clear",
			       "last/dirty_ranges"};
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autofree char *p = hp(&h, texts[i]);
		check_offsets_text(p);
	}

	int fd = open(h.page, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	guint8 *want = g_malloc(tl_ps);
	pat_fill(want, tl_ps, 6, 0);
	guint8 *b = g_malloc(tl_ps + 64);
	for (size_t off = 0; off <= tl_ps + 1; off++) {
		ssize_t n = pread(fd, b, 64, (off_t)off);
		size_t exp = off < tl_ps ? MIN(64, tl_ps - off) : 0;
		g_assert_cmpint(n, ==, (ssize_t)exp);
		g_assert_cmpmem(b, n, want + MIN(off, tl_ps), exp);
	}
	/* across the end: a short read */
	g_assert_cmpint(pread(fd, b, tl_ps + 64, 0), ==, (ssize_t)tl_ps);
	g_assert_cmpmem(b, tl_ps, want, tl_ps);
	g_assert_cmpint(pread(fd, b, 64, (off_t)tl_ps * 2), ==, 0);
	g_assert_cmpint(pread(fd, b, 64, (off_t)1 << 62), ==, 0);
	g_assert_cmpint(pread(fd, b, 64, -5), ==, -1);
	g_assert_cmpint(errno, ==, EINVAL);
	close(fd);
	g_free(b);
	g_free(want);
	h_stop(&h);
}

/* ---- changes to the tree: EPERM (decision 1) ------------------------------ */

static void expect_errno(int r, int err, const char *what)
{
	if (r != -1 || errno != err)
		g_error("%s: got %d (%s), want %s", what, r,
			r == -1 ? g_strerror(errno) : "success",
			g_strerror(err));
}

static void test_modify_tree(void)
{
	H h;
	h_start(&h);
	do_clear(&h.sm, h.w->pid);
	wl_do(h.w, "write a 0 6");
	g_autofree char *pg = page_name(h.a);
	g_autofree char *lrel = g_strdup_printf("last/pages/%s", pg);
	g_autofree char *lpage = hp(&h, lrel);
	g_autofree char *dir = hp(&h, NULL);
	g_autofree char *pd = hp(&h, "dirty_ranges");
	g_autofree char *ps = hp(&h, "status");
	g_autofree char *pc = hp(&h, "clear");
	g_autofree char *pages = hp(&h, "pages");
	g_autofree char *ld = hp(&h, "last/dirty_ranges");
	const char *ro[] = {pd, ps, h.page, ld, lpage};
	const char *mnt = h.sm.mnt;

	for (guint i = 0; i < G_N_ELEMENTS(ro); i++) {
		g_test_message("read-only: %s", ro[i]);
		expect_errno(open(ro[i], O_WRONLY | O_CLOEXEC), EPERM, "O_WRONLY");
		expect_errno(open(ro[i], O_RDWR | O_CLOEXEC), EPERM, "O_RDWR");
		expect_errno(open(ro[i], O_WRONLY | O_TRUNC | O_CLOEXEC), EPERM,
			     "O_WRONLY|O_TRUNC");
		expect_errno(open(ro[i], O_WRONLY | O_APPEND | O_CLOEXEC),
			     EPERM, "O_APPEND");
		expect_errno(truncate(ro[i], 0), EPERM, "truncate 0");
		expect_errno(truncate(ro[i], 1), EPERM, "truncate 1");
		expect_errno(chmod(ro[i], 0666), EPERM, "chmod");
		expect_errno(chown(ro[i], 1, 1), EPERM, "chown");
		expect_errno(utimes(ro[i], NULL), EPERM, "utimes");
		expect_errno(unlink(ro[i]), EPERM, "unlink");
		expect_errno(setxattr(ro[i], "user.x", "1", 1, 0), EPERM,
			     "setxattr");
		expect_errno(removexattr(ro[i], "user.x"), EPERM, "removexattr");
		g_autofree char *to = g_strconcat(ro[i], "-renamed", NULL);
		expect_errno(rename(ro[i], to), EPERM, "rename");
		expect_errno(link(ro[i], to), EPERM, "link");
	}
	const char *all[] = {mnt, dir, pc, pages};
	for (guint i = 0; i < G_N_ELEMENTS(all); i++) {
		g_test_message("node: %s", all[i]);
		expect_errno(chmod(all[i], 0777), EPERM, "chmod");
		expect_errno(chown(all[i], 1, 1), EPERM, "chown");
		expect_errno(utimes(all[i], NULL), EPERM, "utimes");
		expect_errno(setxattr(all[i], "user.x", "1", 1, 0), EPERM,
			     "setxattr");
	}
	const char *dirs[] = {mnt, dir, pages};
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree char *n = g_build_filename(dirs[i], "new", NULL);
		g_test_message("in %s", dirs[i]);
		expect_errno(mkdir(n, 0755), EPERM, "mkdir");
		expect_errno(symlink("x", n), EPERM, "symlink");
		expect_errno(mknod(n, S_IFREG | 0600, 0), EPERM, "mknod");
		expect_errno(open(n, O_CREAT | O_WRONLY | O_CLOEXEC, 0600), EPERM,
			     "O_CREAT");
		expect_errno(open(n, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC,
				  0600),
			     EPERM, "O_CREAT|O_EXCL");
		expect_errno(mkfifo(n, 0600), EPERM, "mkfifo");
	}
	expect_errno(rmdir(pages), EPERM, "rmdir pages");
	expect_errno(rmdir(dir), EPERM, "rmdir pid");
	g_autofree char *dir2 = g_strconcat(mnt, "/1", NULL);
	expect_errno(rename(dir, dir2), EPERM, "rename pid dir");
	expect_errno(unlink(pc), EPERM, "unlink clear");
	expect_errno(chmod(pc, 0666), EPERM, "chmod clear");
	/* a page file keeps its content through all that */
	guint8 *b = g_malloc(tl_ps);
	g_assert_cmpint(read_page(h.page, b), ==, 0);
	assert_pattern(b, 6, 0);
	g_free(b);
	g_assert_cmpuint(read_epoch(&h.sm, h.w->pid), ==, 1);
	h_stop(&h);
}

/* ---- names ---------------------------------------------------------------- */

static void stat_enoent(const char *dir, const char *name)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	struct stat st;
	int r = stat(p, &st);
	if (r != -1 || errno != ENOENT)
		g_error("stat '%s': %s, want ENOENT", p,
			r == 0 ? "success" : g_strerror(errno));
}

static void test_names(void)
{
	H h;
	h_start(&h);
	pid_t pid = h.w->pid;
	const char *mnt = h.sm.mnt;
	g_autofree char *tids = wl_cmd(h.w, "idle 1");
	g_autofree char *dir = hp(&h, NULL);
	g_autofree char *pages = hp(&h, "pages");
	g_autofree char *lpages = hp(&h, "last/pages");
	g_autofree char *last = hp(&h, "last");
	g_autofree char *s255 = g_strnfill(255, '1');

	const char *root_bad[] = {
		"abc", "-1", "0", "01", "+1", " 1", "1 ", "1a", "0x10",
		"4294967296", "2147483648", "99999999999999999999", "2147483647",
		"4194305", "1.0", "１", s255, tids,
	};
	for (guint i = 0; i < G_N_ELEMENTS(root_bad); i++)
		stat_enoent(mnt, root_bad[i]);
	g_autofree char *p0 = g_strdup_printf("0%d", (int)pid);
	g_autofree char *pplus = g_strdup_printf("+%d", (int)pid);
	g_autofree char *psp = g_strdup_printf("%d ", (int)pid);
	stat_enoent(mnt, p0);
	stat_enoent(mnt, pplus);
	stat_enoent(mnt, psp);
	/* FUSE passes names up to 1024 bytes (FUSE_NAME_MAX) to the daemon */
	g_autofree char *s256 = g_strnfill(256, '1');
	stat_enoent(mnt, s256);
	g_autofree char *s1024 = g_strnfill(1024, '7');
	stat_enoent(mnt, s1024);
	stat_enoent(pages, s1024);
	g_autofree char *s1025 = g_strnfill(1025, '1');
	g_autofree char *p1025 = g_build_filename(mnt, s1025, NULL);
	struct stat st;
	g_assert_cmpint(stat(p1025, &st), ==, -1);
	g_assert_true(errno == ENOENT || errno == ENAMETOOLONG);

	const char *pid_bad[] = {"Clear", "clear ", "pages2", "status\n",
				 "dirty_ranges.", "last2", "x"};
	for (guint i = 0; i < G_N_ELEMENTS(pid_bad); i++)
		stat_enoent(dir, pid_bad[i]);
	stat_enoent(last, "clear");
	stat_enoent(last, "status");
	stat_enoent(last, "last");

	guint64 a = h.a;
	g_autofree char *nolead = g_strdup_printf("%" G_GINT64_MODIFIER "x", a);
	g_autofree char *upper = g_ascii_strup(nolead, -1);
	g_autofree char *x17 = g_strdup_printf("0%016" G_GINT64_MODIFIER "x", a);
	g_autofree char *hex0x = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", a);
	g_autofree char *unal = g_strdup_printf("%" G_GINT64_MODIFIER "x", a + 1);
	g_autofree char *unal2 =
		g_strdup_printf("%" G_GINT64_MODIFIER "x", a + tl_ps / 2);
	g_autofree char *neg = g_strdup_printf("-%" G_GINT64_MODIFIER "x", a);
	g_autofree char *spc = g_strdup_printf("%s ", nolead);
	g_autofree char *plus = g_strdup_printf("+%s", nolead);
	const char *page_bad[] = {
		"zz",  "-1000", "0x1000", x17,  hex0x,	unal, unal2,
		neg,   spc,	plus,	  "0",	"ffffffffffffffff",
		"fffffffffffff000", "10000000000000000", "g000", "",
	};
	for (guint i = 0; i < G_N_ELEMENTS(page_bad); i++) {
		if (!*page_bad[i])
			continue;
		stat_enoent(pages, page_bad[i]);
		stat_enoent(lpages, page_bad[i]);
	}
	/* the same page by its other spellings (decision 11) */
	g_autofree char *p1 = g_build_filename(pages, nolead, NULL);
	g_autofree char *p2 = g_build_filename(pages, upper, NULL);
	g_assert_no_errno(stat(p1, &st));
	g_assert_no_errno(stat(p2, &st));
	g_assert_cmpuint(st.st_size, ==, tl_ps);
	guint8 *b = g_malloc(tl_ps);
	g_assert_cmpint(read_page(p2, b), ==, 0);
	assert_pattern(b, 6, 0);
	g_free(b);
	/* a page that was never written: not there */
	g_autofree char *clean = page_name(a + tl_ps);
	stat_enoent(pages, clean);
	h_stop(&h);
}

/* ---- O_DIRECT and mmap ------------------------------------------------------ */

static void test_odirect(void)
{
	H h;
	h_start(&h);
	int fd = open(h.page, O_RDONLY | O_DIRECT | O_CLOEXEC);
	g_assert_no_errno(fd);
	void *buf = NULL;
	g_assert_cmpint(posix_memalign(&buf, tl_ps, 2 * tl_ps), ==, 0);
	ssize_t n = pread(fd, buf, 2 * tl_ps, 0);
	g_assert_cmpint(n, ==, (ssize_t)tl_ps);
	assert_pattern(buf, 6, 0);
	g_assert_cmpint(pread(fd, buf, tl_ps, (off_t)tl_ps), ==, 0);
	close(fd);
	g_autofree char *pd = hp(&h, "dirty_ranges");
	fd = open(pd, O_RDONLY | O_DIRECT | O_CLOEXEC);
	g_assert_no_errno(fd);
	n = pread(fd, buf, 2 * tl_ps, 0);
	g_assert_cmpint(n, >, 0);
	close(fd);
	free(buf);
	h_stop(&h);
}

/* In a child (so a hang cannot take the test with it): mmap the page file
 * with flags, touch every byte; write the result to fd. */
struct mmap_result {
	int map_errno; /* 0: mapped */
	int read_ok; /* content matched */
	int signal; /* SIGBUS etc. while reading */
};

static struct mmap_result mmap_try(const char *path, int flags)
{
	int p[2];
	g_assert_no_errno(pipe(p));
	pid_t c = fork();
	g_assert_cmpint(c, >=, 0);
	if (c == 0) {
		struct mmap_result r = {0};
		int fd = open(path, O_RDONLY);
		void *m = mmap(NULL, tl_ps, PROT_READ, flags, fd, 0);
		if (m == MAP_FAILED) {
			r.map_errno = errno;
		} else {
			/* write the result first in case reading faults */
			r.signal = 1;
			guint8 want[65536];
			pat_fill(want, tl_ps, 6, 0);
			r.read_ok = !memcmp(m, want, tl_ps);
			r.signal = 0;
		}
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	tl_track_pid(c);
	struct mmap_result r = {0};
	gint64 deadline = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
	int st = 0;
	while (waitpid(c, &st, WNOHANG) == 0) {
		if (g_get_monotonic_time() > deadline) {
			kill(c, SIGKILL);
			g_error("mmap of %s hangs", path);
		}
		g_usleep(10000);
	}
	tl_untrack_pid(c);
	ssize_t n = read(p[0], &r, sizeof(r));
	close(p[0]);
	if (n != sizeof(r)) {
		r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
		r.map_errno = 0;
	}
	return r;
}

static void test_mmap(void)
{
	H h;
	h_start(&h);
	struct mmap_result s = mmap_try(h.page, MAP_SHARED);
	g_test_message("MAP_SHARED: errno %d (%s), read_ok %d, signal %d",
		       s.map_errno, g_strerror(s.map_errno), s.read_ok,
		       s.signal);
	/* direct_io: ENODEV without FUSE_DIRECT_IO_ALLOW_MMAP; with it (libfuse
	 * may ask for it) the mapping works and must show the content */
	if (s.map_errno) {
		g_assert_cmpint(s.map_errno, ==, ENODEV);
	} else {
		g_assert_cmpint(s.signal, ==, 0);
		g_assert_true(s.read_ok);
	}
	struct mmap_result pr = mmap_try(h.page, MAP_PRIVATE);
	g_test_message("MAP_PRIVATE: errno %d (%s), read_ok %d, signal %d",
		       pr.map_errno, g_strerror(pr.map_errno), pr.read_ok,
		       pr.signal);
	/* a private mapping either fails cleanly or shows the content */
	if (pr.map_errno == 0) {
		g_assert_cmpint(pr.signal, ==, 0);
		g_assert_true(pr.read_ok);
	}
	/* still serving, and the page still reads right */
	guint8 *b = g_malloc(tl_ps);
	g_assert_cmpint(read_page(h.page, b), ==, 0);
	assert_pattern(b, 6, 0);
	g_free(b);
	/* a later mapping, after the page changed, must not show the old
	 * content from the page cache */
	wl_do(h.w, "write a 0 8");
	struct mmap_result s2 = mmap_try(h.page, MAP_SHARED);
	if (s2.map_errno == 0)
		g_assert_false(s2.read_ok); /* read_ok: still byte 6 */
	g_autofree char *pd = hp(&h, "dirty_ranges");
	struct mmap_result t = mmap_try(pd, MAP_PRIVATE);
	g_test_message("MAP_PRIVATE dirty_ranges: errno %d, signal %d",
		       t.map_errno, t.signal);
	h_stop(&h);
}

/* ---- the target exits or execs under open files ----------------------------- */

static void test_exit_under_open(void)
{
	H h;
	h_start(&h);
	pid_t pid = h.w->pid;
	do_clear(&h.sm, pid);
	wl_do(h.w, "write a 0 6");
	g_autofree char *pd = hp(&h, "dirty_ranges");
	g_autofree char *ps = hp(&h, "status");
	g_autofree char *pc = hp(&h, "clear");
	g_autofree char *lpages = hp(&h, "last/pages");
	int fpage = open(h.page, O_RDONLY | O_CLOEXEC);
	int fd = open(pd, O_RDONLY | O_CLOEXEC);
	int fs = open(ps, O_RDONLY | O_CLOEXEC);
	int fc = open(pc, O_WRONLY | O_CLOEXEC);
	g_assert_no_errno(fpage);
	g_assert_no_errno(fd);
	g_assert_no_errno(fs);
	g_assert_no_errno(fc);
	char t1[8192], t2[8192];
	ssize_t n1 = pread(fd, t1, sizeof(t1), 0);
	g_assert_cmpint(n1, >, 0);

	wl_kill(h.w);
	h.w = NULL;
	guint8 *b = g_malloc(tl_ps);
	expect_errno(pread(fpage, b, tl_ps, 0), ESRCH, "page read after exit");
	expect_errno(write(fc, "1", 1), ESRCH, "clear after exit");
	/* pre-rendered text may still be read */
	g_assert_cmpint(pread(fd, t2, sizeof(t2), 0), ==, n1);
	g_assert_cmpmem(t1, n1, t2, n1);
	g_assert_cmpint(pread(fs, t2, sizeof(t2), 0), >, 0);
	g_autofree char *dir = g_strdup_printf("%s/%d", h.sm.mnt, (int)pid);
	stat_enoent(h.sm.mnt, dir + strlen(h.sm.mnt) + 1);
	expect_errno(open(ps, O_RDONLY), ENOENT, "open status after exit");
	errno = 0;
	g_assert_null(list_dir(lpages));
	g_assert_cmpint(errno, ==, ENOENT);
	close(fpage);
	close(fd);
	close(fs);
	close(fc);
	g_free(b);
	h_stop(&h);
}

struct racer {
	const char *page;
	const char *ranges;
	volatile int stop;
	volatile int killed; /* the target is dead and reaped */
	int good, esrch, other, bad_data, opens_failed, opened;
	int read_after_kill; /* preads started after killed was set */
	int other_errno;
};

static void *race_reader(void *p)
{
	struct racer *r = p;
	guint8 *b = g_malloc(tl_ps);
	guint8 *want = g_malloc(tl_ps);
	pat_fill(want, tl_ps, 6, 0);
	int fd = open(r->page, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r->other_errno = errno;
		g_atomic_int_inc(&r->opens_failed);
		return NULL;
	}
	g_atomic_int_inc(&r->opened);
	while (!r->stop) {
		int after = r->killed;
		ssize_t n = pread(fd, b, tl_ps, 0);
		if (after)
			g_atomic_int_inc(&r->read_after_kill);
		if (n == (ssize_t)tl_ps && !memcmp(b, want, tl_ps))
			g_atomic_int_inc(&r->good);
		else if (n == (ssize_t)tl_ps)
			g_atomic_int_inc(&r->bad_data);
		else if (n < 0 && errno == ESRCH)
			g_atomic_int_inc(&r->esrch);
		else {
			g_atomic_int_inc(&r->other);
			r->other_errno = n < 0 ? errno : -1;
		}
		g_autofree char *t = read_text(r->ranges, NULL);
		(void)t;
	}
	close(fd);
	g_free(b);
	g_free(want);
	return NULL;
}

static void test_exit_race(void)
{
	H h;
	h_start(&h);
	wl_kill(h.w);
	h.w = NULL;
	for (int round = 0; round < 20; round++) {
		Workload *w = wl_start();
		guint64 a = wl_addr(w, "map a 1");
		wl_do(w, "write a 0 6");
		g_autofree char *pg = page_name(a);
		g_autofree char *rel = g_strdup_printf("pages/%s", pg);
		g_autofree char *page = mnt_path(&h.sm, w->pid, rel);
		g_autofree char *ranges =
			mnt_path(&h.sm, w->pid, "dirty_ranges");
		struct racer r = {.page = page, .ranges = ranges};
		pthread_t th[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, race_reader, &r);
		/* every reader holds its page file open before the kill */
		while (g_atomic_int_get(&r.opened) +
			       g_atomic_int_get(&r.opens_failed) <
		       3)
			g_usleep(100);
		g_usleep(g_random_int_range(0, 20000));
		wl_kill(w);
		r.killed = 1;
		/* until every reader has read the dead process's page at
		 * least once (bounded only against a hang: a slow daemon, a
		 * sanitizer build, a loaded machine) */
		for (int i = 0; i < 3000 &&
				g_atomic_int_get(&r.read_after_kill) < 3;
		     i++)
			g_usleep(10000);
		r.stop = 1;
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		g_test_message("round %d: %d good, %d ESRCH, %d other (%s), "
			       "%d bad, %d opens failed",
			       round, r.good, r.esrch, r.other,
			       g_strerror(r.other_errno), r.bad_data,
			       r.opens_failed);
		g_assert_cmpint(r.bad_data, ==, 0);
		g_assert_cmpint(r.other, ==, 0);
		g_assert_cmpint(r.opens_failed, ==, 0);
		g_assert_cmpint(r.esrch, >, 0);
		sec_assert_serving(&h.sm, 0);
	}
	h_stop(&h);
}

static gboolean addr_mapped(pid_t pid, guint64 addr)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
	g_autofree char *t = NULL;
	g_assert_true(g_file_get_contents(p, &t, NULL, NULL));
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l; l++) {
		guint64 s, e;
		if (sscanf(*l, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x",
			   &s, &e) == 2 &&
		    addr >= s && addr < e)
			return TRUE;
	}
	return FALSE;
}

static void test_exec_under_open(void)
{
	H h;
	h_start(&h);
	pid_t pid = h.w->pid;
	do_clear(&h.sm, pid);
	wl_do(h.w, "write a 0 6");
	g_autofree char *pd = hp(&h, "dirty_ranges");
	int fpage = open(h.page, O_RDONLY | O_CLOEXEC);
	int fd = open(pd, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fpage);
	g_assert_no_errno(fd);
	char t1[8192], t2[8192];
	ssize_t n1 = pread(fd, t1, sizeof(t1), 0);
	g_assert_cmpint(n1, >, 0);
	guint8 *b = g_malloc(tl_ps);
	g_assert_cmpint(pread(fpage, b, tl_ps, 0), ==, (ssize_t)tl_ps);
	assert_pattern(b, 6, 0);

	/* readers racing the exec see the old page or an error, never junk */
	struct racer r = {.page = h.page, .ranges = pd};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, race_reader, &r);
	g_usleep(5000);
	/* the workload re-executes itself: same pid, new image */
	g_autofree char *ignored = wl_try(h.w, "exec");
	g_autofree char *ready = g_strdup_printf("ready %d", (int)pid);
	g_assert_cmpstr(ignored, ==, ready);
	g_usleep(20000);
	r.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	g_test_message("exec race: %d good, %d esrch, %d other (last %s), "
		       "%d bad",
		       r.good, r.esrch, r.other, g_strerror(r.other_errno),
		       r.bad_data);
	gboolean mapped = addr_mapped(pid, h.a);
	if (!mapped)
		g_assert_cmpint(r.bad_data, ==, 0);

	/* after the exec: the address's current content, or EIO if unmapped */
	ssize_t n = pread(fpage, b, tl_ps, 0);
	if (mapped) {
		g_assert_cmpint(n, ==, (ssize_t)tl_ps);
		guint8 *m = g_malloc(tl_ps);
		read_mem(pid, h.a, m, tl_ps);
		g_assert_cmpmem(b, tl_ps, m, tl_ps);
		g_free(m);
	} else {
		expect_errno((int)n, EIO, "page read after exec");
	}
	/* the text rendered before the exec still reads the same */
	g_assert_cmpint(pread(fd, t2, sizeof(t2), 0), ==, n1);
	g_assert_cmpmem(t1, n1, t2, n1);
	/* the old page is no longer dirty under its old name, unless mapped */
	if (!mapped) {
		g_autofree char *pages = hp(&h, "pages");
		g_autofree char *pg = page_name(h.a);
		stat_enoent(pages, pg);
	}
	/* the directory is still the same process */
	g_autofree char *ps = hp(&h, "status");
	g_autofree char *st = read_text(ps, NULL);
	g_assert_nonnull(st);
	close(fpage);
	close(fd);
	g_free(b);
	h_stop(&h);
}

void sec_register_hostile(void)
{
	sec_add("/security/hostile/clear-writes", test_clear_writes);
	sec_add("/security/hostile/read-offsets", test_read_offsets);
	sec_add("/security/hostile/modify-tree-eperm",
			test_modify_tree);
	sec_add("/security/hostile/names-enoent", test_names);
	sec_add("/security/hostile/odirect", test_odirect);
	sec_add("/security/hostile/mmap", test_mmap);
	sec_add("/security/hostile/exit-under-open",
			test_exit_under_open);
	sec_add("/security/hostile/exit-race", test_exit_race);
	sec_add("/security/hostile/exec-under-open",
			test_exec_under_open);
}

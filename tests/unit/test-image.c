/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for mountd/image.c: last/image's size, extents and reads. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>

#include "image.h"
#include "proc.h"
#include "ranges.h"

static uint64_t P; /* the system page size */

/* ---- a model of a process's memory -------------------------------------- */

enum page_state { READABLE, NOREAD, GONE };

#define FAKE_BASE (0x400000ull * 16)
#define FAKE_PAGES 4096

struct fake {
	enum page_state state[FAKE_PAGES];
	unsigned vm_calls, mem_calls, vmv_calls;
	int fatal; /* != 0: every read fails with it */
	bool gather; /* the reader has vm_readv */
};

static uint8_t pattern(uint64_t addr)
{
	return (uint8_t)((addr >> 12) * 7 + (addr & 0xff) + 1);
}

static enum page_state fake_state(struct fake *f, uint64_t addr)
{
	if (addr < FAKE_BASE || addr >= FAKE_BASE + FAKE_PAGES * P)
		return GONE;
	return f->state[(addr - FAKE_BASE) / P];
}

/* Read while the pages are in state ok: the bytes read, or fail. */
static ssize_t fake_read(struct fake *f, enum page_state ok, uint64_t addr,
			 void *buf, size_t len, int fail)
{
	uint8_t *b = buf;
	size_t n = 0;

	if (f->fatal)
		return f->fatal;
	while (n < len) {
		enum page_state s = fake_state(f, addr + n);
		if (s != READABLE && s != ok)
			break;
		b[n] = pattern(addr + n);
		n++;
	}
	return n ? (ssize_t)n : fail;
}

static ssize_t fake_vm_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	f->vm_calls++;
	return fake_read(f, READABLE, addr, buf, len, -EFAULT);
}

static ssize_t fake_mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	f->mem_calls++;
	return fake_read(f, NOREAD, addr, buf, len, -EIO);
}

/* As process_vm_readv with one iovec per piece: up to the first byte it
 * cannot read, across pieces. */
static ssize_t fake_vm_readv(void *ctx, const struct sdfs_image_piece *pc,
			     size_t n)
{
	struct fake *f = ctx;
	size_t got = 0;

	f->vmv_calls++;
	if (f->fatal)
		return f->fatal;
	g_assert_cmpuint(n, <=, SDFS_IMAGE_MAX_PIECES);
	for (size_t i = 0; i < n; i++) {
		ssize_t r = fake_read(f, READABLE, pc[i].addr, pc[i].out,
				      pc[i].len, 0);
		got += (size_t)r;
		if ((size_t)r < pc[i].len)
			break;
	}
	return got ? (ssize_t)got : -EFAULT;
}

static struct sdfs_image_reader fake_reader(struct fake *f)
{
	return (struct sdfs_image_reader){
		.vm_read = fake_vm_read,
		.mem_read = fake_mem_read,
		.vm_readv = f->gather ? fake_vm_readv : NULL,
		.ctx = f};
}

/* A set of page runs given as page numbers past FAKE_BASE: {first, count,
 * mapping}; a new mapping index starts a new mapping. */
struct prun {
	uint64_t first, count;
	uint32_t vma;
};

static void build(struct sdfs_dirtyset *s, const struct prun *runs, size_t n)
{
	sdfs_dirtyset_init(s);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = FAKE_BASE + runs[i].first * P;
		uint64_t b = a + runs[i].count * P;
		if (runs[i].vma == s->nvmas) {
			struct sdfs_vma v = {
				.start = a, .end = a + P * 1024, .path = ""};
			g_strlcpy(v.perms, "rw-p", sizeof(v.perms));
			g_assert_cmpint(sdfs_dirtyset_add_vma(s, &v), ==,
					runs[i].vma);
		}
		g_assert_cmpint(sdfs_dirtyset_add(s, runs[i].vma, a, b), ==, 0);
	}
}

/* Whether the image of s has data at addr, and what it reads there. */
static uint8_t expected(const struct sdfs_dirtyset *s, struct fake *f,
			uint64_t addr)
{
	if (!sdfs_dirtyset_contains(s, addr - addr % P))
		return 0;
	return fake_state(f, addr) == GONE ? 0 : pattern(addr);
}

static void check_read(const struct sdfs_dirtyset *s, struct fake *f,
		       uint64_t off, size_t len)
{
	uint64_t size = sdfs_image_size(s);
	struct sdfs_image_reader rd = fake_reader(f);
	g_autofree uint8_t *buf = g_malloc(len + 1);

	memset(buf, 0xee, len + 1);
	ssize_t n = sdfs_image_read(s, P, &rd, off, buf, len);
	size_t want = off >= size ? 0 : MIN(len, size - off);
	g_assert_cmpint(n, ==, (ssize_t)want);
	for (size_t i = 0; i < want;) {
		/* one page (or its rest) at a time: one lookup per page */
		uint64_t a = off + i;
		size_t k = MIN(want - i, P - a % P);
		bool in = sdfs_dirtyset_contains(s, a - a % P);
		bool gone = fake_state(f, a) == GONE;
		for (size_t j = 0; j < k; j++) {
			uint8_t e = in && !gone ? pattern(a + j) : 0;
			if (buf[i + j] != e)
				g_error("byte at %#" G_GINT64_MODIFIER
					"x: %#x, want %#x",
					a + j, buf[i + j], e);
		}
		i += k;
	}
	g_assert_cmpuint(buf[want], ==, 0xee); /* nothing past it */
}

/* ---- size, blocks, extents ---------------------------------------------- */

static void test_empty(void)
{
	struct sdfs_dirtyset s;
	struct fake f = {0};
	struct sdfs_image_reader rd = fake_reader(&f);
	uint64_t r = 7;
	char b[16];

	sdfs_dirtyset_init(&s);
	g_assert_cmpuint(sdfs_image_size(&s), ==, 0);
	g_assert_cmpuint(sdfs_image_blocks(&s, P), ==, 0);
	g_assert_cmpint(sdfs_image_seek(&s, 0, SEEK_DATA, &r), ==, -ENXIO);
	g_assert_cmpint(sdfs_image_seek(&s, 0, SEEK_HOLE, &r), ==, -ENXIO);
	g_assert_cmpuint(r, ==, 7);
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, 0, b, sizeof(b)), ==, 0);
	g_assert_cmpuint(f.vm_calls + f.mem_calls, ==, 0);
	sdfs_dirtyset_free(&s);
}

static const struct prun three[] = {
	{2, 2, 0},  /* [2, 4) */
	{4, 1, 1},  /* [4, 5): touches the run before, in another mapping */
	{10, 3, 1}, /* [10, 13) */
};

static void test_size_blocks(void)
{
	struct sdfs_dirtyset s;

	build(&s, three, G_N_ELEMENTS(three));
	g_assert_cmpuint(s.n, ==, 3);
	g_assert_cmphex(sdfs_image_size(&s), ==, FAKE_BASE + 13 * P);
	g_assert_cmpuint(sdfs_image_blocks(&s, P), ==, 6 * P / 512);
	/* the last run pending or encoded: the same size */
	struct sdfs_vma v = {.start = FAKE_BASE + 20 * P,
			     .end = FAKE_BASE + 30 * P,
			     .path = ""};
	g_strlcpy(v.perms, "r--p", sizeof(v.perms));
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 2);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 2, FAKE_BASE + 21 * P,
					  FAKE_BASE + 22 * P),
			==, 0);
	g_assert_cmphex(sdfs_image_size(&s), ==, FAKE_BASE + 22 * P);
	g_assert_cmpuint(sdfs_image_blocks(&s, P), ==, 7 * P / 512);
	sdfs_dirtyset_free(&s);
}

static uint64_t seek_ok(const struct sdfs_dirtyset *s, uint64_t off, int whence)
{
	uint64_t r = 0;
	g_assert_cmpint(sdfs_image_seek(s, (off_t)off, whence, &r), ==, 0);
	return r;
}

static void test_seek(void)
{
	struct sdfs_dirtyset s;
	const uint64_t B = FAKE_BASE;
	uint64_t r = 0;

	build(&s, three, G_N_ELEMENTS(three));
	g_assert_cmphex(seek_ok(&s, 0, SEEK_DATA), ==, B + 2 * P);
	g_assert_cmphex(seek_ok(&s, 0, SEEK_HOLE), ==, 0);
	g_assert_cmphex(seek_ok(&s, B + 2 * P - 1, SEEK_DATA), ==, B + 2 * P);
	g_assert_cmphex(seek_ok(&s, B + 2 * P, SEEK_DATA), ==, B + 2 * P);
	g_assert_cmphex(seek_ok(&s, B + 3 * P + 5, SEEK_DATA), ==,
			B + 3 * P + 5);
	/* two touching runs are one extent */
	g_assert_cmphex(seek_ok(&s, B + 2 * P, SEEK_HOLE), ==, B + 5 * P);
	g_assert_cmphex(seek_ok(&s, B + 4 * P + 1, SEEK_HOLE), ==, B + 5 * P);
	g_assert_cmphex(seek_ok(&s, B + 5 * P, SEEK_DATA), ==, B + 10 * P);
	g_assert_cmphex(seek_ok(&s, B + 5 * P, SEEK_HOLE), ==, B + 5 * P);
	/* the implicit hole at the end */
	g_assert_cmphex(seek_ok(&s, B + 10 * P, SEEK_HOLE), ==, B + 13 * P);
	g_assert_cmphex(seek_ok(&s, B + 13 * P - 1, SEEK_HOLE), ==, B + 13 * P);
	g_assert_cmpint(sdfs_image_seek(&s, (off_t)(B + 13 * P), SEEK_DATA, &r),
			==, -ENXIO);
	g_assert_cmpint(sdfs_image_seek(&s, (off_t)(B + 13 * P), SEEK_HOLE, &r),
			==, -ENXIO);
	g_assert_cmpint(sdfs_image_seek(&s, -1, SEEK_DATA, &r), ==, -ENXIO);
	g_assert_cmpint(sdfs_image_seek(&s, 0, SEEK_SET, &r), ==, -EINVAL);
	sdfs_dirtyset_free(&s);
}

/* The SEEK_DATA / SEEK_HOLE walk of a set of many runs (past the
 * encoding's blocks) gives back its runs, touching ones merged. */
static void test_seek_walk_many(void)
{
	GRand *rng = g_rand_new_with_seed(12);
	g_autofree struct prun *runs = g_new(struct prun, 3000);
	struct sdfs_dirtyset s;
	size_t n = 0;
	uint64_t page = 1;
	uint32_t vma = 0;

	while (n < 3000) {
		page += (uint64_t)g_rand_int_range(rng, 0, 3); /* 0: touch */
		if (n && g_rand_int_range(rng, 0, 4) == 0)
			vma++;
		else if (n && page == runs[n - 1].first + runs[n - 1].count)
			page++; /* same mapping: would merge, keep a gap */
		uint64_t count = (uint64_t)g_rand_int_range(rng, 1, 5);
		runs[n++] = (struct prun){page, count, vma};
		page += count;
	}
	build(&s, runs, n);
	g_assert_cmpuint(s.n, ==, n);
	size_t i = 0, extents = 0;
	uint64_t off = 0, data;
	while (sdfs_image_seek(&s, (off_t)off, SEEK_DATA, &data) == 0) {
		uint64_t hole = seek_ok(&s, data, SEEK_HOLE);
		/* the extent is runs[i..j) merged */
		g_assert_cmphex(data, ==, FAKE_BASE + runs[i].first * P);
		uint64_t end = runs[i].first + runs[i].count;
		for (i++; i < n && runs[i].first == end; i++)
			end = runs[i].first + runs[i].count;
		g_assert_cmphex(hole, ==, FAKE_BASE + end * P);
		extents++;
		off = hole;
	}
	g_assert_cmpuint(i, ==, n);
	g_assert_cmphex(off, ==, sdfs_image_size(&s));
	g_assert_cmpuint(extents, >, 100);
	sdfs_dirtyset_free(&s);
	g_rand_free(rng);
}

/* ---- reads ----------------------------------------------------------------
 */

static void test_read_one_call_per_run(void)
{
	struct sdfs_dirtyset s;
	static struct fake f;
	struct sdfs_image_reader rd = fake_reader(&f);
	const uint64_t B = FAKE_BASE;

	memset(&f, 0, sizeof(f));
	build(&s, three, G_N_ELEMENTS(three));
	/* the whole file from 0: three runs, three calls */
	uint64_t size = sdfs_image_size(&s);
	g_autofree uint8_t *buf = g_malloc(size - B + P);
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, B, buf, size - B + P), ==,
			(ssize_t)(size - B));
	g_assert_cmpuint(f.vm_calls, ==, 3);
	g_assert_cmpuint(f.mem_calls, ==, 0);
	for (uint64_t a = B; a < size; a++)
		g_assert_cmpuint(buf[a - B], ==, expected(&s, &f, a));
	/* a range inside a hole: no call */
	f.vm_calls = 0;
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, B + 5 * P, buf, 5 * P), ==,
			(ssize_t)(5 * P));
	g_assert_cmpuint(f.vm_calls, ==, 0);
	for (size_t i = 0; i < 5 * P; i++)
		g_assert_cmpuint(buf[i], ==, 0);
	/* a piece of a run: one call for that piece */
	f.vm_calls = 0;
	check_read(&s, &f, B + 10 * P + 100, P);
	g_assert_cmpuint(f.vm_calls, ==, 1);
	/* with vm_readv: one call for the three runs */
	f.vm_calls = 0;
	f.gather = true;
	rd = fake_reader(&f);
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, B, buf, size - B + P), ==,
			(ssize_t)(size - B));
	g_assert_cmpuint(f.vmv_calls, ==, 1);
	g_assert_cmpuint(f.vm_calls + f.mem_calls, ==, 0);
	for (uint64_t a = B; a < size; a++)
		g_assert_cmpuint(buf[a - B], ==, expected(&s, &f, a));
	sdfs_dirtyset_free(&s);
}

/* vm_readv stops at a page it cannot read: that piece goes the slow way
 * from there, and the pieces after it in one more vm_readv. */
static void test_gather_stops(void)
{
	struct sdfs_dirtyset s;
	static struct fake f;
	const uint64_t B = FAKE_BASE;

	memset(&f, 0, sizeof(f));
	f.gather = true;
	build(&s, three, G_N_ELEMENTS(three));
	/* three = pages [2,4) [4,5) [10,13): page 3 unreadable, page 10
	 * gone */
	f.state[3] = NOREAD;
	f.state[10] = GONE;
	check_read(&s, &f, B, (size_t)(sdfs_image_size(&s) - B));
	/* vm_readv: from 2 (stops at 3), from 4 (reads [4,5), stops at
	 * 10), from 10 (fails); the rest of [2,4): vm fails at 3, mem
	 * reads [3,4); [10,13): vm and mem fail at 10 (zeros), vm reads
	 * [11,13) */
	g_assert_cmpuint(f.vmv_calls, ==, 3);
	g_assert_cmpuint(f.vm_calls, ==, 3);
	g_assert_cmpuint(f.mem_calls, ==, 2);
	/* many pieces: more than one call's worth */
	struct prun many[1500];
	for (size_t i = 0; i < G_N_ELEMENTS(many); i++)
		many[i] = (struct prun){2 * i, 1, 0};
	sdfs_dirtyset_free(&s);
	memset(&f, 0, sizeof(f));
	f.gather = true;
	build(&s, many, G_N_ELEMENTS(many));
	struct sdfs_image_piece *pc = g_new(struct sdfs_image_piece, 1500);
	g_autofree char *buf = g_malloc(1500 * P);
	for (size_t i = 0; i < 1500; i++)
		pc[i] = (struct sdfs_image_piece){B + 2 * i * P, P, buf + i * P};
	struct sdfs_image_reader rd = fake_reader(&f);
	g_assert_cmpint(sdfs_image_gather(&rd, P, pc, 1500), ==, 0);
	g_assert_cmpuint(f.vmv_calls, ==, 2);
	for (size_t i = 0; i < 1500; i++)
		g_assert_cmpuint((uint8_t)buf[i * P + 7], ==,
				 pattern(B + 2 * i * P + 7));
	g_free(pc);
	sdfs_dirtyset_free(&s);
}

static void test_read_edges(void)
{
	struct sdfs_dirtyset s;
	static struct fake f;
	const uint64_t B = FAKE_BASE;

	memset(&f, 0, sizeof(f));
	build(&s, three, G_N_ELEMENTS(three));
	uint64_t size = sdfs_image_size(&s);
	check_read(&s, &f, 0, 64);		/* the low hole */
	check_read(&s, &f, B + 2 * P - 10, 20); /* across hole / data */
	check_read(&s, &f, B + 5 * P - 10, 20); /* data / hole */
	check_read(&s, &f, size - 10, 100);	/* clipped at the end */
	check_read(&s, &f, size, 100);		/* at the end */
	check_read(&s, &f, size + 1, 100);	/* past it */
	check_read(&s, &f, B + 3, 1);
	check_read(&s, &f, B + 2 * P, 0);
	sdfs_dirtyset_free(&s);
}

static void test_read_unreadable_and_gone(void)
{
	struct sdfs_dirtyset s;
	static struct fake f;
	const struct prun one[] = {{0, 16, 0}};

	memset(&f, 0, sizeof(f));
	build(&s, one, 1);
	f.state[3] = NOREAD;
	f.state[4] = NOREAD;
	f.state[7] = GONE;
	f.state[15] = GONE;
	check_read(&s, &f, FAKE_BASE, 16 * P);
	/* vm: [0,3), fails at 3, 7, [8,15), 15; mem: [3,7) (it reads
	 * readable pages too), fails at 7 and 15 */
	g_assert_cmpuint(f.vm_calls, ==, 5);
	g_assert_cmpuint(f.mem_calls, ==, 3);
	/* unaligned start inside a gone page */
	check_read(&s, &f, FAKE_BASE + 7 * P + 9, 3 * P);
	/* a run all gone reads as zeros, never an error */
	for (int i = 0; i < 16; i++)
		f.state[i] = GONE;
	check_read(&s, &f, FAKE_BASE, 16 * P);
	sdfs_dirtyset_free(&s);
}

static void test_read_fatal(void)
{
	struct sdfs_dirtyset s;
	static struct fake f;
	struct sdfs_image_reader rd = fake_reader(&f);
	char buf[64];

	memset(&f, 0, sizeof(f));
	build(&s, three, G_N_ELEMENTS(three));
	f.fatal = -ESRCH;
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, FAKE_BASE + 2 * P, buf,
					sizeof(buf)),
			==, -ESRCH);
	f.fatal = -EACCES;
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, FAKE_BASE + 2 * P, buf,
					sizeof(buf)),
			==, -EACCES);
	/* a hole needs no reader */
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, FAKE_BASE + 6 * P, buf,
					sizeof(buf)),
			==, sizeof(buf));
	sdfs_dirtyset_free(&s);
}

/* Random sets, states and ranges against the byte model. */
static void test_read_random(void)
{
	GRand *rng = g_rand_new_with_seed(2024);
	static struct fake f;

	for (int round = 0; round < 60; round++) {
		struct prun runs[40];
		size_t n = 0;
		uint64_t page = (uint64_t)g_rand_int_range(rng, 0, 8);
		uint32_t vma = 0;
		memset(&f, 0, sizeof(f));
		f.gather = round % 2; /* with and without vm_readv */
		while (n < G_N_ELEMENTS(runs) && page < FAKE_PAGES - 40) {
			uint64_t count = (uint64_t)g_rand_int_range(rng, 1, 20);
			runs[n++] = (struct prun){page, count, vma++};
			page += count + (uint64_t)g_rand_int_range(rng, 0, 30);
		}
		for (int i = 0; i < FAKE_PAGES; i++) {
			int x = g_rand_int_range(rng, 0, 10);
			f.state[i] = x == 0 ? NOREAD : x == 1 ? GONE : READABLE;
		}
		struct sdfs_dirtyset s;
		build(&s, runs, n);
		uint64_t size = sdfs_image_size(&s);
		for (int k = 0; k < 20; k++) {
			uint64_t off =
				FAKE_BASE - 3 * P +
				(uint64_t)g_rand_int_range(
					rng, 0,
					(gint32)(size - FAKE_BASE + 6 * P));
			size_t len = (size_t)g_rand_int_range(rng, 0,
							      (gint32)(40 * P));
			check_read(&s, &f, off, len);
		}
		sdfs_dirtyset_free(&s);
	}
	g_rand_free(rng);
}

/* The reader of a live process, on this process: process_vm_readv, then
 * /proc/self/mem for a page without read permission; an unmapped page
 * reads as zeros. */
static void test_proc_reader_self(void)
{
	const size_t n = 8;
	uint8_t *m = mmap(NULL, n * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(m != MAP_FAILED);
	for (size_t i = 0; i < n * P; i++)
		m[i] = pattern((uint64_t)(uintptr_t)(m + i));
	g_assert_cmpint(mprotect(m + 2 * P, P, PROT_NONE), ==, 0);
	g_assert_cmpint(munmap(m + 5 * P, P), ==, 0);

	struct sdfs_dirtyset s;
	struct sdfs_vma v = {
		.start = (uintptr_t)m, .end = (uintptr_t)m + n * P, .path = ""};
	g_strlcpy(v.perms, "rw-p", sizeof(v.perms));
	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &v), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, v.start, v.end), ==, 0);

	struct sdfs_image_proc p;
	sdfs_image_proc_init(&p, getpid());
	struct sdfs_image_reader rd = sdfs_image_proc_reader(&p);
	g_autofree uint8_t *buf = g_malloc(n * P);
	g_assert_cmpint(sdfs_image_read(&s, P, &rd, v.start, buf, n * P), ==,
			(ssize_t)(n * P));
	for (size_t i = 0; i < n * P; i++) {
		uint8_t want = i / P == 5 ? 0 : pattern(v.start + i);
		if (buf[i] != want)
			g_error("byte %zu of page %zu: %#x, want %#x", i % P,
				i / P, buf[i], want);
	}
	g_assert_cmpint(p.memfd, >=, 0); /* the PROT_NONE page needed it */
	sdfs_image_proc_close(&p);
	g_assert_cmpint(p.memfd, ==, -1);
	sdfs_dirtyset_free(&s);
	munmap(m, 5 * P);
	munmap(m + 6 * P, 2 * P);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/image/empty", test_empty);
	g_test_add_func("/image/size-blocks", test_size_blocks);
	g_test_add_func("/image/seek", test_seek);
	g_test_add_func("/image/seek-walk-many", test_seek_walk_many);
	g_test_add_func("/image/read-one-call-per-run",
			test_read_one_call_per_run);
	g_test_add_func("/image/read-edges", test_read_edges);
	g_test_add_func("/image/read-unreadable-and-gone",
			test_read_unreadable_and_gone);
	g_test_add_func("/image/read-fatal", test_read_fatal);
	g_test_add_func("/image/gather-stops", test_gather_stops);
	g_test_add_func("/image/read-random", test_read_random);
	g_test_add_func("/image/proc-reader-self", test_proc_reader_self);
	return g_test_run();
}

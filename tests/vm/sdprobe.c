/* sdprobe — check that the running kernel tracks writes with soft-dirty.
 *
 * The VM harness's self-check: it needs nothing but the kernel, so it is
 * built static and tells whether a guest can test the soft-dirty backend at
 * all. It writes a private anonymous page, clears the soft-dirty bits
 * (clear_refs "4"), checks that bit 55 of the page's pagemap entry is now
 * clear, writes again and checks that the bit is set. It also reports, for
 * the logs, whether PAGEMAP_SCAN and userfaultfd WP_ASYNC exist.
 *
 *   sdprobe [soft-dirty] [uffd]
 *
 * The arguments name what the kernel must have (default: soft-dirty):
 * soft-dirty as above; uffd: PAGEMAP_SCAN and userfaultfd WP_ASYNC (what
 * the uffd backend needs). The VM tests run it before the integration
 * suite, so that a kernel lacking a backend fails the test instead of
 * letting every case skip.
 *
 * Exit: 0 the kernel has everything asked for, 1 it lacks something (the
 * reason on stderr), 2 the probe itself failed (an unexpected error).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PM_SOFT_DIRTY (UINT64_C(1) << 55)
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_FLAGS (~(PM_SOFT_DIRTY - 1)) /* bits 55-63: never print a PFN */

/* Not in the 6.1 headers this is built with: PAGEMAP_SCAN is
 * _IOWR('f', 16, struct pm_scan_arg), a 96-byte struct (6.7+). */
#define SDPROBE_PAGEMAP_SCAN _IOC(_IOC_READ | _IOC_WRITE, 'f', 16, 96)
#define SDPROBE_UFFD_FEATURE_WP_ASYNC (UINT64_C(1) << 15)

static int pagemap_fd = -1;

static int read_entry(const void *addr, uint64_t *entry)
{
	long psize = sysconf(_SC_PAGESIZE);
	off_t off = (off_t)((uintptr_t)addr / (uintptr_t)psize * sizeof(*entry));

	if (pread(pagemap_fd, entry, sizeof(*entry), off) != (ssize_t)sizeof(*entry)) {
		fprintf(stderr, "sdprobe: pread /proc/self/pagemap: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int clear_refs(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd < 0 || write(fd, "4", 1) != 1) {
		fprintf(stderr, "sdprobe: write 4 to /proc/self/clear_refs: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Print whether PAGEMAP_SCAN and userfaultfd WP_ASYNC exist; return 1 if
 * both do (what the uffd backend needs), else 0. */
static int probe_uffd(void)
{
	/* An all-zero argument (its size field 0) makes PAGEMAP_SCAN fail with
	 * EINVAL where it exists and ENOTTY where it does not. */
	char arg[96] = { 0 };
	int r = ioctl(pagemap_fd, SDPROBE_PAGEMAP_SCAN, arg);

	int scan = !(r < 0 && errno == ENOTTY);
	printf("sdprobe: PAGEMAP_SCAN: %s\n", scan ? "yes" : "no");

	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0) {
		printf("sdprobe: userfaultfd: no (%s)\n", strerror(errno));
		return 0;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = SDPROBE_UFFD_FEATURE_WP_ASYNC };
	int wp_async = ioctl(uffd, UFFDIO_API, &api) == 0;
	printf("sdprobe: userfaultfd WP_ASYNC: %s\n", wp_async ? "yes" : "no");
	close(uffd);
	return scan && wp_async;
}

/* Return 1 if soft-dirty tracks a write, 0 if not, -1 on error. */
static int probe_soft_dirty(void)
{
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t before, after;
	volatile char *page;

	page = mmap(NULL, (size_t)psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		fprintf(stderr, "sdprobe: mmap: %s\n", strerror(errno));
		return -1;
	}
	page[0] = 1; /* populate */
	if (clear_refs() < 0 || read_entry((void *)page, &before) < 0)
		return -1;
	page[1] = 2; /* the write under test */
	if (read_entry((void *)page, &after) < 0)
		return -1;
	munmap((void *)page, (size_t)psize);

	printf("sdprobe: page size %ld; pagemap flags after clear %016" PRIx64 " (soft-dirty %d),"
	       " after write %016" PRIx64 " (soft-dirty %d)\n",
	       psize, before & PM_FLAGS, !!(before & PM_SOFT_DIRTY), after & PM_FLAGS,
	       !!(after & PM_SOFT_DIRTY));
	if (!(before & PM_PRESENT) || !(after & PM_PRESENT)) {
		fprintf(stderr, "sdprobe: the page is not present after a write\n");
		return -1;
	}
	if (before & PM_SOFT_DIRTY) {
		fprintf(stderr, "sdprobe: soft-dirty: no (bit 55 still set after clear_refs 4)\n");
		return 0;
	}
	if (!(after & PM_SOFT_DIRTY)) {
		fprintf(stderr, "sdprobe: soft-dirty: no (bit 55 stays clear after a write: "
				"CONFIG_MEM_SOFT_DIRTY not set?)\n");
		return 0;
	}
	printf("sdprobe: soft-dirty: yes\n");
	return 1;
}

int main(int argc, char **argv)
{
	int need_sd = argc < 2, need_uffd = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "soft-dirty"))
			need_sd = 1;
		else if (!strcmp(argv[i], "uffd"))
			need_uffd = 1;
		else {
			fprintf(stderr, "usage: sdprobe [soft-dirty] [uffd]\n");
			return 2;
		}
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0) {
		fprintf(stderr, "sdprobe: open /proc/self/pagemap: %s\n", strerror(errno));
		return 2;
	}
	int sd = probe_soft_dirty();
	int uffd = probe_uffd();

	if (sd < 0)
		return 2;
	if (need_sd && !sd)
		return 1;
	if (need_uffd && !uffd) {
		fprintf(stderr, "sdprobe: uffd backend: no (needs PAGEMAP_SCAN and userfaultfd WP_ASYNC)\n");
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc parsing: maps, stat, status; process identity. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "cleanup.h"
#include "proc.h"

#define PF_KTHREAD 0x00200000UL
/* The largest /proc file we read whole; maps of huge processes are bigger
 * than this, so they grow past it (see sdfs_read_file). */
#define READ_CHUNK 65536

size_t sdfs_page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

int sdfs_proc_open(pid_t pid, const char *name, int flags)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", name);
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
	return fd;
}

/* Read fd to its end into a NUL-terminated malloc'ed buffer. */
static int read_whole(int fd, char **ret_buf, size_t *ret_len)
{
	size_t cap = READ_CHUNK, len = 0;
	g_autofree char *buf = g_try_malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			char *nb = g_try_realloc(buf, cap * 2 + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		/* reading a dead process's files gives ESRCH */
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*ret_buf = g_steal_pointer(&buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int sdfs_read_file(const char *path, char **ret_buf, size_t *ret_len)
{
	sdfs_autofd int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return read_whole(fd, ret_buf, ret_len);
}

int sdfs_proc_read(pid_t pid, const char *name, char **ret_buf,
		   size_t *ret_len)
{
	sdfs_autofd int fd = sdfs_proc_open(pid, name, O_RDONLY);

	if (fd < 0)
		return fd;
	return read_whole(fd, ret_buf, ret_len);
}

/* Parse a hex number ending at a delimiter; advances *p. */
static int parse_hex(const char **p, const char *end, char delim,
		     uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	while (s < end && isxdigit((unsigned char)*s)) {
		if (digits == 16)
			return -EINVAL;
		int c = (unsigned char)*s;
		v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
		s++;
		digits++;
	}
	if (!digits || s >= end || *s != delim)
		return -EINVAL;
	*p = s + 1;
	*out = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, char delim,
		     uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	while (s < end && isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		s++;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	if (delim) {
		if (s >= end || *s != delim)
			return -EINVAL;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

/*
 * Files under /dev/ that hold ordinary memory: /dev/zero (private: anonymous
 * memory; shared: shmem), POSIX shared memory, hugetlbfs.
 */
static bool dev_path_holds_data(const char *path)
{
	return strncmp(path, "/dev/zero", 9) == 0 ||
	       strncmp(path, "/dev/shm/", 9) == 0 ||
	       strncmp(path, "/dev/hugepages/", 15) == 0;
}

/*
 * maps does not show VM_IO / VM_PFNMAP. The kernel's page walks skip
 * VM_PFNMAP already; beyond that, a mapping of a device node holds no
 * process data. From the name alone: a file under /dev/ that is not one
 * of the above is taken for a device (sdfs_maps_read then looks closer).
 */
static bool dev_path_guess_device(const char *path, size_t len)
{
	char buf[16];

	/* the prefixes compared are shorter than buf */
	len = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
	memcpy(buf, path, len);
	buf[len] = '\0';
	return strncmp(buf, "/dev/", 5) == 0 && !dev_path_holds_data(buf);
}

int sdfs_maps_parse(char *text, struct sdfs_maps *out)
{
	struct sdfs_maps m = {.text = text};
	size_t cap = 0;
	char *line = text;

	while (*line) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		struct sdfs_vma v;
		size_t plen;

		if (sdfs_maps_parse_line(line, len, &v, &plen) < 0) {
			free(m.vmas);
			free(text);
			return -EINVAL;
		}
		((char *)v.path)[plen] = '\0';
		if (m.n && v.start < m.vmas[m.n - 1].end) {
			free(m.vmas);
			free(text);
			return -EINVAL;
		}
		if (m.n == cap) {
			cap = cap ? cap * 2 : 64;
			struct sdfs_vma *nv = reallocarray(m.vmas, cap, sizeof(*nv));
			if (!nv) {
				free(m.vmas);
				free(text);
				return -ENOMEM;
			}
			m.vmas = nv;
		}
		m.vmas[m.n++] = v;
		if (!nl)
			break;
		line = nl + 1;
	}
	*out = m;
	return 0;
}

/* Reads of maps beyond one page of text: see sdfs_maps_read. */
#define MAPS_READ_TRIES 16

int sdfs_maps_read(pid_t pid, struct sdfs_maps *out)
{
	return sdfs_maps_read_text(pid, out, NULL, NULL);
}

int sdfs_maps_read_text(pid_t pid, struct sdfs_maps *out, char **ret_text,
			size_t *ret_len)
{
	char *text;
	g_autofree char *copy = NULL;
	size_t len = 0;
	int r = -EINVAL;

	/*
	 * The kernel hands out maps one page of text per read(), taking the
	 * mmap lock anew each time; a mapping that changed in between can
	 * show up again below the previous line's end. Such a torn text
	 * fails to parse: read it again.
	 */
	for (int i = 0; i < MAPS_READ_TRIES && r == -EINVAL; i++) {
		r = sdfs_proc_read(pid, "maps", &text, &len);
		if (r < 0)
			return r;
		g_free(copy);
		copy = NULL;
		if (ret_text) {
			/* parsing cuts the text into paths */
			copy = g_try_malloc(len + 1);
			if (!copy) {
				free(text);
				return -ENOMEM;
			}
			memcpy(copy, text, len + 1);
		}
		r = sdfs_maps_parse(text, out);
	}
	if (r < 0)
		return r;
	/* a guessed device: is it a device node, seen from the process's
	 * root? A regular file (e.g. on a tmpfs mounted under /dev) is not */
	for (size_t i = 0; i < out->n; i++) {
		struct sdfs_vma *v = &out->vmas[i];
		struct stat st;
		if (!v->device)
			continue;
		g_autofree char *p = g_strdup_printf("/proc/%d/root%s", (int)pid,
						     v->path);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_ino == v->inode)
			v->device = false;
	}
	if (ret_text) {
		*ret_text = g_steal_pointer(&copy);
		*ret_len = len;
	}
	return 0;
}

void sdfs_maps_free(struct sdfs_maps *m)
{
	free(m->vmas);
	free(m->text);
	m->vmas = NULL;
	m->text = NULL;
	m->n = 0;
}

ssize_t sdfs_maps_find(const struct sdfs_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n && m->vmas[lo].start <= addr)
		return (ssize_t)lo;
	return -1;
}

int sdfs_maps_parse_line(const char *line, size_t len, struct sdfs_vma *out,
			 size_t *path_len)
{
	const char *p = line, *end = line + len;
	uint64_t major, minor;
	struct sdfs_vma v = {0};

	if (len && line[len - 1] == '\n')
		end--;
	if (parse_hex(&p, end, '-', &v.start) < 0 ||
	    parse_hex(&p, end, ' ', &v.end) < 0 || v.end <= v.start)
		return -EINVAL;
	if (end - p < 5 || p[4] != ' ')
		return -EINVAL;
	static const char allowed[4][3] = {"r-", "w-", "x-", "ps"};
	for (int i = 0; i < 4; i++) {
		if (!strchr(allowed[i], p[i]) || !p[i])
			return -EINVAL;
		v.perms[i] = p[i];
	}
	v.perms[4] = '\0';
	p += 5;
	if (parse_hex(&p, end, ' ', &v.offset) < 0 ||
	    parse_hex(&p, end, ':', &major) < 0 ||
	    parse_hex(&p, end, ' ', &minor) < 0 || major > 0xfff ||
	    minor > 0xfffff)
		return -EINVAL;
	v.dev_major = (unsigned)major;
	v.dev_minor = (unsigned)minor;
	if (parse_dec(&p, end, 0, &v.inode) < 0)
		return -EINVAL;
	/* the path, if any, follows padding spaces */
	if (p < end && *p != ' ')
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	v.path = p;
	*path_len = (size_t)(end - p);
	v.device = dev_path_guess_device(p, *path_len);
	*out = v;
	return 0;
}

bool sdfs_vma_trackable(const struct sdfs_vma *v)
{
	static const char *const never[] = {"[vvar]", "[vvar_vclock]",
					    "[vsyscall]"};

	for (size_t i = 0; i < G_N_ELEMENTS(never); i++)
		if (strcmp(v->path, never[i]) == 0)
			return false;
	return !v->device;
}

int sdfs_stat_parse(const char *buf, size_t len, struct sdfs_stat *out)
{
	const char *end = buf + len, *p;
	struct sdfs_stat st = {0};
	uint64_t v;

	/* "pid (comm) state ..." where comm may hold spaces and parentheses:
	 * the comm ends at the last ')'. */
	p = buf;
	if (parse_dec(&p, end, ' ', &v) < 0 || v > INT_MAX)
		return -EINVAL;
	st.pid = (pid_t)v;
	const char *rp = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ')')
			rp = q;
	if (!rp || *p != '(' || end - rp < 3 || rp[1] != ' ')
		return -EINVAL;
	p = rp + 2;
	st.state = *p++;
	if (p >= end || *p != ' ')
		return -EINVAL;
	p++;
	/* fields from 4 on: ppid(4) ... flags(9) ... starttime(22) vsize(23) */
	for (int field = 4; field <= 23; field++) {
		bool neg = false;
		if (p < end && *p == '-') {
			neg = true;
			p++;
		}
		if (parse_dec(&p, end, 0, &v) < 0)
			return -EINVAL;
		if (p < end && *p == ' ')
			p++;
		else if (field != 23)
			return -EINVAL;
		switch (field) {
		case 4:
			st.ppid = neg ? -1 : (pid_t)v;
			break;
		case 9:
			st.flags = (unsigned long)v;
			break;
		case 22:
			st.starttime = v;
			break;
		case 23:
			st.vsize = v;
			break;
		}
	}
	*out = st;
	return 0;
}

static int parse_id_list(const char *p, const char *end, uint32_t *ids, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t v;
		while (p < end && (*p == '\t' || *p == ' '))
			p++;
		if (parse_dec(&p, end, 0, &v) < 0 || v > UINT32_MAX)
			return -EINVAL;
		ids[i] = (uint32_t)v;
	}
	return 0;
}

int sdfs_status_parse(const char *buf, size_t len, struct sdfs_status *out)
{
	struct sdfs_status st = {0};
	const char *p = buf, *end = buf + len;
	unsigned seen = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			size_t klen = (size_t)(colon - p);
			const char *v = colon + 1;
			while (v < le && (*v == '\t' || *v == ' '))
				v++;
			uint64_t x;
			const char *q = v;
			if (klen == 4 && !memcmp(p, "Tgid", 4)) {
				if (parse_dec(&q, le, 0, &x) < 0 || x > INT_MAX)
					return -EINVAL;
				st.tgid = (pid_t)x;
				seen |= 1;
			} else if (klen == 3 && !memcmp(p, "Pid", 3)) {
				if (parse_dec(&q, le, 0, &x) < 0 || x > INT_MAX)
					return -EINVAL;
				st.pid = (pid_t)x;
				seen |= 2;
			} else if (klen == 3 && !memcmp(p, "Uid", 3)) {
				if (parse_id_list(v, le, st.uid, 4) < 0)
					return -EINVAL;
				seen |= 4;
			} else if (klen == 3 && !memcmp(p, "Gid", 3)) {
				if (parse_id_list(v, le, st.gid, 4) < 0)
					return -EINVAL;
				seen |= 8;
			} else if (klen == 5 && !memcmp(p, "State", 5)) {
				if (v >= le)
					return -EINVAL;
				st.state = *v;
				seen |= 16;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (seen != 31)
		return -EINVAL;
	*out = st;
	return 0;
}

/* Read a small /proc file into buf (NUL-terminated); its length or -errno. */
/* One read of /proc/PID/NAME into buf (NUL-terminated): bytes or -errno,
 * -ESRCH for a process that is not there. */
static ssize_t read_small(pid_t pid, const char *name, char *buf, size_t size)
{
	sdfs_autofd int fd = sdfs_proc_open(pid, name, O_RDONLY);

	if (fd < 0)
		return fd;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

int sdfs_proc_identify_flags(pid_t pid, unsigned flags,
			     struct sdfs_proc_id *out)
{
	char buf[4096];
	struct sdfs_stat st;
	ssize_t n;

	if (pid <= 0)
		return -ESRCH;
	n = read_small(pid, "stat", buf, sizeof(buf));
	/* out of descriptors or memory is not "no such process" */
	if (sdfs_err_resource((int)n))
		return (int)n;
	if (n < 0 || sdfs_stat_parse(buf, (size_t)n, &st) < 0)
		return -ESRCH;
	/* no kernel threads; no zombies (no address space) */
	if (st.pid != pid || (st.flags & PF_KTHREAD) || st.state == 'Z' ||
	    st.state == 'X' || st.vsize == 0)
		return -ESRCH;
	/* leaders only: /proc/TID of a thread resolves too */
	if (!(flags & SDFS_ID_LEADER_KNOWN)) {
		struct sdfs_status ss;
		n = read_small(pid, "status", buf, sizeof(buf));
		if (sdfs_err_resource((int)n))
			return (int)n;
		if (n < 0 || sdfs_status_parse(buf, (size_t)n, &ss) < 0 ||
		    ss.tgid != pid)
			return -ESRCH;
	}
	/* the owner /proc shows: the effective ids, root if not dumpable */
	int r = sdfs_proc_owner(pid, out);
	if (r < 0)
		return r;
	out->pid = pid;
	out->starttime = st.starttime;
	return 0;
}

int sdfs_proc_identify(pid_t pid, struct sdfs_proc_id *out)
{
	return sdfs_proc_identify_flags(pid, 0, out);
}

int sdfs_proc_owner(pid_t pid, struct sdfs_proc_id *id)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &sb) < 0)
		return sdfs_err_resource(-errno) ? -errno : -ESRCH;
	id->uid = sb.st_uid;
	id->gid = sb.st_gid;
	return 0;
}

pid_t sdfs_parse_pid_name(const char *name)
{
	uint64_t v = 0;

	if (!name[0] || name[0] == '0')
		return -ENOENT;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return -ENOENT;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > INT_MAX)
			return -ENOENT;
	}
	return (pid_t)v;
}

int sdfs_parse_page_name(const char *name, uint64_t *addr)
{
	const char *p = name;
	uint64_t v;
	size_t len = strlen(name);

	if (len == 0 || len > 16)
		return -ENOENT;
	if (parse_hex(&p, name + len + 1, '\0', &v) < 0)
		return -ENOENT;
	*addr = v;
	return 0;
}

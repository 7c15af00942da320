/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc parsing: maps, stat, status; process identity. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

/* One line of /proc/PID/maps. */
struct sdfs_vma {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5]; /* "rw-p", NUL-terminated */
	const char *path; /* points into the owning sdfs_maps; "" if anonymous */
	bool device; /* maps a device node: holds no process data */
};

/* A parsed /proc/PID/maps: ascending, non-overlapping. */
struct sdfs_maps {
	struct sdfs_vma *vmas;
	size_t n;
	char *text; /* backing storage for the paths */
};
typedef struct sdfs_maps SdfsMaps;

/*
 * Parse one maps line (without or with its trailing newline). On success
 * fills *out (out->path points into line, not NUL-terminated: see
 * *path_len) and returns 0; -EINVAL on a malformed line.
 */
int sdfs_maps_parse_line(const char *line, size_t len, struct sdfs_vma *out,
			 size_t *path_len);

/* Parse a whole maps text (takes ownership of text, which must be
 * NUL-terminated). Returns 0 or -errno. */
int sdfs_maps_parse(char *text, struct sdfs_maps *out);

/* Read and parse /proc/PID/maps with the calling thread's credentials
 * (-ESRCH: no such process). */
int sdfs_maps_read(pid_t pid, struct sdfs_maps *out);
/* The same, and a copy of the text read (NUL-terminated; g_free it). */
int sdfs_maps_read_text(pid_t pid, struct sdfs_maps *out, char **ret_text,
			size_t *ret_len);
void sdfs_maps_free(struct sdfs_maps *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SdfsMaps, sdfs_maps_free)

/* Index of the vma containing addr, or -1. */
ssize_t sdfs_maps_find(const struct sdfs_maps *m, uint64_t addr);

/*
 * Whether a mapping can hold the process's own data (sdfs(5)): false for
 * [vvar], [vvar_vclock], [vsyscall] and device mappings (v->device).
 */
bool sdfs_vma_trackable(const struct sdfs_vma *v);

/* Selected fields of /proc/PID/stat. */
struct sdfs_stat {
	pid_t pid;
	char state;
	pid_t ppid;
	unsigned long flags; /* PF_* */
	uint64_t starttime; /* clock ticks after boot */
	uint64_t vsize;
};

int sdfs_stat_parse(const char *buf, size_t len, struct sdfs_stat *out);

/* Selected fields of /proc/PID/status. */
struct sdfs_status {
	pid_t tgid;
	pid_t pid;
	uid_t uid[4]; /* real, effective, saved, fs */
	gid_t gid[4];
	char state;
};

int sdfs_status_parse(const char *buf, size_t len, struct sdfs_status *out);

/* Identity of a process: PIDs are reused, (pid, starttime) is not. */
struct sdfs_proc_id {
	pid_t pid;
	uint64_t starttime;
	uid_t uid; /* owner as /proc shows it: euid, or root if not dumpable */
	gid_t gid;
};

/*
 * Identify pid as a process sdfs shows: a thread-group leader with an
 * address space (not a kernel thread, not a zombie). 0, -ESRCH, or
 * -EMFILE/-ENFILE/-ENOMEM.
 */
int sdfs_proc_identify(pid_t pid, struct sdfs_proc_id *out);

/* SDFS_ID_LEADER_KNOWN: pid is known to be a thread-group leader (it came
 * from a readdir of /proc, which lists only leaders): skip that check. */
#define SDFS_ID_LEADER_KNOWN 1u
int sdfs_proc_identify_flags(pid_t pid, unsigned flags,
			     struct sdfs_proc_id *out);

/* Fill id->uid and id->gid with the owner /proc shows for pid (-ESRCH). */
int sdfs_proc_owner(pid_t pid, struct sdfs_proc_id *id);

/* Parse a decimal PID name ("1234"): no sign, no leading zeros, no
 * overflow. Returns the pid or -ENOENT. */
pid_t sdfs_parse_pid_name(const char *name);

/* Parse a page name: 1..16 hex digits (lowercase or uppercase), no 0x.
 * Returns 0 and *addr, or -ENOENT. Alignment is checked by the caller. */
int sdfs_parse_page_name(const char *name, uint64_t *addr);

/* Out of descriptors or memory: an error of the daemon, never to be
 * reported as "no such process" (r is a -errno). */
static inline bool sdfs_err_resource(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/*
 * Errors: the engine says ESRCH for a process that does not exist or is
 * gone, whatever /proc said (ENOENT at open, ESRCH at read); the daemon
 * decides what its caller sees (mountd/req.c).
 */

/* Read a file into a NUL-terminated malloc'ed buffer. */
int sdfs_read_file(const char *path, char **ret_buf, size_t *ret_len);
/* open /proc/PID/NAME (pid 0: /proc/self): an fd, -ESRCH, -errno. */
int sdfs_proc_open(pid_t pid, const char *name, int flags);
/* sdfs_read_file of /proc/PID/NAME; -ESRCH for a process not there. */
int sdfs_proc_read(pid_t pid, const char *name, char **ret_buf,
		   size_t *ret_len);

/* Page size of the system (cached sysconf). */
size_t sdfs_page_size(void);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_sectarget: a small target for the security tests, steered like
 * sdfs_workload (prints "ready PID", then one reply line per command):
 *
 *   page BYTE     ok ADDR   one fresh anonymous page, filled with the
 *                           pattern.h pattern (BYTE, idx 0)
 *   nodump        ok        prctl(PR_SET_DUMPABLE, 0)
 *   dump          ok        prctl(PR_SET_DUMPABLE, 1)
 *   dumpable      ok N      prctl(PR_GET_DUMPABLE)
 *   exit          ok, then exits
 *
 * With argument "nodump" it is non-dumpable before it says ready.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "pattern.h"

int main(int argc, char **argv)
{
	char line[256];
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	if (argc > 1 && !strcmp(argv[1], "nodump") &&
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("prctl");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		unsigned byte;
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "page %u", &byte) == 1) {
			uint8_t *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				printf("err mmap\n");
				continue;
			}
			pat_fill(p, ps, byte, 0);
			printf("ok %lx\n", (unsigned long)(uintptr_t)p);
		} else if (!strcmp(line, "nodump")) {
			int r = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
			printf(r < 0 ? "err prctl\n" : "ok\n");
		} else if (!strcmp(line, "dump")) {
			int r = prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
			printf(r < 0 ? "err prctl\n" : "ok\n");
		} else if (!strcmp(line, "dumpable")) {
			printf("ok %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		} else if (!strcmp(line, "exit")) {
			printf("ok\n");
			return 0;
		} else {
			printf("err unknown command\n");
		}
	}
	return 0;
}

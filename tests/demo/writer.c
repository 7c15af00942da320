/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The demo's workload: a process with a 64 MiB heap-like buffer that
 * keeps writing a few pages at a time, so that dirty_ranges has something
 * to show. Usage: sdfs-demo-writer [MIB] [PAGES_PER_TICK] [TICK_MS]
 * Prints "pid ADDR SIZE" once its buffer is populated, then writes until
 * killed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t per_tick = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
	long tick_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 100;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = mib << 20, npages = size / ps;

	if (!mib || !npages) {
		fprintf(stderr, "usage: %s [MIB] [PAGES_PER_TICK] [TICK_MS]\n",
			argv[0]);
		return 2;
	}
	unsigned char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(buf, 0x11, size); /* every page present: epoch 0 sees them */
	printf("%d %lx %zu\n", (int)getpid(), (unsigned long)(uintptr_t)buf,
	       size);
	fflush(stdout);

	/* a sequential writer: a few consecutive pages per tick, moving on */
	uint64_t seq = 0;
	size_t next = 0;
	struct timespec ts = {.tv_sec = tick_ms / 1000,
			      .tv_nsec = (tick_ms % 1000) * 1000000L};
	for (;;) {
		for (size_t i = 0; i < per_tick; i++) {
			memcpy(buf + next * ps, &seq, sizeof(seq));
			seq++;
			next = (next + 1) % npages;
		}
		nanosleep(&ts, NULL);
	}
}

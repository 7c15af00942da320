# SPDX-License-Identifier: LGPL-2.1-or-later
# A python3 target for sdfs_exact: threads that allocate and free lists,
# dicts, bytearrays of many sizes (the large ones glibc mmaps and munmaps),
# strings, collect garbage and write at random into what they hold, each
# pausing 5 ms every 10 steps (the machine stays free for the daemon and
# rsync).
# Prints "ready PID", then runs until killed.
import gc
import os
import random
import sys
import threading
import time

# SDFS_CHURN_PAGES (default 256) bounds the objects and their sizes
PAGES = int(os.environ.get("SDFS_CHURN_PAGES", "0") or 0)
PAGES = PAGES if PAGES >= 16 else 256
SIZES = [s for s in (16, 100, 700, 4096, 30000, 140000, 600000, 1 << 20)
         if s <= PAGES * 4096]
MAX_LIVE = PAGES // 8


def churn(seed):
    rnd = random.Random(seed)
    live = []
    n = 0
    while True:
        n += 1
        op = rnd.randrange(12)
        if op < 4:
            size = rnd.choice(SIZES)
            live.append(bytearray(rnd.randbytes(64)) * (size // 64 + 1))
        elif op < 6:
            live.append({i: str(i) * 3 for i in range(rnd.randrange(1, PAGES * 8))})
        elif op < 7:
            live.append([rnd.random() for _ in range(rnd.randrange(1, PAGES * 64))])
        elif op < 8:
            live.append("x%d" % n * rnd.randrange(1, 5000))
        elif op < 10 and live:
            del live[rnd.randrange(len(live))]
        elif live:
            x = live[rnd.randrange(len(live))]
            if isinstance(x, bytearray):
                for _ in range(16):
                    x[rnd.randrange(len(x))] = rnd.randrange(1, 256)
        if len(live) > MAX_LIVE:
            del live[: len(live) // 2]
            gc.collect()
        if n % 10 == 0:
            time.sleep(0.005)


def main():
    for s in range(2):
        threading.Thread(target=churn, args=(s + 1,), daemon=True).start()
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    churn(3)


main()

"""What the Python producers and consumers of the failover check share.

Every client program (Python, Java, Node) takes the same arguments and writes the
same line log, so that one checker (check.py) reads them all:

  produce BOOTSTRAP TOPIC COUNT RATE OUT
      start MS | ack N PARTITION OFFSET MS | err N MESSAGE | done sent=S
  consume BOOTSTRAP TOPIC GROUP MAX RATE OUT
      end PARTITION OFFSET | committed PARTITION OFFSET | rec PARTITION OFFSET N
      | commit PARTITION OFFSET | done read=R

Record N has value "N" and key "k<N % 12>". MAX=0 reads up to the end offsets
seen at start, from the group's committed offsets (logged as `committed`, -1 when
none) on; RATE=0 does not throttle. Lines are flushed as they are written:
the script watches the logs to time its kills.
"""
import sys
import time

KEYS = 12


def key_of(n):
    return f"k{n % KEYS}".encode()


def now_ms():
    return int(time.time() * 1000)


class Log:
    def __init__(self, path):
        self.f = open(path, "w", buffering=1)

    def line(self, *parts):
        self.f.write(" ".join(str(p) for p in parts) + "\n")

    def close(self):
        self.f.close()


def args():
    mode = sys.argv[1]
    if mode == "produce":
        _, _, bootstrap, topic, count, rate, out = sys.argv
        return mode, dict(bootstrap=bootstrap, topic=topic, count=int(count),
                          rate=float(rate), out=out)
    _, _, bootstrap, topic, group, max_records, rate, out = sys.argv
    return mode, dict(bootstrap=bootstrap, topic=topic, group=group,
                      max=int(max_records), rate=float(rate), out=out)


def retrying(what, tries=20):
    """Start-up lookups (end offsets, committed offsets) that a coordinator still
    loading its partition may refuse; not every client retries them itself."""
    for i in range(tries):
        try:
            return what()
        except Exception:
            if i == tries - 1:
                raise
            time.sleep(0.5)


async def retrying_async(what, tries=20):
    import asyncio
    for i in range(tries):
        try:
            return await what()
        except Exception:
            if i == tries - 1:
                raise
            await asyncio.sleep(0.5)


def pace(t0, n, rate):
    """Seconds to sleep before record n so that records leave at `rate` per second."""
    return max(0.0, t0 + n / rate - time.monotonic())


class ReadState:
    """Consumer bookkeeping: which partitions still have records below the end offsets."""

    def __init__(self, log, ends, committed, max_records, rate):
        self.log, self.ends, self.max, self.rate = log, dict(ends), max_records, rate
        self.read = 0
        self.t0 = time.monotonic()
        self.pos = {}
        for p, o in sorted(self.ends.items()):
            log.line("end", p, o)
        for p, o in sorted(committed.items()):
            o = -1 if o is None or o < 0 else o
            log.line("committed", p, o)
            self.pos[p] = max(o, 0)

    def record(self, p, o, value):
        self.log.line("rec", p, o, value.decode())
        self.read += 1
        self.pos[p] = max(self.pos.get(p, 0), o + 1)

    def throttle(self):
        if self.rate > 0:
            time.sleep(pace(self.t0, self.read, self.rate))

    def finished(self):
        if self.max and self.read >= self.max:
            return True
        return all(self.pos.get(p, 0) >= o for p, o in self.ends.items())

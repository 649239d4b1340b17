#!/usr/bin/env python3
"""Checks one client's failover run from the line logs its programs wrote (see common.py).

  check.py --client NAME --dir DIR [--idempotent] [--kill-ms MS] [--killed-leads P,P]
           [--group-kill-ms MS]

DIR holds produce.log (the producer), read.log (a consumer group reading everything
back afterwards) and, for the group check, group1.log / group2.log (a committing
group killed under by a coordinator kill, then resumed by a second process).

Produce check: every acknowledged record is read back at the offset it was
acknowledged at; the read-back offsets of a partition hold the records in the order
they were sent (per partition, record numbers increase with the offset) for an
idempotent producer; no record is in the log twice. Group check: every offset below
the end offsets the first process saw is read by one of the two processes; re-reads
(since the last commit) are counted, not failures.

Prints one summary line (key=value) and the anomalies; exits 1 on a failure.
"""
import argparse
import json
import sys
from collections import defaultdict


def lines(path):
    try:
        with open(path) as f:
            for ln in f:
                parts = ln.split()
                if parts:
                    yield parts
    except FileNotFoundError:
        return


def check_produce(d, idempotent, kill_ms, killed_leads):
    acked, errs, sent, done = {}, set(), 0, False
    for p in lines(f"{d}/produce.log"):
        if p[0] == "ack":
            acked[int(p[1])] = (int(p[2]), int(p[3]), int(p[4]))
        elif p[0] == "err":
            errs.add(int(p[1]))
        elif p[0] == "done":
            done = True
            sent = int(p[1].split("=")[1])
    at = {}          # (partition, offset) -> record number, as read back
    reread = 0       # the consumer saw the same offset twice (not a log anomaly)
    for p in lines(f"{d}/read.log"):
        if p[0] == "rec":
            po = (int(p[1]), int(p[2]))
            if po in at:
                reread += 1
            at[po] = int(p[3])
    anomalies = []
    lost = 0
    for n, (part, off, _) in sorted(acked.items()):
        if at.get((part, off)) != n:
            lost += 1
            if lost <= 10:
                anomalies.append(f"LOST record {n}: acked at {part}@{off}, read there: {at.get((part, off))}")
    offsets_of = defaultdict(list)
    for (part, off), n in at.items():
        offsets_of[n].append((part, off))
    dups = sum(len(v) - 1 for v in offsets_of.values() if len(v) > 1)
    for n, v in sorted(offsets_of.items()):
        if len(v) > 1 and len(anomalies) < 20:
            anomalies.append(f"DUPLICATE record {n} at {sorted(v)}")
    double_acks = len(acked) - len({(p, o) for p, o, _ in acked.values()})
    if double_acks:
        anomalies.append(f"{double_acks} offsets acknowledged for two different records")
    reordered = 0
    by_part = defaultdict(list)
    for (part, off), n in sorted(at.items()):
        by_part[part].append(n)
    for part, ns in by_part.items():
        for a, b in zip(ns, ns[1:]):
            if b < a:
                reordered += 1
                if reordered <= 5:
                    anomalies.append(f"REORDERED partition {part}: record {b} after {a}")
    unacked_written = len({n for n in offsets_of if n not in acked})
    first_ack = None
    if kill_ms:
        after = [t for part, _, t in acked.values() if t >= kill_ms and (not killed_leads or part in killed_leads)]
        if after:
            first_ack = min(after) - kill_ms
    failed = lost > 0 or double_acks > 0 or not done or (idempotent and (dups > 0 or reordered > 0))
    return failed, dict(
        sent=sent, acked=len(acked), errors=len(errs), lost=lost, duplicated=dups,
        reordered=reordered, unacked_in_log=unacked_written, consumer_rereads=reread,
        kill_to_first_ack_ms=first_ack if first_ack is not None else "none",
        producer_done=done,
    ), anomalies


def check_group(d):
    ends, commits, reads = {}, defaultdict(int), defaultdict(int)
    first2, committed2 = {}, {}
    done1 = done2 = False
    for p in lines(f"{d}/group1.log"):
        if p[0] == "end":
            ends[int(p[1])] = int(p[2])
        elif p[0] == "commit":
            commits[int(p[1])] = max(commits[int(p[1])], int(p[2]))
        elif p[0] == "rec":
            reads[(int(p[1]), int(p[2]))] += 1
        elif p[0] == "done":
            done1 = True
    read1 = sum(reads.values())
    for p in lines(f"{d}/group2.log"):
        if p[0] == "rec":
            po = (int(p[1]), int(p[2]))
            reads[po] += 1
            first2.setdefault(po[0], po[1])
        elif p[0] == "committed":
            committed2[int(p[1])] = int(p[2])
        elif p[0] == "done":
            done2 = True
    anomalies = []
    missing = [(part, o) for part, end in ends.items() for o in range(end) if (part, o) not in reads]
    for part, o in missing[:10]:
        anomalies.append(f"GROUP LOST {part}@{o}: read by neither process")
    # The second process must start where the group's committed offset says; that
    # offset may lag the first process's last acknowledged commit only if a commit
    # was lost (re-reads, reported), and must never pass what was read.
    skipped, rewound = {}, {}
    for part in ends:
        c2 = max(committed2.get(part, -1), 0)
        if part in first2 and first2[part] > c2:
            skipped[part] = first2[part] - c2
            anomalies.append(f"GROUP SKIPPED partition {part}: resumed at {first2[part]}, committed {c2}")
        if c2 < commits.get(part, 0):
            rewound[part] = commits[part] - c2
            anomalies.append(f"GROUP COMMIT LOST partition {part}: committed {commits[part]} acknowledged, {c2} fetched")
        if c2 > commits.get(part, 0) and c2 > 0:
            anomalies.append(f"GROUP COMMIT AHEAD partition {part}: fetched {c2}, the first process committed {commits.get(part, 0)}")
    failed = bool(missing) or bool(skipped) or bool(rewound) or not (done1 and done2) or not ends
    return failed, dict(
        group_records=sum(ends.values()), group_read1=read1,
        group_lost=len(missing), group_reread=sum(n - 1 for n in reads.values() if n > 1),
        group_commit_lost=sum(rewound.values()),
        group_done=done1 and done2,
    ), anomalies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--idempotent", action="store_true")
    ap.add_argument("--kill-ms", type=int, default=0)
    ap.add_argument("--killed-leads", default="")
    ap.add_argument("--group", action="store_true")
    ap.add_argument("--json", help="append the summary as one JSON line to this file")
    a = ap.parse_args()
    leads = {int(x) for x in a.killed_leads.split(",") if x}
    failed, summary, anomalies = check_produce(a.dir, a.idempotent, a.kill_ms, leads)
    if a.group:
        gfailed, gsummary, ganomalies = check_group(a.dir)
        failed = failed or gfailed
        summary.update(gsummary)
        anomalies += ganomalies
    summary = dict(client=a.client, result="FAIL" if failed else "ok", **summary)
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    for line in anomalies:
        print("  " + line)
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(summary) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

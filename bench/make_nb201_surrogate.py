#!/usr/bin/env python3
"""Writes a synthetic table over all 15,625 cells of the nb201 space.

NOT NAS-Bench-201: no network was trained. It is a second landscape, with the
shape NB201 is known for, on which search engines can be compared without
being tuned on it (the NAS-Bench-Macro table in shared/ is the other). A
cell's value follows from its wiring: edges into or out of a node that cannot
reach the output do nothing, a cell with no path from input to output scores
10 (chance), capacity (3x3 convolutions count 9, 1x1 one) and the depth of
convolutions on the longest path help with diminishing returns, a skip from
input to output (residual) helps deep cells train, live pooling edges hurt,
and a deterministic hash of the key adds noise (sd 0.15), so that decisions
interact and the optimum is not the product of per-edge optima.

    make_nb201_surrogate.py OUT.csv
"""
import hashlib
import itertools
import math
import sys

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
# Edge order of the nb201 grammar: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]


def noise(key):
    h = hashlib.sha256(key.encode()).digest()
    u1 = (int.from_bytes(h[:8], "little") + 1) / 2.0**64
    u2 = int.from_bytes(h[8:16], "little") / 2.0**64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def value(ops):
    live_edges = [(s, t, op) for (s, t), op in zip(EDGES, ops) if op != "none"]
    reach_from = {0}
    for s, t, _ in live_edges:  # edges are in topological order of their target
        if s in reach_from:
            reach_from.add(t)
    reach_to = {3}
    for s, t, _ in reversed(live_edges):
        if t in reach_to:
            reach_to.add(s)
    if 3 not in reach_from:
        return 10.0
    live = [(s, t, op) for s, t, op in live_edges if s in reach_from and t in reach_to]
    cap = sum(9 if op == "nor_conv_3x3" else 1 if op == "nor_conv_1x1" else 0 for *_, op in live)
    depth = {0: 0.0}
    for s, t, op in live:
        step = 1.0 if op == "nor_conv_3x3" else 0.5 if op == "nor_conv_1x1" else 0.0
        depth[t] = max(depth.get(t, 0.0), depth[s] + step)
    pools = sum(op == "avg_pool_3x3" for *_, op in live)
    residual = any(s == 0 and t == 3 and op == "skip_connect" for s, t, op in live)
    v = 94.5 - 7.0 * math.exp(-cap / 12.0) - 2.5 * math.exp(-1.2 * depth[3])
    v -= 0.8 * pools
    if depth[3] >= 2.5 and not residual:
        v -= 0.5
    if residual:
        v += 0.2
    return v


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_nb201_surrogate.py OUT.csv")
    with open(sys.argv[1], "w") as out:
        out.write("key,acc,capacity\n")
        for ops in itertools.product(OPS, repeat=6):
            key = "/".join(ops)
            v = value(ops) + 0.15 * noise(key)
            cap = sum(9 if op == "nor_conv_3x3" else 1 if op == "nor_conv_1x1" else 0 for op in ops)
            out.write(f"{key},{v:.4f},{cap}\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# Compares two RULER record folders sample by sample: how many (task, length, config, index) present in both
# have the same prediction. Used to check that engine changes left the measured answers unchanged.
#   python3 scripts/bench/ruler_same.py bench/results/ruler_engine bench/results/ruler_engine_recheck
import glob
import json
import sys


def load(folder):
    out = {}
    for path in glob.glob(f"{folder}/*.jsonl"):
        for line in open(path):
            r = json.loads(line)
            out[(r["task"], r["length"], r["config"], r["index"])] = r["pred"]
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
common = [k for k in b if k in a]
differ = [k for k in common if a[k] != b[k]]
print(f"{len(common)} samples in both, {len(common) - len(differ)} with the same prediction, {len(differ)} different")
for k in differ[:20]:
    print("  ", k, repr(a[k][:60]), "vs", repr(b[k][:60]))
sys.exit(1 if differ or not common else 0)

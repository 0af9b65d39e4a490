"""Reads Autobahn's index.json and fails unless every case ended acceptably.

Acceptable: behavior OK, NON-STRICT or INFORMATIONAL, and a close behavior of OK or
INFORMATIONAL. Prints the counts, then one line per case that is not acceptable.
"""
import collections
import json
import sys

GOOD_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
GOOD_CLOSE = {"OK", "INFORMATIONAL"}

with open(sys.argv[1]) as f:
    report = json.load(f)
cases = {case: result for agent in report.values() for case, result in agent.items()}
counts = collections.Counter(result["behavior"] for result in cases.values())
bad = {
    case: result
    for case, result in cases.items()
    if result["behavior"] not in GOOD_BEHAVIOR or result["behaviorClose"] not in GOOD_CLOSE
}
summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
print(f"Autobahn: {len(cases)} cases: {summary}")
for case, result in sorted(bad.items()):
    print(f"  {case}: behavior {result['behavior']}, close {result['behaviorClose']}")
if not cases or bad:
    sys.exit(1)

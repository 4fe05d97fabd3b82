#!/usr/bin/env python3
"""Reads `kimera export` JSON Lines on stdin; prints id, type, entropy and tau."""

import json
import sys


def main():
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    rows.sort(key=lambda r: (-r["entropy"], r["id"]))
    print(f"{'id':<16} {'type':<6} {'entropy (bits)':>14} {'tau_eff (s)':>12} {'tau_eff (d)':>11}")
    for r in rows:
        tau = r["effective_tau"]
        print(f"{r['id']:<16} {r['identity_type']:<6} {r['entropy']:>14.6f} "
              f"{tau:>12.0f} {tau / 86400:>11.2f}")
    print(f"{len(rows)} identities")


if __name__ == "__main__":
    main()

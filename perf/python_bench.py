#!/usr/bin/python3
"""The plugin from Python (kimera_entropy.compat) against sqlite3 doing it the reference's way.

Side by side in one run, on the same identities:
  - store_identity one by one (the plugin: one kimera_store_identity per call;
    SQLite: one transaction per call, as the reference commits each store);
  - batched store (the plugin: kimera_store_many per batch; SQLite: executemany
    in one transaction per batch);
  - fetch_identity of random ids (both return an Identity built by from_dict);
  - find_identities_by_entropy(min, max, limit=10) over random entropy ranges;
then the per-call cost of crossing the C ABI from Python (ctypes), next to
the Python work both sides do per identity (JSON encoding going in,
json.loads + from_dict coming out): a ratio cannot exceed what that shared
cost leaves.

The SQLite side is the reference's layout: a table of JSON blobs with the
listed columns, a B-tree index on entropy_score, entropy computed in Python at
store time, the first created_at kept on replace; WAL with synchronous=NORMAL,
which like the plugin's default (sync_writes = false) does not fsync each
commit.

Run (after the build; libkimera.so is found as kimera_entropy finds it):
  /usr/bin/python3 perf/python_bench.py                 # N = 100,000
  /usr/bin/python3 perf/python_bench.py --n 1000000     # the full run (several minutes)
  KIMERA_LIBRARY=build/libkimera.so /usr/bin/python3 perf/python_bench.py --n 20000
"""

import argparse
import datetime
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))

import kimera_entropy  # noqa: E402
from kimera_entropy import _json, _native, compat  # noqa: E402
from kimera_entropy._identity import Identity  # noqa: E402

WORDS = ["lattice", "echo", "semantic", "beta", "gamma", "delta", "naive", "tokyo", "x"]


def make_identities(n, seed=14):
    """n identities of about 250 bytes of JSON: 85% geoids with 1-8 terms, 15% scars."""
    rng = random.Random(seed)
    base = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(n):
        created = (base + datetime.timedelta(seconds=i)).isoformat()
        if rng.random() < 0.85:
            k = rng.randint(1, 8)
            terms = [{"term": rng.choice(WORDS) + str(j), "role": "r",
                      "intensity": round(rng.uniform(0.1, 10.0), 3)} for j in range(k)]
            raw = " ".join(rng.choice(WORDS) for _ in range(5))
            out.append({"id": "geoid_%08d" % i, "identity_type": "geoid", "raw": raw,
                        "echo": raw, "lang_axis": "en", "tags": [], "weight": 1.0,
                        "related_ids": [], "meta": {"terms": terms}, "created_at": created,
                        "updated_at": created})
        else:
            related = ["geoid_%08d" % rng.randrange(max(i, 1)) for _ in range(rng.randint(0, 6))]
            out.append({"id": "scar_%08d" % i, "identity_type": "scar", "raw": "", "echo": "",
                        "lang_axis": "", "tags": [], "weight": round(rng.uniform(0.1, 2), 3),
                        "related_ids": related, "meta": {"relationship_type": "support"},
                        "created_at": created, "updated_at": created})
    return out


def reference_entropy(d):
    """The reference computes entropy in Python at store time."""
    if d["identity_type"] == "scar":
        n = len(d["related_ids"])
        return math.log2(n) * d["weight"] if n >= 2 else 0.0
    terms = d["meta"].get("terms")
    if isinstance(terms, list):
        xs = [t["intensity"] for t in terms if isinstance(t, dict)
              and isinstance(t.get("intensity"), (int, float)) and t["intensity"] > 0]
        s = sum(xs)
        return -sum((x / s) * math.log2(x / s) for x in xs) if xs and s > 0 else 0.0
    n = len(d["tags"])
    return math.log2(n) if n > 1 else 0.0


class SqliteReference:
    """The reference's storage, on sqlite3."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("""CREATE TABLE IF NOT EXISTS identities (
            id TEXT PRIMARY KEY, identity_type TEXT, data TEXT, created_at REAL,
            updated_at REAL, lang_axis TEXT, entropy_score REAL)""")
        self.conn.execute("CREATE INDEX IF NOT EXISTS idx_entropy ON identities(entropy_score)")

    _UPSERT = ("INSERT INTO identities VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
               "SET identity_type=excluded.identity_type, data=excluded.data, "
               "updated_at=excluded.updated_at, lang_axis=excluded.lang_axis, "
               "entropy_score=excluded.entropy_score")

    @staticmethod
    def _row(d):
        now = time.time()
        return (d["id"], d["identity_type"], json.dumps(d), now, now, d["lang_axis"],
                reference_entropy(d))

    def store_identity(self, d):
        self.conn.execute("BEGIN")
        self.conn.execute(self._UPSERT, self._row(d))
        self.conn.execute("COMMIT")

    def store_many(self, batch):
        self.conn.execute("BEGIN")
        self.conn.executemany(self._UPSERT, [self._row(d) for d in batch])
        self.conn.execute("COMMIT")

    def fetch_identity(self, id):
        row = self.conn.execute("SELECT data FROM identities WHERE id = ?", (id,)).fetchone()
        return None if row is None else Identity.from_dict(json.loads(row[0]))

    def find_identities_by_entropy(self, lo, hi, limit=10):
        rows = self.conn.execute(
            "SELECT data FROM identities WHERE entropy_score BETWEEN ? AND ? "
            "ORDER BY entropy_score DESC LIMIT ?", (lo, hi, limit)).fetchall()
        return [Identity.from_dict(json.loads(r[0])) for r in rows]

    def close(self):
        self.conn.close()


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def per_call_us(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000, help="identities (default 100,000)")
    ap.add_argument("--batch", type=int, default=1000, help="identities per batch (1,000)")
    ap.add_argument("--queries", type=int, default=20000, help="fetches and finds (20,000)")
    ap.add_argument("--dir", default=None, help="working folder (default: a temporary one)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kimera-pybench-", dir=args.dir)
    print("kimera_entropy %s (C ABI %d) at %s" % (kimera_entropy.library_version(),
                                                 kimera_entropy.abi_version(),
                                                 kimera_entropy.library_path))
    print("N = %d identities, batches of %d, %d queries; folder %s; sqlite %s" % (
        args.n, args.batch, args.queries, work, sqlite3.sqlite_version))
    ids = make_identities(args.n)
    results = []
    try:
        # 1. One by one.
        plugin = compat.LatticeStorage(os.path.join(work, "one.db"))
        sql = SqliteReference(os.path.join(work, "one.sqlite"))
        t_plugin = timed(lambda: [plugin.store_identity(d) for d in ids])
        t_sql = timed(lambda: [sql.store_identity(d) for d in ids])
        results.append(("store_identity, one by one", args.n / t_plugin, args.n / t_sql, "/s"))
        plugin.close()
        sql.close()
        shutil.rmtree(os.path.join(work, "one.db.kimera"), ignore_errors=True)

        # 2. Batched, into fresh stores that the queries then read.
        plugin = compat.LatticeStorage(os.path.join(work, "many.db"))
        sql = SqliteReference(os.path.join(work, "many.sqlite"))
        native = plugin._native()
        batches = [ids[i:i + args.batch] for i in range(0, args.n, args.batch)]
        t_plugin = timed(lambda: [native.store_many(b) for b in batches])
        t_sql = timed(lambda: [sql.store_many(b) for b in batches])
        results.append(("store, batches of %d" % args.batch, args.n / t_plugin, args.n / t_sql,
                        "/s"))

        # 3. Fetch by id.
        rng = random.Random(7)
        keys = [ids[rng.randrange(args.n)]["id"] for _ in range(args.queries)]
        t_plugin = timed(lambda: [plugin.fetch_identity(k) for k in keys])
        t_sql = timed(lambda: [sql.fetch_identity(k) for k in keys])
        results.append(("fetch_identity", args.queries / t_plugin, args.queries / t_sql, "/s"))

        # 4. Entropy range queries.
        ranges = []
        for _ in range(args.queries):
            lo = rng.uniform(0.0, 3.0)
            ranges.append((lo, lo + rng.uniform(0.1, 1.0)))
        t_plugin = timed(lambda: [plugin.find_identities_by_entropy(lo, hi, limit=10)
                                  for lo, hi in ranges])
        t_sql = timed(lambda: [sql.find_identities_by_entropy(lo, hi, 10) for lo, hi in ranges])
        results.append(("find_identities_by_entropy(limit=10)", args.queries / t_plugin,
                         args.queries / t_sql, "/s"))

        # 5. The cost of crossing the C ABI from Python.
        calls = max(args.queries, 10000)
        key = keys[0]
        lib = _native.lib
        sample = ids[0]
        text = json.dumps(sample)
        abi = [
            ("both sides: json encode of one identity",
             per_call_us(lambda: _json.encode_object(sample, "identity"), calls)),
            ("both sides: json.loads + from_dict of one",
             per_call_us(lambda: Identity.from_dict(json.loads(text)), calls)),
            ("kimera_abi_version() via ctypes", per_call_us(lib.kimera_abi_version, calls)),
            ("Store.count() (kimera_count)", per_call_us(native.count, calls)),
            ("Store.fetch_json(id) (kimera_fetch, text)",
             per_call_us(lambda: native.fetch_json(key), calls)),
            ("Store.fetch(id) (+ json.loads)", per_call_us(lambda: native.fetch(key), calls)),
            ("compat fetch_identity(id) (+ from_dict)",
             per_call_us(lambda: plugin.fetch_identity(key), calls)),
            ("sqlite3 SELECT by id (+ json.loads + from_dict)",
             per_call_us(lambda: sql.fetch_identity(key), calls)),
            ("Store.find_by_entropy(1, 1.5, 10) (+ json.loads)",
             per_call_us(lambda: native.find_by_entropy(1.0, 1.5, 10), calls // 10)),
            ("compat find_identities_by_entropy(1, 1.5, 10)",
             per_call_us(lambda: plugin.find_identities_by_entropy(1.0, 1.5, limit=10),
                         calls // 10)),
            ("sqlite3 find (1, 1.5, 10) (+ json.loads + from_dict)",
             per_call_us(lambda: sql.find_identities_by_entropy(1.0, 1.5, 10), calls // 10)),
        ]
        plugin.close()
        sql.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("%-40s %16s %16s %8s" % ("operation (N = %d)" % args.n, "plugin (compat)",
                                   "sqlite3 (ref.)", "ratio"))
    for name, p, s, unit in results:
        print("%-40s %14.0f%s %14.0f%s %7.2fx" % (name, p, unit, s, unit, p / s))
    print("(ratio = plugin rate / sqlite3 rate; above 1 the plugin is faster)")
    print()
    print("%-50s %10s" % ("one call from Python", "us/call"))
    for name, us in abi:
        print("%-50s %10.2f" % (name, us))


if __name__ == "__main__":
    main()

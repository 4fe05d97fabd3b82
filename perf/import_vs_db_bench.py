#!/usr/bin/python3
"""`kimera import` end to end against `db_bench fillrandom`, side by side in one run.

Generates N identities as JSON Lines (import_bench --jsonl: geoids with 5-50
Zipf-weighted terms, scars with 2-50 relations), then times, each into a fresh
folder on the same disk:
  - `kimera --db DIR import FILE` for each --batch size asked (default 1 and
    100): JSON parsing, entropy, the index, metrics and the progress bar
    included, the final sync too;
  - `db_bench --benchmarks=fillrandom` with the same N, values of the mean
    encoded record size, the WAL on and no sync per write (as the plugin's
    default), LZ4 as the plugin uses, one thread.
With --upsert, the last --batch size also imports a second file into its
database: the same ids with other contents (import_bench --seed), so every
line replaces a stored identity and moves its index entry.
Prints identities/s for each and the ratio import / db_bench.

Run after the build:
  /usr/bin/python3 perf/import_vs_db_bench.py                 # N = 200,000
  /usr/bin/python3 perf/import_vs_db_bench.py --n 1000000 --batch 1 100 1000 --upsert
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kwargs):
    r = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if r.returncode != 0:
        sys.exit("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200000, help="identities (default 200,000)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 100],
                    help="kimera import --batch sizes to time (default 1 100)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder")
    ap.add_argument("--dir", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--upsert", action="store_true",
                    help="also time an import over the same ids (the last --batch size)")
    args = ap.parse_args()
    kimera = os.path.join(args.build, "cli", "kimera")
    generator = os.path.join(args.build, "perf", "import_bench")
    db_bench = shutil.which("db_bench")
    if db_bench is None:
        sys.exit("db_bench not found (Debian package rocksdb-tools)")

    work = tempfile.mkdtemp(prefix="kimera-import-vs-", dir=args.dir)
    try:
        jsonl = os.path.join(work, "identities.jsonl")
        out = run([generator, "--count", str(args.n), "--jsonl", jsonl]).stdout
        value_size = int(round(float(re.search(r"mean_encoded_record_bytes (\S+)", out).group(1))))
        line_size = float(re.search(r"mean_json_line_bytes (\S+)", out).group(1))
        print("N = %d identities, mean JSON line %.0f bytes, mean encoded record %d bytes; %s"
              % (args.n, line_size, value_size, work))

        changed = os.path.join(work, "changed.jsonl")
        if args.upsert:
            run([generator, "--count", str(args.n), "--jsonl", changed, "--seed", "7"])

        def timed_import(db, batch, source):
            start = time.perf_counter()
            r = run([kimera, "--db", db, "import", "--batch", str(batch), source])
            seconds = time.perf_counter() - start
            if "imported %d identities" % args.n not in r.stderr:
                sys.exit("import did not store every identity:\n" + r.stderr)
            return args.n / seconds

        rows = []
        for k, batch in enumerate(args.batch):
            db = os.path.join(work, "kimera-%d" % batch)
            rows.append(("kimera import --batch %d" % batch, timed_import(db, batch, jsonl)))
            if args.upsert and k == len(args.batch) - 1:
                rows.append(("  again, other contents (upserts)",
                             timed_import(db, batch, changed)))
                count = run([kimera, "--db", db, "count"]).stdout.split()
                if not count or count[0] != str(args.n):
                    sys.exit("after the upserts, count is %s, not %d" % (count, args.n))
            shutil.rmtree(db)

        db = os.path.join(work, "db_bench")
        r = run([db_bench, "--benchmarks=fillrandom", "--num=%d" % args.n,
                 "--value_size=%d" % value_size, "--key_size=16", "--db=" + db,
                 "--disable_wal=false", "--sync=false", "--threads=1",
                 "--compression_type=lz4", "--write_buffer_size=%d" % (64 << 20),
                 "--statistics=false", "--histogram=false"])
        m = re.search(r"fillrandom\s*:.*?(\d+) ops/sec", r.stdout)
        if m is None:
            sys.exit("cannot read db_bench's rate:\n" + r.stdout)
        engine = float(m.group(1))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("%-36s %14s %12s" % ("path", "identities/s", "/ db_bench"))
    for name, rate in rows:
        print("%-36s %14.0f %11.2fx" % (name, rate, rate / engine))
    print("%-36s %14.0f %11.2fx" % ("db_bench fillrandom (same N, size)", engine, 1.0))


if __name__ == "__main__":
    main()

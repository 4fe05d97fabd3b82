#!/usr/bin/env python3
"""Crash loop: kill `kimera stress` with SIGKILL at random moments and check the
store after every reopen.

Each cycle starts `kimera stress` (which stores, re-stores, removes and decays
identities through the configured stack with dual-write on and logs every
operation to an fsynced append-only log), kills it with SIGKILL after a
seeded random delay, then checks:

  * every acknowledged write is present with its last acknowledged value
    (`kimera export`); an id whose last acknowledged op was a remove is
    absent;
  * `kimera check` exits 0 (the entropy index equals the data);
  * `kimera stress --verify-only` exits 0: after the journal replay at open,
    the index check, a dual-write sweep (primary equal to secondary) and
    decay verification of every identity all pass;
  * `kimera dual-write verify` exits 0, when the program has that command;
  * `kimera verify-decay` exits 0.

The in-flight rule. The writer is single-threaded and logs "I" (intent)
before each operation and "A" (acknowledged, with the value read back) after
it, so a kill leaves at most one operation without its ack: the one in
flight. That operation may or may not have landed, and either outcome is
accepted for its id only: a store in flight may show the intended value
(created_at/updated_at are the store's), a remove may leave the id absent, a
decay may leave the value decayed (same identity, other weights). Every
other id must hold exactly its last acknowledged value. Whatever the check
saw for the in-flight id becomes that id's expected value from then on.

The writer's own read-back is not trusted alone: every acknowledged store is
also compared with the value the writer meant to store (its intent line;
created_at and updated_at are the store's), and every acknowledged decay
with the id's previous value (the same identity, other weights). A read-back
that differs counts as `misstored`.

Counts: `lost` is an id whose last acknowledged value is missing or
different (not explained by the in-flight rule); `unexpected` is an id
present that was never acknowledged and was not in flight; `diverged` is the
sum of dual-write differences (primary against secondary) and index
problems. Success requires all four to be 0, every command to pass, and
acknowledged writes in more than half of the cycles (a machine so slow that
the kills come before any write is acknowledged proves nothing). Kill delays
grow with KIMERA_TEST_TIME_SCALE (set by scripts/sanitize.sh).
KIMERA_CRASH_LOOP_CYCLES, when set, replaces --cycles: scripts/sanitize.sh runs
8 per secondary under ASan, where each cycle costs four times as long, and the
release build's 30 carry the count that the reliability table reports.

Usage: crash_loop.py KIMERA [--cycles N] [--seed N] [--mode legacy|second|both]
                     [--summary FILE] [--workdir DIR] [--keep]
Exit 0 on success, 1 on any failure.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DERIVED = ("entropy", "effective_tau")
STAMPS = ("created_at", "updated_at")
TIME_SCALE = max(1.0, float(os.environ.get("KIMERA_TEST_TIME_SCALE", "1") or 1))


class Cycler:
    def __init__(self, kimera, mode, root, rng, cycles, verbose):
        self.kimera = kimera
        self.mode = mode
        self.rng = rng
        self.cycles = cycles
        self.verbose = verbose
        self.dir = os.path.join(root, mode)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "db")
        self.secondary = os.path.join(self.dir, "secondary")
        self.config = os.path.join(self.dir, "kimera.toml")
        self.ack_log = os.path.join(self.dir, "ack.log")
        secondary = "legacy" if mode == "legacy" else self.secondary
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(
                "[storage]\n"
                "write_buffer_mb = 1       # small memtables: flushes and compactions between kills\n"
                "max_background_jobs = 2\n"
                "[metrics]\n"
                "enabled = false\n"
                "[decay]\n"
                "sweep_interval_seconds = 0\n"
                "[dual_write]\n"
                "enabled = true\n"
                f"secondary = {json.dumps(secondary)}\n"
                'mode = "strict"\n')
        self.env = dict(os.environ)
        # verify-decay reads the configuration from $KIMERA_CONFIG only.
        self.env["KIMERA_CONFIG"] = self.config
        self.env.pop("KIMERA_ID_DUAL_WRITE", None)
        self.model = {}  # id -> last acknowledged value (dict) or None (removed).
        self.log_offset = 0
        self.stats = dict(cycles=0, acknowledged=0, lost=0, diverged=0, unexpected=0,
                          misstored=0, failures=0, inflight_landed=0, inflight_not_landed=0,
                          kills_before_first_ack=0, cycles_with_acks=0)
        self.has_dual_write_verify = self._command_exists("dual-write")
        self.failures = []

    def _command_exists(self, name):
        r = subprocess.run([self.kimera, name, "--help"], capture_output=True, text=True,
                           env=self.env)
        return r.returncode == 0

    def run(self, args, timeout=120):
        cmd = [self.kimera, "--db", self.db, "--config", self.config] + args
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)

    def fail(self, cycle, message):
        self.stats["failures"] += 1
        text = f"[{self.mode}] cycle {cycle}: {message}"
        self.failures.append(text)
        print("FAIL " + text, flush=True)

    # The writer ----------------------------------------------------------

    def kill_one(self, cycle):
        seed = self.rng.randrange(1, 2**63)
        # One kill in eight comes early, while the store opens and replays its
        # journals; the rest after up to 2.5 s of writes.
        delay = TIME_SCALE * (self.rng.uniform(0.0, 0.4) if self.rng.random() < 0.125 else
                              self.rng.uniform(0.3, 2.5))
        proc = subprocess.Popen(
            [self.kimera, "--db", self.db, "--config", self.config, "stress",
             "--ack-log", self.ack_log, "--seed", str(seed), "--ids", "300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        time.sleep(delay)
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")
            self.fail(cycle, f"stress exited by itself with {proc.returncode}: {err.strip()}")
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        return True

    def read_new_log(self):
        with open(self.ack_log, "rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.log_offset += end
        if end < len(data):
            # A line torn by the kill was never acknowledged (its fdatasync had
            # not returned); cut it off so the next writer's lines start on a
            # line of their own.
            os.truncate(self.ack_log, self.log_offset)
        acks = []
        intents = {}
        for raw in data[:end].decode("utf-8").splitlines():
            parts = raw.split("\t")
            if parts[0] == "I":
                seq, op, ident, value = parts[1], parts[2], parts[3], parts[4]
                intents[seq] = (op, ident, None if value == "-" else json.loads(value))
            elif parts[0] == "A":
                seq, op, ident, value = parts[1], parts[2], parts[3], parts[5]
                intent = intents.pop(seq, None)
                acks.append((op, ident, None if value == "-" else json.loads(value),
                             intent[2] if intent else None))
        if len(intents) > 1:
            raise RuntimeError(f"more than one operation in flight: {sorted(intents)}")
        inflight = next(iter(intents.values())) if intents else None
        return acks, inflight

    # The checks ----------------------------------------------------------

    def export(self, cycle):
        r = self.run(["export"])
        if r.returncode != 0:
            self.fail(cycle, f"kimera export exited {r.returncode}: {r.stderr.strip()}")
            return None
        actual = {}
        for line in r.stdout.splitlines():
            obj = json.loads(line)
            for key in DERIVED:
                obj.pop(key, None)
            actual[obj["id"]] = obj
        return actual

    @staticmethod
    def without(obj, keys):
        return {k: v for k, v in obj.items() if k not in keys}

    def landed_as_meant(self, op, intent, before, actual):
        """True when `actual` is what `op` was meant to leave: the intended value of a store
        (the store sets the stamps), nothing for a remove, `before` with other weights for a
        decay."""
        if op == "remove":
            return actual is None
        if actual is None:
            return False
        if op == "store":
            return intent is not None and \
                self.without(actual, STAMPS) == self.without(intent, STAMPS)
        # decay: the same identity with scaled weights.
        if before is None:
            return False
        scaled = ("weight", "meta", "updated_at")
        return self.without(actual, scaled) == self.without(before, scaled)

    def inflight_matches(self, inflight, expected, actual):
        op, _, intent = inflight
        return self.landed_as_meant(op, intent, expected, actual)

    def compare(self, cycle, actual, inflight):
        lost = unexpected = 0
        for ident in sorted(set(self.model) | set(actual)):
            expected = self.model.get(ident)
            got = actual.get(ident)
            if expected == got:
                continue
            if inflight is not None and inflight[1] == ident and \
                    self.inflight_matches(inflight, expected, got):
                self.stats["inflight_landed"] += 1
                inflight = None
                self.model[ident] = got
                continue
            if expected is None:
                unexpected += 1
                self.fail(cycle, f"id {ident} present but never acknowledged: {got}")
            else:
                lost += 1
                self.fail(cycle, f"acknowledged write of {ident} lost: expected {expected}, "
                                 f"found {got}")
        if inflight is not None:
            # Its id holds the last acknowledged value: the op did not land.
            self.stats["inflight_not_landed"] += 1
        self.stats["lost"] += lost
        self.stats["unexpected"] += unexpected

    def check_commands(self, cycle):
        r = self.run(["check"])
        problems = 0
        for line in r.stdout.splitlines():
            if line.startswith("records:") and "problems:" in line:
                problems = int(line.split("problems:")[1].split(",")[0])
        if r.returncode != 0:
            self.fail(cycle, f"kimera check exited {r.returncode}: {r.stdout.strip()} "
                             f"{r.stderr.strip()}")
            problems = max(problems, 1)
        self.stats["diverged"] += problems

        r = self.run(["stress", "--verify-only"])
        differences = 0
        for line in r.stdout.splitlines():
            if line.startswith("dual-write sweep") and "differences" in line:
                differences = int(line.rsplit("differences", 1)[1])
        if r.returncode != 0:
            self.fail(cycle, f"kimera stress --verify-only exited {r.returncode}:\n"
                             f"{r.stdout.strip()}\n{r.stderr.strip()}")
        self.stats["diverged"] += differences
        if self.verbose:
            print(r.stdout, end="")

        if self.has_dual_write_verify:
            r = self.run(["dual-write", "verify"])
            if r.returncode != 0:
                self.fail(cycle, f"kimera dual-write verify exited {r.returncode}:\n"
                                 f"{r.stdout.strip()}\n{r.stderr.strip()}")
                if differences == 0:
                    self.stats["diverged"] += 1

        r = self.run(["verify-decay"])
        if r.returncode != 0:
            self.fail(cycle, f"kimera verify-decay exited {r.returncode}:\n"
                             f"{r.stdout.strip()}\n{r.stderr.strip()}")

    def cycle(self, cycle):
        if not self.kill_one(cycle):
            return
        acks, inflight = self.read_new_log()
        if not acks:
            self.stats["kills_before_first_ack"] += 1
        else:
            self.stats["cycles_with_acks"] += 1
        for op, ident, value, intent in acks:
            if not self.landed_as_meant(op, intent, self.model.get(ident), value):
                self.stats["misstored"] += 1
                self.fail(cycle, f"acknowledged {op} of {ident} read back {value}, meant "
                                 f"{intent if op == 'store' else self.model.get(ident)}")
            self.model[ident] = value
        self.stats["acknowledged"] += len(acks)
        actual = self.export(cycle)
        if actual is not None:
            self.compare(cycle, actual, inflight)
        self.check_commands(cycle)
        self.stats["cycles"] += 1

    def loop(self):
        started = time.monotonic()
        for cycle in range(1, self.cycles + 1):
            self.cycle(cycle)
            if self.verbose or cycle % 10 == 0 or cycle == self.cycles:
                s = self.stats
                print(f"[{self.mode}] cycle {cycle}/{self.cycles}: acknowledged "
                      f"{s['acknowledged']}, lost {s['lost']}, diverged {s['diverged']}, "
                      f"failures {s['failures']} ({time.monotonic() - started:.0f} s)",
                      flush=True)
            if self.stats["failures"] > 20:
                print(f"[{self.mode}] too many failures; stopping", flush=True)
                break
        self.stats["seconds"] = round(time.monotonic() - started, 1)
        self.stats["identities_at_end"] = sum(1 for v in self.model.values() if v is not None)
        self.stats["dual_write_verify_command"] = self.has_dual_write_verify
        return self.stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kimera", help="path of the kimera program")
    parser.add_argument("--cycles", type=int, default=30, help="cycles per mode (default 30)")
    parser.add_argument("--seed", type=int, default=20240607, help="seed of the kill schedule")
    parser.add_argument("--mode", choices=["legacy", "second", "both"], default="both",
                        help="dual-write secondary: legacy column families, a second "
                             "database folder, or both in turn (default)")
    parser.add_argument("--summary", help="write the totals as JSON to FILE")
    parser.add_argument("--workdir", help="folder for the databases (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if os.environ.get("KIMERA_CRASH_LOOP_CYCLES"):
        args.cycles = int(os.environ["KIMERA_CRASH_LOOP_CYCLES"])

    root = tempfile.mkdtemp(prefix="kimera-crash-", dir=args.workdir)
    rng = random.Random(args.seed)
    modes = ["legacy", "second"] if args.mode == "both" else [args.mode]
    results = {}
    failures = []
    for mode in modes:
        cycler = Cycler(os.path.abspath(args.kimera), mode, root, rng, args.cycles, args.verbose)
        results[mode] = cycler.loop()
        failures += cycler.failures

    total = {k: sum(r[k] for r in results.values())
             for k in ("cycles", "acknowledged", "lost", "diverged", "unexpected", "misstored",
                       "failures", "inflight_landed", "inflight_not_landed",
                       "kills_before_first_ack", "cycles_with_acks")}
    print()
    for mode, r in results.items():
        print(f"{mode:>7}: cycles {r['cycles']} / writes acknowledged {r['acknowledged']} / "
              f"lost {r['lost']} / diverged {r['diverged']} "
              f"(in-flight landed {r['inflight_landed']}, not landed "
              f"{r['inflight_not_landed']}; unexpected {r['unexpected']}; misstored "
              f"{r['misstored']}; cycles with acknowledgements {r['cycles_with_acks']}; "
              f"{r['seconds']} s)")
    print(f"  total: cycles {total['cycles']} / writes acknowledged {total['acknowledged']} / "
          f"lost {total['lost']} / diverged {total['diverged']} / cycles with acknowledgements "
          f"{total['cycles_with_acks']}")
    enough_acks = 2 * total["cycles_with_acks"] > total["cycles"]
    if not enough_acks:
        print(f"FAIL: acknowledged writes in only {total['cycles_with_acks']} of "
              f"{total['cycles']} cycles (more than half required): the kills came before the "
              f"writer got going, so the cycles checked nothing")
    ok = total["failures"] == 0 and total["lost"] == 0 and total["diverged"] == 0 and \
        total["unexpected"] == 0 and total["misstored"] == 0 and enough_acks and \
        total["cycles"] == args.cycles * len(modes)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            json.dump({"seed": args.seed, "cycles_per_mode": args.cycles, "ok": ok,
                       "total": total, "modes": results}, f, indent=2)
    if ok:
        print("crash loop: PASS")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    print(f"crash loop: FAIL ({len(failures)} failures; databases kept in {root})")
    return 1


if __name__ == "__main__":
    sys.exit(main())

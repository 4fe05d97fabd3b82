#!/usr/bin/env python3
"""Disk and I/O faults: a database on a small filesystem that fills up, and a
read-only database folder.

Mounts a tmpfs of 16 MiB in a temp folder (directly when root; otherwise in a
user and mount namespace through `unshare -rm`), then:

  1. runs DISK_FULL_TEST (tests/reliability/disk_full_test.cpp) in it: a
     long-lived store filled until stores fail with NoSpace; nothing stored
     before damaged; the index equal to the data; after a filler file is
     deleted, stores work again in the same process, without a reopen;
  2. fills a database through `kimera import` of large identities until an
     import fails: its error must say "no space"; every identity imported
     before (whole earlier files, and the lines the failing import reports as
     imported) exports unchanged once the filler is deleted, `kimera check`
     exits 0, and a further import succeeds;
  3. opens a database whose folder is on a read-only bind mount: `kimera
     import` and `kimera check --repair` must exit 3 with an error that says
     the folder is read-only (not "in use" or a bare I/O error); `export`,
     `check` and `count` open it read-only and work.

When no small filesystem can be mounted, prints SKIP with the reason and
exits 77 (meson's skip code), never passing silently; under CI=true that is
a failure (exit 1). The summary file of an earlier run is deleted first, so
a skipped run leaves none behind for crash_loop.sh --report to show.

Usage: disk_faults_test.py KIMERA DISK_FULL_TEST [--summary FILE]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
INSIDE_FLAG = "--inside-namespace"


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def skip(reason):
    """Exits 77 (meson: skipped), or 1 under CI=true: there scripts/setup.sh has installed what
    the test needs, and a skip would only hide a test that never ran."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        print(f"FAIL: {reason}; under CI=true a skip is a failure", flush=True)
        sys.exit(1)
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def mount_tmpfs(path):
    r = sh("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", path)
    return r.returncode == 0, r.stderr.strip()


def ensure_mount_possible(argv):
    """Returns when this process may mount; re-executes under unshare when
    that is the way; exits 77 when neither works."""
    if INSIDE_FLAG in argv:
        return
    probe = tempfile.mkdtemp(prefix="kimera-probe-")
    try:
        if os.geteuid() == 0:
            ok, err = mount_tmpfs(probe)
            if ok:
                sh("umount", probe)
                return
            why = f"mount -t tmpfs as root failed: {err}"
        else:
            why = "not root"
        unshare = shutil.which("unshare")
        if unshare is None:
            skip(f"cannot mount a small filesystem ({why}; no unshare program)")
        r = sh(unshare, "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {probe}")
        if r.returncode != 0:
            skip(f"cannot mount a small filesystem ({why}; unshare -rm: {r.stderr.strip()})")
    finally:
        os.rmdir(probe)
    os.execvp(unshare, [unshare, "-rm", sys.executable] + argv + [INSIDE_FLAG])


class Failures:
    def __init__(self):
        self.items = []

    def check(self, condition, message):
        if condition:
            print(f"  ok: {message}", flush=True)
        else:
            print(f"  FAIL: {message}", flush=True)
            self.items.append(message)
        return condition


def big_identity(n, size):
    # Varied text, so compression does not shrink it away.
    x = (0x9E3779B97F4A7C15 * (n + 1)) & 0xFFFFFFFFFFFFFFFF
    chars = []
    for _ in range(size):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        chars.append(chr(ord("a") + x % 26))
    return {"id": f"imp-{n:05d}", "identity_type": "geoid", "raw": "".join(chars), "echo": "",
            "lang_axis": "en", "tags": [], "weight": 1.0, "related_ids": [],
            "meta": {"terms": [{"term": "alpha", "intensity": 1.0 + n},
                               {"term": "beta", "intensity": 2.0}]},
            "created_at": "2026-01-02T03:04:05+00:00",
            "updated_at": "2026-01-02T03:04:05+00:00"}


class Kimera:
    def __init__(self, program, db, config):
        self.program = program
        self.db = db
        self.config = config
        self.env = dict(os.environ)
        self.env.pop("KIMERA_CONFIG", None)
        self.env.pop("KIMERA_ID_DUAL_WRITE", None)

    def __call__(self, *args):
        return subprocess.run([self.program, "--db", self.db, "--config", self.config] + list(args),
                              capture_output=True, text=True, env=self.env, timeout=300)

    def export(self):
        r = self("export")
        if r.returncode != 0:
            return None, r
        out = {}
        for line in r.stdout.splitlines():
            obj = json.loads(line)
            obj.pop("entropy", None)
            obj.pop("effective_tau", None)
            out[obj["id"]] = obj
        return out, r


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_through_import(program, mnt, failures):
    print("import until the disk is full:", flush=True)
    work = os.path.join(mnt, "cli")
    os.makedirs(work)
    config = os.path.join(work, "kimera.toml")
    with open(config, "w", encoding="utf-8") as f:
        # The default reserve (8 MiB) is more than the filler leaves.
        f.write("[storage]\nwrite_buffer_mb = 1\nreserved_disk_mb = 1\n"
                "[metrics]\nenabled = false\n")
    # Input files live outside the small filesystem.
    inputs = tempfile.mkdtemp(prefix="kimera-import-")
    kimera = Kimera(program, os.path.join(work, "db"), config)
    expected = {}
    n = 0

    def batch(count, size):
        nonlocal n
        path = os.path.join(inputs, f"batch-{n}.jsonl")
        rows = []
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(count):
                row = big_identity(n, size)
                n += 1
                rows.append(row)
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path, rows

    try:
        path, rows = batch(4, 64 * 1024)
        r = kimera("import", path)
        if not failures.check(r.returncode == 0, f"first import exits 0 ({r.stderr.strip()})"):
            return
        expected.update({row["id"]: row for row in rows})
        before, r = kimera.export()
        if not failures.check(before is not None, "export before filling"):
            return
        failures.check(all(before.get(k) == v for k, v in expected.items()),
                       f"export equals the {len(expected)} imported identities")

        filler = os.path.join(work, "filler")
        room = free_bytes(mnt) - (2 << 20)
        if room > 0:
            with open(filler, "wb") as f:
                f.write(b"f" * room)
        print(f"  {free_bytes(mnt)} bytes left after the filler", flush=True)

        failed = None
        for _ in range(200):
            path, rows = batch(5, 96 * 1024)
            r = kimera("import", path)
            if r.returncode == 0:
                expected.update({row["id"]: row for row in rows})
                continue
            failed = r
            # "import stopped after N identities": those N are acknowledged.
            done = 0
            for line in r.stderr.splitlines():
                if "import stopped after" in line:
                    done = int(line.split("import stopped after")[1].split()[0])
            expected.update({row["id"]: row for row in rows[:done]})
            break
        if not failures.check(failed is not None, "an import failed once the disk was full"):
            return
        message = failed.stderr.strip()
        print(f"  import error: {message}", flush=True)
        failures.check(failed.returncode == 3, f"failed import exits 3 (got {failed.returncode})")
        failures.check("no space" in message.lower(), "the import error says 'no space'")

        # The same from a pipe that stays open: the import stops at the
        # failing batch and exits, without waiting for the input to end (its
        # reading thread may be blocked on the idle pipe). Each identity is
        # larger than all the space left, so the batch cannot be stored.
        path, rows = batch(2, max(free_bytes(mnt), 256 * 1024))
        proc = subprocess.Popen(
            [kimera.program, "--db", kimera.db, "--config", kimera.config, "import", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=kimera.env)
        try:
            with open(path, "rb") as f:
                proc.stdin.write(f.read())
            # Blank lines fill import's 1 MiB read buffer, so the batch goes to
            # the store while the pipe is idle.
            proc.stdin.write(b"\n" * (1 << 20))
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # It stopped before reading all of it: as it should.
        try:
            rc = proc.wait(timeout=60)
            piped_error = proc.stderr.read().decode()
            done = 0
            for line in piped_error.splitlines():
                if "import stopped after" in line:
                    done = int(line.split("import stopped after")[1].split()[0])
            expected.update({row["id"]: row for row in rows[:done]})
            failures.check(rc == 3 and "no space" in piped_error.lower(),
                           f"import from an open pipe exits 3 saying 'no space' (got {rc}: "
                           f"{piped_error.strip()})")
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            failures.check(False, "import from an open pipe exits after a failed batch "
                                  "(still running after 60 s)")
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

        # While still full: a check either passes or fails clearly.
        r = kimera("check")
        print(f"  check while full: exit {r.returncode}: {(r.stdout + r.stderr).strip()}",
              flush=True)
        failures.check(r.returncode == 0 or "no space" in r.stderr.lower(),
                       "check while full passes or says 'no space'")

        os.remove(filler)
        after, r = kimera.export()
        if not failures.check(after is not None, f"export after freeing space ({r.stderr.strip()})"):
            return
        damaged = [k for k, v in before.items() if after.get(k) != v]
        failures.check(not damaged, f"identities exported before the fill are unchanged "
                                    f"({len(before)} compared, damaged: {damaged[:5]})")
        lost = [k for k, v in expected.items() if after.get(k) != v]
        failures.check(not lost, f"all {len(expected)} acknowledged imports present and equal "
                                 f"(lost or changed: {lost[:5]})")
        r = kimera("check")
        failures.check(r.returncode == 0, f"kimera check exits 0: {r.stdout.strip()}")
        path, rows = batch(3, 16 * 1024)
        r = kimera("import", path)
        failures.check(r.returncode == 0, f"import works again after space was freed "
                                          f"({r.stderr.strip()})")
    finally:
        shutil.rmtree(inputs, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def read_only_open(program, mnt, failures):
    print("read-only database folder:", flush=True)
    work = os.path.join(mnt, "ro")
    os.makedirs(work)
    config = os.path.join(mnt, "ro.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write("[metrics]\nenabled = false\n")
    db = os.path.join(work, "db")
    kimera = Kimera(program, db, config)
    sample = os.path.join(mnt, "one.jsonl")
    with open(sample, "w", encoding="utf-8") as f:
        f.write(json.dumps(big_identity(1, 100)) + "\n")
    r = kimera("import", sample)
    if not failures.check(r.returncode == 0, "database created"):
        return
    r1 = sh("mount", "--bind", work, work)
    r2 = sh("mount", "-o", "remount,bind,ro", work)
    if r1.returncode != 0 or r2.returncode != 0:
        failures.check(False, f"read-only bind mount: {r1.stderr.strip()} {r2.stderr.strip()}")
        return
    try:
        # Commands that write cannot, and say why.
        for args in (["import", sample], ["check", "--repair"]):
            r = kimera(*args)
            err = r.stderr.strip()
            print(f"  kimera {' '.join(args[:2])}: exit {r.returncode}: {err}", flush=True)
            failures.check(r.returncode == 3, f"{args[0]} on a read-only folder exits 3")
            failures.check("read-only" in err.lower() and "in use" not in err.lower(),
                           f"{args[0]} error says the folder is read-only")
        # Commands that only read open read-only: a read-only copy or backup reads fine.
        for args in (["export"], ["check"], ["count"]):
            r = kimera(*args)
            print(f"  kimera {args[0]}: exit {r.returncode}: {r.stderr.strip()}", flush=True)
            failures.check(r.returncode == 0,
                           f"{args[0]} on a read-only folder works ({r.stderr.strip()})")
        r = kimera("count")
        failures.check(r.stdout.strip() == "1", f"count on a read-only folder is 1 ({r.stdout!r})")
    finally:
        sh("umount", work)


def main():
    argv = sys.argv[1:]
    if "--summary" in argv and INSIDE_FLAG not in argv:
        stale = argv[argv.index("--summary") + 1]
        if os.path.exists(stale):
            os.remove(stale)
    ensure_mount_possible(sys.argv)
    args = [a for a in argv if a != INSIDE_FLAG]
    summary = None
    if "--summary" in args:
        at = args.index("--summary")
        summary = args[at + 1]
        del args[at:at + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    program, disk_full_test = (os.path.abspath(a) for a in args)
    mnt = tempfile.mkdtemp(prefix="kimera-disk-")
    ok, err = mount_tmpfs(mnt)
    if not ok:
        os.rmdir(mnt)
        skip(f"cannot mount a tmpfs: {err}")
    failures = Failures()
    try:
        print(f"tmpfs of 16 MiB at {mnt}", flush=True)
        print("long-lived store on a full disk (disk_full_test):", flush=True)
        env = dict(os.environ, KIMERA_FAULT_DIR=mnt)
        r = subprocess.run([disk_full_test, "--log_level=message"], env=env, text=True,
                           capture_output=True, timeout=600)
        print(r.stdout + r.stderr, flush=True)
        failures.check(r.returncode == 0, f"disk_full_test exits 0 (got {r.returncode})")
        for name in os.listdir(mnt):  # What a crashed test left behind.
            shutil.rmtree(os.path.join(mnt, name), ignore_errors=True)
        fill_through_import(program, mnt, failures)
        read_only_open(program, mnt, failures)
    finally:
        sh("umount", "-l", mnt)
        os.rmdir(mnt)
    faults = 4  # Two full disks (plain, dual-write), one full import, one read-only folder.
    if summary:
        with open(summary, "w", encoding="utf-8") as f:
            json.dump({"ok": not failures.items, "faults": faults,
                       "survived": 0 if failures.items else faults,
                       "failed_checks": failures.items}, f, indent=2)
    if failures.items:
        print(f"disk faults: FAIL ({len(failures.items)} checks failed)")
        for item in failures.items:
            print(f"  - {item}")
        return 1
    print(f"disk faults: PASS ({faults} faults injected, {faults} survived)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

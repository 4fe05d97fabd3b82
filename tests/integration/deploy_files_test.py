#!/usr/bin/env python3
"""Checks of deploy/ and grafana/ files that need no Docker engine (Python 3 stdlib; PyYAML used
when present for a full parse of the compose file).

  * docker-compose.yml parses, has the kimera / prometheus / alertmanager / grafana services, and
    every bind-mounted path exists in the repository (kimera.toml excepted until it lands);
  * the Dockerfile builds on debian:12 with meson and runs `kimera serve --config
    /etc/kimera/kimera.toml --workload 200`;
  * Grafana provisioning points at the folder compose mounts the dashboards on;
  * the shell scripts pass `bash -n`, are executable, and the push script never traces or prints
    the API key.
"""
import os
import re
import subprocess
import sys

ROOT = os.environ.get("KIMERA_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        failures.append(msg)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


compose_text = read("deploy/docker-compose.yml")
try:
    import yaml
    compose = yaml.safe_load(compose_text)
    services = compose.get("services", {})
    for name in ("kimera", "prometheus", "alertmanager", "grafana"):
        check(name in services, f"compose: no service {name}")
    check(services.get("kimera", {}).get("build", {}).get("dockerfile") == "deploy/Dockerfile",
          "compose: kimera is not built from deploy/Dockerfile")
    mounts = []
    for svc in services.values():
        for v in svc.get("volumes", []) or []:
            src = v.split(":")[0]
            if src.startswith((".", "/")):
                mounts.append(src)
except ImportError:
    for name in ("kimera", "prometheus", "alertmanager", "grafana"):
        check(re.search(rf"^  {name}:\s*$", compose_text, re.M), f"compose: no service {name}")
    mounts = re.findall(r"^\s*-\s*(\.\.?/[^:\s]+):", compose_text, re.M)
check("\t" not in compose_text, "compose: tabs in YAML")
for src in mounts:
    path = os.path.normpath(os.path.join(ROOT, "deploy", src))
    if os.path.basename(path) == "kimera.toml" and not os.path.exists(path):
        print("note: kimera.toml not in the repository yet (the serve issue adds it)")
        continue
    check(os.path.exists(path), f"compose: bind mount {src} does not exist ({path})")

dockerfile = read("deploy/Dockerfile")
check(re.search(r"^FROM debian:12\b", dockerfile, re.M), "Dockerfile: not built FROM debian:12")
check("meson setup" in dockerfile and "meson compile" in dockerfile, "Dockerfile: no meson build")
check('"serve", "--config", "/etc/kimera/kimera.toml", "--workload", "200"' in dockerfile,
      "Dockerfile: CMD is not kimera serve --config /etc/kimera/kimera.toml --workload 200")
check("build/cli/kimera" in dockerfile, "Dockerfile: does not take the binary from build/cli/kimera")

prov = read("grafana/provisioning/dashboards/kimera.yml")
m = re.search(r"path:\s*(\S+)", prov)
check(m and f"../grafana/dashboards:{m.group(1)}" in compose_text,
      "provisioning: dashboards path is not where compose mounts grafana/dashboards")
ds = read("grafana/provisioning/datasources/prometheus.yml")
check("type: prometheus" in ds and "isDefault: true" in ds,
      "provisioning: no default prometheus datasource")

for script in ("deploy/local-stack.sh", "grafana/push_dashboard.sh"):
    path = os.path.join(ROOT, script)
    check(os.access(path, os.X_OK), f"{script}: not executable")
    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    check(r.returncode == 0, f"{script}: bash -n failed: {r.stderr.strip()}")
push = read("grafana/push_dashboard.sh")
code = "\n".join(l for l in push.split("\n") if not l.lstrip().startswith("#"))
check("set -x" not in code.replace("set +x", ""), "push_dashboard.sh: uses set -x")
check(not re.search(r"^\s*(echo|printf|cat)\b.*(GRAFANA_API_KEY|AUTH_HEADER|/auth)", code.replace(
    "printf '%s\\n' \"$AUTH_HEADER\" > \"$TMP/auth\"", ""), re.M),
      "push_dashboard.sh: prints GRAFANA_API_KEY")
check("-H @" in code, "push_dashboard.sh: does not pass the auth header from a file")
local = read("deploy/local-stack.sh")
check("--no-kimera" in local and "build/cli/kimera" in local and "127.0.0.1" in local,
      "local-stack.sh: lacks --no-kimera, build/cli/kimera or loopback binding")

for f in failures:
    print("FAIL:", f)
print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Checks of deploy/ and grafana/ files that need no Docker engine (Python 3 stdlib; PyYAML used
when present for a full parse of the compose file).

  * docker-compose.yml parses, has the kimera / prometheus / alertmanager / grafana services, and
    every bind-mounted path exists in the repository (kimera.toml excepted until it lands);
  * compose wiring (with PyYAML): kimera publishes 8080 / 9090 / 9093 / 3000, the other three share
    its network namespace, and those ports are the ones deploy/prometheus.yml, kimera.toml, the
    services' listen flags and the Grafana datasource use; kimera runs `serve --workload`, which
    `kimera serve --help` of the built binary (KIMERA_BINARY, when given) accepts;
  * the Dockerfile builds on debian:12 with meson and runs `kimera serve --config
    /etc/kimera/kimera.toml --workload 200`; its build stage installs every build package of
    scripts/packages.txt (the list the README's scripts install) and builds the way
    scripts/setup.sh does (meson setup, then compile); deploy/Dockerfile.dockerignore keeps the
    build folders, the database and .git out of the build context;
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
    kimera = services.get("kimera", {})
    published = {str(p).split(":")[-1].split("/")[0] for p in kimera.get("ports", []) or []}
    for port, who in (("8080", "kimera /metrics"), ("9090", "prometheus"),
                      ("9093", "alertmanager"), ("3000", "grafana")):
        check(port in published, f"compose: kimera does not publish {port} ({who})")
    for name in ("prometheus", "alertmanager", "grafana"):
        check(services.get(name, {}).get("network_mode") == "service:kimera",
              f"compose: {name} does not share the kimera service's network namespace")
        check("kimera" in (services.get(name, {}).get("depends_on") or [])
              or "prometheus" in (services.get(name, {}).get("depends_on") or []),
              f"compose: {name} does not depend on the stack it talks to")
    flags = " ".join(services.get("prometheus", {}).get("command", []) or [])
    check("--config.file=/etc/prometheus/prometheus.yml" in flags and ":9090" in flags,
          "compose: prometheus does not read /etc/prometheus/prometheus.yml or listen on 9090")
    flags = " ".join(services.get("alertmanager", {}).get("command", []) or [])
    check("--config.file=/etc/alertmanager/alertmanager.yml" in flags and ":9093" in flags,
          "compose: alertmanager does not read its mounted config or listen on 9093")
    check(str((services.get("grafana", {}).get("environment") or {}).get("GF_SERVER_HTTP_PORT"))
          == "3000", "compose: grafana does not listen on 3000")
    mounted = {}
    for name, svc in services.items():
        for v in svc.get("volumes", []) or []:
            parts = v.split(":")
            if len(parts) >= 2:
                mounted[(name, parts[1])] = parts[0]
    check(mounted.get(("prometheus", "/etc/prometheus/prometheus.yml")) == "./prometheus.yml",
          "compose: deploy/prometheus.yml is not mounted where prometheus reads it")
    check(mounted.get(("prometheus", "/etc/prometheus/rules")) == "./rules",
          "compose: deploy/rules is not mounted next to prometheus.yml (rule_files are relative)")
    check(mounted.get(("alertmanager", "/etc/alertmanager/alertmanager.yml"))
          == "./alertmanager.yml", "compose: deploy/alertmanager.yml is not mounted")
    check(mounted.get(("kimera", "/etc/kimera/kimera.toml")) == "../kimera.toml",
          "compose: kimera.toml is not mounted at /etc/kimera/kimera.toml")
    command = kimera.get("command") or []
    check(command[:1] == ["serve"] and "--workload" in command,
          "compose: the kimera service does not run `serve --workload`")
    check(str((kimera.get("environment") or {}).get("KIMERA_METRICS_PORT")) == "8080",
          "compose: KIMERA_METRICS_PORT is not 8080")
    kimera_binary = os.environ.get("KIMERA_BINARY") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if kimera_binary:
        r = subprocess.run([kimera_binary, "serve", "--help"], capture_output=True, text=True)
        check(r.returncode == 0, f"kimera serve --help failed: {r.stderr.strip()}")
        for option in {o for o in command if o.startswith("--")}:
            check(option in r.stdout + r.stderr,
                  f"compose: kimera serve --help does not list {option} (the service's command)")
check("\t" not in compose_text, "compose: tabs in YAML")
prom_yml = read("deploy/prometheus.yml")
check("127.0.0.1:8080" in prom_yml and "127.0.0.1:9093" in prom_yml,
      "prometheus.yml: does not scrape 127.0.0.1:8080 or alert to 127.0.0.1:9093 (compose ports)")
toml = read("kimera.toml") if os.path.exists(os.path.join(ROOT, "kimera.toml")) else ""
if toml:
    check(re.search(r"^port\s*=\s*8080\b", toml, re.M),
          "kimera.toml: [metrics] port is not 8080, which compose publishes")
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
build_stage = dockerfile.split("FROM debian:12-slim")[0]
installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", build_stage.split("apt-get install")[-1]
                           .split("&&")[0])) if "apt-get install" in build_stage else set()
if "build-essential" in installed:
    installed |= {"g++", "gcc", "make"}
packages_path = os.path.join(ROOT, "scripts", "packages.txt")
if os.path.exists(packages_path):
    with open(packages_path, encoding="utf-8") as f:
        wanted = [l.split("#")[0].strip() for l in f]
    # Build packages: compilers, meson and the -dev libraries; the rest (prometheus, clang and
    # its sanitizer runtime, rocksdb-tools, curl, ...) serve the tests, not the image.
    build = [p for p in wanted
             if p and not p.startswith("libclang-rt")
             and (p.endswith("-dev") or p in ("meson", "ninja-build", "g++", "pkg-config"))]
    for p in build:
        check(p in installed, f"Dockerfile: build stage does not install {p} (scripts/packages.txt)")
setup = read("scripts/setup.sh") if os.path.exists(os.path.join(ROOT, "scripts/setup.sh")) else ""
if setup:
    check("meson setup" in setup and ("meson compile" in setup or "ninja" in setup),
          "scripts/setup.sh no longer builds with meson setup + compile: update the Dockerfile")
check(re.search(r"meson setup build --buildtype=release", dockerfile),
      "Dockerfile: not a release meson build in build/")
runtime = dockerfile.split("FROM debian:12-slim")[-1]
for dev, lib in (("librocksdb-dev", "librocksdb"), ("prometheus-cpp-dev", "libprometheus-cpp-core"),
                 ("libmicrohttpd-dev", "libmicrohttpd"),
                 ("libxxhash-dev", "libxxhash"), ("libtomlplusplus-dev", "libtomlplusplus"),
                 ("libsqlite3-dev", "libsqlite3")):
    check(lib in runtime, f"Dockerfile: runtime stage lacks {lib} (the library of {dev})")
check(re.search(r"^COPY kimera\.toml /etc/kimera/kimera\.toml", dockerfile, re.M),
      "Dockerfile: kimera.toml not copied to /etc/kimera/kimera.toml")
check(re.search(r"^EXPOSE 8080", dockerfile, re.M), "Dockerfile: does not EXPOSE 8080")
ignore_path = os.path.join(ROOT, "deploy", "Dockerfile.dockerignore")
check(os.path.exists(ignore_path), "deploy/Dockerfile.dockerignore missing (the context is the repo)")
if os.path.exists(ignore_path):
    with open(ignore_path, encoding="utf-8") as f:
        ignored = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    for entry in ("build*", ".git", "kimera-data"):
        check(entry in ignored, f"Dockerfile.dockerignore: does not exclude {entry}")

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

#!/usr/bin/env python3
"""Generate grafana/dashboards/kimera-entropy.json ("Kimera Entropy Monitoring").

Python 3 standard library only. Edit this script, not the JSON, then run

    python3 grafana/build_dashboard.py            # rewrites the JSON
    python3 grafana/build_dashboard.py --check    # exit 1 when the JSON is out of date

Conventions (checked by tests/integration/dashboard_lint_test.py):
  * the datasource is the `datasource` template variable, used by every panel and every target;
  * every expression filters on {job=~"$job",instance=~"$instance"};
  * each histogram gets a pair: a heatmap of its per-bucket rates and a timeseries of
    p50 / p99 (histogram_quantile, `le` always in the `by`) plus the mean from _sum / _count;
  * only timeseries, stat, heatmap, table and bargauge panels, each with a description and a unit.
"""
import json
import os
import sys

UID = "kimera-entropy"
TITLE = "Kimera Entropy Monitoring"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards", "kimera-entropy.json")

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job",instance=~"$instance"'


def sel(extra=""):
    """Label matchers for every selector: job and instance first, then `extra`."""
    return "{" + SEL + ("," + extra if extra else "") + "}"


# selectors with one extra matcher (f-strings cannot hold backslashes before Python 3.12)
S_Q50 = sel('quantile="0.5"')
S_Q90 = sel('quantile="0.9"')
S_STORE = sel('operation_type="store"')
S_AGG = sel('identity_id=""')
S_FAIL = sel('status="failure"')
S_MISMATCH = sel('result="mismatch"')
S_SWEEP = sel('scope="sweep"')


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        self.newline()
        self.panels.append({
            "type": "row", "id": self._id(), "title": title, "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": [],
        })
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)


def target(expr, legend="", ref="A", fmt="time_series", instant=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "editorMode": "code"}
    if fmt != "time_series":
        t["format"] = fmt
    return t


def refs(targets):
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    return targets


def timeseries(title, description, unit, targets, stack=False, min_=None, max_=None,
               legend_calcs=("mean", "max", "lastNotNull")):
    defaults = {
        "unit": unit,
        "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if not stack else 60,
                   "showPoints": "never", "spanNulls": False,
                   "stacking": {"mode": "normal" if stack else "none", "group": "A"}},
        "color": {"mode": "palette-classic"},
    }
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": list(legend_calcs)},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": refs(targets),
    }


def stat(title, description, unit, targets, mappings=None, thresholds=None, color_mode="value",
         decimals=None):
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute",
                               "steps": thresholds or [{"color": "green", "value": None}]},
                "mappings": mappings or []}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": color_mode, "graphMode": "area", "justifyMode": "auto",
                    "orientation": "auto", "textMode": "auto"},
        "targets": refs(targets),
    }


def bargauge(title, description, unit, targets, min_=None, max_=None, thresholds=None):
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute",
                               "steps": thresholds or [{"color": "blue", "value": None}]}}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "bargauge", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
        "targets": refs(targets),
    }


def table(title, description, unit, targets, organize=None):
    panel = {
        "type": "table", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "targets": refs(targets),
        "transformations": [{"id": "merge", "options": {}}],
    }
    if organize:
        panel["transformations"].append({"id": "organize", "options": organize})
    return panel


def heatmap(title, description, metric, yunit, extra=""):
    """Heatmap of a histogram's per-bucket rates (Prometheus buckets, no re-bucketing)."""
    expr = f"sum by (le) (rate({metric}_bucket{sel(extra)}[$__rate_interval]))"
    return {
        "type": "heatmap", "title": title, "description": description, "datasource": DS,
        "maxDataPoints": 60,
        "fieldConfig": {"defaults": {"unit": "ops", "custom": {
            "hideFrom": {"legend": False, "tooltip": False, "viz": False},
            "scaleDistribution": {"type": "linear"}}}, "overrides": []},
        "options": {
            "calculate": False,
            "yAxis": {"axisPlacement": "left", "unit": yunit, "reverse": False},
            "rowsFrame": {"layout": "auto", "value": "observations/s"},
            "color": {"mode": "scheme", "scheme": "Spectral", "steps": 64, "exponent": 0.5,
                      "fill": "dark-orange", "reverse": False},
            "cellGap": 1, "filterValues": {"le": 1e-9},
            "showValue": "never", "legend": {"show": True},
            "tooltip": {"show": True, "yHistogram": True},
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
        },
        "targets": [target(expr, "{{le}}", fmt="heatmap")],
    }


def quantiles(title, description, metric, unit, by=(), extra="", qs=(0.5, 0.99)):
    """p50 / p99 through histogram_quantile (le always in the by) and the mean from _sum/_count."""
    by = list(by)
    by_le = ", ".join(["le"] + by)
    by_plain = ", ".join(by)
    lbl = " ".join("{{" + b + "}}" for b in by)
    targets = []
    for q in qs:
        name = "p" + ("%g" % (q * 100))
        targets.append(target(
            f"histogram_quantile({q}, sum by ({by_le}) "
            f"(rate({metric}_bucket{sel(extra)}[$__rate_interval])))",
            (name + " " + lbl).strip()))
    if by:
        mean = (f"sum by ({by_plain}) (rate({metric}_sum{sel(extra)}[$__rate_interval]))\n/\n"
                f"sum by ({by_plain}) (rate({metric}_count{sel(extra)}[$__rate_interval]))")
    else:
        mean = (f"sum(rate({metric}_sum{sel(extra)}[$__rate_interval]))\n/\n"
                f"sum(rate({metric}_count{sel(extra)}[$__rate_interval]))")
    targets.append(target(mean, ("mean " + lbl).strip()))
    return timeseries(title, description, unit, targets)


def histogram_pair(lay, metric, name, unit, what, by=(), extra="", h=8):
    """Adds the heatmap + quantile timeseries pair for one histogram (12 columns each)."""
    lay.add(heatmap(f"{name} — distribution", f"Heatmap of {what}: observations per second in each "
                    f"bucket of `{metric}` (rate of `{metric}_bucket`). Brighter cells are busier "
                    f"buckets; the y axis is the bucket upper bound.", metric, unit, extra), 12, h)
    lay.add(quantiles(f"{name} — p50 / p99 / mean", f"p50 and p99 of {what} from "
                      f"`histogram_quantile` over `{metric}_bucket` rates, and the mean from "
                      f"`{metric}_sum / {metric}_count`. A quantile is at most as precise as the "
                      f"bucket it falls in.", metric, unit, by, extra), 12, h)


def build():
    lay = Layout()

    # ------------------------------------------------------------------ Entropy overview
    lay.row("Entropy overview")
    lay.add(stat("Stored identities", "Identities currently stored, all types "
                 "(`kimera_active_identities`).", "short",
                 [target(f"sum(kimera_active_identities{sel()})", "identities")]), 4, 5)
    lay.add(stat("Median stored entropy (bits)", "Exact median entropy of every identity now "
                 "stored (`kimera_stored_entropy_quantile{quantile=\"0.5\"}`), in bits.", "none",
                 [target(f'max(kimera_stored_entropy_quantile{S_Q50})', "p50")],
                 decimals=2), 4, 5)
    lay.add(stat("p90 stored entropy (bits)", "Exact 90th percentile of the entropy of every stored "
                 "identity. The HighEntropyIdentities alert fires when the p90 of recently stored "
                 "identities stays above 4 bits.", "none",
                 [target(f'max(kimera_stored_entropy_quantile{S_Q90})', "p90")],
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 3.5},
                             {"color": "red", "value": 4}], decimals=2), 4, 5)
    lay.add(stat("Store rate", "Identities stored per second, all types "
                 "(`kimera_identity_operations_total{operation_type=\"store\"}`).", "ops",
                 [target(f'sum(rate(kimera_identity_operations_total{S_STORE}'
                         f'[$__rate_interval]))', "stores/s")]), 4, 5)
    lay.add(stat("Version", "Version of the running kimera (`kimera_build_info`), one per instance.",
                 "none", [target(f"max by (version) (kimera_build_info{sel()})", "{{version}}",
                                 instant=True)], color_mode="none"), 4, 5)
    lay.panels[-1]["options"]["textMode"] = "name"   # show the version label, not the value 1
    lay.add(stat("Targets up", "Scrape targets answering (`up`). Below the number of instances "
                 "means a kimera process is down or unreachable.", "short",
                 [target(f"sum(up{sel()})", "up")],
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 4, 5)

    histogram_pair(lay, "kimera_identity_entropy", "Entropy of stored identities (bits)", "none",
                   "the entropy (bits) of identities as they are stored", by=("identity_type",))
    lay.add(timeseries("Stored entropy percentiles (bits)", "Exact p50 / p90 / p99 of the entropy "
                       "of the whole stored population (`kimera_stored_entropy_quantile`), unlike "
                       "the histogram panels which show recently stored identities.", "none",
                       [target(f"max by (quantile) (kimera_stored_entropy_quantile{sel()})",
                               "p{{quantile}}")]), 12, 8)
    lay.add(timeseries("Identities by type", "Identities currently stored per identity type "
                       "(`kimera_active_identities`).", "short",
                       [target(f"sum by (identity_type) (kimera_active_identities{sel()})",
                               "{{identity_type}}")], stack=True), 6, 8)
    lay.add(bargauge("Entropy categories", "Stored identities per entropy category "
                     "(`kimera_entropy_category_identities`: low / medium / high).", "short",
                     [target(f"sum by (category) (kimera_entropy_category_identities{sel()})",
                             "{{category}}", instant=True)], min_=0), 6, 8)
    lay.add(timeseries("Identity operations by type", "Identity operations per second by operation "
                       "and identity type (`kimera_identity_operations_total`).", "ops",
                       [target(f"sum by (operation_type, identity_type) "
                               f"(rate(kimera_identity_operations_total{sel()}[$__rate_interval]))",
                               "{{operation_type}} {{identity_type}}")]), 12, 8)
    lay.add(timeseries("Entropy change rate (bits/s)", "Rate of change of entropy of re-stored "
                       "identities per type (`kimera_entropy_change_rate`, aggregate series only: "
                       "the per-id series of detailed mode are excluded).", "none",
                       [target(f'avg by (identity_type) (kimera_entropy_change_rate{S_AGG})',
                               "{{identity_type}}")]), 12, 8)
    histogram_pair(lay, "kimera_entropy_change", "Entropy change on re-store (bits)", "none",
                   "the signed entropy change (new − old, bits) when an id is stored again",
                   by=("identity_type",))
    histogram_pair(lay, "kimera_storage_entropy", "Entropy at storage operations (bits)", "none",
                   "the entropy (bits) of identities at store and remove time",
                   by=("operation", "identity_type"))

    # ------------------------------------------------------------------ Decay monitoring
    lay.row("Decay monitoring")
    lay.add(stat("Decay verification", "Result of the last decay verification run "
                 "(`kimera_decay_verification_status`): PASS when every check held. FAIL pages "
                 "through the DecayVerificationFailed alert.", "none",
                 [target(f"min(kimera_decay_verification_status{sel()})", "status")],
                 mappings=[{"type": "value", "options": {
                     "0": {"text": "FAIL", "color": "red", "index": 0},
                     "1": {"text": "PASS", "color": "green", "index": 1}}}],
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
                 color_mode="background"), 4, 6)
    lay.add(stat("Since last verification", "Time since the last decay verification finished "
                 "(`kimera_decay_verification_last_run_timestamp_seconds`). Over 6 hours fires "
                 "DecayVerificationStale.", "s",
                 [target(f"time() - max(kimera_decay_verification_last_run_timestamp_seconds{sel()})",
                         "age")],
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 3600},
                             {"color": "red", "value": 21600}]), 4, 6)
    lay.add(stat("Age / decay correlation", "Pearson r of age / tau_eff against -ln(decay factor) "
                 "over the last verification sample (`kimera_decay_age_correlation`). Decay that "
                 "follows exp(-age / tau_eff) gives 1; anything visibly below 1 means it does not.",
                 "none", [target(f"min(kimera_decay_age_correlation{sel()})", "r")], decimals=4,
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.9},
                             {"color": "green", "value": 0.99}]), 4, 6)
    lay.add(table("Verification checks", "Verification checks run since start, by check and result "
                  "(`kimera_decay_verification_checks_total`). Any non-zero fail count names the "
                  "broken property.", "short",
                  [target(f"sum by (check, result) (kimera_decay_verification_checks_total{sel()})",
                          "", fmt="table", instant=True)],
                  organize={"excludeByName": {"Time": True},
                            "renameByName": {"Value": "checks"}}), 12, 6)
    lay.add(bargauge("Mean decay factor by age band", "Decay factor against age: the mean decay "
                     "factor of identities in each age band at the last sweep "
                     "(`kimera_decay_factor_by_age_band`). It must fall from the youngest band to "
                     "the oldest; higher-entropy types decay more slowly.", "percentunit",
                     [target(f"avg by (identity_type, age_band) "
                             f"(kimera_decay_factor_by_age_band{sel()})",
                             "{{identity_type}} {{age_band}}", instant=True)], min_=0, max_=1), 12, 10)
    lay.add(timeseries("Decay factor by age band over time", "Mean decay factor per age band and "
                       "identity type over time (`kimera_decay_factor_by_age_band`). Lines should "
                       "stay ordered, young bands on top.", "percentunit",
                       [target(f"avg by (identity_type, age_band) "
                               f"(kimera_decay_factor_by_age_band{sel()})",
                               "{{identity_type}} {{age_band}}")], min_=0, max_=1), 12, 10)
    histogram_pair(lay, "kimera_tau_distribution", "Effective tau", "s",
                   "the effective tau (base_tau × (1 + k·H), seconds)", by=("identity_type",))
    histogram_pair(lay, "kimera_identity_decay_factor", "Decay factor", "percentunit",
                   "the decay factor exp(-age/tau_eff) (0..1)", by=("identity_type",))
    histogram_pair(lay, "kimera_identity_age_seconds", "Identity age", "s",
                   "identity age (now − created_at, seconds)", by=("identity_type",))
    histogram_pair(lay, "kimera_decay_sweep_duration_seconds", "Decay sweep duration", "s",
                   "the wall time of one decay sweep")

    # ------------------------------------------------------------------ System health
    lay.row("System health")
    lay.add(timeseries("Throughput by operation", "Storage calls per second by operation "
                       "(`kimera_storage_operations_duration_seconds_count`).", "ops",
                       [target(f"sum by (operation_type) (rate(kimera_storage_operations_duration_"
                               f"seconds_count{sel()}[$__rate_interval]))", "{{operation_type}}")],
                       stack=True), 12, 8)
    lay.add(timeseries("Errors by operation and reason", "Failed storage calls per second "
                       "(`kimera_storage_errors_total`) by operation and reason. Not-found is not "
                       "an error and never shows here.", "ops",
                       [target(f"sum by (operation_type, reason) (rate(kimera_storage_errors_total"
                               f"{sel()}[$__rate_interval]))", "{{operation_type}} {{reason}}")]),
            12, 8)
    lay.add(timeseries("Error ratio by operation", "Share of storage calls that failed, per "
                       "operation. StorageErrorRateHigh fires above 1% for 5 minutes.",
                       "percentunit",
                       [target(f"sum by (operation_type) (rate(kimera_storage_errors_total{sel()}"
                               f"[$__rate_interval]))\n/\nsum by (operation_type) (rate(kimera_storage_"
                               f"operations_duration_seconds_count{sel()}[$__rate_interval]))",
                               "{{operation_type}}")], min_=0), 12, 8)
    lay.add(timeseries("Latency p99 by operation", "p99 latency of every storage operation from "
                       "`kimera_storage_operations_duration_seconds_bucket`. EntropyIndexingSlow "
                       "fires when store or find_by_entropy stays above 100 ms.", "s",
                       [target(f"histogram_quantile(0.99, sum by (le, operation_type) (rate(kimera_"
                               f"storage_operations_duration_seconds_bucket{sel()}[$__rate_interval])))",
                               "p99 {{operation_type}}")]), 12, 8)
    histogram_pair(lay, "kimera_storage_operations_duration_seconds", "Storage latency", "s",
                   "the latency of storage calls (seconds), per operation",
                   by=("operation_type",))
    histogram_pair(lay, "kimera_entropy_query_rows_returned", "Entropy query rows returned",
                   "short", "rows returned by one entropy-range query")
    histogram_pair(lay, "kimera_entropy_query_index_entries_scanned",
                   "Entropy query index entries scanned", "short",
                   "index entries read by one entropy-range query")
    lay.add(timeseries("Entropy index size", "Entries in the entropy index "
                       "(`kimera_entropy_index_entries`) against stored identities; they should "
                       "match.", "short",
                       [target(f"sum(kimera_entropy_index_entries{sel()})", "index entries"),
                        target(f"sum(kimera_active_identities{sel()})", "identities")]), 8, 8)
    lay.add(timeseries("Entropy index updates", "Index changes per second by kind "
                       "(`kimera_entropy_index_updates_total`).", "ops",
                       [target(f"sum by (kind) (rate(kimera_entropy_index_updates_total{sel()}"
                               f"[$__rate_interval]))", "{{kind}}")]), 8, 8)
    lay.add(timeseries("Entropy index check", "Duration of the last index consistency check and "
                       "the inconsistencies it found (`kimera_entropy_index_check_duration_seconds`, "
                       "`kimera_entropy_index_inconsistencies`, right axis).", "s",
                       [target(f"max(kimera_entropy_index_check_duration_seconds{sel()})",
                               "check duration"),
                        target(f"sum(kimera_entropy_index_inconsistencies{sel()})",
                               "inconsistencies")]), 8, 8)
    # the inconsistency count is a count, not seconds
    lay.panels[-1]["fieldConfig"]["overrides"].append({
        "matcher": {"id": "byName", "options": "inconsistencies"},
        "properties": [{"id": "unit", "value": "short"},
                       {"id": "custom.axisPlacement", "value": "right"}]})
    lay.add(timeseries("RocksDB keys", "RocksDB's estimate of the number of keys over all column "
                       "families (`kimera_rocksdb_estimated_keys`).", "short",
                       [target(f"sum by (instance) (kimera_rocksdb_estimated_keys{sel()})",
                               "{{instance}}")]), 6, 8)
    lay.add(timeseries("RocksDB SST and block cache", "Live SST file bytes and block cache usage "
                       "(`kimera_rocksdb_live_sst_bytes`, `kimera_rocksdb_block_cache_usage_bytes`).",
                       "bytes",
                       [target(f"sum by (instance) (kimera_rocksdb_live_sst_bytes{sel()})",
                               "SST {{instance}}"),
                        target(f"sum by (instance) (kimera_rocksdb_block_cache_usage_bytes{sel()})",
                               "block cache {{instance}}")]), 6, 8)
    lay.add(timeseries("RocksDB pending compaction", "Bytes RocksDB estimates it must compact "
                       "(`kimera_rocksdb_pending_compaction_bytes`). A steady climb ends in write "
                       "stalls.", "bytes",
                       [target(f"sum by (instance) (kimera_rocksdb_pending_compaction_bytes{sel()})",
                               "{{instance}}")]), 6, 8)
    lay.add(timeseries("RocksDB write stalls", "1 while RocksDB stops or delays writes "
                       "(`kimera_rocksdb_write_stalled`).", "none",
                       [target(f"max by (instance) (kimera_rocksdb_write_stalled{sel()})",
                               "{{instance}}")], min_=0, max_=1), 6, 8)
    lay.add(timeseries("Scrapes", "Scrapes of /metrics served per second and bytes sent "
                       "(prometheus-cpp `exposer_scrapes_total`, `exposer_transferred_bytes_total`).",
                       "ops",
                       [target(f"sum by (instance) (rate(exposer_scrapes_total{sel()}"
                               f"[$__rate_interval]))", "scrapes {{instance}}"),
                        target(f"sum by (instance) (rate(exposer_transferred_bytes_total{sel()}"
                               f"[$__rate_interval]))", "bytes {{instance}}")]), 12, 8)
    lay.panels[-1]["fieldConfig"]["overrides"].append({
        "matcher": {"id": "byRegexp", "options": "bytes.*"},
        "properties": [{"id": "unit", "value": "Bps"},
                       {"id": "custom.axisPlacement", "value": "right"}]})
    lay.add(timeseries("Scrape latency", "Time to serve one scrape as seen by the process "
                       "(prometheus-cpp summary `exposer_request_latencies`, in microseconds). The "
                       "plan's bound is p99 < 100 ms.", "µs",
                       [target(f"max by (instance, quantile) (exposer_request_latencies{sel()})",
                               "p{{quantile}} {{instance}}")]), 12, 8)

    # ------------------------------------------------------------------ Dual-write
    lay.row("Dual-write")
    lay.add(stat("Backends consistent", "Whether the last consistency sweep found primary and "
                 "secondary equal (`kimera_dual_write_consistent`), shown only once a full sweep "
                 "has run (the gauge reads 0 before that): NO SWEEP YET until then, and always "
                 "when `[dual_write] sweep_interval_seconds` is 0. INCONSISTENT for 5 minutes "
                 "pages through DualWriteInconsistent.", "none",
                 [target(f"min(kimera_dual_write_consistent{sel()}\nand on (job, instance)\n"
                         f"kimera_dual_write_consistency_check_duration_seconds_count{S_SWEEP} > 0)",
                         "consistent")],
                 mappings=[{"type": "value", "options": {
                     "0": {"text": "INCONSISTENT", "color": "red", "index": 0},
                     "1": {"text": "CONSISTENT", "color": "green", "index": 1}}}],
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
                 color_mode="background"), 6, 6)
    lay.panels[-1]["fieldConfig"]["defaults"]["noValue"] = "NO SWEEP YET"
    lay.add(stat("Repair backlog", "Identities known to differ between the backends and waiting "
                 "for repair (`kimera_dual_write_repair_backlog`).", "short",
                 [target(f"sum(kimera_dual_write_repair_backlog{sel()})", "backlog")],
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1},
                             {"color": "red", "value": 1000}]), 6, 6)
    lay.add(stat("Dual-write failure ratio", "Share of dual-write operations that failed on either "
                 "side over the dashboard range step (`kimera_dual_write_operations_total`).",
                 "percentunit",
                 [target(f'sum(rate(kimera_dual_write_operations_total{S_FAIL}'
                         f'[$__rate_interval]))\n/\nsum(rate(kimera_dual_write_operations_total'
                         f'{sel()}[$__rate_interval]))', "failure ratio")],
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.001},
                             {"color": "red", "value": 0.01}]), 6, 6)
    lay.add(stat("Shadow read mismatches", "Shadow reads whose secondary copy differed from the "
                 "primary, per second (`kimera_dual_write_shadow_reads_total{result=\"mismatch\"}`).",
                 "ops",
                 [target(f'sum(rate(kimera_dual_write_shadow_reads_total{S_MISMATCH}'
                         f'[$__rate_interval]))', "mismatch/s")],
                 thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.000001}]),
            6, 6)
    lay.add(timeseries("Dual-write operations by status", "Dual-write operations per second by "
                       "operation and status (`kimera_dual_write_operations_total`).", "ops",
                       [target(f"sum by (operation, status) (rate(kimera_dual_write_operations_total"
                               f"{sel()}[$__rate_interval]))", "{{operation}} {{status}}")]), 8, 8)
    lay.add(timeseries("Dual-write failure rate", "Share of dual-write operations that failed, per "
                       "operation. DualWriteFailures fires above 1% for 5 minutes.", "percentunit",
                       [target(f'sum by (operation) (rate(kimera_dual_write_operations_total'
                               f'{S_FAIL}[$__rate_interval]))\n/\n'
                               f'sum by (operation) (rate(kimera_dual_write_operations_total{sel()}'
                               f'[$__rate_interval]))', "{{operation}}")], min_=0), 8, 8)
    lay.add(timeseries("Repair backlog over time", "Identities waiting for repair over time "
                       "(`kimera_dual_write_repair_backlog`). DualWriteRepairBacklogGrowing fires "
                       "when it keeps growing for 15 minutes.", "short",
                       [target(f"sum by (instance) (kimera_dual_write_repair_backlog{sel()})",
                               "{{instance}}")], min_=0), 8, 8)
    lay.add(timeseries("Consistency check results", "Per-identity consistency check results per "
                       "second (`kimera_dual_write_consistency_checks_total`).", "ops",
                       [target(f"sum by (result) (rate(kimera_dual_write_consistency_checks_total"
                               f"{sel()}[$__rate_interval]))", "{{result}}")]), 12, 8)
    lay.add(timeseries("Shadow reads", "Shadow reads per second by result "
                       "(`kimera_dual_write_shadow_reads_total`).", "ops",
                       [target(f"sum by (result) (rate(kimera_dual_write_shadow_reads_total{sel()}"
                               f"[$__rate_interval]))", "{{result}}")]), 12, 8)
    histogram_pair(lay, "kimera_dual_write_duration_seconds", "Primary vs secondary write latency",
                   "s", "the write latency on each side of a dual write", by=("side",))
    histogram_pair(lay, "kimera_dual_write_consistency_check_duration_seconds",
                   "Consistency check duration", "s",
                   "the time of one consistency check (single id or full sweep)", by=("scope",))
    histogram_pair(lay, "kimera_dual_write_entropy_drift", "Entropy drift between backends (bits)",
                   "none", "the absolute entropy difference (bits) between the primary and the "
                   "secondary copy of an identity")

    var_ds = {
        "type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
        "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
        "refresh": 1, "regex": "", "skipUrlSync": False,
    }

    def query_var(name, label, query):
        return {
            "type": "query", "name": name, "label": label, "datasource": DS,
            "definition": query,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery",
                      "qryType": 1},
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "includeAll": True, "multi": True, "options": [], "refresh": 2,
            "regex": "", "skipUrlSync": False, "sort": 1,
        }

    return {
        "uid": UID,
        "title": TITLE,
        "description": "Entropy, decay, storage health and dual-write consistency of Kimera's "
                       "identity store. Guide: docs/dashboard.md.",
        "tags": ["kimera", "entropy", "rocksdb"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            var_ds,
            query_var("job", "Job", "label_values(kimera_build_info, job)"),
            query_var("instance", "Instance", 'label_values(kimera_build_info{job=~"$job"}, instance)'),
        ]},
        "panels": lay.panels,
    }


def render():
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        try:
            with open(OUT, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"{OUT} is out of date: run python3 grafana/build_dashboard.py", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

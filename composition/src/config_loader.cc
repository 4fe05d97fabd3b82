#include "kimera/config_loader.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "kimera/metrics_endpoint.h"

namespace kimera {
namespace {

// Reads one section, remembering which keys it consumed so that a key the
// program does not know is reported instead of silently ignored.
class SectionReader {
 public:
  SectionReader(const toml::table* table, std::string section, const std::string& source,
                Status* status)
      : table_(table), section_(std::move(section)), source_(source), status_(status) {}

  void Bool(const char* key, bool* out) {
    const toml::node* n = Find(key);
    if (!n) return;
    if (auto v = n->value<bool>(); v && n->is_boolean()) {
      *out = *v;
    } else {
      Fail(key, "must be true or false");
    }
  }

  void Int(const char* key, long long min, long long max, int* out) {
    long long v = *out;
    Int64(key, min, max, &v);
    *out = static_cast<int>(v);
  }

  void Int64(const char* key, long long min, long long max, long long* out) {
    const toml::node* n = Find(key);
    if (!n) return;
    if (!n->is_integer()) return Fail(key, "must be an integer");
    const long long v = *n->value<long long>();
    if (v < min || v > max) {
      return Fail(key, "must be in " + std::to_string(min) + ".." + std::to_string(max) + " (got " +
                           std::to_string(v) + ")");
    }
    *out = v;
  }

  void Size(const char* key, std::size_t unit, std::size_t* out) {
    long long v = static_cast<long long>(*out / unit);
    Int64(key, 0, 1LL << 40, &v);
    *out = static_cast<std::size_t>(v) * unit;
  }

  void Double(const char* key, double min, double max, double* out) {
    const toml::node* n = Find(key);
    if (!n) return;
    if (!n->is_number()) return Fail(key, "must be a number");
    const double v = *n->value<double>();
    if (!(v >= min && v <= max)) {
      std::ostringstream reason;
      reason << "must be in " << min << ".." << max << " (got " << v << ")";
      return Fail(key, reason.str());
    }
    *out = v;
  }

  void String(const char* key, std::string* out) {
    const toml::node* n = Find(key);
    if (!n) return;
    if (!n->is_string()) return Fail(key, "must be a string");
    *out = *n->value<std::string>();
  }

  // Reports the first key of the section nobody asked for.
  void RejectUnknown() {
    if (!table_ || !status_->ok()) return;
    for (const auto& [key, node] : *table_) {
      if (known_.count(std::string(key.str())) == 0) {
        return Fail(std::string(key.str()), "is not a known setting");
      }
    }
  }

 private:
  const toml::node* Find(const char* key) {
    known_.insert(key);
    if (!table_ || !status_->ok()) return nullptr;
    return table_->get(key);
  }

  void Fail(const std::string& key, const std::string& reason) {
    if (!status_->ok()) return;
    *status_ = Status::InvalidArgument(source_ + ": key '" + section_ + "." + key + "' " + reason);
  }

  const toml::table* table_;
  std::string section_;
  const std::string& source_;
  Status* status_;
  std::set<std::string> known_;
};

const toml::table* Section(const toml::table& root, const char* name) {
  const toml::node* n = root.get(name);
  return n ? n->as_table() : nullptr;
}

bool EnvFlag(const char* name, bool* out, Status* status) {
  const char* v = std::getenv(name);
  if (v == nullptr) return false;
  const std::string s(v);
  if (s == "1" || s == "true") {
    *out = true;
  } else if (s == "0" || s == "false") {
    *out = false;
  } else if (status->ok()) {
    *status = Status::InvalidArgument(std::string("environment variable ") + name +
                                      " must be 0, 1, true or false (got '" + s + "')");
  }
  return true;
}

// Parses `text` and checks its top level holds only known sections.
Status ParseRoot(const std::string& text, const std::string& source, toml::table* root) {
  try {
    *root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status::InvalidArgument(msg.str());
  }
  static const std::set<std::string> kSections = {"storage", "metrics", "entropy",
                                                  "index",   "decay",   "dual_write"};
  for (const auto& [key, node] : *root) {
    const std::string name(key.str());
    if (kSections.count(name) == 0) {
      return Status::InvalidArgument(source + ": section or key '" + name +
                                     "' is not a known setting");
    }
    if (!node.is_table()) {
      return Status::InvalidArgument(source + ": '" + name + "' must be a table ([" + name + "])");
    }
  }
  return Status::OK();
}

// Each Read* reads one section into `config`; the first error goes to
// `*status` (and later ones are dropped), as SectionReader does.
void ReadStorage(const toml::table& root, const std::string& source, KimeraConfig* config,
                 Status* status) {
  SectionReader storage(Section(root, "storage"), "storage", source, status);
  storage.String("path", &config->db_path);
  storage.Size("block_cache_mb", 1u << 20, &config->storage.block_cache_bytes);
  storage.Int("bloom_bits_per_key", 0, 64, &config->storage.bloom_bits_per_key);
  storage.Bool("sync_writes", &config->storage.sync_writes);
  storage.Bool("disable_wal", &config->storage.disable_wal);
  storage.Size("write_buffer_mb", 1u << 20, &config->storage.write_buffer_bytes);
  storage.Int("max_background_jobs", 1, 64, &config->storage.max_background_jobs);
  storage.Size("reserved_disk_mb", 1u << 20, &config->storage.reserved_disk_bytes);
  storage.RejectUnknown();
}

void ReadMetrics(const toml::table& root, const std::string& source, KimeraConfig* config,
                 Status* status) {
  MetricsConfig& m = config->plugin.metrics;
  SectionReader metrics(Section(root, "metrics"), "metrics", source, status);
  metrics.Bool("enabled", &m.enabled);
  metrics.String("bind_address", &m.bind_address);
  metrics.Int("port", 0, 65535, &m.port);
  metrics.Bool("detailed", &m.detailed);
  metrics.String("basic_auth_user", &m.basic_auth_user);
  metrics.String("basic_auth_password", &m.basic_auth_password);
  metrics.RejectUnknown();
  if (status->ok()) {
    if (Status s = MetricsEndpoint::CheckConfig(m); !s.ok()) {
      *status = Status::InvalidArgument(source + ": " + s.message());
    }
  }
}

void ReadEntropy(const toml::table& root, const std::string& source, KimeraConfig* config,
                 Status* status) {
  EntropyConfig& e = config->plugin.entropy;
  SectionReader entropy(Section(root, "entropy"), "entropy", source, status);
  entropy.Double("base_tau_seconds", 1e-9, 1e12, &e.decay.base_tau_seconds);
  entropy.Double("k", 0, 1e6, &e.decay.k);
  entropy.Double("low_entropy_below", 0, 1e6, &e.low_entropy_below);
  entropy.Double("high_entropy_from", 0, 1e6, &e.high_entropy_from);
  entropy.Double("change_rate_window_seconds", 1, 3600, &e.change_rate_window_seconds);
  long long earliest = e.earliest_timestamp_seconds, future = e.max_future_seconds;
  entropy.Int64("earliest_timestamp_seconds", -62'135'596'800LL, 253'402'300'799LL, &earliest);
  entropy.Int64("max_future_seconds", 0, 1LL << 40, &future);
  e.earliest_timestamp_seconds = earliest;
  e.max_future_seconds = future;
  entropy.RejectUnknown();
  if (status->ok() && e.low_entropy_below > e.high_entropy_from) {
    *status = Status::InvalidArgument(source +
                                      ": key 'entropy.low_entropy_below' must not exceed "
                                      "'entropy.high_entropy_from'");
  }
}

void ReadIndexAndDecay(const toml::table& root, const std::string& source, KimeraConfig* config,
                       Status* status) {
  SectionReader index(Section(root, "index"), "index", source, status);
  index.String("separate_path", &config->plugin.index.separate_path);
  index.RejectUnknown();

  DecayConfig& d = config->decay;
  SectionReader decay(Section(root, "decay"), "decay", source, status);
  decay.Int64("sweep_interval_seconds", 0, 1LL << 32, &d.sweep_interval_seconds);
  long long sample = static_cast<long long>(d.verification_sample);
  decay.Int64("verification_sample", 0, 1LL << 32, &sample);
  d.verification_sample = static_cast<std::size_t>(sample);
  long long chunk = static_cast<long long>(d.chunk_size);
  decay.Int64("chunk_size", 1, 1LL << 24, &chunk);
  d.chunk_size = static_cast<std::size_t>(chunk);
  decay.Int64("apply_interval_seconds", 0, 1LL << 32, &d.apply_interval_seconds);
  decay.Double("sweep_duty_cycle", 0.01, 1, &d.sweep_duty_cycle);
  decay.RejectUnknown();
}

// The dual-write section's words: mode, read_from, secondary_format and a
// secondary that is not empty.
Status CheckDualWriteWords(const std::string& source, const std::string& mode,
                           const std::string& read_from, DualWriteConfig* w) {
  if (mode == "strict") {
    w->mode = DualWriteMode::kStrict;
  } else if (mode == "best_effort") {
    w->mode = DualWriteMode::kBestEffort;
  } else {
    return Status::InvalidArgument(source +
                                   ": key 'dual_write.mode' must be \"strict\" or "
                                   "\"best_effort\" (got \"" +
                                   mode + "\")");
  }
  if (read_from == "primary") {
    w->read_from = ReadSource::kPrimary;
  } else if (read_from == "secondary") {
    w->read_from = ReadSource::kSecondary;
  } else {
    return Status::InvalidArgument(source +
                                   ": key 'dual_write.read_from' must be \"primary\" or "
                                   "\"secondary\" (got \"" +
                                   read_from + "\")");
  }
  if (w->secondary_format != "legacy" && w->secondary_format != "current") {
    return Status::InvalidArgument(source +
                                   ": key 'dual_write.secondary_format' must be \"legacy\" "
                                   "or \"current\" (got \"" +
                                   w->secondary_format + "\")");
  }
  if (w->secondary.empty()) {
    return Status::InvalidArgument(source +
                                   ": key 'dual_write.secondary' must be \"legacy\" or a "
                                   "folder, not empty");
  }
  return Status::OK();
}

void ReadDualWrite(const toml::table& root, const std::string& source, KimeraConfig* config,
                   Status* status) {
  DualWriteConfig& w = config->dual_write;
  SectionReader dual(Section(root, "dual_write"), "dual_write", source, status);
  dual.Bool("enabled", &w.enabled);
  dual.String("secondary", &w.secondary);
  dual.String("secondary_format", &w.secondary_format);
  std::string mode = DualWriteModeName(w.mode);
  dual.String("mode", &mode);
  std::string read_from = ReadSourceName(w.read_from);
  dual.String("read_from", &read_from);
  dual.Double("inline_sample_rate", 0, 1, &w.inline_sample_rate);
  dual.Double("shadow_read_rate", 0, 1, &w.shadow_read_rate);
  dual.Double("sweep_interval_seconds", 0, 1e9, &w.sweep_interval_seconds);
  dual.Double("sweep_rate_per_second", 0, 1e9, &w.sweep_rate_per_second);
  long long audit_max = static_cast<long long>(w.audit_log_max_entries);
  dual.Int64("audit_log_max_entries", 1, 1LL << 40, &audit_max);
  w.audit_log_max_entries = static_cast<std::uint64_t>(audit_max);
  dual.Double("repair_retry_initial_ms", 1, 1e9, &w.repair_retry_initial_ms);
  dual.Double("repair_retry_max_ms", 1, 1e9, &w.repair_retry_max_ms);
  dual.RejectUnknown();
  if (status->ok()) *status = CheckDualWriteWords(source, mode, read_from, &w);
}

}  // namespace

Status ParseConfig(const std::string& text, const std::string& source, KimeraConfig* out) {
  toml::table root;
  Status status = ParseRoot(text, source, &root);
  if (!status.ok()) return status;
  KimeraConfig config;
  config.source = source;
  ReadStorage(root, source, &config, &status);
  ReadMetrics(root, source, &config, &status);
  ReadEntropy(root, source, &config, &status);
  ReadIndexAndDecay(root, source, &config, &status);
  ReadDualWrite(root, source, &config, &status);
  if (!status.ok()) return status;
  *out = std::move(config);
  return Status::OK();
}

Status ApplyEnvironment(KimeraConfig* config) {
  Status status;
  EnvFlag("KIMERA_METRICS_ENABLED", &config->plugin.metrics.enabled, &status);
  EnvFlag("KIMERA_METRICS_DETAILED", &config->plugin.metrics.detailed, &status);
  EnvFlag("KIMERA_ID_DUAL_WRITE", &config->dual_write.enabled, &status);
  if (const char* port = std::getenv("KIMERA_METRICS_PORT")) {
    char* end = nullptr;
    const long v = std::strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || v < 0 || v > 65535) {
      return Status::InvalidArgument(
          std::string("environment variable KIMERA_METRICS_PORT must be a port in 0..65535 "
                      "(got '") +
          port + "')");
    }
    config->plugin.metrics.port = static_cast<int>(v);
  }
  return status;
}

Status LoadConfig(const std::string& path, KimeraConfig* out) {
  std::string file = path;
  if (file.empty()) {
    if (const char* env = std::getenv("KIMERA_CONFIG")) file = env;
  }
  KimeraConfig config;
  if (!file.empty()) {
    // A folder opens as an empty stream on Linux and would parse as "all
    // defaults": refuse it by name.
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
      return Status::InvalidArgument(file + ": cannot read config file: is a directory");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Status::InvalidArgument(file + ": cannot read config file: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return Status::InvalidArgument(file + ": cannot read config file: " + std::strerror(errno));
    }
    Status s = ParseConfig(text.str(), file, &config);
    if (!s.ok()) return s;
  }
  Status s = ApplyEnvironment(&config);
  if (!s.ok()) return s;
  *out = std::move(config);
  return Status::OK();
}

}  // namespace kimera

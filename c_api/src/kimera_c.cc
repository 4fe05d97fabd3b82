// The C ABI's pure functions, open and close, sync and the model, with the
// boundary helpers every other file of c_api/src uses.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>

#include "c_boundary.h"
#include "kimera/identity_json.h"

#ifndef KIMERA_VERSION
#error "KIMERA_VERSION must be defined by the build"
#endif

namespace kimera::c_api {

char* CopyString(std::string_view text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  if (!text.empty()) std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return copy;
}

kimera_status ToCStatus(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return KIMERA_OK;
    case Status::Code::kNotFound:
      return KIMERA_NOT_FOUND;
    case Status::Code::kInvalidArgument:
      return KIMERA_INVALID_ARGUMENT;
    case Status::Code::kCorruption:
      return KIMERA_CORRUPTION;
    case Status::Code::kIOError:
      return KIMERA_IO_ERROR;
    case Status::Code::kNoSpace:
      return KIMERA_NO_SPACE;
    case Status::Code::kBusy:
      return KIMERA_BUSY;
    case Status::Code::kUnavailable:
      return KIMERA_UNAVAILABLE;
    case Status::Code::kAborted:
      return KIMERA_ABORTED;
  }
  return KIMERA_INTERNAL;
}

Status Require(const void* pointer, const char* function, const char* parameter) {
  if (pointer != nullptr) return Status::OK();
  return Status::InvalidArgument(std::string(function) + ": " + parameter + " is NULL");
}

Micros NowOr(std::int64_t now_micros) { return now_micros == 0 ? SystemNow() : now_micros; }

Status ParseJson(std::string_view text, const char* what, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(std::string(what) + ": malformed JSON: " + e.what());
  }
  return Status::OK();
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// The TOML text of `path`, with LoadConfig's errors, but without the
// environment it applies: that is KIMERA_OPEN_APPLY_ENV's choice.
Status ReadConfigFile(const std::string& path, KimeraConfig* config) {
  if (path.empty()) return Status::InvalidArgument("kimera_open: the config path is empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + ": cannot read config file: is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(path + ": cannot read config file: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::InvalidArgument(path + ": cannot read config file: " + std::strerror(errno));
  }
  return ParseConfig(text.str(), path, config);
}

Status ReadConfig(const char* config, kimera_config_kind kind, unsigned flags, KimeraConfig* out) {
  const bool apply_env = (flags & KIMERA_OPEN_APPLY_ENV) != 0;
  if (kind == KIMERA_CONFIG_TEXT) {
    Status s = ParseConfig(config, "(config text)", out);
    if (s.ok() && apply_env) s = ApplyEnvironment(out);
    return s;
  }
  if (kind != KIMERA_CONFIG_PATH) {
    return Status::InvalidArgument(
        "kimera_open: kind must be KIMERA_CONFIG_TEXT or "
        "KIMERA_CONFIG_PATH (got " +
        std::to_string(static_cast<int>(kind)) + ")");
  }
  // With the environment, exactly as the CLI loads it ("" names
  // $KIMERA_CONFIG).
  if (apply_env) return LoadConfig(config, out);
  return ReadConfigFile(config, out);
}

}  // namespace

}  // namespace kimera::c_api

using kimera::Status;
using kimera::c_api::Boundary;
using kimera::c_api::Clear;
using kimera::c_api::Require;

extern "C" {

int kimera_abi_version(void) { return KIMERA_C_ABI_VERSION; }

const char* kimera_version(void) { return KIMERA_VERSION; }

const char* kimera_status_name(kimera_status status) {
  switch (status) {
    case KIMERA_OK:
      return "ok";
    case KIMERA_NOT_FOUND:
      return "not_found";
    case KIMERA_INVALID_ARGUMENT:
      return "invalid_argument";
    case KIMERA_CORRUPTION:
      return "corruption";
    case KIMERA_IO_ERROR:
      return "io_error";
    case KIMERA_NO_SPACE:
      return "no_space";
    case KIMERA_BUSY:
      return "busy";
    case KIMERA_UNAVAILABLE:
      return "unavailable";
    case KIMERA_ABORTED:
      return "aborted";
    case KIMERA_INTERNAL:
      return "internal";
    case KIMERA_STATUS_MAX_ENUM_:
      break;
  }
  return "unknown";
}

void kimera_free(void* p) { std::free(p); }

kimera_status kimera_open(const char* config, kimera_config_kind kind, unsigned flags,
                          kimera_store** out, char** error) {
  Clear(out);
  return Boundary("kimera_open", error, [&]() -> Status {
    if (Status s = Require(config, "kimera_open", "config"); !s.ok()) return s;
    if (Status s = Require(out, "kimera_open", "out"); !s.ok()) return s;
    constexpr unsigned kKnownFlags = KIMERA_OPEN_SERVE_METRICS | KIMERA_OPEN_APPLY_ENV;
    if ((flags & ~kKnownFlags) != 0) {
      return Status::InvalidArgument("kimera_open: flags has unknown bits (" +
                                     std::to_string(flags & ~kKnownFlags) + ")");
    }
    auto handle = std::make_unique<kimera_store>();
    Status s = kimera::c_api::ReadConfig(config, kind, flags, &handle->config);
    if (!s.ok()) return s;
    s = kimera::OpenConfiguredStore(handle->config, (flags & KIMERA_OPEN_SERVE_METRICS) != 0,
                                    &handle->stack);
    if (!s.ok()) return s;
    *out = handle.release();
    return Status::OK();
  });
}

void kimera_close(kimera_store* store) {
  if (store == nullptr) return;
  try {
    // The verifier borrows the store: it leaves first.
    store->verifier.reset();
    store->stack.Close();
  } catch (...) {
    // Nothing can be reported from here; the handle is freed regardless.
  }
  delete store;
}

kimera_status kimera_sync(kimera_store* store, char** error) {
  return Boundary("kimera_sync", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_sync", "store"); !s.ok()) return s;
    return store->stack.store->Sync();
  });
}

kimera_status kimera_model(const char* identity_json, double base_tau_seconds, double k,
                           double* entropy, double* effective_tau, char** error) {
  Clear(entropy);
  Clear(effective_tau);
  return Boundary("kimera_model", error, [&]() -> Status {
    if (Status s = Require(identity_json, "kimera_model", "identity_json"); !s.ok()) return s;
    if (!std::isfinite(base_tau_seconds) || base_tau_seconds <= 0) {
      return Status::InvalidArgument(
          "kimera_model: base_tau_seconds must be a finite number > 0 (got " +
          std::to_string(base_tau_seconds) + ")");
    }
    if (!std::isfinite(k) || k < 0) {
      return Status::InvalidArgument("kimera_model: k must be a finite number >= 0 (got " +
                                     std::to_string(k) + ")");
    }
    kimera::Identity identity;
    if (Status s = kimera::IdentityFromJsonText(identity_json, &identity); !s.ok()) return s;
    const double h = kimera::Entropy(identity);
    if (entropy != nullptr) *entropy = h;
    if (effective_tau != nullptr) *effective_tau = kimera::EffectiveTau(h, {base_tau_seconds, k});
    return Status::OK();
  });
}

}  // extern "C"

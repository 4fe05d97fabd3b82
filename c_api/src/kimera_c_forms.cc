// The C ABI's echo forms (FormStore, beside the identities).
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "c_boundary.h"
#include "kimera/form_store.h"

namespace kimera::c_api {
namespace {

// The forms of the handle's stack; Unavailable without a records engine.
Status FormsOf(kimera_store* store, const char* function, FormStore** out) {
  if (Status s = Require(store, function, "store"); !s.ok()) return s;
  if (store->stack.forms == nullptr) {
    return Status::Unavailable("echo forms need the embedded RocksDB store");
  }
  *out = store->stack.forms.get();
  return Status::OK();
}

// `now_seconds` (epoch seconds) as micros; the store's clock when <= 0.
Status NowFromSeconds(double now_seconds, const char* function, Micros* out) {
  if (std::isnan(now_seconds) || std::isinf(now_seconds)) {
    return Status::InvalidArgument(std::string(function) + ": now_seconds must be a finite number");
  }
  *out = now_seconds <= 0 ? SystemNow() : static_cast<Micros>(std::llround(now_seconds * 1e6));
  return Status::OK();
}

std::optional<std::string> Domain(const char* domain) {
  if (domain == nullptr) return std::nullopt;
  return std::string(domain);
}

}  // namespace
}  // namespace kimera::c_api

using kimera::EchoFormRecord;
using kimera::FormStore;
using kimera::Status;
using kimera::c_api::Boundary;
using kimera::c_api::Clear;
using kimera::c_api::CopyString;
using kimera::c_api::DumpJson;
using kimera::c_api::FormsOf;
using kimera::c_api::Require;

extern "C" {

kimera_status kimera_form_store(kimera_store* store, const char* form_json, char** error) {
  return Boundary("kimera_form_store", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_store", &forms); !s.ok()) return s;
    if (Status s = Require(form_json, "kimera_form_store", "form_json"); !s.ok()) return s;
    nlohmann::json object;
    if (Status s = kimera::c_api::ParseJson(form_json, "form", &object); !s.ok()) return s;
    EchoFormRecord form;
    if (Status s = kimera::FormFromJson(object, &form); !s.ok()) return s;
    return forms->Store(form);
  });
}

kimera_status kimera_form_fetch(kimera_store* store, const char* anchor, char** out_json,
                                char** error) {
  Clear(out_json);
  return Boundary("kimera_form_fetch", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_fetch", &forms); !s.ok()) return s;
    if (Status s = Require(anchor, "kimera_form_fetch", "anchor"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_form_fetch", "out_json"); !s.ok()) return s;
    EchoFormRecord form;
    if (Status s = forms->Fetch(anchor, &form); !s.ok()) return s;
    *out_json = CopyString(DumpJson(kimera::FormToJson(form)));
    return Status::OK();
  });
}

kimera_status kimera_form_list(kimera_store* store, const char* domain, size_t limit,
                               char** out_json_array, char** error) {
  Clear(out_json_array);
  return Boundary("kimera_form_list", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_list", &forms); !s.ok()) return s;
    if (Status s = Require(out_json_array, "kimera_form_list", "out_json_array"); !s.ok()) {
      return s;
    }
    std::vector<EchoFormRecord> found;
    if (Status s = forms->List(kimera::c_api::Domain(domain), limit, &found); !s.ok()) return s;
    nlohmann::json array = nlohmann::json::array();
    for (const EchoFormRecord& form : found) array.push_back(kimera::FormToJson(form));
    *out_json_array = CopyString(DumpJson(array));
    return Status::OK();
  });
}

kimera_status kimera_form_count(kimera_store* store, const char* domain, uint64_t* out,
                                char** error) {
  Clear(out);
  return Boundary("kimera_form_count", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_count", &forms); !s.ok()) return s;
    if (Status s = Require(out, "kimera_form_count", "out"); !s.ok()) return s;
    std::uint64_t count = 0;
    if (Status s = forms->Count(kimera::c_api::Domain(domain), &count); !s.ok()) return s;
    *out = count;
    return Status::OK();
  });
}

kimera_status kimera_form_prune(kimera_store* store, double older_than_seconds, double now_seconds,
                                uint64_t* deleted, char** error) {
  Clear(deleted);
  return Boundary("kimera_form_prune", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_prune", &forms); !s.ok()) return s;
    if (!std::isfinite(older_than_seconds) || older_than_seconds < 0) {
      return Status::InvalidArgument(
          "kimera_form_prune: older_than_seconds must be a finite number >= 0");
    }
    kimera::Micros now = 0;
    Status s = kimera::c_api::NowFromSeconds(now_seconds, "kimera_form_prune", &now);
    if (!s.ok()) return s;
    const auto cutoff = now - static_cast<kimera::Micros>(std::llround(older_than_seconds * 1e6));
    std::uint64_t count = 0;
    if (s = forms->PruneCreatedBefore(cutoff, &count); !s.ok()) return s;
    if (deleted != nullptr) *deleted = count;
    return Status::OK();
  });
}

kimera_status kimera_form_delete_domain(kimera_store* store, const char* domain, uint64_t* deleted,
                                        char** error) {
  Clear(deleted);
  return Boundary("kimera_form_delete_domain", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_delete_domain", &forms); !s.ok()) return s;
    if (Status s = Require(domain, "kimera_form_delete_domain", "domain"); !s.ok()) return s;
    std::uint64_t count = 0;
    if (Status s = forms->RemoveDomain(domain, &count); !s.ok()) return s;
    if (deleted != nullptr) *deleted = count;
    return Status::OK();
  });
}

kimera_status kimera_form_decay(kimera_store* store, double tau_seconds, double now_seconds,
                                uint64_t* updated, char** error) {
  Clear(updated);
  return Boundary("kimera_form_decay", error, [&]() -> Status {
    FormStore* forms = nullptr;
    if (Status s = FormsOf(store, "kimera_form_decay", &forms); !s.ok()) return s;
    kimera::Micros now = 0;
    Status s = kimera::c_api::NowFromSeconds(now_seconds, "kimera_form_decay", &now);
    if (!s.ok()) return s;
    std::uint64_t count = 0;
    if (s = forms->Decay(tau_seconds, now, &count); !s.ok()) return s;
    if (updated != nullptr) *updated = count;
    return Status::OK();
  });
}

}  // extern "C"

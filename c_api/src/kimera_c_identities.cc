// The C ABI's identity calls: store, fetch, remove, queries, scan and decay.
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "c_boundary.h"
#include "kimera/decay_sweep.h"
#include "kimera/identity_json.h"

namespace kimera::c_api {
namespace {

using Json = nlohmann::json;

// The entropy and effective tau a handed-out identity carries, the latter
// with the store's configured decay parameters, so a host sees what the
// index holds.
std::pair<double, double> EntropyAndTau(const kimera_store& store, const Identity& identity) {
  const double h = Entropy(identity);
  return {h, EffectiveTau(h, store.config.plugin.entropy.decay)};
}

// The output buffer of this thread, reused call after call so that it
// stops growing after the first calls: the only allocation left per call is
// the malloc'ed copy handed to the caller.
std::string& OutputBuffer() {
  thread_local std::string buffer;
  buffer.clear();
  if (buffer.capacity() > (std::size_t{1} << 24)) buffer.shrink_to_fit();  // After a huge page.
  return buffer;
}

// The reference dict plus "entropy" and "effective_tau", the latter with the
// store's configured decay parameters, so a host sees what the index holds;
// malloc'ed for the caller.
char* IdentityCString(const kimera_store& store, const Identity& identity) {
  std::string& out = OutputBuffer();
  AppendIdentityJsonLine(identity, EntropyAndTau(store, identity), &out);
  return CopyString(out);
}

std::string IdentitiesText(const kimera_store& store, const std::vector<Identity>& identities) {
  std::string out = "[";
  for (std::size_t i = 0; i < identities.size(); ++i) {
    if (i > 0) out.append(", ", 2);
    AppendIdentityJsonLine(identities[i], EntropyAndTau(store, identities[i]), &out);
  }
  out.push_back(']');
  return out;
}

char* IdentitiesCString(const kimera_store& store, const std::vector<Identity>& identities) {
  std::string& out = OutputBuffer();
  out.push_back('[');
  for (std::size_t i = 0; i < identities.size(); ++i) {
    if (i > 0) out.append(", ", 2);
    AppendIdentityJsonLine(identities[i], EntropyAndTau(store, identities[i]), &out);
  }
  out.push_back(']');
  return CopyString(out);
}

// "geoid" / "scar" / NULL (every type) into `*out`.
Status ReadType(const char* name, const char* function, std::optional<IdentityType>* out) {
  if (name == nullptr) {
    out->reset();
    return Status::OK();
  }
  *out = ParseIdentityType(name);
  if (!*out) {
    return Status::InvalidArgument(std::string(function) +
                                   ": identity_type must be \"geoid\", \"scar\" or NULL (got '" +
                                   DisplayId(name) + "')");
  }
  return Status::OK();
}

// "identities[3] (id 'x'): <message>", the id left out when the message
// already names it or the element has none.
std::string ElementError(std::size_t index, const nlohmann::json& element,
                         const std::string& message) {
  std::string where = "identities[" + std::to_string(index) + "]";
  if (element.is_object()) {
    const auto id = element.find("id");
    if (id != element.end() && id->is_string()) {
      const std::string quoted = "'" + DisplayId(id->get_ref<const std::string&>()) + "'";
      if (message.find(quoted) == std::string::npos) where += " (id " + quoted + ")";
    }
  }
  return where + ": " + message;
}

}  // namespace
}  // namespace kimera::c_api

using kimera::Identity;
using kimera::Status;

static_assert(KIMERA_MAX_STORE_MANY == kimera::kMaxStoreMany);
using kimera::c_api::Boundary;
using kimera::c_api::Clear;
using kimera::c_api::CopyString;
using kimera::c_api::Require;

extern "C" {

kimera_status kimera_store_identity(kimera_store* store, const char* identity_json, char** error) {
  return Boundary("kimera_store_identity", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_store_identity", "store"); !s.ok()) return s;
    if (Status s = Require(identity_json, "kimera_store_identity", "identity_json"); !s.ok()) {
      return s;
    }
    Identity identity;
    if (Status s = kimera::IdentityFromJsonText(identity_json, &identity); !s.ok()) return s;
    return store->stack.store->Store(identity);
  });
}

kimera_status kimera_store_many(kimera_store* store, const char* identities_json_array,
                                size_t* stored, char** error) {
  Clear(stored);
  return Boundary("kimera_store_many", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_store_many", "store"); !s.ok()) return s;
    if (Status s = Require(identities_json_array, "kimera_store_many", "identities_json_array");
        !s.ok()) {
      return s;
    }
    nlohmann::json array;
    if (Status s = kimera::c_api::ParseJson(identities_json_array, "identities", &array); !s.ok()) {
      return s;
    }
    if (!array.is_array()) {
      return Status::InvalidArgument(std::string("identities: must be a JSON array (got ") +
                                     array.type_name() + ")");
    }
    if (array.size() > KIMERA_MAX_STORE_MANY) {
      return Status::InvalidArgument("identities: " + std::to_string(array.size()) +
                                     " in one call; at most " +
                                     std::to_string(KIMERA_MAX_STORE_MANY));
    }
    // Every element first: one bad element and nothing is written.
    std::vector<Identity> identities(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      // Taken apart, not copied: its meta and extra keys are moved out (the
      // id, which an error names, never is), then what is left freed.
      Status s = kimera::IdentityFromJson(std::move(array[i]), &identities[i]);
      if (!s.ok()) {
        return Status::InvalidArgument(kimera::c_api::ElementError(i, array[i], s.message()));
      }
      array[i] = nullptr;
    }
    array = nlohmann::json();
    return store->stack.store->StoreMany(identities, stored);
  });
}

kimera_status kimera_fetch(kimera_store* store, const char* id, char** out_json, char** error) {
  Clear(out_json);
  return Boundary("kimera_fetch", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_fetch", "store"); !s.ok()) return s;
    if (Status s = Require(id, "kimera_fetch", "id"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_fetch", "out_json"); !s.ok()) return s;
    Identity identity;
    if (Status s = store->stack.store->Fetch(id, &identity); !s.ok()) return s;
    *out_json = kimera::c_api::IdentityCString(*store, identity);
    return Status::OK();
  });
}

kimera_status kimera_fetch_many(kimera_store* store, const char* ids_json_array,
                                char** out_json_array, char** error) {
  Clear(out_json_array);
  return Boundary("kimera_fetch_many", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_fetch_many", "store"); !s.ok()) return s;
    if (Status s = Require(ids_json_array, "kimera_fetch_many", "ids_json_array"); !s.ok()) {
      return s;
    }
    if (Status s = Require(out_json_array, "kimera_fetch_many", "out_json_array"); !s.ok()) {
      return s;
    }
    nlohmann::json array;
    if (Status s = kimera::c_api::ParseJson(ids_json_array, "ids", &array); !s.ok()) return s;
    if (!array.is_array()) {
      return Status::InvalidArgument(std::string("ids: must be a JSON array (got ") +
                                     array.type_name() + ")");
    }
    std::vector<std::string> ids;
    ids.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (!array[i].is_string()) {
        return Status::InvalidArgument("ids[" + std::to_string(i) + "]: must be a string (got " +
                                       array[i].type_name() + ")");
      }
      ids.push_back(array[i].get<std::string>());
    }
    std::vector<Identity> found;
    if (Status s = store->stack.store->FetchMany(ids, &found); !s.ok()) return s;
    *out_json_array = kimera::c_api::IdentitiesCString(*store, found);
    return Status::OK();
  });
}

kimera_status kimera_remove(kimera_store* store, const char* id, char** error) {
  return Boundary("kimera_remove", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_remove", "store"); !s.ok()) return s;
    if (Status s = Require(id, "kimera_remove", "id"); !s.ok()) return s;
    return store->stack.store->Remove(id);
  });
}

kimera_status kimera_list(kimera_store* store, const char* identity_type, const char* lang_axis,
                          size_t limit, char** out_json_array, char** error) {
  Clear(out_json_array);
  return Boundary("kimera_list", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_list", "store"); !s.ok()) return s;
    if (Status s = Require(out_json_array, "kimera_list", "out_json_array"); !s.ok()) return s;
    kimera::ListQuery query;
    Status s = kimera::c_api::ReadType(identity_type, "kimera_list", &query.identity_type);
    if (!s.ok()) return s;
    if (lang_axis != nullptr) query.lang_axis = lang_axis;
    query.limit = limit;
    std::vector<Identity> found;
    if (s = store->stack.store->List(query, &found); !s.ok()) return s;
    *out_json_array = kimera::c_api::IdentitiesCString(*store, found);
    return Status::OK();
  });
}

kimera_status kimera_count(kimera_store* store, const char* identity_type, uint64_t* out,
                           char** error) {
  Clear(out);
  return Boundary("kimera_count", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_count", "store"); !s.ok()) return s;
    if (Status s = Require(out, "kimera_count", "out"); !s.ok()) return s;
    std::optional<kimera::IdentityType> type;
    Status s = kimera::c_api::ReadType(identity_type, "kimera_count", &type);
    if (!s.ok()) return s;
    std::uint64_t count = 0;
    if (s = store->stack.store->Count(type, &count); !s.ok()) return s;
    *out = count;
    return Status::OK();
  });
}

kimera_status kimera_find_by_entropy(kimera_store* store, double min_entropy, double max_entropy,
                                     size_t limit, char** out_json_array, char** error) {
  Clear(out_json_array);
  return Boundary("kimera_find_by_entropy", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_find_by_entropy", "store"); !s.ok()) return s;
    if (Status s = Require(out_json_array, "kimera_find_by_entropy", "out_json_array"); !s.ok()) {
      return s;
    }
    if (std::isnan(min_entropy) || std::isnan(max_entropy)) {
      return Status::InvalidArgument(
          "kimera_find_by_entropy: min_entropy and max_entropy must "
          "be numbers (got NaN)");
    }
    std::vector<Identity> found;
    Status s = store->stack.store->FindByEntropy(min_entropy, max_entropy, limit, &found);
    if (!s.ok()) return s;
    *out_json_array = kimera::c_api::IdentitiesCString(*store, found);
    return Status::OK();
  });
}

kimera_status kimera_scan_page(kimera_store* store, const char* start_after, size_t page_size,
                               char** out_json_array, char** next_cursor, char** error) {
  Clear(out_json_array);
  Clear(next_cursor);
  return Boundary("kimera_scan_page", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_scan_page", "store"); !s.ok()) return s;
    if (Status s = Require(out_json_array, "kimera_scan_page", "out_json_array"); !s.ok()) {
      return s;
    }
    if (Status s = Require(next_cursor, "kimera_scan_page", "next_cursor"); !s.ok()) return s;
    if (page_size == 0) {
      return Status::InvalidArgument("kimera_scan_page: page_size must be at least 1");
    }
    std::vector<Identity> page;
    bool more = false;
    // One identity past the page tells whether another page exists, so the
    // last page ends the scan without an empty page after it.
    Status s = store->stack.store->Scan(start_after == nullptr ? "" : start_after,
                                        [&](const Identity& identity) {
                                          if (page.size() == page_size) {
                                            more = true;
                                            return false;
                                          }
                                          page.push_back(identity);
                                          return true;
                                        });
    if (!s.ok()) return s;
    std::string text = kimera::c_api::IdentitiesText(*store, page);
    char* cursor = more ? CopyString(page.back().id) : nullptr;
    try {
      *out_json_array = CopyString(text);
    } catch (...) {
      std::free(cursor);
      throw;
    }
    *next_cursor = cursor;
    return Status::OK();
  });
}

kimera_status kimera_decay(kimera_store* store, const char* id, int64_t now_micros, char** error) {
  return Boundary("kimera_decay", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_decay", "store"); !s.ok()) return s;
    if (Status s = Require(id, "kimera_decay", "id"); !s.ok()) return s;
    return store->stack.store->ApplyDecay(id, kimera::c_api::NowOr(now_micros),
                                          store->config.plugin.entropy.decay);
  });
}

kimera_status kimera_decay_all(kimera_store* store, int64_t now_micros, uint64_t* applied,
                               char** error) {
  Clear(applied);
  return Boundary("kimera_decay_all", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_decay_all", "store"); !s.ok()) return s;
    const kimera::Micros now = kimera::c_api::NowOr(now_micros);
    // One verifier per handle: it owns the decay ledger ApplyDecayAll
    // records into and registers its metrics once. Runs are serialized.
    std::lock_guard<std::mutex> lock(store->verifier_mu);
    kimera::EntropyStore& entropy_store = *store->stack.store;
    if (store->verifier == nullptr) {
      Status s = kimera::DecayVerifier::Open(entropy_store, {}, &store->verifier);
      if (!s.ok()) return s;
    }
    kimera::DecayApplyResult result;
    Status s = kimera::ApplyDecayAll(entropy_store, *store->verifier, now,
                                     store->config.decay.chunk_size, &result);
    if (applied != nullptr) *applied = result.applied;
    if (!s.ok()) return s;
    if (result.failed > 0) {
      // Each listed error names its id; the first says enough to act on.
      return Status::IOError("decay failed for " + std::to_string(result.failed) + " identities (" +
                             std::to_string(result.applied) + " applied); first: " +
                             (result.errors.empty() ? std::string("?") : result.errors.front()));
    }
    return Status::OK();
  });
}

}  // extern "C"

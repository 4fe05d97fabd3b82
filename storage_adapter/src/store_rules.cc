#include "store_rules.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <unordered_map>

#include "record_codec.h"

namespace kimera {

Micros SystemNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status AboutElement(std::size_t index, const Status& status) {
  const std::string message = "identities[" + std::to_string(index) + "]: " + status.message();
  switch (status.code()) {
    case Status::Code::kOk:
      return status;
    case Status::Code::kNotFound:
      return Status::NotFound(message);
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(message);
    case Status::Code::kCorruption:
      return Status::Corruption(message);
    case Status::Code::kIOError:
      return Status::IOError(message);
    case Status::Code::kNoSpace:
      return Status::NoSpace(message);
    case Status::Code::kBusy:
      return Status::Busy(message);
    case Status::Code::kUnavailable:
      return Status::Unavailable(message);
    case Status::Code::kAborted:
      return Status::Aborted(message);
  }
  return status;
}

Status CheckStorable(const Identity& identity) {
  Status s = Validate(identity);
  if (!s.ok()) return s;
  std::string encoded;
  return EncodeRecord(identity, &encoded);
}

Status CheckStoreMany(const std::vector<Identity>& identities,
                      const std::function<Status(const Identity&)>& check) {
  if (identities.size() > kMaxStoreMany) {
    return Status::InvalidArgument("identities: " + std::to_string(identities.size()) +
                                   " in one call; at most " + std::to_string(kMaxStoreMany));
  }
  // Two writes of one id in one atomic batch would each read the record as
  // it was before the batch; refusing them keeps every write exact.
  std::unordered_map<std::string_view, std::size_t> first;
  first.reserve(identities.size());
  for (std::size_t i = 0; i < identities.size(); ++i) {
    Status s = check ? check(identities[i]) : CheckStorable(identities[i]);
    if (!s.ok()) return AboutElement(i, s);
    auto [it, added] = first.emplace(identities[i].id, i);
    if (!added) {
      return Status::InvalidArgument(
          "identities[" + std::to_string(i) + "]: id '" + DisplayId(identities[i].id) +
          "' is identities[" + std::to_string(it->second) + "] again; store an id once per call");
    }
  }
  return Status::OK();
}

Status IdentityStore::StoreMany(const std::vector<Identity>& identities, std::size_t* stored) {
  if (stored != nullptr) *stored = 0;
  Status s = CheckStoreMany(identities);
  if (!s.ok()) return s;
  for (std::size_t i = 0; i < identities.size(); ++i) {
    s = Store(identities[i]);
    if (!s.ok()) return AboutElement(i, s);
    if (stored != nullptr) *stored = i + 1;
  }
  return Status::OK();
}

namespace store_rules {

void StampForStore(const Identity* before, Micros now, Identity* identity) {
  if (before != nullptr) {
    // A record restored with a zero created_at has no first time to keep;
    // fall back to the insert rule rather than carry the zero forever.
    if (before->created_at != 0) {
      identity->created_at = before->created_at;
    } else if (identity->created_at == 0) {
      identity->created_at = now;
    }
    identity->updated_at = now;
    return;
  }
  // No record is updated before it was created: a given updated_at earlier
  // than now is also the creation time that was not given.
  if (identity->created_at == 0) {
    identity->created_at = identity->updated_at != 0 ? std::min(now, identity->updated_at) : now;
  }
  if (identity->updated_at == 0) identity->updated_at = now;
}

Status ApplyDecayStep(Identity* identity, Micros now, const DecayParams& params) {
  // Non-finite parameters would turn every weight into NaN, which Validate
  // rejects on the next store; refuse them before anything is scaled.
  if (!std::isfinite(params.base_tau_seconds) || !std::isfinite(params.k)) {
    return Status::InvalidArgument("identity '" + DisplayId(identity->id) +
                                   "': decay parameters are not finite (base_tau_seconds " +
                                   std::to_string(params.base_tau_seconds) + ", k " +
                                   std::to_string(params.k) + ")");
  }
  const Micros since =
      identity->decay_applied_at != 0 ? identity->decay_applied_at : identity->created_at;
  if (now < since) {
    return Status::InvalidArgument("identity '" + DisplayId(identity->id) + "': decay time " +
                                   std::to_string(now) + " is before its last decay or creation (" +
                                   std::to_string(since) + ")");
  }
  // tau comes from the entropy before scaling: a scar's entropy falls with
  // its weight, so taking it afterwards would make the step depend on itself.
  const double tau = EffectiveTau(Entropy(*identity), params);
  const double age_seconds = static_cast<double>(now - since) / 1e6;
  ScaleWeights(identity, DecayFactor(age_seconds, tau));
  identity->decay_applied_at = now;
  identity->updated_at = now;
  return Status::OK();
}

bool MatchesListQuery(const ListQuery& query, const Identity& identity) {
  if (query.identity_type && identity.identity_type != *query.identity_type) return false;
  if (query.lang_axis && identity.lang_axis != *query.lang_axis) return false;
  return true;
}

}  // namespace store_rules
}  // namespace kimera

// The store semantics every IdentityStore backend shares: the timestamp
// rules of a store, one decay step, and the bounded collectors behind List
// and FindByEntropy when they are answered by a scan. Internal to the
// storage adapter; the contract is the one stated in identity_store.h.
//
// Thread-safety: the free functions are pure; a collector is used by one
// thread at a time.
#ifndef KIMERA_STORE_RULES_H_
#define KIMERA_STORE_RULES_H_

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "kimera/identity.h"
#include "kimera/identity_store.h"
#include "kimera/status.h"

namespace kimera::store_rules {

// Sets the timestamps of `identity`, about to be stored over `before`
// (nullptr when the id is new). On replace the first created_at is kept and
// updated_at becomes `now`; on insert a zero created_at / updated_at becomes
// `now`. decay_applied_at is kept as given. Does not validate: stores call
// Validate() first, before taking their lock, so bad input costs no read.
// Call with the id's lock held and `now` read under it, so updated_at never
// goes backwards between two stores of one id.
void StampForStore(const Identity* before, Micros now, Identity* identity);

// One decay step at `now` (the arithmetic of IdentityStore::ApplyDecay):
// scales weight and term intensities by DecayFactor(now - since, tau_eff of
// the entropy before the step), since = decay_applied_at or else created_at,
// then sets decay_applied_at = updated_at = now. InvalidArgument naming the id
// when `now` is before `since` or the parameters are not finite; `*identity`
// is then unchanged.
Status ApplyDecayStep(Identity* identity, Micros now, const DecayParams& params);

// True when `identity` passes the type and lang_axis filters of `query`.
bool MatchesListQuery(const ListQuery& query, const Identity& identity);

// Keeps the `limit` best identities offered, best first: the highest key, ties
// by id ascending. Memory is O(limit) whatever the number offered; an
// identity is copied only when it is kept.
template <typename Key>
class TopK {
 public:
  explicit TopK(std::size_t limit) : limit_(limit) { kept_.reserve(std::min(limit, kReserveCap)); }

  // True when an identity with this key and id would be kept now.
  bool Accepts(const Key& key, std::string_view id) const {
    if (limit_ == 0) return false;
    if (kept_.size() < limit_) return true;
    return Before(key, id, kept_.front().key, kept_.front().identity.id);
  }

  template <typename I>
  void Offer(const Key& key, I&& identity) {
    if (!Accepts(key, identity.id)) return;
    if (kept_.size() == limit_) {
      std::pop_heap(kept_.begin(), kept_.end(), WorseLast);
      kept_.pop_back();
    }
    kept_.push_back(Entry{key, std::forward<I>(identity)});
    std::push_heap(kept_.begin(), kept_.end(), WorseLast);
  }

  // The kept identities, best first. Leaves the collector empty.
  std::vector<Identity> Take() {
    std::sort_heap(kept_.begin(), kept_.end(), WorseLast);
    std::vector<Identity> out;
    out.reserve(kept_.size());
    for (Entry& e : kept_) out.push_back(std::move(e.identity));
    kept_.clear();
    return out;
  }

 private:
  struct Entry {
    Key key;
    Identity identity;
  };
  // A caller's limit may be huge ("everything"); reserve no more than this.
  static constexpr std::size_t kReserveCap = 1024;

  static bool Before(const Key& a, std::string_view a_id, const Key& b, std::string_view b_id) {
    if (a != b) return a > b;
    return a_id < b_id;
  }
  // Heap order with the worst kept entry at the front, so it is the one
  // replaced; sort_heap with it leaves the best first.
  static bool WorseLast(const Entry& a, const Entry& b) {
    return Before(a.key, a.identity.id, b.key, b.identity.id);
  }

  std::size_t limit_;
  std::vector<Entry> kept_;  // A heap under WorseLast.
};

// Collects the answer of List: identities matching the query, newest
// updated_at first, ties by id.
class ListCollector {
 public:
  explicit ListCollector(const ListQuery& query) : query_(query), top_(query.limit) {}

  template <typename I>
  void Offer(I&& identity) {
    if (MatchesListQuery(query_, identity))
      top_.Offer(identity.updated_at, std::forward<I>(identity));
  }
  std::vector<Identity> Take() { return top_.Take(); }

 private:
  const ListQuery& query_;
  TopK<Micros> top_;
};

// Collects the answer of FindByEntropy: identities with min <= H <= max,
// highest entropy first, ties by id.
class EntropyCollector {
 public:
  EntropyCollector(double min_entropy, double max_entropy, std::size_t limit)
      : min_(min_entropy), max_(max_entropy), top_(limit) {}

  template <typename I>
  void Offer(I&& identity) {
    const double h = Entropy(identity);
    if (h >= min_ && h <= max_) top_.Offer(h, std::forward<I>(identity));
  }
  std::vector<Identity> Take() { return top_.Take(); }

 private:
  double min_;
  double max_;
  TopK<double> top_;
};

}  // namespace kimera::store_rules

#endif  // KIMERA_STORE_RULES_H_

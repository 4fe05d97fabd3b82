// StripedLocks: a fixed set of mutexes, one picked by a hash of the id, so
// that the writes, checks and repairs of one id are serialized without a
// mutex per id. Different ids may share a stripe: never lock a second id
// while holding one, except through Group, which locks the stripes of many
// ids in one fixed order.
//
// The mutexes are recursive: a thread holding a Group may lock the stripe of
// one of its ids again (a layer below locking the id it is writing), even
// when two ids of the group share that stripe. Every StripedLocks hashes the
// same way, so two groups holding disjoint stripes of one instance hold
// disjoint stripes of any other.
//
// Thread-safety: For() and Group may be used from any thread.
#ifndef KIMERA_STRIPED_LOCKS_H_
#define KIMERA_STRIPED_LOCKS_H_

#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kimera {

class StripedLocks {
 public:
  // Few, because a thread may hold every stripe of one instance at each of
  // the layers a group passes through (dual-write, store, legacy tables),
  // and ThreadSanitizer's deadlock detector follows at most 64 held mutexes
  // per thread: 3 layers x 16 leaves room for the locks inside them. A
  // single-id lock is held for one record's write (tens of microseconds), so
  // 16 stripes keep two writers of different ids apart 15 times in 16.
  static constexpr std::size_t kStripes = 16;
  using Mutex = std::recursive_mutex;

  // The mutex of `id`'s stripe.
  Mutex& For(std::string_view id);

  // Holds the stripes of many ids, each once, locked in stripe order so that
  // groups and single-id locks cannot deadlock; released by the destructor.
  class Group {
   public:
    Group(StripedLocks& locks, const std::vector<std::string_view>& ids);
    ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

   private:
    std::vector<Mutex*> held_;
  };

 private:
  std::array<Mutex, kStripes> stripes_;
};

}  // namespace kimera

#endif  // KIMERA_STRIPED_LOCKS_H_

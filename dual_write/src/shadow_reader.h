// ShadowReader: compares a sample of the primary's read answers with the
// secondary, on a thread of its own, so that an error or a stall of the
// secondary never reaches (or slows) the caller. When its bounded queue is
// full the read is dropped and counted as such.
//
// The primary's answer and the secondary's read are taken at different
// times, so a write landing between them makes the sides look different. A
// mismatch is therefore counted only when it holds again with both sides
// read under the id's lock (where no write of the id can come between).
//
// Thread-safety: Submit may be called from many threads.
#ifndef KIMERA_DUAL_WRITE_SHADOW_READER_H_
#define KIMERA_DUAL_WRITE_SHADOW_READER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "dual_write_metrics.h"
#include "kimera/dual_write_store.h"
#include "kimera/secondary_store.h"

namespace kimera {

class DualWriteStore::ShadowReader {
 public:
  static constexpr std::size_t kMaxQueued = 1024;

  // `owner` is borrowed and must outlive the reader.
  explicit ShadowReader(DualWriteStore* owner)
      : owner_(owner),
        secondary_(owner->secondary_.get()),
        metrics_(owner->metrics_.get()),
        thread_([this] { Run(); }) {}

  ~ShadowReader() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Queues a comparison of the primary's answer for `id` (nullopt: absent).
  void Submit(std::string id, std::optional<Identity> primary) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= kMaxQueued) {
        metrics_->Shadow(ShadowResult::kDropped);
        return;
      }
      queue_.emplace_back(std::move(id), std::move(primary));
    }
    cv_.notify_one();
  }

  // Waits until every queued read was compared (tests).
  void Drain() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto [id, primary] = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      metrics_->Shadow(Compare(id, primary));
      lock.lock();
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  ShadowResult Compare(const std::string& id, const std::optional<Identity>& primary) {
    Identity secondary;
    Status s = secondary_->Get(id, &secondary);
    if (!s.ok() && !s.IsNotFound()) return ShadowResult::kError;
    std::optional<Identity> projected;
    if (primary) projected = secondary_->Project(*primary);
    IdCheck check =
        CompareSides(id, projected ? &*projected : nullptr, s.ok() ? &secondary : nullptr);
    if (check.result == CheckResult::kConsistent) return ShadowResult::kMatch;
    std::lock_guard lock(owner_->locks_.For(id));
    if (!owner_->CompareLocked(id, &check).ok()) return ShadowResult::kError;
    return check.result == CheckResult::kConsistent ? ShadowResult::kMatch
                                                    : ShadowResult::kMismatch;
  }

  DualWriteStore* owner_;
  SecondaryStore* secondary_;
  DualWriteMetrics* metrics_;
  std::mutex mu_;  // Guards queue_, busy_, stopping_.
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<std::string, std::optional<Identity>>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_SHADOW_READER_H_

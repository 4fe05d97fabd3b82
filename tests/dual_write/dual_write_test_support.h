// Test doubles and helpers of the dual-write suites: a real secondary wrapped
// to fail every Nth write, to fail scripted writes (before or after applying
// them) or to stall, temporary folders, sample identities and a comparison
// of identities that prints both.
#ifndef KIMERA_TESTS_DUAL_WRITE_TEST_SUPPORT_H_
#define KIMERA_TESTS_DUAL_WRITE_TEST_SUPPORT_H_

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "kimera/dual_write_store.h"
#include "kimera/identity_json.h"
#include "kimera/secondary_store.h"

namespace kimera_test {

// A fresh folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("kimera-dw-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// What a scripted write does.
enum class WriteFault {
  kFail,           // Fails (IOError) and changes nothing.
  kApplyThenFail,  // Reaches the real secondary, then reports an IOError.
};

// Shared switches of a FaultySecondary; the test keeps the pointer.
struct Faults {
  std::atomic<int> fail_every_nth_write{0};  // 0: never.
  std::atomic<bool> fail_reads{false};
  std::atomic<bool> fail_syncs{false};  // Sync() fails (IOError) and syncs nothing.
  std::atomic<int> writes{0};

  // The next writes take these faults, in order, before fail_every_nth_write.
  void Script(std::initializer_list<WriteFault> faults) {
    std::lock_guard lock(script_mu);
    script.insert(script.end(), faults);
  }
  std::optional<WriteFault> NextScripted() {
    std::lock_guard lock(script_mu);
    if (script.empty()) return std::nullopt;
    const WriteFault f = script.front();
    script.pop_front();
    return f;
  }

  // While stalled, reads and writes wait (a secondary that does not answer)
  // until Stall(false).
  void Stall(bool stalled) {
    {
      std::lock_guard lock(stall_mu);
      this->stalled = stalled;
    }
    stall_cv.notify_all();
  }
  void WaitWhileStalled() {
    std::unique_lock lock(stall_mu);
    stall_cv.wait(lock, [&] { return !stalled; });
  }

  std::mutex script_mu;  // Guards script.
  std::deque<WriteFault> script;
  std::mutex stall_mu;  // Guards stalled.
  std::condition_variable stall_cv;
  bool stalled = false;
};

// A real secondary that fails every Nth write (IOError), fails reads, or stalls.
class FaultySecondary : public kimera::SecondaryStore {
 public:
  FaultySecondary(std::unique_ptr<kimera::SecondaryStore> real, std::shared_ptr<Faults> faults)
      : real_(std::move(real)), faults_(std::move(faults)) {}

  std::string Describe() const override { return "faulty " + real_->Describe(); }
  bool in_primary_batch() const override { return real_->in_primary_batch(); }
  kimera::Status AddToBatch(std::string_view id, const kimera::Identity* before,
                            const kimera::Identity* after, rocksdb::WriteBatch* batch,
                            BatchedWrite* write) override {
    return Write([&] { return real_->AddToBatch(id, before, after, batch, write); });
  }
  void Committed(const BatchedWrite& write) override { real_->Committed(write); }
  kimera::Identity Project(const kimera::Identity& identity) const override {
    return real_->Project(identity);
  }
  kimera::Status Put(const kimera::Identity& identity) override {
    return Write([&] { return real_->Put(identity); });
  }
  // One write, as the real secondary's own PutMany is.
  kimera::Status PutMany(const std::vector<const kimera::Identity*>& identities) override {
    return Write([&] { return real_->PutMany(identities); });
  }
  kimera::Status Delete(std::string_view id) override {
    return Write([&] { return real_->Delete(id); });
  }
  kimera::Status Get(std::string_view id, kimera::Identity* out) override {
    Stall();
    if (faults_->fail_reads) return kimera::Status::Unavailable("injected read failure");
    return real_->Get(id, out);
  }
  kimera::Status ScanChunk(std::string_view start_after, std::size_t limit,
                           std::vector<kimera::Identity>* out) override {
    return real_->ScanChunk(start_after, limit, out);
  }
  kimera::Status Counts(kimera::SecondaryCounts* out) override { return real_->Counts(out); }
  kimera::Status CheckCounts(bool correct, kimera::SecondaryCountCheck* out) override {
    return real_->CheckCounts(correct, out);
  }
  kimera::Status Sync() override {
    if (faults_->fail_syncs) return kimera::Status::IOError("injected sync failure");
    return real_->Sync();
  }
  bool marks() const override { return real_->marks(); }
  kimera::Status MarkedIds(std::vector<std::string>* out) override { return real_->MarkedIds(out); }
  kimera::Status ClearMarks(const std::vector<std::string>& ids) override {
    return real_->ClearMarks(ids);
  }

 private:
  void Stall() const { faults_->WaitWhileStalled(); }
  template <typename RealWrite>
  kimera::Status Write(RealWrite&& write) {
    Stall();
    const int count = ++faults_->writes;
    const std::optional<WriteFault> scripted = faults_->NextScripted();
    if (scripted == WriteFault::kApplyThenFail) {
      kimera::Status s = write();
      if (!s.ok()) return s;
      return kimera::Status::IOError("injected failure after the write was applied");
    }
    const int n = faults_->fail_every_nth_write.load();
    if (scripted == WriteFault::kFail || (!scripted && n > 0 && count % n == 0)) {
      return kimera::Status::IOError("injected write failure");
    }
    return write();
  }

  std::unique_ptr<kimera::SecondaryStore> real_;
  std::shared_ptr<Faults> faults_;
};

// `prefix` followed by `n` ("g" and 7 give "g7"). Appending to a named
// string sidesteps GCC 12's false -Wrestrict on "literal" + std::to_string.
inline std::string Id(std::string_view prefix, long long n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

inline kimera::Identity Geoid(const std::string& id, const std::string& raw = "text",
                              double weight = 1.0) {
  kimera::Identity g;
  g.id = id;
  g.identity_type = kimera::IdentityType::kGeoid;
  g.raw = raw;
  g.echo = "echo of " + raw;
  g.lang_axis = "en";
  g.tags = {"a", "b", "c"};
  g.weight = weight;
  g.meta = {{"terms", {{{"term", "x"}, {"intensity", 2.0}}, {{"term", "y"}, {"intensity", 1.0}}}}};
  return g;
}

inline kimera::Identity Scar(const std::string& id, double weight = 0.5) {
  kimera::Identity s;
  s.id = id;
  s.identity_type = kimera::IdentityType::kScar;
  s.weight = weight;
  s.related_ids = {"g1", "g2", "g3"};
  s.meta = {{"kind", "link"}};
  return s;
}

// Every field of `identity`, decay_applied_at included, for failure messages.
inline std::string Show(const kimera::Identity& identity) {
  return kimera::IdentityToJsonLine(identity) +
         " decay_applied_at=" + std::to_string(identity.decay_applied_at);
}

// Checks that `got` equals `want` field for field, printing both when not.
inline void CheckSameIdentity(const kimera::Identity& got, const kimera::Identity& want) {
  BOOST_TEST((got == want), "got  " << Show(got) << "\nwant " << Show(want));
}

}  // namespace kimera_test

#endif  // KIMERA_TESTS_DUAL_WRITE_TEST_SUPPORT_H_

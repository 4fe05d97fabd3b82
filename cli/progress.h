// ProgressBar: a one-line progress display on stderr with count, rate and ETA.
//
// Draws only when stderr is a terminal, and at most about ten times a second;
// otherwise every call is a cheap no-op, so output piped to a file stays clean.
//
// Thread-safety: not thread-safe; use from one thread.
#ifndef KIMERA_CLI_PROGRESS_H_
#define KIMERA_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace kimera_cli {

class ProgressBar {
 public:
  // `label` names the items ("identities"). `total_bytes` is the size of the
  // input when known (0: unknown); the bar and the ETA are drawn from it.
  ProgressBar(std::string label, std::uint64_t total_bytes);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Reports `items` done and `bytes` of the input consumed so far. Redraws
  // when the last drawing is at least 100 ms old.
  void Update(std::uint64_t items, std::uint64_t bytes);

  // Clears the drawn line so a message can be written to stderr; the next
  // Update draws again.
  void Clear();

  // Draws the final state and ends the line. Called by the destructor when
  // not called before.
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;

  void Draw(bool final);

  const std::string label_;
  const std::uint64_t total_bytes_;
  const bool enabled_;
  bool finished_ = false;
  std::uint64_t items_ = 0;
  std::uint64_t bytes_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace kimera_cli

#endif  // KIMERA_CLI_PROGRESS_H_

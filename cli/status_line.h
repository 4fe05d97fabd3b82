// StatusLine: what `kimera serve` shows while it runs.
//
// On a terminal, one line redrawn in place (with \r) each time Show is
// called, about once a second. Elsewhere (a pipe, a log file, systemd), one
// plain line every `log_every` calls, so logs stay readable.
//
// Thread-safety: not thread-safe; use from one thread.
#ifndef KIMERA_CLI_STATUS_LINE_H_
#define KIMERA_CLI_STATUS_LINE_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace kimera_cli {

// One look at the running service.
struct ServeStatus {
  double ops_per_second = 0;
  std::uint64_t errors = 0;
  std::int64_t identities = 0;
  double entropy_p50 = 0;
  double entropy_p90 = 0;
  double entropy_p99 = 0;
  std::string decay_state = "decay sweep off";  // For example "decay verified".
  std::string dual_write_state = "dual-write off";
  std::string metrics_address;  // "127.0.0.1:8080", or empty when not served.
};

// The text of one status line, without line ending.
std::string FormatStatus(const ServeStatus& status);

class StatusLine {
 public:
  // Writes to `out` (borrowed). `terminal` selects in-place redrawing.
  StatusLine(std::FILE* out, bool terminal, int log_every = 10);
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  void Show(const ServeStatus& status);
  // Ends the redrawn line so other output starts on a fresh line.
  void Finish();

 private:
  std::FILE* out_;
  bool terminal_;
  int log_every_;
  int calls_ = 0;
  std::size_t drawn_width_ = 0;  // Columns of the line on screen, to blank leftovers.
};

}  // namespace kimera_cli

#endif  // KIMERA_CLI_STATUS_LINE_H_

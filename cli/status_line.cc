#include "status_line.h"

#include <ctime>

namespace kimera_cli {

std::string FormatStatus(const ServeStatus& status) {
  char head[256];
  std::snprintf(head, sizeof head,
                "%.0f ops/s | %lld identities | entropy p50 %.2f p90 %.2f p99 %.2f bits",
                status.ops_per_second, static_cast<long long>(status.identities),
                status.entropy_p50, status.entropy_p90, status.entropy_p99);
  std::string line = head;
  if (status.errors > 0) line += " | " + std::to_string(status.errors) + " errors";
  line += " | " + status.decay_state;
  line += " | " + status.dual_write_state;
  line += status.metrics_address.empty() ? " | metrics off"
                                         : " | http://" + status.metrics_address + "/metrics";
  return line;
}

StatusLine::StatusLine(std::FILE* out, bool terminal, int log_every)
    : out_(out), terminal_(terminal), log_every_(log_every > 0 ? log_every : 1) {}

StatusLine::~StatusLine() { Finish(); }

void StatusLine::Show(const ServeStatus& status) {
  const std::string line = FormatStatus(status);
  if (terminal_) {
    // Blank what a longer previous line left behind.
    const std::size_t pad = drawn_width_ > line.size() ? drawn_width_ - line.size() : 0;
    std::fprintf(out_, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
    drawn_width_ = line.size();
    std::fflush(out_);
    return;
  }
  if (calls_++ % log_every_ != 0) return;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::fprintf(out_, "%s %s\n", stamp, line.c_str());
  std::fflush(out_);
}

void StatusLine::Finish() {
  if (terminal_ && drawn_width_ > 0) {
    std::fputc('\n', out_);
    std::fflush(out_);
    drawn_width_ = 0;
  }
}

}  // namespace kimera_cli

#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace kimera_cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 24;

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  const auto total = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", total / 60, total % 60);
  }
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::uint64_t total_bytes)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(std::uint64_t items, std::uint64_t bytes) {
  items_ = items;
  bytes_ = bytes;
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Clear() {
  if (!enabled_ || finished_) return;
  std::fputs("\r\x1b[K", stderr);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  Draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::Draw(bool final) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(items_) / elapsed : 0.0;
  std::string line = "\r";
  if (total_bytes_ > 0) {
    const double fraction =
        std::min(1.0, static_cast<double>(bytes_) / static_cast<double>(total_bytes_));
    const int filled = static_cast<int>(fraction * kBarWidth);
    line += '[';
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(kBarWidth - filled), '.');
    char pct[16];
    std::snprintf(pct, sizeof pct, "] %3d%% ", static_cast<int>(fraction * 100));
    line += pct;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu %s, %.0f/s", static_cast<unsigned long long>(items_),
                label_.c_str(), rate);
  line += buf;
  if (final) {
    line += ", " + FormatDuration(elapsed) + " elapsed";
  } else if (total_bytes_ > 0 && bytes_ > 0 && elapsed > 0) {
    const double byte_rate = static_cast<double>(bytes_) / elapsed;
    const double remaining = static_cast<double>(total_bytes_ - std::min(bytes_, total_bytes_));
    line += ", ETA " + FormatDuration(remaining / byte_rate);
  }
  line += "\x1b[K";  // Clears what a longer previous line left.
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace kimera_cli

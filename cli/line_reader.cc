#include "line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kimera_cli {
namespace {

constexpr std::size_t kBufferBytes = 1u << 20;

}  // namespace

LineReader::LineReader(std::FILE* file, std::size_t max_line_bytes)
    : file_(file), max_line_bytes_(max_line_bytes), buffer_(kBufferBytes) {}

bool LineReader::Refill() {
  if (eof_ || error_) {
    errno = error_number_;  // What the caller of a failed Next reads.
    return false;
  }
  begin_ = 0;
  end_ = 0;
  // read(2) until the buffer is full or the input ends, as fread would, but
  // without stdio's lock on the stream: exit() takes that lock to close the
  // streams, and an import that stops on a store error leaves this thread
  // blocked on an idle pipe.
  const int fd = ::fileno(file_);
  while (end_ < buffer_.size()) {
    const ssize_t n = ::read(fd, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
    } else if (n == 0) {
      eof_ = true;
      break;
    } else if (errno != EINTR) {
      error_ = true;
      error_number_ = errno;
      break;
    }
  }
  if (end_ > 0) return true;
  errno = error_number_;
  return false;
}

bool LineReader::LineReady() const {
  if (eof_ || error_) return true;
  return std::memchr(buffer_.data() + begin_, '\n', end_ - begin_) != nullptr;
}

LineReader::Result LineReader::Next(std::string* line) {
  line->clear();
  bool any = false;       // Whether the line has at least one byte or its '\n'.
  bool too_long = false;  // Once set, the rest of the line is dropped unread.
  for (;;) {
    if (begin_ == end_ && !Refill()) {
      if (error_) return Result::kError;
      if (!any) return Result::kEnd;
      break;  // The last line has no '\n'.
    }
    any = true;
    const char* start = buffer_.data() + begin_;
    const std::size_t available = end_ - begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    const std::size_t take = newline ? static_cast<std::size_t>(newline - start) : available;
    if (!too_long) {
      if (line->size() + take > max_line_bytes_) {
        too_long = true;
        line->clear();
        line->shrink_to_fit();
      } else {
        line->append(start, take);
      }
    }
    const std::size_t consumed = newline ? take + 1 : take;
    begin_ += consumed;
    bytes_read_ += consumed;
    if (newline) break;
  }
  ++line_number_;
  if (too_long) return Result::kTooLong;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return Result::kLine;
}

}  // namespace kimera_cli

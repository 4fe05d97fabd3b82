// LineReader: reads a stream line by line in bounded memory.
//
// A line longer than the limit is skipped without being held in memory, and
// reported as such, so one huge or binary line cannot exhaust memory.
//
// Thread-safety: not thread-safe; use from one thread.
#ifndef KIMERA_CLI_LINE_READER_H_
#define KIMERA_CLI_LINE_READER_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace kimera_cli {

class LineReader {
 public:
  enum class Result {
    kLine,     // `*line` holds the next line, without its "\n" or "\r\n".
    kTooLong,  // The next line exceeded the limit and was skipped.
    kEnd,      // No more input.
    kError,    // Reading failed; errno tells why.
  };

  // Reads from `file` (borrowed; not closed) through its descriptor, so
  // nothing may have been read through `file` itself. Lines over `max_line_bytes`
  // give kTooLong.
  LineReader(std::FILE* file, std::size_t max_line_bytes);

  Result Next(std::string* line);

  // True when Next() can return without reading the file: a whole line is
  // in the buffer, or the input has ended. A caller holding work back (a
  // batch) finishes it first when false, since the read may block.
  bool LineReady() const;

  // 1-based number of the line last returned.
  std::uint64_t line_number() const { return line_number_; }
  // Bytes consumed from the input so far.
  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool Refill();

  std::FILE* file_;
  const std::size_t max_line_bytes_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  int error_number_ = 0;  // errno of the failed read.
  std::uint64_t line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
};

}  // namespace kimera_cli

#endif  // KIMERA_CLI_LINE_READER_H_

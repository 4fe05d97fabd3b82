// Status: the outcome of one call. Errors are values, not exceptions.
//
// A Status is either OK (which costs nothing) or carries a code and a
// message naming what went wrong (the field, the id, the line). "Not found"
// is a code of its own so callers can tell absence from failure.
//
// Thread-safety: a Status is a value; distinct objects may be used from
// different threads freely.
#ifndef KIMERA_STATUS_H_
#define KIMERA_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace kimera {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,
    kInvalidArgument,  // Bad input: names the field and the id.
    kCorruption,       // Stored data that cannot be decoded: names the id.
    kIOError,          // The disk or the engine failed.
    kNoSpace,          // The disk is full; nothing was written.
    kBusy,             // The database is locked by another process.
    kUnavailable,      // A backend is down or timed out.
    kAborted,          // The operation was undone (for example strict dual-write).
  };

  Status() noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status NoSpace(std::string_view msg) { return Status(Code::kNoSpace, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }
  static Status Aborted(std::string_view msg) { return Status(Code::kAborted, msg); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsAborted() const { return code_ == Code::kAborted; }

  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // A short, fixed, lower-case name of the code ("ok", "not_found",
  // "invalid_argument", ...). Safe to use as a metric label value.
  const char* CodeName() const;

  // "invalid_argument: weight of id 'x' is negative (-1)"; "ok" when OK.
  std::string ToString() const;

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace kimera

#endif  // KIMERA_STATUS_H_

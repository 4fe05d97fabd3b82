#include "kimera/status.h"

namespace kimera {

const char* Status::CodeName() const {
  switch (code_) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not_found";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kCorruption:
      return "corruption";
    case Code::kIOError:
      return "io_error";
    case Code::kNoSpace:
      return "no_space";
    case Code::kBusy:
      return "busy";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kAborted:
      return "aborted";
  }
  // A code outside the enum can only come from a cast of bad memory; the name
  // stays bounded so it remains a safe metric label.
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string result = CodeName();
  if (!message_.empty()) {
    result.reserve(result.size() + 2 + message_.size());
    result += ": ";
    result += message_;
  }
  return result;
}

}  // namespace kimera

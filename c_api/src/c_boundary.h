// The C boundary's shared parts: the handle behind kimera_store, and the
// helpers every exported function uses to check its arguments, turn a
// kimera::Status (or an exception) into a kimera_status and an error string,
// and hand out malloc'ed strings.
//
// Thread-safety: the helpers are pure; kimera_store is as thread-safe as the
// stack it holds (its decay verifier is guarded by verifier_mu).
#ifndef KIMERA_C_API_C_BOUNDARY_H_
#define KIMERA_C_API_C_BOUNDARY_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "kimera/config_loader.h"
#include "kimera/decay_verifier.h"
#include "kimera/kimera_c.h"
#include "kimera/status.h"
#include "kimera/store_factory.h"

// The opaque handle of the header, defined at global scope as it declares it.
struct kimera_store {
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  // The decay ledger's owner for kimera_decay_all, opened on first use.
  // Declared after `stack`, so it goes first: it borrows the store.
  std::mutex verifier_mu;
  std::unique_ptr<kimera::DecayVerifier> verifier;  // Guarded by verifier_mu.
};

namespace kimera::c_api {

// A copy of `text` in malloc'ed memory, for the caller's kimera_free().
// Throws std::bad_alloc when memory runs out.
char* CopyString(std::string_view text);

kimera_status ToCStatus(Status::Code code);

// InvalidArgument "`function`: `parameter` is NULL" when `pointer` is null.
Status Require(const void* pointer, const char* function, const char* parameter);

// The store's clock when `now_micros` is 0.
Micros NowOr(std::int64_t now_micros);

// Parses JSON text; InvalidArgument "`what`: malformed JSON: ..." on failure.
Status ParseJson(std::string_view text, const char* what, nlohmann::json* out);

// JSON text of `value`, UTF-8, invalid bytes replaced (never throws on them).
std::string DumpJson(const nlohmann::json& value);

// Runs `body` (returning a Status) at the boundary: *error is NULL on entry
// and gets the message on failure; any exception becomes KIMERA_INTERNAL
// naming `function` and its what().
template <typename Body>
kimera_status Boundary(const char* function, char** error, Body&& body) noexcept {
  if (error != nullptr) *error = nullptr;
  std::string message;
  kimera_status code = KIMERA_INTERNAL;
  try {
    const Status s = body();
    if (s.ok()) return KIMERA_OK;
    code = ToCStatus(s.code());
    message = s.message();
  } catch (const std::exception& e) {
    code = KIMERA_INTERNAL;
    try {
      message = std::string(function) + ": internal error: " + e.what();
    } catch (...) {
    }
  } catch (...) {
    code = KIMERA_INTERNAL;
    try {
      message = std::string(function) + ": internal error: unknown exception";
    } catch (...) {
    }
  }
  if (error != nullptr) {
    try {
      *error = CopyString(message);
    } catch (...) {
      *error = nullptr;  // Out of memory: the code alone must do.
    }
  }
  return code;
}

// Sets `*out` (when `out` is not null) to a null value, as every output is
// on failure.
template <typename T>
void Clear(T* out) {
  if (out != nullptr) *out = T{};
}

}  // namespace kimera::c_api

#endif  // KIMERA_C_API_C_BOUNDARY_H_

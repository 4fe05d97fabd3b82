// MessagePack of an identity's meta and of its extra keys, built and read in
// one place (the record codec and the legacy rows both store them this way).
//
// Reading is guarded: nlohmann's reader recurses once per nesting level and
// reports container counts as the bytes claim them, so hostile bytes could
// exhaust the stack or, through a reservation, memory. The reader here builds
// through nlohmann's SAX interface and stops at the first container deeper
// than kMaxMetaDepth or claiming more elements than bytes are left.
//
// Internal to the storage components: not part of the installed API.
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_MSGPACK_GUARD_H_
#define KIMERA_MSGPACK_GUARD_H_

#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kimera/identity.h"
#include "kimera/status.h"

namespace kimera::msgpack {
namespace internal {

// Builds meta from nlohmann's SAX events, refusing what the guard bounds.
// Json::from_msgpack copies the whole document once more before returning it
// (a conditional expression in its body), which doubled decode time; building
// through SAX avoids that copy.
class GuardedBuilder {
 public:
  using Json = nlohmann::json;

  // `size` is the length of the input: no container may claim more
  // elements than bytes are left of it. `max_depth` bounds the nesting, the
  // root map counting as 1; `what` names the map in errors ("meta").
  GuardedBuilder(std::size_t size, int max_depth, const char* what)
      : size_(size), max_depth_(max_depth), what_(what) {}

  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Put(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t& /*text*/) { return Put(Json(v)); }
  bool string(Json::string_t& v) { return Put(Json(std::move(v))); }
  bool binary(Json::binary_t& v) {
    auto& bytes = static_cast<Json::binary_t::container_type&>(v);
    return Put(v.has_subtype() ? Json::binary(std::move(bytes), v.subtype())
                               : Json::binary(std::move(bytes)));
  }
  // A map's count is of pairs: two elements each.
  bool start_object(std::size_t count) {
    if (!Admit(count, 2)) return false;
    open_.push_back(Place(Json(Json::value_t::object)));
    return true;
  }
  bool key(Json::string_t& k) {
    ++consumed_;
    slot_ = &(*open_.back())[std::move(k)];
    return true;
  }
  bool end_object() { return Close(); }
  // Admit has bounded `count` by the bytes left, so reserving cannot be made
  // to allocate more than the input's size suggests.
  bool start_array(std::size_t count) {
    if (!Admit(count, 1)) return false;
    Json* array = Place(Json(Json::value_t::array));
    array->get_ref<Json::array_t&>().reserve(count);
    open_.push_back(array);
    return true;
  }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const Json::exception& e) {
    // nlohmann's ids: 110 the input ended early (or, once the root is
    // complete, went on past it), 112 a byte that is no MessagePack tag.
    if (e.id == 110) {
      error_ = std::string(what_) + (done_ ? " has trailing bytes" : " is truncated");
    } else if (e.id == 112) {
      error_ = std::string(what_) + " has an invalid MessagePack tag";
    } else {
      error_ = std::string(what_) + ": " + e.what();
    }
    return false;
  }

  Json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  // A container of `count` entries of `elements` each (at least a byte
  // apiece) opened, at most max_depth_ deep.
  bool Admit(std::size_t count, std::size_t elements) {
    ++consumed_;
    if (open_.size() == static_cast<std::size_t>(max_depth_)) {
      error_ = std::string(what_) + " is nested too deep";
      return false;
    }
    // Every event so far took at least one byte of the input.
    if (count > (size_ - consumed_) / elements) {
      error_ = std::string(what_) + " is truncated";
      return false;
    }
    return true;
  }
  bool Close() {
    open_.pop_back();
    done_ = open_.empty();
    return true;
  }
  bool Put(Json&& value) {
    ++consumed_;
    Place(std::move(value));
    return true;
  }
  Json* Place(Json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& top = *open_.back();
    if (top.is_array()) {
      auto& array = top.get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  const std::size_t size_;
  const int max_depth_;
  const char* what_;          // Only read to build an error.
  std::size_t consumed_ = 0;  // A lower bound on the bytes read so far.
  bool done_ = false;         // The root map is complete.
  Json root_;
  std::vector<Json*> open_;
  Json* slot_ = nullptr;
  std::string error_;
};

inline bool IsMapTag(unsigned char tag) {
  return (tag >= 0x80 && tag <= 0x8F) || tag == 0xDE || tag == 0xDF;
}

}  // namespace internal

// Appends the MessagePack of `meta` (or of an identity's extra keys, one map
// too) to `*out`. InvalidArgument with the encoder's reason when it cannot be
// encoded; `*out` is then unchanged.
inline Status AppendMeta(const nlohmann::json& meta, std::string* out) {
  const std::size_t start = out->size();
  try {
    nlohmann::json::to_msgpack(meta, *out);
  } catch (const std::exception& e) {
    out->resize(start);
    return Status::InvalidArgument(e.what());
  }
  return Status::OK();
}

// Reads MessagePack holding one map no deeper than `max_depth` (the map
// counting as 1), whose container counts the bytes present can hold, with
// nothing after it. `what` names the map in the reasons. On failure returns
// false with the reason ("meta is truncated", "meta is nested too deep", ...)
// in `*error`; `*out` is then unchanged.
inline bool ReadMap(std::string_view bytes, int max_depth, const char* what, nlohmann::json* out,
                    std::string* error) {
  if (bytes.empty()) {
    *error = std::string(what) + " is empty";
    return false;
  }
  if (!internal::IsMapTag(static_cast<unsigned char>(bytes.front()))) {
    *error = std::string(what) + " is not a map";
    return false;
  }
  try {
    internal::GuardedBuilder builder(bytes.size(), max_depth, what);
    if (!nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &builder,
                                   nlohmann::json::input_format_t::msgpack, /*strict=*/true)) {
      *error = builder.error();
      return false;
    }
    *out = std::move(builder.root());
    return true;
  } catch (const nlohmann::json::exception& e) {
    *error = std::string(what) + ": " + e.what();
    return false;
  }
}

// An identity's meta: one map no deeper than kMaxMetaDepth.
inline bool ReadMeta(std::string_view bytes, nlohmann::json* out, std::string* error) {
  return ReadMap(bytes, kMaxMetaDepth, "meta", out, error);
}

// An identity's extra keys: one map whose values nest as deep as meta may
// (Validate holds each to meta's depth), so the map adds one level.
inline bool ReadExtra(std::string_view bytes, nlohmann::json* out, std::string* error) {
  return ReadMap(bytes, kMaxMetaDepth + 1, "extra keys", out, error);
}

}  // namespace kimera::msgpack

#endif  // KIMERA_MSGPACK_GUARD_H_

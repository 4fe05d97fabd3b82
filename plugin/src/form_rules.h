// The rules of an echo form: what FormStore accepts and the arithmetic of
// its decay. Internal to the plugin (FormStore and the form JSON).
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_FORM_RULES_H_
#define KIMERA_FORM_RULES_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "kimera/form_store.h"
#include "kimera/status.h"

namespace kimera::form_rules {

inline constexpr std::size_t kMaxAnchorBytes = 1024;
inline constexpr std::size_t kMaxDomainBytes = 1024;

// "form 'ANCHOR': field 'FIELD' WHAT" (no anchor part when it is empty).
std::string FieldError(std::string_view anchor, std::string_view field, std::string_view what);

// The blob's own rules: a JSON object no deeper than kMaxMetaDepth, every
// string and key valid UTF-8, every number finite. InvalidArgument naming
// the path in the blob ("blob.terms[2].intensity") and the anchor. The walk
// is bounded by the depth limit, so it is safe on hostile nesting and may be
// run before the blob is copied.
Status CheckBlob(std::string_view anchor, const nlohmann::json& blob);

// Every rule: anchor non-empty, valid UTF-8 and at most kMaxAnchorBytes;
// domain valid UTF-8 and at most kMaxDomainBytes; phase and intensity_sum
// finite; the blob's rules. InvalidArgument naming the field and the anchor.
// The encoded size is checked by the codec.
Status Validate(const EchoFormRecord& form);

// Multiplies every numeric or boolean "intensity" of the objects in the
// blob's "terms" list, and intensity_sum, by `factor`: the arithmetic of
// identities' decay (a boolean counts as 1 or 0 and becomes a number; other
// values are left alone).
void Scale(EchoFormRecord* form, double factor);

}  // namespace kimera::form_rules

#endif  // KIMERA_FORM_RULES_H_

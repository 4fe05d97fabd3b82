#include "form_rules.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace kimera::form_rules {
namespace {

std::string FormatNumber(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

Status CheckText(std::string_view anchor, std::string_view field, std::string_view text,
                 std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Status::InvalidArgument(FieldError(anchor, field,
                                              "must be at most " + std::to_string(max_bytes) +
                                                  " bytes (got " + std::to_string(text.size()) +
                                                  ")"));
  }
  if (!IsValidUtf8(text)) {
    return Status::InvalidArgument(FieldError(anchor, field, "is not valid UTF-8"));
  }
  return Status::OK();
}

Status CheckFinite(std::string_view anchor, std::string_view field, double value) {
  if (std::isfinite(value)) return Status::OK();
  return Status::InvalidArgument(
      FieldError(anchor, field, "must be finite (got " + FormatNumber(value) + ")"));
}

}  // namespace

std::string FieldError(std::string_view anchor, std::string_view field, std::string_view what) {
  std::string msg = "form";
  if (!anchor.empty()) {
    msg += " '";
    msg += DisplayId(anchor);
    msg += "'";
  }
  msg += ": field '";
  msg += field;
  msg += "' ";
  msg += what;
  return msg;
}

Status CheckBlob(std::string_view anchor, const nlohmann::json& blob) {
  if (!blob.is_object()) {
    return Status::InvalidArgument(FieldError(
        anchor, "blob", std::string("must be a JSON object (got ") + blob.type_name() + ")"));
  }
  std::string path;
  std::string reason;
  if (!CheckStorableJson(blob, &path, &reason)) {
    return Status::InvalidArgument(FieldError(anchor, "blob" + path, reason));
  }
  return Status::OK();
}

Status Validate(const EchoFormRecord& form) {
  if (form.anchor.empty()) {
    return Status::InvalidArgument(FieldError({}, "anchor", "must not be empty"));
  }
  if (Status s = CheckText(form.anchor, "anchor", form.anchor, kMaxAnchorBytes); !s.ok()) {
    return s;
  }
  if (Status s = CheckText(form.anchor, "domain", form.domain, kMaxDomainBytes); !s.ok()) {
    return s;
  }
  if (Status s = CheckFinite(form.anchor, "phase", form.phase); !s.ok()) return s;
  if (Status s = CheckFinite(form.anchor, "intensity_sum", form.intensity_sum); !s.ok()) return s;
  return CheckBlob(form.anchor, form.blob);
}

void Scale(EchoFormRecord* form, double factor) {
  form->intensity_sum *= factor;
  if (!form->blob.is_object()) return;
  const auto terms = form->blob.find("terms");
  if (terms == form->blob.end() || !terms->is_array()) return;
  for (auto& term : *terms) {
    if (!term.is_object()) continue;
    const auto it = term.find("intensity");
    if (it == term.end()) continue;
    if (const std::optional<double> x = IntensityValue(*it)) *it = *x * factor;
  }
}

}  // namespace kimera::form_rules

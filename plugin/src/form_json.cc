// FormToJson and FormFromJson (kimera/form_store.h): the reference's dict of
// a form, times as epoch seconds.
#include <cmath>

#include "form_rules.h"
#include "kimera/form_store.h"

namespace kimera {
namespace {

using Json = nlohmann::json;
using form_rules::FieldError;

constexpr double kMicrosPerSecond = 1e6;
// Seconds whose micros fit in an int64, with room to round.
constexpr double kMaxSeconds = 9.2e12;

std::string MustBe(std::string_view expected, const Json& got) {
  return std::string("must be ") + std::string(expected) + " (got " + got.type_name() + ")";
}

Status Missing(std::string_view anchor, std::string_view field) {
  return Status::InvalidArgument(FieldError(anchor, field, "is missing"));
}

Status ReadString(const Json& object, std::string_view anchor, const char* field,
                  std::string* out) {
  const auto it = object.find(field);
  if (it == object.end()) return Missing(anchor, field);
  if (!it->is_string()) {
    return Status::InvalidArgument(FieldError(anchor, field, MustBe("a string", *it)));
  }
  *out = it->get_ref<const std::string&>();
  return Status::OK();
}

// is_number() is false for booleans, which are not numbers here.
Status ReadNumber(const Json& object, std::string_view anchor, const char* field, double* out) {
  const auto it = object.find(field);
  if (it == object.end()) return Missing(anchor, field);
  if (!it->is_number()) {
    return Status::InvalidArgument(FieldError(anchor, field, MustBe("a number", *it)));
  }
  *out = it->get<double>();
  return Status::OK();
}

// Absent: 0, which Store replaces by the time of the store.
Status ReadTime(const Json& object, std::string_view anchor, const char* field, Micros* out) {
  if (!object.contains(field)) return Status::OK();
  double seconds = 0;
  if (Status s = ReadNumber(object, anchor, field, &seconds); !s.ok()) return s;
  if (!(std::fabs(seconds) <= kMaxSeconds)) {
    return Status::InvalidArgument(
        FieldError(anchor, field, "must be seconds since 1970 within +-9.2e12"));
  }
  *out = static_cast<Micros>(std::llround(seconds * kMicrosPerSecond));
  return Status::OK();
}

}  // namespace

Json FormToJson(const EchoFormRecord& form) {
  return Json{{"anchor", form.anchor},
              {"blob", form.blob},
              {"domain", form.domain},
              {"phase", form.phase},
              {"intensity_sum", form.intensity_sum},
              {"created_at", static_cast<double>(form.created_at) / kMicrosPerSecond},
              {"updated_at", static_cast<double>(form.updated_at) / kMicrosPerSecond}};
}

Status FormFromJson(const Json& object, EchoFormRecord* out) {
  if (!object.is_object()) {
    return Status::InvalidArgument("form: " + MustBe("a JSON object", object));
  }
  EchoFormRecord form;
  // The anchor first, so that every later error names it.
  if (Status s = ReadString(object, {}, "anchor", &form.anchor); !s.ok()) return s;
  const std::string_view anchor = form.anchor;
  const auto blob = object.find("blob");
  if (blob == object.end()) return Missing(anchor, "blob");
  // Checked before the copy: copying recurses once per level.
  if (Status s = form_rules::CheckBlob(anchor, *blob); !s.ok()) return s;
  form.blob = *blob;
  if (Status s = ReadString(object, anchor, "domain", &form.domain); !s.ok()) return s;
  if (Status s = ReadNumber(object, anchor, "phase", &form.phase); !s.ok()) return s;
  if (Status s = ReadNumber(object, anchor, "intensity_sum", &form.intensity_sum); !s.ok()) {
    return s;
  }
  if (Status s = ReadTime(object, anchor, "created_at", &form.created_at); !s.ok()) return s;
  if (Status s = ReadTime(object, anchor, "updated_at", &form.updated_at); !s.ok()) return s;
  if (Status s = form_rules::Validate(form); !s.ok()) return s;
  *out = std::move(form);
  return Status::OK();
}

}  // namespace kimera

#include "report_json.h"

#include <string>

#include "kimera/identity_json.h"

namespace kimera::c_api {
namespace {

// A field's value as the comparison wrote it (JSON text), parsed back so a
// host reads a number as a number.
nlohmann::json SideValue(const std::string& text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return text;
  return value;
}

}  // namespace

nlohmann::json CheckToJson(const IdCheck& check) {
  nlohmann::json fields = nlohmann::json::array();
  for (const FieldDiff& f : check.fields) {
    fields.push_back({{"field", f.field},
                      {"primary", SideValue(f.primary_value)},
                      {"secondary", SideValue(f.secondary_value)}});
  }
  return {{"id", check.id},
          {"result", CheckResultName(check.result)},
          {"fields", std::move(fields)},
          {"entropy_drift", check.entropy_drift}};
}

nlohmann::json StatsToJson(const DualWriteStats& stats) {
  nlohmann::json recent = nlohmann::json::array();
  for (const AuditEntry& e : stats.recent) {
    recent.push_back({{"sequence", e.sequence},
                      {"time", FormatTimestamp(e.time)},
                      {"id", e.id},
                      {"operation", e.operation},
                      {"status", e.status},
                      {"details", e.details}});
  }
  return {{"enabled", true},
          {"total", stats.total},
          {"successes", stats.successes},
          {"failures", stats.failures},
          {"success_rate", stats.success_rate},
          {"primary_count", stats.primary_count},
          {"secondary_geoids", stats.secondary_geoids},
          {"secondary_scars", stats.secondary_scars},
          {"secondary_count", stats.secondary_count},
          {"repair_backlog", stats.repair_backlog},
          {"secondary", stats.secondary},
          {"recent", std::move(recent)}};
}

nlohmann::json SweepToJson(const SweepReport& report, std::uint64_t queue_repaired) {
  nlohmann::json listed = nlohmann::json::array();
  for (const IdCheck& check : report.listed) listed.push_back(CheckToJson(check));
  return {{"visited", report.visited},
          {"differences", report.differences},
          {"repaired", report.repaired + queue_repaired},
          {"clean", report.clean()},
          {"listed", std::move(listed)},
          {"seconds", report.seconds}};
}

nlohmann::json IndexCheckToJson(const IndexCheckReport& report) {
  return {{"records", report.records},
          {"index_entries", report.index_entries},
          {"problem_count", report.problem_count},
          {"repaired", report.repaired},
          {"problems", report.problems},
          {"ok", report.ok()}};
}

}  // namespace kimera::c_api

// The C ABI's administration: dual-write, the index check and metrics.
#include <string>

#include "c_boundary.h"
#include "report_json.h"

using kimera::Status;
using kimera::c_api::Boundary;
using kimera::c_api::Clear;
using kimera::c_api::CopyString;
using kimera::c_api::DumpJson;
using kimera::c_api::Require;

extern "C" {

kimera_status kimera_dual_write_check(kimera_store* store, const char* id, char** out_json,
                                      char** error) {
  Clear(out_json);
  return Boundary("kimera_dual_write_check", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_dual_write_check", "store"); !s.ok()) return s;
    if (Status s = Require(id, "kimera_dual_write_check", "id"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_dual_write_check", "out_json"); !s.ok()) return s;
    kimera::IdCheck check;
    if (Status s = store->stack.dual_write->CheckId(id, &check); !s.ok()) return s;
    *out_json = CopyString(DumpJson(kimera::c_api::CheckToJson(check)));
    return Status::OK();
  });
}

kimera_status kimera_dual_write_stats(kimera_store* store, size_t recent, char** out_json,
                                      char** error) {
  Clear(out_json);
  return Boundary("kimera_dual_write_stats", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_dual_write_stats", "store"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_dual_write_stats", "out_json"); !s.ok()) return s;
    kimera::DualWriteStats stats;
    if (Status s = store->stack.dual_write->Stats(recent, &stats); !s.ok()) return s;
    *out_json = CopyString(DumpJson(kimera::c_api::StatsToJson(stats)));
    return Status::OK();
  });
}

kimera_status kimera_dual_write_verify(kimera_store* store, int repair, char** out_json,
                                       char** error) {
  Clear(out_json);
  return Boundary("kimera_dual_write_verify", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_dual_write_verify", "store"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_dual_write_verify", "out_json"); !s.ok()) return s;
    kimera::DualWriteAdmin& admin = *store->stack.dual_write;
    kimera::SweepReport report;
    std::uint64_t from_queue = 0;
    // A repair also retries the repair queue, as `kimera dual-write repair`
    // does: a sweep alone would leave the queued ids to the background.
    Status s = repair != 0 ? admin.Repair({}, &report, &from_queue) : admin.Verify({}, &report);
    if (!s.ok()) return s;
    *out_json = CopyString(DumpJson(kimera::c_api::SweepToJson(report, from_queue)));
    return Status::OK();
  });
}

kimera_status kimera_dual_write_cleanup(kimera_store* store, char** error) {
  return Boundary("kimera_dual_write_cleanup", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_dual_write_cleanup", "store"); !s.ok()) return s;
    return store->stack.dual_write->Cleanup(store->config.dual_write);
  });
}

kimera_status kimera_index_check(kimera_store* store, int repair, char** out_json, char** error) {
  Clear(out_json);
  return Boundary("kimera_index_check", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_index_check", "store"); !s.ok()) return s;
    if (Status s = Require(out_json, "kimera_index_check", "out_json"); !s.ok()) return s;
    kimera::IndexCheckReport report;
    if (Status s = store->stack.store->Check(repair != 0, &report); !s.ok()) return s;
    *out_json = CopyString(DumpJson(kimera::c_api::IndexCheckToJson(report)));
    return Status::OK();
  });
}

kimera_status kimera_metrics_text(kimera_store* store, char** out_text, char** error) {
  Clear(out_text);
  return Boundary("kimera_metrics_text", error, [&]() -> Status {
    if (Status s = Require(store, "kimera_metrics_text", "store"); !s.ok()) return s;
    if (Status s = Require(out_text, "kimera_metrics_text", "out_text"); !s.ok()) return s;
    *out_text = CopyString(store->stack.store->MetricsText());
    return Status::OK();
  });
}

}  // extern "C"

"""DualWriteStorage: LatticeStorage plus the reference's dual-write administration.

Thread-safety: as LatticeStorage.
"""

import json
import warnings

from ._identity import strip_computed
from ._lattice import LatticeStorage, env_dual_write

class DualWriteStorage(LatticeStorage):
    """LatticeStorage whose writes also go to the legacy tables when KIMERA_ID_DUAL_WRITE=1.

    Dual-write is a property of the open store: it is fixed when db_path is
    first opened in the process (from KIMERA_ID_DUAL_WRITE then), and every
    storage object of that path sees the same state.
    """

    def __init__(self, db_path="kimera_lattice.db"):
        wanted = env_dual_write()
        super().__init__(db_path)
        self.dual_write_enabled = self._shared.dual_write
        if wanted != self.dual_write_enabled:
            warnings.warn("%s is already open in this process with dual-write %s; "
                          "KIMERA_ID_DUAL_WRITE takes effect when it is next opened"
                          % (self.db_path, "on" if self.dual_write_enabled else "off"),
                          RuntimeWarning, stacklevel=2)

    def verify_dual_write_consistency(self, identity_id):
        """Both sides of identity_id compared, or {"error": ...} as the reference says it."""
        if not self.dual_write_enabled:
            return {"error": "Dual-write not enabled"}
        try:
            store = self._native()
            new = store.get(identity_id)
            if new is None:
                return {"error": "Identity not found in new storage"}
            check = store.dual_write_check(identity_id)
        except Exception as e:
            return {"error": str(e)}
        if check["result"] == "missing_primary":
            return {"error": "Identity not found in new storage"}
        if check["result"] == "missing_secondary":
            return {"error": "Identity not found in legacy storage"}
        new_data = strip_computed(new)
        columns = (("weight", "related_ids", "meta", "created_at", "updated_at")
                   if new_data.get("identity_type") == "scar" else
                   ("raw", "echo", "lang_axis", "tags", "weight", "meta", "created_at",
                    "updated_at"))
        legacy_data = {"id": identity_id}
        legacy_data.update({c: new_data.get(c) for c in columns})
        discrepancies = []
        for f in check["fields"]:
            legacy_data[f["field"]] = f["secondary"]
            discrepancies.append("%s mismatch: new=%s legacy=%s" % (
                f["field"], json.dumps(f["primary"], ensure_ascii=False),
                json.dumps(f["secondary"], ensure_ascii=False)))
        return {
            "identity_id": identity_id,
            "identity_type": new_data.get("identity_type"),
            "consistent": check["result"] == "consistent",
            "discrepancies": discrepancies,
            "new_data": new_data,
            "legacy_data": legacy_data,
        }

    def get_dual_write_stats(self):
        """Totals of the dual-write log and both sides, or {"error": ...}."""
        if not self.dual_write_enabled:
            return {"error": "Dual-write not enabled"}
        try:
            s = self._native().dual_write_stats(10)
        except Exception as e:
            return {"error": str(e)}
        total = s["total"]
        return {
            "dual_write_enabled": True,
            "total_operations": total,
            "successful_operations": s["successes"],
            "failed_operations": s["failures"],
            "success_rate": 100.0 * s["successes"] / total if total else 0,
            "new_identities_count": s["primary_count"],
            "legacy_geoids_count": s["secondary_geoids"],
            "legacy_scars_count": s["secondary_scars"],
            "total_legacy_count": s["secondary_count"],
            "recent_operations": [{
                "timestamp": e["time"],
                "identity_id": e["id"],
                "operation": e["operation"],
                "status": e["status"],
                "details": e["details"],
            } for e in s["recent"]],
        }

    def cleanup_legacy_tables(self):
        """Drops the legacy tables and the dual-write log; RuntimeError while dual-write is on."""
        if self.dual_write_enabled:
            raise RuntimeError("Cannot cleanup legacy tables while dual-write is enabled")
        self._native().dual_write_cleanup()

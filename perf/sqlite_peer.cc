#include "sqlite_peer.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "kimera/identity_json.h"

namespace kimera {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE identities ("
    " id TEXT PRIMARY KEY, identity_type TEXT NOT NULL, raw TEXT, echo TEXT, lang_axis TEXT,"
    " tags TEXT, weight REAL, related_ids TEXT, meta TEXT, created_at TEXT, updated_at TEXT,"
    " entropy REAL);"
    "CREATE INDEX idx_identities_entropy ON identities(entropy);";

constexpr const char* kFind =
    "SELECT id, identity_type, raw, echo, lang_axis, tags, weight, related_ids, meta,"
    " created_at, updated_at FROM identities WHERE entropy BETWEEN ? AND ?"
    " ORDER BY entropy DESC, id LIMIT ?";

std::string_view Text(sqlite3_stmt* stmt, int column) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
           : std::string_view();
}

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

}  // namespace

Status SqlitePeer::Open(const std::string& path, std::unique_ptr<SqlitePeer>* out) {
  std::unique_ptr<SqlitePeer> peer(new SqlitePeer());
  if (sqlite3_open(path.c_str(), &peer->db_) != SQLITE_OK) {
    return Status::IOError("sqlite open " + path + ": " + sqlite3_errmsg(peer->db_));
  }
  Status s = peer->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (s.ok()) s = peer->Exec(kSchema);
  if (!s.ok()) return s;
  if (sqlite3_prepare_v2(peer->db_, kFind, -1, &peer->find_, nullptr) != SQLITE_OK) {
    return Status::IOError(std::string("sqlite prepare: ") + sqlite3_errmsg(peer->db_));
  }
  *out = std::move(peer);
  return Status::OK();
}

SqlitePeer::~SqlitePeer() {
  sqlite3_finalize(find_);
  sqlite3_close(db_);
}

Status SqlitePeer::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    Status s = Status::IOError(std::string("sqlite: ") + (error ? error : "?"));
    sqlite3_free(error);
    return s;
  }
  return Status::OK();
}

Status SqlitePeer::Load(const std::vector<Identity>& identities, std::size_t batch) {
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT INTO identities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, &insert, nullptr) != SQLITE_OK) {
    return Status::IOError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  Status s;
  for (std::size_t i = 0; s.ok() && i < identities.size(); ++i) {
    if (i % batch == 0) s = Exec(i == 0 ? "BEGIN" : "COMMIT; BEGIN");
    const Identity& identity = identities[i];
    BindText(insert, 1, identity.id);
    BindText(insert, 2, IdentityTypeName(identity.identity_type));
    BindText(insert, 3, identity.raw);
    BindText(insert, 4, identity.echo);
    BindText(insert, 5, identity.lang_axis);
    BindText(insert, 6, nlohmann::json(identity.tags).dump());
    sqlite3_bind_double(insert, 7, identity.weight);
    BindText(insert, 8, nlohmann::json(identity.related_ids).dump());
    BindText(insert, 9, identity.meta.dump());
    BindText(insert, 10, FormatTimestamp(identity.created_at));
    BindText(insert, 11, FormatTimestamp(identity.updated_at));
    sqlite3_bind_double(insert, 12, Entropy(identity));
    if (sqlite3_step(insert) != SQLITE_DONE) {
      s = Status::IOError(std::string("sqlite insert: ") + sqlite3_errmsg(db_));
    }
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  if (s.ok() && !identities.empty()) s = Exec("COMMIT");
  return s;
}

Status SqlitePeer::FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                                 std::vector<Identity>* out) {
  out->clear();
  sqlite3_reset(find_);
  sqlite3_bind_double(find_, 1, min_entropy);
  sqlite3_bind_double(find_, 2, max_entropy);
  sqlite3_bind_int64(find_, 3, static_cast<sqlite3_int64>(limit));
  int rc;
  while ((rc = sqlite3_step(find_)) == SQLITE_ROW) {
    Identity identity;
    identity.id = Text(find_, 0);
    identity.identity_type = ParseIdentityType(Text(find_, 1)).value_or(IdentityType::kGeoid);
    identity.raw = Text(find_, 2);
    identity.echo = Text(find_, 3);
    identity.lang_axis = Text(find_, 4);
    identity.tags = nlohmann::json::parse(Text(find_, 5)).get<std::vector<std::string>>();
    identity.weight = sqlite3_column_double(find_, 6);
    identity.related_ids = nlohmann::json::parse(Text(find_, 7)).get<std::vector<std::string>>();
    identity.meta = nlohmann::json::parse(Text(find_, 8));
    Status s = ParseTimestamp(Text(find_, 9), &identity.created_at);
    if (s.ok()) s = ParseTimestamp(Text(find_, 10), &identity.updated_at);
    if (!s.ok()) return s;
    out->push_back(std::move(identity));
  }
  if (rc != SQLITE_DONE)
    return Status::IOError(std::string("sqlite query: ") + sqlite3_errmsg(db_));
  return Status::OK();
}

std::string SqlitePeer::QueryPlan() {
  std::string plan;
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = std::string("EXPLAIN QUERY PLAN ") + kFind;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return "?";
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    if (!plan.empty()) plan += "; ";
    plan += Text(stmt, 3);
  }
  sqlite3_finalize(stmt);
  return plan;
}

}  // namespace kimera

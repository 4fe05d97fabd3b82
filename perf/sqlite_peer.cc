#include "sqlite_peer.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "kimera/identity_json.h"
#include "record_codec.h"

namespace kimera {
namespace {

// The reference system's columns, parsed from JSON and ISO-8601 text per row.
constexpr const char* kJsonSchema =
    "CREATE TABLE IF NOT EXISTS identities ("
    " id TEXT PRIMARY KEY, identity_type TEXT NOT NULL, raw TEXT, echo TEXT, lang_axis TEXT,"
    " tags TEXT, weight REAL, related_ids TEXT, meta TEXT, created_at TEXT, updated_at TEXT,"
    " entropy REAL);"
    "CREATE INDEX IF NOT EXISTS idx_identities_entropy ON identities(entropy);";
constexpr const char* kJsonInsert =
    "INSERT INTO identities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kJsonFind =
    "SELECT id, identity_type, raw, echo, lang_axis, tags, weight, related_ids, meta,"
    " created_at, updated_at FROM identities WHERE entropy BETWEEN ? AND ?"
    " ORDER BY entropy DESC, id LIMIT ?";

// The plugin's own record bytes, so both sides decode a found row alike.
constexpr const char* kRecordSchema =
    "CREATE TABLE IF NOT EXISTS identities (id TEXT PRIMARY KEY, entropy REAL, record BLOB NOT "
    "NULL);"
    "CREATE INDEX IF NOT EXISTS idx_identities_entropy ON identities(entropy);";
constexpr const char* kRecordInsert = "INSERT INTO identities VALUES (?, ?, ?)";
constexpr const char* kRecordFind =
    "SELECT id, record FROM identities WHERE entropy BETWEEN ? AND ?"
    " ORDER BY entropy DESC, id LIMIT ?";

const char* FindSql(SqliteRowFormat format) {
  return format == SqliteRowFormat::kRecord ? kRecordFind : kJsonFind;
}

std::string_view Text(sqlite3_stmt* stmt, int column) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
           : std::string_view();
}

std::string_view Blob(sqlite3_stmt* stmt, int column) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
           : std::string_view();
}

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

}  // namespace

const char* SqliteRowFormatName(SqliteRowFormat format) {
  return format == SqliteRowFormat::kRecord ? "record" : "JSON";
}

Status SqlitePeer::Open(const std::string& path, SqliteRowFormat format,
                        std::unique_ptr<SqlitePeer>* out) {
  std::unique_ptr<SqlitePeer> peer(new SqlitePeer(format));
  if (sqlite3_open(path.c_str(), &peer->db_) != SQLITE_OK) {
    return Status::IOError("sqlite open " + path + ": " + sqlite3_errmsg(peer->db_));
  }
  Status s = peer->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (s.ok()) s = peer->Exec(format == SqliteRowFormat::kRecord ? kRecordSchema : kJsonSchema);
  if (!s.ok()) return s;
  if (sqlite3_prepare_v2(peer->db_, FindSql(format), -1, &peer->find_, nullptr) != SQLITE_OK) {
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

Status SqlitePeer::BindRow(sqlite3_stmt* insert, const Identity& identity) {
  BindText(insert, 1, identity.id);
  if (format_ == SqliteRowFormat::kRecord) {
    std::string record;
    if (Status s = EncodeRecord(identity, &record); !s.ok()) return s;
    sqlite3_bind_double(insert, 2, Entropy(identity));
    sqlite3_bind_blob(insert, 3, record.data(), static_cast<int>(record.size()), SQLITE_TRANSIENT);
    return Status::OK();
  }
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
  return Status::OK();
}

Status SqlitePeer::Load(const std::vector<Identity>& identities, std::size_t batch) {
  sqlite3_stmt* insert = nullptr;
  const char* sql = format_ == SqliteRowFormat::kRecord ? kRecordInsert : kJsonInsert;
  if (sqlite3_prepare_v2(db_, sql, -1, &insert, nullptr) != SQLITE_OK) {
    return Status::IOError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  Status s;
  for (std::size_t i = 0; s.ok() && i < identities.size(); ++i) {
    if (i % batch == 0) s = Exec(i == 0 ? "BEGIN" : "COMMIT; BEGIN");
    if (s.ok()) s = BindRow(insert, identities[i]);
    if (s.ok() && sqlite3_step(insert) != SQLITE_DONE) {
      s = Status::IOError(std::string("sqlite insert: ") + sqlite3_errmsg(db_));
    }
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  if (s.ok() && !identities.empty()) s = Exec("COMMIT");
  return s;
}

Status SqlitePeer::ReadRow(Identity* out) {
  if (format_ == SqliteRowFormat::kRecord) return DecodeRecord(Text(find_, 0), Blob(find_, 1), out);
  out->id = Text(find_, 0);
  out->identity_type = ParseIdentityType(Text(find_, 1)).value_or(IdentityType::kGeoid);
  out->raw = Text(find_, 2);
  out->echo = Text(find_, 3);
  out->lang_axis = Text(find_, 4);
  out->tags = nlohmann::json::parse(Text(find_, 5)).get<std::vector<std::string>>();
  out->weight = sqlite3_column_double(find_, 6);
  out->related_ids = nlohmann::json::parse(Text(find_, 7)).get<std::vector<std::string>>();
  out->meta = nlohmann::json::parse(Text(find_, 8));
  Status s = ParseTimestamp(Text(find_, 9), &out->created_at);
  if (s.ok()) s = ParseTimestamp(Text(find_, 10), &out->updated_at);
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
    if (Status s = ReadRow(&identity); !s.ok()) return s;
    out->push_back(std::move(identity));
  }
  if (rc != SQLITE_DONE)
    return Status::IOError(std::string("sqlite query: ") + sqlite3_errmsg(db_));
  return Status::OK();
}

std::string SqlitePeer::QueryPlan() {
  std::string plan;
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = std::string("EXPLAIN QUERY PLAN ") + FindSql(format_);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return "?";
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    if (!plan.empty()) plan += "; ";
    plan += Text(stmt, 3);
  }
  sqlite3_finalize(stmt);
  return plan;
}

}  // namespace kimera

// SqlitePeer: SQLite with a B-tree index on entropy, for side-by-side
// benchmarks of IdentityStore::FindByEntropy.
//
// One SQLite table in WAL mode with id TEXT PRIMARY KEY, entropy REAL (B-tree
// index) and the rest of the identity in one of two row formats:
//  * kRecord: one BLOB written by EncodeRecord and read by DecodeRecord, so a
//    row found costs the same decode as a record the plugin finds.
//  * kJson: the reference system's columns (identity_type, raw, echo,
//    lang_axis, tags JSON, weight, related_ids JSON, meta JSON, created_at,
//    updated_at as ISO-8601 text): three JSON parses and two timestamp parses
//    per row found.
// FindByEntropy answers the same query as IdentityStore::FindByEntropy and
// builds the same kimera::Identity objects in either format.
//
// Thread-safety: not thread-safe; use from one thread.
#ifndef KIMERA_PERF_SQLITE_PEER_H_
#define KIMERA_PERF_SQLITE_PEER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "kimera/identity.h"
#include "kimera/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kimera {

enum class SqliteRowFormat { kRecord, kJson };

// "record" or "JSON".
const char* SqliteRowFormatName(SqliteRowFormat format);

class SqlitePeer {
 public:
  // Opens the database file `path`, creating it with its table, in `format`,
  // and index when they do not exist.
  static Status Open(const std::string& path, SqliteRowFormat format,
                     std::unique_ptr<SqlitePeer>* out);
  ~SqlitePeer();
  SqlitePeer(const SqlitePeer&) = delete;
  SqlitePeer& operator=(const SqlitePeer&) = delete;

  // Inserts `identities` in transactions of `batch` rows each.
  Status Load(const std::vector<Identity>& identities, std::size_t batch);

  // SELECT ... WHERE entropy BETWEEN min AND max ORDER BY entropy DESC, id
  // LIMIT limit, through one prepared statement. `*out` is replaced.
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out);

  // SQLite's plan of that query, one line.
  std::string QueryPlan();

 private:
  explicit SqlitePeer(SqliteRowFormat format) : format_(format) {}
  Status Exec(const char* sql);
  Status BindRow(sqlite3_stmt* insert, const Identity& identity);
  Status ReadRow(Identity* out);

  const SqliteRowFormat format_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* find_ = nullptr;  // Owned; finalized in the destructor.
};

}  // namespace kimera

#endif  // KIMERA_PERF_SQLITE_PEER_H_

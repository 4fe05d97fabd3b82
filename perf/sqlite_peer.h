// SqlitePeer: the reference system's storage, for side-by-side benchmarks.
//
// One SQLite table with the reference columns (id TEXT PRIMARY KEY,
// identity_type, raw, echo, lang_axis, tags JSON, weight, related_ids JSON,
// meta JSON, created_at, updated_at as ISO-8601 text, entropy REAL), a B-tree
// index on entropy, WAL mode. FindByEntropy answers the same query as
// IdentityStore::FindByEntropy and builds the same kimera::Identity objects.
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

class SqlitePeer {
 public:
  // Creates the database file `path` with its table and index.
  static Status Open(const std::string& path, std::unique_ptr<SqlitePeer>* out);
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
  SqlitePeer() = default;
  Status Exec(const char* sql);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* find_ = nullptr;  // Owned; finalized in the destructor.
};

}  // namespace kimera

#endif  // KIMERA_PERF_SQLITE_PEER_H_

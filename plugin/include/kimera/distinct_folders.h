// CheckDistinctFolders: refuses a configuration whose database folders
// (the records' database, a second-database dual-write secondary, a
// separate index) are one folder under two names or nested in one another.
// Two RocksDB instances in one folder lose each other's writes.
//
// Thread-safety: a plain function.
#ifndef KIMERA_DISTINCT_FOLDERS_H_
#define KIMERA_DISTINCT_FOLDERS_H_

#include <string>
#include <vector>

#include "kimera/status.h"

namespace kimera {

struct NamedFolder {
  std::string role;  // "database", "dual_write.secondary", "index.separate_path".
  std::string path;  // As configured: relative, with a trailing slash, a symlink...
};

// OK when no two of `folders` are the same folder or one inside the other.
// Folders are compared by where they resolve, component by component as
// realpath does (symlinks, even dangling ones, "..", "." and repeated or
// trailing slashes), on into components not created yet, so folders that do
// not exist yet compare too.
// InvalidArgument naming both roles and both paths otherwise; nothing is
// created or written.
Status CheckDistinctFolders(const std::vector<NamedFolder>& folders);

}  // namespace kimera

#endif  // KIMERA_DISTINCT_FOLDERS_H_

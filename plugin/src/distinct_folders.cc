#include "kimera/distinct_folders.h"

#include <filesystem>
#include <system_error>

namespace kimera {
namespace {

namespace fs = std::filesystem;

// weakly_canonical resolves the longest existing prefix with realpath and
// normalizes the rest lexically; the trailing empty component a final slash
// leaves is dropped so "db/" and "db" compare equal.
fs::path Resolve(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = fs::path(path);
  fs::path resolved = fs::weakly_canonical(absolute, ec);
  if (ec) resolved = absolute.lexically_normal();
  if (!resolved.has_filename() && resolved.has_parent_path() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved;
}

// True when `inner` is `outer` or lies inside it, component by component.
bool Within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

}  // namespace

Status CheckDistinctFolders(const std::vector<NamedFolder>& folders) {
  std::vector<fs::path> resolved;
  resolved.reserve(folders.size());
  for (const NamedFolder& folder : folders) resolved.push_back(Resolve(folder.path));
  for (std::size_t a = 0; a < folders.size(); ++a) {
    for (std::size_t b = a + 1; b < folders.size(); ++b) {
      const bool same = resolved[a] == resolved[b];
      const bool a_in_b = Within(resolved[a], resolved[b]);
      const bool b_in_a = Within(resolved[b], resolved[a]);
      if (!same && !a_in_b && !b_in_a) continue;
      const std::string relation = same     ? " is the same folder as "
                                   : a_in_b ? " is inside "
                                            : " contains ";
      return Status::InvalidArgument(
          folders[a].role + " '" + folders[a].path + "'" + relation + folders[b].role + " '" +
          folders[b].path + "' (both resolve to " +
          (same ? resolved[a].string() : resolved[a].string() + " and " + resolved[b].string()) +
          "); each needs a folder of its own, or they overwrite each other's data");
    }
  }
  return Status::OK();
}

}  // namespace kimera

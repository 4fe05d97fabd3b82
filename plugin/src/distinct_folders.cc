#include "kimera/distinct_folders.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

namespace kimera {
namespace {

namespace fs = std::filesystem;

// Resolves `path` component by component, like realpath, but on into
// components that do not exist yet; a symlink is followed even when it
// dangles (its target may be created by the open itself).
fs::path Resolve(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = fs::path(path);
  const fs::path relative = absolute.relative_path();
  std::vector<fs::path> rest(relative.begin(), relative.end());
  std::reverse(rest.begin(), rest.end());
  fs::path resolved = absolute.root_path();
  int links = 0;
  while (!rest.empty()) {
    const fs::path part = rest.back();
    rest.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      resolved = resolved.parent_path();
      continue;
    }
    const fs::path next = resolved / part;
    if (links < 40 && fs::is_symlink(fs::symlink_status(next, ec))) {
      ++links;
      const fs::path target = fs::read_symlink(next, ec);
      if (!ec) {
        if (target.is_absolute()) resolved = target.root_path();
        const fs::path target_rest = target.relative_path();
        std::vector<fs::path> parts(target_rest.begin(), target_rest.end());
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) rest.push_back(*it);
        continue;
      }
    }
    resolved = next;
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

// TempDir: a fresh folder under the system temporary folder for one test,
// removed with everything in it when the TempDir goes.
#ifndef KIMERA_TESTS_TEMP_DIR_H_
#define KIMERA_TESTS_TEMP_DIR_H_

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <system_error>

namespace kimera::test {

struct TempDir {
  // `prefix` names the folder ("kimera_plugin_" + six random characters).
  explicit TempDir(const std::string& prefix = "kimera_test_") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The folder, or `sub` inside it.
  std::string str(const std::string& sub = {}) const {
    return sub.empty() ? path.string() : (path / sub).string();
  }

  std::filesystem::path path;
};

}  // namespace kimera::test

#endif  // KIMERA_TESTS_TEMP_DIR_H_

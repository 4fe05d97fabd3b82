#include "kimera/distinct_folders.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "plugin_test_support.h"

namespace kimera {

BOOST_AUTO_TEST_SUITE(distinct_folders)

BOOST_AUTO_TEST_CASE(one_folder_under_other_names_is_refused) {
  test::TempDir dir;
  const std::string db = (dir.path / "db").string();
  std::filesystem::create_directories(db);
  std::filesystem::create_directory_symlink(db, dir.path / "link");
  for (const std::string& alias : {db + "/", db + "//", (dir.path / "link").string(),
                                   (dir.path / "x" / ".." / "db").string()}) {
    Status s = CheckDistinctFolders({{"database", db}, {"dual_write.secondary", alias}});
    BOOST_TEST(s.IsInvalidArgument(), alias);
    BOOST_TEST(s.message().find(alias) != std::string::npos);
    BOOST_TEST(s.message().find(db) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(folders_not_created_yet_and_nested_folders_are_refused) {
  test::TempDir dir;
  const std::string db = (dir.path / "new" / "db").string();
  BOOST_TEST(CheckDistinctFolders({{"database", db}, {"index.separate_path", db + "/"}})
                 .IsInvalidArgument());
  BOOST_TEST(CheckDistinctFolders({{"database", db}, {"index.separate_path", db + "/index"}})
                 .IsInvalidArgument());
  BOOST_TEST(CheckDistinctFolders(
                 {{"database", db}, {"dual_write.secondary", (dir.path / "new").string()}})
                 .IsInvalidArgument());
  BOOST_TEST(!std::filesystem::exists(dir.path / "new"));
}

BOOST_AUTO_TEST_CASE(siblings_are_accepted) {
  test::TempDir dir;
  const std::string db = (dir.path / "db").string();
  BOOST_TEST(CheckDistinctFolders({{"database", db},
                                   {"dual_write.secondary", db + "-secondary"},
                                   {"index.separate_path", (dir.path / "index").string()}})
                 .ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera

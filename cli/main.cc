// The `kimera` program: builds the command line, runs one command, and turns
// its outcome into an exit code. No exception leaves main.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "command_suggest.h"
#include "commands.h"
#include "kimera/config_loader.h"

namespace {

constexpr const char* kFooter =
    "--db DIR may come before or after the command name.\n"
    "Exit codes: 0 ok; 1 some input or the configuration was bad, or a check failed;\n"
    "2 not found or usage error;\n"
    "3 storage error (no database, cannot open it, damaged log without --salvage, I/O).\n"
    "See docs/cli.md.";

// Carries a command's non-zero exit code out of CLI::App::parse.
class CommandExit : public std::exception {
 public:
  explicit CommandExit(int code) : code_(code) {}
  int code() const { return code_; }
  const char* what() const noexcept override { return "command exit"; }

 private:
  int code_;
};

int Run(int argc, char** argv) {
  kimera_cli::GlobalOptions global;
  CLI::App app{"kimera: identity storage with entropy and decay", "kimera"};
  app.footer(kFooter);
  // Lets --db follow the command name as well as precede it.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--db", global.db_path, "Database folder")
      ->capture_default_str()
      ->type_name("DIR")
      ->each([&global](const std::string&) { global.db_path_given = true; });
  app.add_option("--config", global.config_path, "TOML configuration file (default $KIMERA_CONFIG)")
      ->type_name("FILE");
  // The same string the kimera_build_info metric carries in its version label.
  app.set_version_flag("--version", KIMERA_VERSION, "Print the version and exit");
  // Every command reads the configuration; a bad one is the user's input
  // (exit 1, naming file, key and reason), checked before any command opens
  // a database so that it is never reported as a storage error.
  app.parse_complete_callback([&global] {
    kimera::KimeraConfig config;
    if (kimera::Status s = kimera::LoadConfig(global.config_path, &config); !s.ok()) {
      kimera_cli::PrintError("configuration error: " + s.message());
      throw CommandExit(kimera_cli::kExitBadInput);
    }
  });
  app.add_flag("--salvage", global.salvage,
               "Open a database whose write-ahead log is damaged with every record that can "
               "still be read, and report what was lost (without it: exit 3)");

  kimera_cli::AddImportCommand(app, global);
  kimera_cli::AddExportCommand(app, global);
  kimera_cli::AddGetCommand(app, global);
  kimera_cli::AddRemoveCommand(app, global);
  kimera_cli::AddQueryCommand(app, global);
  kimera_cli::AddCountCommand(app, global);
  kimera_cli::AddServeCommand(app, global);
  kimera_cli::AddCheckCommand(app, global);
  kimera_cli::AddDecayCommands(app, global);
  kimera_cli::AddDualWriteCommands(app, global);
  kimera_cli::AddStressCommand(app, global);

  if (const auto unknown = kimera_cli::UnknownCommand(app, argc, argv)) {
    kimera_cli::PrintError(kimera_cli::UnknownCommandMessage(app, *unknown));
    return kimera_cli::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CommandExit& e) {
    return e.code();
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; the rest are usage errors.
    const int code = app.exit(e);
    return code == 0 ? kimera_cli::kExitOk : kimera_cli::kExitUsage;
  }
  return kimera_cli::kExitOk;
}

}  // namespace

namespace kimera_cli {

void SetCommandBody(CLI::App* command, std::function<int()> run) {
  command->callback([run = std::move(run)] {
    const int code = run();
    if (code != kExitOk) throw CommandExit(code);
  });
}

int ExitCodeFor(const kimera::Status& status) {
  if (status.ok()) return kExitOk;
  if (status.IsNotFound()) return kExitNotFound;
  if (status.IsInvalidArgument()) return kExitBadInput;
  return kExitStorage;
}

void PrintError(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "kimera: %s\n", message.c_str());
}

}  // namespace kimera_cli

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::bad_alloc&) {
    kimera_cli::PrintError("out of memory");
  } catch (const std::exception& e) {
    kimera_cli::PrintError(std::string("internal error: ") + e.what());
  } catch (...) {
    kimera_cli::PrintError("internal error");
  }
  return kimera_cli::kExitStorage;
}

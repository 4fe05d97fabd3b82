// The `kimera` program's commands. Each command registers itself on the
// application with one Add...Command function; main.cc calls them all and
// nothing else needs to change when a command is added.
#ifndef KIMERA_CLI_COMMANDS_H_
#define KIMERA_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "kimera/status.h"

namespace kimera_cli {

// Exit codes of every command (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;  // Some input was bad, or a check failed.
inline constexpr int kExitNotFound = 2;  // Not found, or a usage error.
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStorage = 3;  // The store cannot be opened, or I/O failed.

// Options of the program itself, set before any command runs. Commands keep
// a reference to it: it outlives the CLI::App.
struct GlobalOptions {
  std::string db_path = "./kimera-data";  // Default ./kimera-data.
  bool db_path_given = false;  // True when --db was given: it overrides the config's path.
  std::string config_path;     // Default empty: $KIMERA_CONFIG, else built-in defaults.
  bool salvage = false;        // Default false; --salvage opens a database whose log is damaged.
};

void AddImportCommand(CLI::App& app, const GlobalOptions& global);
void AddExportCommand(CLI::App& app, const GlobalOptions& global);
void AddGetCommand(CLI::App& app, const GlobalOptions& global);
void AddRemoveCommand(CLI::App& app, const GlobalOptions& global);
void AddQueryCommand(CLI::App& app, const GlobalOptions& global);
void AddCountCommand(CLI::App& app, const GlobalOptions& global);
void AddServeCommand(CLI::App& app, const GlobalOptions& global);
void AddCheckCommand(CLI::App& app, const GlobalOptions& global);
void AddDecayCommands(CLI::App& app, const GlobalOptions& global);  // decay, verify-decay
void AddDualWriteCommands(CLI::App& app, const GlobalOptions& global);
void AddStressCommand(CLI::App& app, const GlobalOptions& global);

// Makes `run` the body of `command`; its return value becomes the exit code
// of the program (main.cc turns a non-zero value into the exit status).
void SetCommandBody(CLI::App* command, std::function<int()> run);

// The exit code for a failed store call: NotFound 2, InvalidArgument 1,
// every storage failure 3.
int ExitCodeFor(const kimera::Status& status);

// Writes "kimera: <message>" and a newline to stderr.
void PrintError(const std::string& message);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_COMMANDS_H_

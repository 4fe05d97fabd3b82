// Unknown command names: finds the word a user typed where a command was
// expected, and the closest command, so that `kimera importt` answers
// "unknown command 'importt'; did you mean 'import'?" instead of CLI11's
// "A subcommand is required".
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_CLI_COMMAND_SUGGEST_H_
#define KIMERA_CLI_COMMAND_SUGGEST_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace kimera_cli {

// The first argument in the command's place that names no command of `app`:
// options are skipped, with the value of each option of `app` that takes one
// (`--db DIR`). nullopt when the command is known or none is given.
std::optional<std::string> UnknownCommand(const CLI::App& app, int argc, const char* const* argv);

// "unknown command 'WORD'", with "; did you mean 'NAME'?" when a command is
// within two edits of WORD (or WORD is a prefix of exactly one command).
std::string UnknownCommandMessage(const CLI::App& app, const std::string& word);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_COMMAND_SUGGEST_H_

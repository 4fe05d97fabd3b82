#include "command_suggest.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "kimera/identity.h"

namespace kimera_cli {
namespace {

std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// True when the option of `app` spelt `arg` ("--db", "-o") takes a value.
bool TakesValue(const CLI::App& app, const std::string& arg) {
  if (arg.find('=') != std::string::npos) return false;
  for (const CLI::Option* option : app.get_options()) {
    if (option->check_name(arg)) return option->get_type_size() != 0;
  }
  return false;
}

}  // namespace

std::optional<std::string> UnknownCommand(const CLI::App& app, int argc, const char* const* argv) {
  const std::vector<std::string> names = CommandNames(app);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (!arg.empty() && arg[0] == '-') {
      if (TakesValue(app, arg)) ++i;
      continue;
    }
    if (std::find(names.begin(), names.end(), arg) != names.end()) return std::nullopt;
    return arg;
  }
  return std::nullopt;
}

std::string UnknownCommandMessage(const CLI::App& app, const std::string& word) {
  std::string best;
  std::size_t best_distance = 3;  // Suggest only within two edits.
  std::vector<std::string> prefixed;
  for (const std::string& name : CommandNames(app)) {
    const std::size_t d = EditDistance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
    if (!word.empty() && name.rfind(word, 0) == 0) prefixed.push_back(name);
  }
  if (best.empty() && prefixed.size() == 1) best = prefixed.front();
  std::string message = "unknown command '" + kimera::DisplayId(word) + "'";
  if (!best.empty()) message += "; did you mean '" + best + "'?";
  return message + " (kimera --help lists the commands)";
}

}  // namespace kimera_cli

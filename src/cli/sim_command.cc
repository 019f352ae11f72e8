#include "cli/commands.h"

namespace muon::cli {

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("sim", "sim (not built yet)");
  cmd->callback([exit_code] { *exit_code = 2; });
}

}  // namespace muon::cli

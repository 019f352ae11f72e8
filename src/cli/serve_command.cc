#include "cli/commands.h"

namespace muon::cli {

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("serve", "serve (not built yet)");
  cmd->callback([exit_code] { *exit_code = 2; });
}

}  // namespace muon::cli

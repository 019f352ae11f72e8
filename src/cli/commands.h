// Each `muonpipe` subcommand registers itself on the root CLI11 app. The
// callback it installs sets *exit_code once the command has run.
#pragma once

#include <CLI/CLI.hpp>

namespace muon::cli {

void AddServeCommand(CLI::App& app, int* exit_code);
void AddSimCommand(CLI::App& app, int* exit_code);
void AddPlanCommand(CLI::App& app, int* exit_code);
void AddRegistryCommand(CLI::App& app, int* exit_code);
void AddIamCommand(CLI::App& app, int* exit_code);
void AddAuditCommand(CLI::App& app, int* exit_code);
void AddConsoleCommand(CLI::App& app, int* exit_code);

}  // namespace muon::cli

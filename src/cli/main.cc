#include <cstdio>

#include "base/log.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  muon::log::Init();
  CLI::App app{
      "muonpipe: a data pipeline for fleets of muon detectors, speaking the AWS Kinesis, "
      "Firehose and S3 protocols.",
      "muonpipe"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "muonpipe 0.1.0");
  int exit_code = 0;
  muon::cli::AddServeCommand(app, &exit_code);
  muon::cli::AddSimCommand(app, &exit_code);
  muon::cli::AddPlanCommand(app, &exit_code);
  muon::cli::AddRegistryCommand(app, &exit_code);
  muon::cli::AddIamCommand(app, &exit_code);
  muon::cli::AddAuditCommand(app, &exit_code);
  muon::cli::AddConsoleCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

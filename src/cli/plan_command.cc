// `muonpipe plan`: parses flags into a profile and hands it to src/plan/.
#include <iostream>
#include <memory>
#include <optional>

#include "base/env.h"
#include "cli/client_credentials.h"
#include "cli/commands.h"
#include "plan/cloudformation.h"
#include "plan/model.h"
#include "plan/prices.h"
#include "plan/profile.h"
#include "plan/recommend.h"
#include "plan/report.h"
#include "plan/usage_source.h"

namespace muon::cli {

namespace {

struct PlanFlags {
  std::string profile_file;
  std::string prices_file;
  std::vector<std::string> offer_files;
  std::string from_data_dir;
  std::string from_url;
  // With --from-url: how the request is signed (cli/client_credentials.h).
  std::string credentials;
  std::string credentials_profile = "default";
  std::string data_dir = "./muonpipe-data";
  std::string server_region = "ap-southeast-2";
  std::string usage_file;
  bool json = false;
  std::string emit;
  std::string output;
  std::string design;
  // Profile overrides; unset ones keep the profile's value.
  std::optional<std::string> region;
  std::optional<int> horizon;
  std::optional<double> detectors, added, growth, bps, rps, aggregate, live_fraction, compression,
      max_latency, hot_days, retention_days, analyst_gb;
  std::optional<std::string> archive_class, registry_class;
  bool multi_az = false;
  bool partition = false;
  bool allow_quota = false;
};

int Fail(const Status& s) {
  std::cerr << "muonpipe plan: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

int RunPlan(const PlanFlags& f) {
  Env* env = Env::Posix();
  plan::Profile profile;
  if (!f.profile_file.empty()) {
    auto text = env->ReadFile(f.profile_file);
    if (!text.ok()) return Fail(text.status().WithContext("--profile " + f.profile_file));
    auto parsed = plan::ParseProfileToml(*text, f.profile_file);
    if (!parsed.ok()) return Fail(parsed.status());
    profile = *parsed;
  }
  std::optional<plan::MeasuredUsage> usage;
  if (!f.from_data_dir.empty()) {
    auto u = plan::ReadUsageFromDataDir(env, f.from_data_dir);
    if (!u.ok()) return Fail(u.status());
    usage = *u;
  } else if (!f.from_url.empty()) {
    auto creds = sim::ResolveCredentials(
        env, CredentialSourcesFromEnvironment(f.credentials, f.credentials_profile, f.data_dir));
    if (!creds.ok()) return Fail(creds.status().WithContext("--from-url " + f.from_url));
    auto u = plan::FetchUsageFromUrl(f.from_url,
                                     {.credentials = *creds, .region = f.server_region});
    if (!u.ok()) return Fail(u.status());
    usage = *u;
  } else if (!f.usage_file.empty()) {
    auto text = env->ReadFile(f.usage_file);
    if (!text.ok()) return Fail(text.status().WithContext("--usage-file " + f.usage_file));
    auto u = plan::ParseUsageJson(*text, f.usage_file);
    if (!u.ok()) return Fail(u.status());
    usage = *u;
  }
  if (usage) {
    plan::ApplyMeasuredUsage(*usage, &profile);
    std::cerr << "Measured usage: " << usage->detector_count << " detectors, "
              << usage->bytes_per_second_per_detector << " B/s and "
              << usage->records_per_second_per_detector << " records/s per detector (mean record "
              << usage->mean_record_bytes << " B) over " << usage->window_seconds << " s.\n";
  }
  if (f.region) profile.region = *f.region;
  if (f.horizon) profile.horizon_months = *f.horizon;
  if (f.detectors) profile.detectors = *f.detectors;
  if (f.added) profile.detectors_added_per_month = *f.added;
  if (f.growth) profile.growth_percent_per_month = *f.growth;
  if (f.bps) profile.bytes_per_second_per_detector = *f.bps;
  if (f.rps) profile.records_per_second_per_detector = *f.rps;
  if (f.aggregate) profile.aggregate_bytes = *f.aggregate;
  if (f.live_fraction) profile.live_fraction = *f.live_fraction;
  if (f.compression) profile.compression_ratio = *f.compression;
  if (f.max_latency) profile.max_latency_seconds = *f.max_latency;
  if (f.hot_days) profile.hot_days = *f.hot_days;
  if (f.retention_days) profile.retention_days = *f.retention_days;
  if (f.analyst_gb) profile.analyst_read_gb_per_month = *f.analyst_gb;
  if (f.registry_class) profile.registry_instance_class = *f.registry_class;
  if (f.multi_az) profile.registry_multi_az = true;
  if (f.partition) profile.partition_by_detector = true;
  if (f.allow_quota) profile.allow_quota_increases = true;
  if (f.archive_class) {
    auto c = plan::ParseArchiveClass(*f.archive_class);
    if (!c.ok()) return Fail(c.status().WithContext("--archive-class"));
    profile.archive_class = *c;
  }
  if (Status s = profile.Validate(); !s.ok()) return Fail(s);

  Result<plan::PriceTable> table = Status::Internal("unset");
  if (!f.prices_file.empty()) {
    auto text = env->ReadFile(f.prices_file);
    if (!text.ok()) return Fail(text.status().WithContext("--prices " + f.prices_file));
    table = plan::PriceTable::FromToml(*text, f.prices_file);
    if (table.ok() && table->region() != profile.region) {
      return Fail(Status::InvalidArgument("--prices " + f.prices_file + " is for region " +
                                          table->region() + " but the profile's region is " +
                                          profile.region + "; pass --region " + table->region() +
                                          " or a table for " + profile.region));
    }
  } else {
    table = plan::PriceTable::Embedded(profile.region);
  }
  if (!table.ok()) return Fail(table.status());
  for (const std::string& offer : f.offer_files) {
    auto text = env->ReadFile(offer);
    if (!text.ok()) return Fail(text.status().WithContext("--offer-file " + offer));
    auto report = plan::ApplyOfferFile(*text, offer, &*table);
    if (!report.ok()) return Fail(report.status());
    std::cerr << "Offer file " << offer << ": " << report->products_in_region << " products in "
              << profile.region << ", " << report->updated_keys.size() << " prices updated.\n";
    if (report->products_in_region == 0) {
      std::cerr << "  No product in it is for " << profile.region
                << "; download the regional offer file for that region.\n";
    }
  }

  auto priced = plan::PriceAll(profile, *table);
  if (!priced.ok()) return Fail(priced.status());
  auto rec = plan::Recommend(*priced, *table);
  if (!rec.ok()) return Fail(rec.status());

  std::string out;
  if (!f.emit.empty()) {
    if (f.emit != "cloudformation") {
      return Fail(Status::InvalidArgument("--emit " + f.emit + ": only 'cloudformation' is supported"));
    }
    std::string id = f.design.empty() ? rec->design_id : f.design;
    if (id.empty()) {
      return Fail(Status::FailedPrecondition(
          "no design meets the constraints, so there is nothing to emit; relax them or pick one with --design ID"));
    }
    const plan::DesignResult* d = plan::FindDesign(*priced, id);
    if (d == nullptr) {
      return Fail(Status::InvalidArgument("--design " + id + " is unknown; use one of the ids in the plan table"));
    }
    auto tmpl = plan::EmitCloudFormation(*d, profile);
    if (!tmpl.ok()) return Fail(tmpl.status());
    out = *tmpl;
  } else if (f.json) {
    out = plan::FormatJson(*priced, *rec);
  } else {
    out = plan::FormatText(*priced, *rec, *table);
  }
  if (f.output.empty()) {
    std::cout << out;
  } else {
    if (Status s = env->WriteFileAtomic(f.output, out); !s.ok()) {
      return Fail(s.WithContext("--output " + f.output));
    }
    std::cerr << "Wrote " << f.output << ".";
    if (!f.emit.empty()) {
      std::cerr << " Check it with `cfn-lint " << f.output << "`, then deploy with `aws cloudformation deploy "
                << "--template-file " << f.output << " --stack-name muonpipe --capabilities CAPABILITY_NAMED_IAM`.";
    }
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace

void AddPlanCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand(
      "plan", "Price AWS designs for a fleet's usage, recommend the cheapest, emit CloudFormation");
  cmd->footer("The profile's fields and how every figure is computed: docs/plan.md.");
  cmd->add_option("--profile", f->profile_file, "usage profile (TOML)")->check(CLI::ExistingFile);
  cmd->add_option("--prices", f->prices_file, "price table (TOML) replacing the built-in one")->check(CLI::ExistingFile);
  cmd->add_option("--offer-file", f->offer_files, "AWS Price List offer file (JSON); repeatable")->check(CLI::ExistingFile);
  cmd->add_option("--from-data-dir", f->from_data_dir, "take measured usage from DIR/metrics/usage.json");
  cmd->add_option("--from-url", f->from_url, "take measured usage from a server's URL/_muonpipe/usage "
                  "(a signed request: the caller needs admin:GetUsage)");
  cmd->add_option("--credentials", f->credentials, "with --from-url: AWS shared-credentials file "
                  "to sign with (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else "
                  "DATA_DIR/admin-credentials, else ~/.aws/credentials)");
  cmd->add_option("--credentials-profile", f->credentials_profile,
                  "with --from-url: profile in the credentials file")->capture_default_str();
  cmd->add_option("--data-dir", f->data_dir, "with --from-url: where to find admin-credentials "
                  "when no other credentials are given")->capture_default_str();
  cmd->add_option("--server-region", f->server_region, "with --from-url: the region the server "
                  "serves (signs the request)")->capture_default_str();
  cmd->add_option("--usage-file", f->usage_file, "take measured usage from a usage.json file")->check(CLI::ExistingFile);
  cmd->add_flag("--json", f->json, "print every line item as JSON");
  cmd->add_option("--emit", f->emit, "write a deployment template: cloudformation");
  cmd->add_option("--design", f->design, "with --emit: a design id instead of the recommended one");
  cmd->add_option("--output,-o", f->output, "write to FILE instead of standard output");
  cmd->add_option("--region", f->region, "AWS region (default ap-southeast-2)");
  cmd->add_option("--horizon", f->horizon, "months to price (default 12)");
  cmd->add_option("--detectors", f->detectors, "detectors in the first month");
  cmd->add_option("--detectors-added-per-month", f->added, "linear fleet growth");
  cmd->add_option("--growth-percent", f->growth, "compound fleet growth per month, in percent");
  cmd->add_option("--bytes-per-second", f->bps, "bytes per second per detector");
  cmd->add_option("--records-per-second", f->rps, "records per second per detector, before aggregation");
  cmd->add_option("--aggregate-bytes", f->aggregate, "record size of the aggregated designs");
  cmd->add_option("--live-fraction", f->live_fraction, "share of data sent live (rest in batches)");
  cmd->add_option("--compression-ratio", f->compression, "stored bytes / raw bytes");
  cmd->add_option("--max-latency", f->max_latency, "live latency asked for, seconds (0: none)");
  cmd->add_option("--hot-days", f->hot_days, "days in S3 Standard before archiving");
  cmd->add_option("--archive-class", f->archive_class, "auto, none, standard_ia, glacier_ir, deep_archive");
  cmd->add_option("--retention-days", f->retention_days, "delete after this many days (0: keep)");
  cmd->add_option("--analyst-read-gb", f->analyst_gb, "GB analysts read per month");
  cmd->add_option("--registry-class", f->registry_class, "RDS instance class for the registry");
  cmd->add_flag("--multi-az", f->multi_az, "run the registry database Multi-AZ");
  cmd->add_flag("--partition-by-detector", f->partition, "Firehose dynamic partitioning on detector id");
  cmd->add_flag("--allow-quota-increases", f->allow_quota, "treat default quotas as raisable");
  cmd->callback([f, exit_code] { *exit_code = RunPlan(*f); });
}

}  // namespace muon::cli

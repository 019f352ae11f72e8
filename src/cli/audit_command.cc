// `muonpipe audit`: the audit log (docs/audit.md) read from its files, with no
// server needed (a running server's last second of records may still be in
// its buffer).
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/reader.h"
#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"

namespace muon::cli {
namespace {

struct AuditFlags {
  std::string data_dir = "./muonpipe-data";
  std::string since;
  std::string until;
  std::string user;
  std::string event;
  std::string source;
  std::string access_key;
  std::string resource;
  bool failures = false;
  bool json = false;
};

// ISO 8601 UTC (2026-11-28T05:00:00Z), or an age before now: 90s, 15m, 2h, 7d.
std::optional<int64_t> ParseTime(const std::string& text, const Clock& clock) {
  if (auto t = audit::ParseIsoTime(text)) return t;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    return audit::ParseIsoTime(text + "T00:00:00Z");
  }
  if (text.size() < 2) return std::nullopt;
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    n = n * 10 + (text[i] - '0');
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  return clock.NowSeconds() - n * unit;
}

int RunAudit(const AuditFlags& f) {
  Env* env = Env::Posix();
  const std::string dir = JoinPath(f.data_dir, "audit");
  audit::Filter filter;
  for (const auto& [flag, value, out] :
       {std::tuple{"--since", &f.since, &filter.start_time},
        std::tuple{"--until", &f.until, &filter.end_time}}) {
    if (value->empty()) continue;
    auto t = ParseTime(*value, *Clock::Real());
    if (!t) {
      fmt::print(stderr,
                 "{} '{}' is not a time: give UTC ISO 8601 (2026-11-28T05:00:00Z), a date "
                 "(2026-11-28) or an age (90s, 15m, 2h, 7d)\n",
                 flag, *value);
      return 2;
    }
    *out = *t;
  }
  if (!f.user.empty()) filter.attributes.emplace_back("Username", f.user);
  if (!f.event.empty()) filter.attributes.emplace_back("EventName", f.event);
  if (!f.source.empty()) {
    std::string source = f.source.find('.') == std::string::npos
                             ? audit::EventSourceOf(f.source)
                             : f.source;
    filter.attributes.emplace_back("EventSource", source);
  }
  if (!f.access_key.empty()) filter.attributes.emplace_back("AccessKeyId", f.access_key);
  if (!f.resource.empty()) filter.attributes.emplace_back("ResourceName", f.resource);
  if (!env->FileExists(dir)) {
    fmt::print(stderr,
               "no audit log in {} (is --data-dir the directory `muonpipe serve` uses?)\n", dir);
    return 1;
  }
  uint64_t shown = 0, skipped = 0;
  if (!f.json) {
    fmt::print("{:<20}  {:<24}  {:<26}  {:<28}  {:<16}  {}\n", "TIME (UTC)", "USER",
               "SOURCE", "EVENT", "FROM", "RESULT / RESOURCE");
  }
  Status s = audit::ScanEvents(
      env, dir, filter,
      [&](const audit::StoredEvent& e) {
        if (f.failures && e.error_code.empty()) {
          // Console sign-in failures carry their outcome in responseElements.
          if (e.event_type != audit::kConsoleSignIn ||
              e.json.find("\"ConsoleLogin\":\"Failure\"") == std::string::npos) {
            return true;
          }
        }
        ++shown;
        if (f.json) {
          std::fwrite(e.json.data(), 1, e.json.size(), stdout);
          std::fputc('\n', stdout);
          return true;
        }
        nlohmann::json j = nlohmann::json::parse(e.json, nullptr, false);
        std::string who = e.username;
        if (who.empty()) who = e.access_key_id.empty() ? "(unknown)" : e.access_key_id;
        std::string from = j.is_object() ? j.value("sourceIPAddress", "") : "";
        std::string result = e.error_code.empty() ? "ok" : e.error_code;
        if (e.event_type == audit::kConsoleSignIn && j.is_object() &&
            j["responseElements"].is_object()) {
          result = j["responseElements"].value("ConsoleLogin", result);
        }
        std::string resource = e.resources.empty() ? "" : e.resources[0].arn;
        fmt::print("{:<20}  {:<24}  {:<26}  {:<28}  {:<16}  {}{}{}\n",
                   audit::IsoTime(e.event_time), who, e.event_source, e.event_name, from, result,
                   resource.empty() ? "" : "  ", resource);
        return true;
      },
      &skipped);
  if (!s.ok()) {
    fmt::print(stderr, "reading {}: {}\n", dir, s.ToString());
    return 1;
  }
  if (!f.json) {
    fmt::print(stderr, "{} record{}{}\n", shown, shown == 1 ? "" : "s",
               skipped ? fmt::format(" ({} torn or unreadable line{} skipped)", skipped,
                                     skipped == 1 ? "" : "s")
                       : "");
  }
  return 0;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AuditFlags>();
  auto* cmd = app.add_subcommand(
      "audit", "Show the audit log: who called what, allowed or refused, oldest first");
  cmd->add_option("--data-dir", f->data_dir, "The server's data directory")->capture_default_str();
  cmd->add_option("--since", f->since,
                  "Only records at or after T: 2026-11-28T05:00:00Z, 2026-11-28 or an age (15m, 2h, 7d)");
  cmd->add_option("--until", f->until, "Only records at or before T (same forms)");
  cmd->add_option("--user", f->user, "Only this user name (or assumed-role session name)");
  cmd->add_option("--event", f->event, "Only this event name (PutRecords, GetObject, ...)");
  cmd->add_option("--source", f->source,
                  "Only this event source (kinesis, s3, firehose, registry, signin, or a full name)");
  cmd->add_option("--access-key", f->access_key, "Only this access key id");
  cmd->add_option("--resource", f->resource, "Only records about this resource (ARN or name)");
  cmd->add_flag("--failures", f->failures, "Only refused calls and failed sign-ins");
  cmd->add_flag("--json", f->json, "Print the records themselves, one JSON object a line");
  cmd->callback([f, exit_code] { *exit_code = RunAudit(*f); });
}

}  // namespace muon::cli

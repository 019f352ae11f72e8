// `muonpipe serve`: the whole pipeline on one machine with embedded defaults.
#include <signal.h>
#include <sys/stat.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "admin/admin_api.h"
#include "audit/audit_log.h"
#include "audit/auditing_authorizer.h"
#include "audit/cloudtrail_api.h"
#include "auth/credentials_file.h"
#include "auth/http_auth.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "base/metrics.h"
#include "cli/commands.h"
#include "console/console.h"
#include "console/identity_directory.h"
#include "delivery/firehose_service.h"
#include "delivery/http_edge.h"
#include "http/server.h"
#include "iam/policy_authorizer.h"
#include "identity/iam_service.h"
#include "identity/identity_store.h"
#include "identity/session_tokens.h"
#include "identity/sts.h"
#include "kinesis/http_edge.h"
#include "kinesis/service.h"
#include "objectstore/local_object_store.h"
#include "s3api/lifecycle.h"
#include "s3api/s3_service.h"
#include "registry/http_api.h"
#include "registry/live_status.h"
#include "registry/registry.h"
#include "streamlog/log_store.h"

namespace muon::cli {
namespace {

struct ServeFlags {
  std::string data_dir = "./muonpipe-data";
  std::string listen = "127.0.0.1:4566";
  std::string config;
  std::string region = "ap-southeast-2";
  std::string tls_cert;
  std::string tls_key;
  std::string durability = "sync";
  std::string log_level = "info";
  std::string registry;  // database URL; default DATA_DIR/registry.db
  std::string metrics_listen;  // HOST:PORT of the plain /metrics listener; empty: none
  int registry_sweep_seconds = 10;
  int firehose_memory_mib = 128;
  bool enforce_shard_limits = false;
  int threads = 0;
};

// Values from the TOML config file fill every flag not given on the command line.
Status ApplyConfig(const std::string& path, CLI::App* cmd, ServeFlags* f) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}: {} (line {}, column {})", path,
                                               e.description(), e.source().begin.line,
                                               e.source().begin.column));
  }
  auto str = [&](const char* key, const char* flag, std::string* out) {
    if (auto v = t[key].value<std::string>(); v && cmd->count(flag) == 0) *out = *v;
  };
  str("data_dir", "--data-dir", &f->data_dir);
  str("listen", "--listen", &f->listen);
  str("region", "--region", &f->region);
  str("tls_cert", "--tls-cert", &f->tls_cert);
  str("tls_key", "--tls-key", &f->tls_key);
  str("durability", "--durability", &f->durability);
  str("log_level", "--log-level", &f->log_level);
  str("registry", "--registry", &f->registry);
  str("metrics_listen", "--metrics-listen", &f->metrics_listen);
  if (auto v = t["enforce_shard_limits"].value<bool>(); v && cmd->count("--enforce-shard-limits") == 0) {
    f->enforce_shard_limits = *v;
  }
  if (auto v = t["threads"].value<int64_t>(); v && cmd->count("--threads") == 0) {
    f->threads = static_cast<int>(*v);
  }
  for (auto&& [k, v] : t) {
    static const std::set<std::string> kKnown = {
        "data_dir", "listen",  "region",   "tls_cert",            "tls_key",
        "durability", "log_level", "threads", "enforce_shard_limits", "registry",
        "metrics_listen"};
    if (!kKnown.count(std::string(k.str()))) {
      return Status::InvalidArgument(fmt::format(
          "{}: unknown setting '{}' (known: data_dir, listen, region, tls_cert, tls_key, "
          "durability, log_level, threads, enforce_shard_limits, registry, metrics_listen)",
          path, k.str()));
    }
  }
  return Status::Ok();
}

// `flag` names the option in errors ("--listen").
Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen,
                                                     std::string_view flag = "--listen") {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument(
        fmt::format("{} '{}' is not HOST:PORT (for example 127.0.0.1:4566)", flag, listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument(fmt::format("{} '{}': port must be 0..65535", flag, listen));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

// Loads DIR/admin-credentials, creating it (mode 0600) on first start.
Result<auth::Credentials> AdminCredentials(Env* env, const std::string& dir, bool* created) {
  std::string path = JoinPath(dir, "admin-credentials");
  *created = false;
  if (env->FileExists(path)) return auth::ReadCredentialsFile(env, path);
  auth::Credentials c = auth::GenerateAccessKey();
  mode_t old = ::umask(0077);  // the temp file, and so the renamed file, is 0600
  Status s = env->WriteFileAtomic(path, auth::FormatCredentialsFile(c));
  ::umask(old);
  MUON_RETURN_IF_ERROR(s);
  *created = true;
  return c;
}

int RunServe(CLI::App* cmd, ServeFlags f) {
  if (!f.config.empty()) {
    Status s = ApplyConfig(f.config, cmd, &f);
    if (!s.ok()) {
      log::error("{}", s.message());
      return 2;
    }
  }
  log::SetLevel(f.log_level);
  if (f.durability != "sync" && f.durability != "none") {
    log::error("--durability must be 'sync' (the default: acknowledge after fdatasync) or 'none'");
    return 2;
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    log::error("TLS needs both --tls-cert and --tls-key");
    return 2;
  }
  auto listen = ParseListen(f.listen);
  if (!listen.ok()) {
    log::error("{}", listen.status().message());
    return 2;
  }
  std::optional<std::pair<std::string, uint16_t>> metrics_listen;
  if (!f.metrics_listen.empty()) {
    auto m = ParseListen(f.metrics_listen, "--metrics-listen");
    if (!m.ok()) {
      log::error("{}", m.status().message());
      return 2;
    }
    metrics_listen = *m;
  }

  // Signals are taken by sigwait in this thread only; block them before any
  // other thread starts so none of those threads receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Env* env = Env::Posix();
  Clock* clock = Clock::Real();
  if (Status s = env->CreateDirs(f.data_dir); !s.ok()) {
    log::error("cannot create data directory {}: {}", f.data_dir, s.message());
    return 1;
  }
  bool created = false;
  auto admin = AdminCredentials(env, f.data_dir, &created);
  if (!admin.ok()) {
    log::error("admin credentials: {}", admin.status().message());
    return 1;
  }
  const std::string account_id = "000000000000";

  streamlog::LogStoreOptions log_options;
  log_options.sync = f.durability == "sync";
  if (!log_options.sync) log::warn("--durability none: puts are acknowledged before they are on disk");
  auto logs = streamlog::LogStore::Open(JoinPath(f.data_dir, "streams"), log_options, env, clock);
  if (!logs.ok()) {
    log::error("opening the stream log in {}: {}", f.data_dir, logs.status().ToString());
    return 1;
  }

  // The audit log (docs/audit.md): every authorisation decision and every
  // failed authentication, through the one authorizer every edge asks.
  const std::string audit_dir = JoinPath(f.data_dir, "audit");
  auto audit_log = audit::AuditLog::Open(audit_dir, {}, env, clock);
  if (!audit_log.ok()) {
    log::error("opening the audit log in {}: {}", audit_dir, audit_log.status().ToString());
    return 1;
  }
  audit::IdentityOptions audit_identity;
  audit_identity.account_id = account_id;
  audit_identity.root_arns = {fmt::format("arn:aws:iam::{}:user/admin", account_id)};
  auth::SetAuthFailureObserver([&](const auth::AuthFailureNotice& n) {
    (*audit_log)->Record(audit::AuthFailureEvent(n, *clock, audit_identity));
  });
  // The observer refers to the log: it goes first, on every way out.
  struct ObserverReset {
    ~ObserverReset() { auth::SetAuthFailureObserver(nullptr); }
  } observer_reset;

  // The sensor registry (docs/registry.md): migrated before anything is served.
  const std::string registry_url =
      f.registry.empty() ? JoinPath(f.data_dir, "registry.db") : f.registry;
  auto reg = registry::Registry::Open(registry_url, clock);
  if (!reg.ok()) {
    log::error("registry: {}", reg.status().message());
    return 1;
  }

  // Identities (docs/iam.md) in the registry's database. Every request is
  // authenticated against them and decided by their policies; the key in
  // admin-credentials is the bootstrap administrator's.
  identity::IdentityStoreOptions identity_options;
  identity_options.account_id = account_id;
  identity_options.admin_key = *admin;
  auto identities_store = identity::IdentityStore::Open(registry_url, identity_options, clock);
  if (!identities_store.ok()) {
    log::error("identities: {}", identities_store.status().message());
    return 1;
  }
  identity::IdentityStore* id_store = identities_store->get();
  auto token_key = id_store->ServerSecret("sts-session-token");
  if (!token_key.ok()) {
    log::error("identities: {}", token_key.status().message());
    return 1;
  }
  identity::SessionTokens session_tokens(*token_key);
  identity::StoreIdentities identities(id_store, &session_tokens);
  iam::PolicyAuthorizer policy_authorizer(id_store->policies(), clock);
  auth::BootstrapKeyAuthorizer bootstrap_authorizer(&policy_authorizer, admin->access_key_id);
  // Every decision, the bootstrap key's and denials by policy alike, is recorded.
  audit::AuditingAuthorizer authorizer(&bootstrap_authorizer, audit_log->get(), clock,
                                       audit_identity);
  audit::CloudTrailApi cloudtrail{env, audit_dir, audit_log->get(), &authorizer};
  // STS records each of its calls once itself, so it asks the authorizer
  // beneath the recording one.
  identity::StsService sts(
      id_store, &bootstrap_authorizer, &session_tokens, clock,
      {.region = f.region, .audit = audit_log->get(), .audit_identity = audit_identity});
  identity::IamService iam(id_store, &authorizer, {.region = f.region});
  // Console sign-in (docs/console.md) against the same identity store.
  auto console_directory = console::NewIdentityStoreDirectory(id_store);
  console::ConsoleOptions console_options;
  console_options.account_id = account_id;
  console_options.region = f.region;
  console::Console console(console_directory.get(), audit_log->get(), clock, console_options);

  registry::LiveStatus live(reg->get(), clock);
  registry::ApiOptions registry_api;
  registry_api.region = f.region;
  registry_api.live = &live;
  registry_api.session_caller = [&console](const http::Request& r) {
    return console.SessionCaller(r);
  };

  kinesis::KinesisOptions kopts;
  kopts.region = f.region;
  kopts.account_id = account_id;
  kopts.enforce_shard_limits = f.enforce_shard_limits;
  auto kin = kinesis::KinesisService::Open(JoinPath(f.data_dir, "kinesis"), kopts, logs->get(),
                                           env, clock, &authorizer);
  if (!kin.ok()) {
    log::error("opening the Kinesis catalogue in {}: {}", f.data_dir, kin.status().ToString());
    return 1;
  }
  kinesis::KinesisService* kinesis = kin->get();
  objectstore::LocalObjectStoreOptions object_options;
  object_options.metrics = true;
  auto objects = objectstore::LocalObjectStore::Open(JoinPath(f.data_dir, "objects"), env, clock,
                                                     object_options);
  if (!objects.ok()) {
    log::error("opening the object store in {}: {}", f.data_dir, objects.status().ToString());
    return 1;
  }
  auto lifecycle = s3api::LifecycleStore::Open(JoinPath(JoinPath(f.data_dir, "s3"), "lifecycle"), env);
  if (!lifecycle.ok()) {
    log::error("opening bucket lifecycle rules in {}: {}", f.data_dir,
               lifecycle.status().ToString());
    return 1;
  }
  s3api::S3Options s3opts;
  s3opts.region = f.region;
  s3opts.account_id = account_id;
  s3api::S3Service s3(objects->get(), lifecycle->get(), &identities, &authorizer, clock, s3opts);
  kinesis::EdgeOptions edge;
  edge.region = f.region;

  // Firehose delivery streams write into the object store S3 serves.
  objectstore::ObjectStore* object_store = objects->get();
  std::unique_ptr<streamlog::LogStore> firehose_buffers;
  std::unique_ptr<delivery::FirehoseService> firehose;
  if (object_store) {
    auto buffers = streamlog::LogStore::Open(JoinPath(JoinPath(f.data_dir, "firehose"), "buffers"),
                                             log_options, env, clock);
    if (!buffers.ok()) {
      log::error("opening the Firehose buffers in {}: {}", f.data_dir, buffers.status().ToString());
      return 1;
    }
    firehose_buffers = std::move(buffers).value();
    delivery::FirehoseOptions fopts;
    fopts.region = f.region;
    fopts.account_id = account_id;
    fopts.delivery_memory_bytes = static_cast<uint64_t>(f.firehose_memory_mib) << 20;
    auto fh = delivery::FirehoseService::Open(JoinPath(f.data_dir, "firehose"), fopts,
                                              firehose_buffers.get(), kinesis, object_store, env,
                                              clock, &authorizer);
    if (!fh.ok()) {
      log::error("opening the Firehose catalogue in {}: {}", f.data_dir, fh.status().ToString());
      return 1;
    }
    firehose = std::move(fh).value();
  }
  delivery::EdgeOptions firehose_edge;
  firehose_edge.region = f.region;

  admin::AdminOptions admin_api;
  admin_api.region = f.region;
  admin_api.usage_json = [&kinesis] { return kinesis->UsageJson(); };
  admin_api.metrics_text = [] { return MetricsRegistry::Global()->RenderPrometheus(); };

  http::ServerOptions sopts;
  sopts.host = listen->first;
  sopts.port = listen->second;
  sopts.threads = f.threads > 0 ? f.threads : std::max(2u, std::thread::hardware_concurrency());
  sopts.tls_cert_file = f.tls_cert;
  sopts.tls_key_file = f.tls_key;
  auto handler = [&](http::Request&& req, http::Responder respond) {
    if (firehose && delivery::IsFirehoseRequest(req)) {
      delivery::ServeFirehose(firehose.get(), &identities, clock, firehose_edge, std::move(req),
                              std::move(respond));
      return;
    }
    if (kinesis::IsKinesisRequest(req)) {
      kinesis::ServeKinesis(kinesis, &identities, clock, edge, std::move(req), std::move(respond));
      return;
    }
    if (audit::IsCloudTrailRequest(req)) {
      audit::ServeCloudTrail(cloudtrail, &identities, clock, edge, std::move(req),
                             std::move(respond));
      return;
    }
    if (registry::IsRegistryRequest(req)) {
      registry::ServeRegistry(reg->get(), &identities, &authorizer, clock, registry_api,
                              std::move(req), std::move(respond));
      return;
    }
    if (console::IsConsoleRequest(req)) {
      respond(console.Handle(req));
      return;
    }
    if (admin::IsAdminRequest(req)) {
      respond(admin::HandleAdmin(identities, authorizer, *clock, admin_api, req));
      return;
    }
    if (req.path.rfind("/_muonpipe/", 0) == 0 || !req.Header("X-Amz-Target").empty()) {
      http::Response r;
      r.status = 400;
      r.Set("Content-Type", "application/x-amz-json-1.1");
      r.body = R"({"__type":"UnknownOperationException","message":"This endpoint serves )"
               R"(Kinesis, Firehose, S3, CloudTrail LookupEvents and /_muonpipe/; the requested )"
               R"(API is not available."})";
      respond(std::move(r));
      return;
    }
    // The Query protocol: STS, and IAM by its credential scope.
    if (identity::IsStsRequest(req)) {
      identity::ServeSts(&sts, &identities, clock, std::move(req), std::move(respond));
      return;
    }
    if (identity::IsIamRequest(req)) {
      identity::ServeIam(&iam, &identities, clock, std::move(req), std::move(respond));
      return;
    }
    // Everything else is S3 REST (path-style or virtual-host style).
    s3.Serve(std::move(req), std::move(respond));
  };
  auto server = http::Server::Start(sopts, handler);
  if (!server.ok()) {
    log::error("{}", server.status().message());
    return 1;
  }
  // Prometheus cannot sign requests: the metrics alone, unauthenticated, on a
  // second plain listener the operator binds to loopback or a private network.
  std::unique_ptr<http::Server> metrics_server;
  if (metrics_listen) {
    http::ServerOptions mopts;
    mopts.host = metrics_listen->first;
    mopts.port = metrics_listen->second;
    mopts.threads = 1;
    auto m = http::Server::Start(mopts, [&admin_api](http::Request&& req, http::Responder respond) {
      respond(admin::HandleMetricsListener(admin_api, req));
    });
    if (!m.ok()) {
      log::error("--metrics-listen {}: {}", f.metrics_listen, m.status().message());
      (*server)->Stop();
      return 1;
    }
    metrics_server = std::move(m).value();
  }

  // Measured ingest for `muonpipe plan --from-data-dir` (docs/plan.md).
  const std::string usage_path = JoinPath(JoinPath(f.data_dir, "metrics"), "usage.json");
  auto write_usage = [&] {
    Status s = env->CreateDirs(JoinPath(f.data_dir, "metrics"));
    if (s.ok()) s = env->WriteFileAtomic(usage_path, kinesis->UsageJson());
    if (!s.ok()) log::warn("usage figures: {}", s.ToString());
  };

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread housekeeping([&] {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return stopping; })) {
      lock.unlock();
      if (Status s = kinesis->EnforceRetention(); !s.ok()) {
        log::warn("retention: {}", s.ToString());
      }
      if (auto expired = s3.SweepLifecycle(); !expired.ok()) {
        log::warn("bucket lifecycle: {}", expired.status().ToString());
      } else if (*expired > 0) {
        log::info("bucket lifecycle: {} expired objects deleted", *expired);
      }
      write_usage();
      if (Status s = id_store->PurgeExpiredSessions(); !s.ok()) {
        log::warn("expired STS sessions: {}", s.ToString());
      }
      lock.lock();
    }
  });

  // Before each sweep the registry learns which detectors (partition keys,
  // docs/records.md) had records acknowledged since the last one, and when.
  auto sweep_live = [&] {
    kinesis->DrainActivity([&live](std::string_view key, uint64_t records, int64_t last_ms) {
      live.OnIngest(key, records, last_ms * 1'000'000);
    });
    return live.Sweep();
  };
  std::thread live_sweeper([&] {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(f.registry_sweep_seconds),
                        [&] { return stopping; })) {
      lock.unlock();
      auto moves = sweep_live();
      if (!moves.ok()) log::warn("registry live status: {}", moves.status().ToString());
      lock.lock();
    }
  });

  std::string scheme = f.tls_cert.empty() ? "http" : "https";
  std::string endpoint = fmt::format("{}://{}:{}", scheme, listen->first, (*server)->port());
  std::string cred_path = JoinPath(f.data_dir, "admin-credentials");
  fmt::print(
      "muonpipe is serving Kinesis, Firehose, S3, IAM, STS and CloudTrail LookupEvents at {} "
      "(region {}), data in {}\n"
      "Sensor registry API: {}{} (database {})\n"
      "Audit log: {} (aws cloudtrail lookup-events, muonpipe audit)\n"
      "{} administrator credentials: {} (mode 0600)\n"
      "Use them with the AWS CLI:\n"
      "  export AWS_SHARED_CREDENTIALS_FILE={} AWS_DEFAULT_REGION={}\n"
      "  aws --endpoint-url {} kinesis list-streams\n"
      "  aws --endpoint-url {} s3 ls\n",
      endpoint, f.region, f.data_dir, endpoint, registry::kApiPrefix, (*reg)->db().display_url(),
      audit_dir, created ? "Created" : "Using", cred_path, cred_path, f.region, endpoint, endpoint);
  if (metrics_server) {
    fmt::print("Prometheus metrics, unauthenticated: http://{}:{}/metrics (keep this listener on "
               "loopback or a private network)\n",
               metrics_listen->first, metrics_server->port());
  }
  std::fflush(stdout);
  log::info("ready: listening on {}", endpoint);

  int sig = 0;
  sigwait(&signals, &sig);
  log::info("received {}, stopping: finishing in-flight requests", strsignal(sig));
  (*server)->Stop();
  if (metrics_server) metrics_server->Stop();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  housekeeping.join();
  live_sweeper.join();
  if (auto moves = sweep_live(); !moves.ok()) {
    log::warn("registry live status: {}", moves.status().ToString());
  }
  write_usage();
  if (firehose) firehose->Close();
  if (firehose_buffers) firehose_buffers->Close();
  (*logs)->Close();
  if (Status s = (*audit_log)->Close(); !s.ok()) log::warn("audit log: {}", s.ToString());
  log::info("stopped cleanly");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand(
      "serve", "Run the pipeline: Kinesis, Firehose and S3 APIs on one listener");
  cmd->add_option("--data-dir", flags->data_dir, "Where all state lives")->capture_default_str();
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_option("--config", flags->config, "TOML file with the same settings (flags win)");
  cmd->add_option("--region", flags->region, "AWS region this endpoint serves")->capture_default_str();
  cmd->add_option("--tls-cert", flags->tls_cert, "PEM certificate: serve HTTPS");
  cmd->add_option("--tls-key", flags->tls_key, "PEM private key for --tls-cert");
  cmd->add_option("--durability", flags->durability,
                  "sync: acknowledge puts after fdatasync; none: tests only")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug, info, warn or error")->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Network threads (default: one per core)");
  cmd->add_option("--registry", flags->registry,
                  "Sensor registry database: postgresql://user:pass@host:port/db, or a SQLite "
                  "file (default DATA_DIR/registry.db)");
  cmd->add_option("--registry-sweep-seconds", flags->registry_sweep_seconds,
                  "How often live status from ingest is written to the registry")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--firehose-memory-mib", flags->firehose_memory_mib,
                  "Memory all Firehose delivery streams together may hold for objects being "
                  "built; when it is full, batches close early (smaller objects)")
      ->capture_default_str()
      ->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--metrics-listen", flags->metrics_listen,
                  "HOST:PORT of a second, plain-HTTP listener serving only GET /metrics "
                  "(Prometheus text) without authentication; bind it to loopback or a private "
                  "network (default: none)");
  cmd->add_flag("--enforce-shard-limits", flags->enforce_shard_limits,
                "Refuse writes beyond 1 MiB/s or 1000 records/s per shard, as AWS does");
  cmd->callback([cmd, flags, exit_code] { *exit_code = RunServe(cmd, *flags); });
}

}  // namespace muon::cli

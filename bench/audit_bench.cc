// The audit log's cost per recorded decision (docs/audit.md): the
// AuditingAuthorizer over an allow-all policy, writing to a real directory,
// with the default group commit (write + fdatasync every second or 1 MiB) and,
// for comparison, with an fdatasync after every record (what acknowledging
// each request only once its record is durable would cost).
//
//   audit_bench [DIR] [THREADS] [SECONDS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"
#include "audit/auditing_authorizer.h"
#include "base/clock.h"
#include "base/env.h"

using namespace muon;

namespace {

double Run(const std::string& dir, int threads, double seconds, bool sync_each) {
  Env* env = Env::Posix();
  if (Status s = env->RemoveTree(dir); !s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  auto log = audit::AuditLog::Open(dir, {}, env, Clock::Real());
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    std::exit(1);
  }
  auth::AllowAllAuthorizer allow;
  audit::AuditingAuthorizer authorizer(&allow, log->get(), Clock::Real(), {});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> workers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auth::Caller c;
      c.access_key_id = "AKIABENCH000000000" + std::to_string(t);
      c.principal_arn = "arn:aws:iam::000000000000:user/device-" + std::to_string(t);
      c.source_ip = "10.0.0.1";
      c.user_agent = "aws-sdk-cpp/1.11 detector";
      c.region = "ap-southeast-2";
      c.request_id = "3b1f0c9e-2f7a-4f64-9a55-6d7f1a2b3c4d";
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        Status s = authorizer.Authorize(
            c, "kinesis:PutRecords", "arn:aws:kinesis:ap-southeast-2:000000000000:stream/muons");
        if (sync_each) s = (*log)->Sync();
        if (!s.ok()) std::abort();
        ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (Status s = (*log)->Close(); !s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  if ((*log)->dropped()) std::printf("  (%llu dropped)\n", (unsigned long long)(*log)->dropped());
  return done.load() / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/muonpipe-audit-bench";
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  double seconds = argc > 3 ? std::atof(argv[3]) : 3;
  double group = Run(dir, threads, seconds, false);
  std::printf("group commit (1 s / 1 MiB), %d threads: %.0f decisions/s recorded (%.2f us each)\n",
              threads, group, 1e6 * threads / group);
  double each = Run(dir, 1, seconds, true);
  std::printf("fdatasync per record, 1 thread:        %.0f decisions/s recorded (%.1f us each)\n",
              each, 1e6 / each);
  Env::Posix()->RemoveTree(dir).ok();
  return 0;
}

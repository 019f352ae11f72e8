// identity_bench: what the identity store costs. Results go to
// bench/RESULTS.md (STYLE.md rule 11).
//
// 1. opens a store on --url (default: a SQLite file in a temp directory)
//    and creates --users users, each with an access key, a group with a
//    policy attached and a policy of its own;
// 2. measures Resolve and policies()->Lookup from --threads threads for
//    --seconds (the per-request path: snapshot only);
// 3. measures one write that rebuilds the snapshot (UpdateAccessKey) at that
//    size, one that patches it (PutSession), and VerifyPassword (Argon2id) right and wrong, and for a user
//    without a password.
//
// Usage: identity_bench [--url URL] [--users N] [--threads T] [--seconds S]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "identity/identity_store.h"

namespace {

using Steady = std::chrono::steady_clock;

double Since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int users = 1000;
  int threads = 2;
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--users") users = std::stoi(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--seconds") seconds = std::stod(argv[i + 1]);
    else {
      fmt::print(stderr, "unknown flag {}\n", a);
      return 2;
    }
  }
  std::filesystem::path dir;
  if (url.empty()) {
    dir = std::filesystem::temp_directory_path() / fmt::format("identity-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    url = (dir / "registry.db").string();
  }
  using muon::identity::IdentityStore;
  auto opened = IdentityStore::Open(url, {}, muon::Clock::Real());
  if (!opened.ok()) {
    fmt::print(stderr, "{}\n", opened.status().ToString());
    return 1;
  }
  IdentityStore& store = **opened;
  constexpr const char* kDoc =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]})";
  auto t0 = Steady::now();
  auto group_policy = store.CreatePolicy("BenchGroup", "/", kDoc, "");
  if (!group_policy.ok() || !store.CreateGroup("bench", "/").ok() ||
      !store.AttachPolicy(muon::identity::AttachTarget::kGroup, "bench", group_policy->arn).ok()) {
    fmt::print(stderr, "setting up the group failed\n");
    return 1;
  }
  std::vector<std::string> keys, arns;
  for (int i = 0; i < users; ++i) {
    std::string name = fmt::format("user{:06}", i);
    auto u = store.CreateUser(name, "/", {});
    auto k = store.CreateAccessKey(name);
    auto p = store.CreatePolicy("Own" + name, "/", kDoc, "");
    if (!u.ok() || !k.ok() || !p.ok() || !store.AddUserToGroup("bench", name).ok() ||
        !store.AttachPolicy(muon::identity::AttachTarget::kUser, name, p->arn).ok()) {
      fmt::print(stderr, "setting up {} failed\n", name);
      return 1;
    }
    keys.push_back(k->key.access_key_id);
    arns.push_back(u->arn);
  }
  double setup = Since(t0);
  fmt::print("setup: {} users (5 writes each) in {:.1f} s, {:.2f} ms a write\n", users, setup,
             setup * 1000 / (users * 5.0 + 3));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> resolves{0}, lookups{0}, misses{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      size_t i = t;
      int64_t r = 0, l = 0, m = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!store.Resolve(keys[i % keys.size()])) ++m;
        ++r;
        if (!store.policies()->Lookup(arns[i % arns.size()]).ok()) ++m;
        ++l;
        i += 7;
      }
      resolves += r;
      lookups += l;
      misses += m;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  fmt::print("Resolve + policies()->Lookup, {} threads: {:.0f} pairs/s ({:.2f} us a pair a thread), "
             "{} misses\n",
             threads, resolves / seconds, seconds * threads * 1e6 / resolves.load(), misses.load());

  t0 = Steady::now();
  const int writes = 20;
  for (int i = 0; i < writes; ++i) {
    (void)store.UpdateAccessKey("user000000", keys[0], i % 2 == 1);
  }
  fmt::print("UpdateAccessKey with the snapshot rebuilt ({} users): {:.1f} ms\n", users,
             Since(t0) * 1000 / writes);

  t0 = Steady::now();
  for (int i = 0; i < writes; ++i) {
    muon::identity::Session s;
    s.credentials = {fmt::format("ASIABENCH{:011}", i), "secret", "token"};
    s.principal_arn = arns[0];
    s.policy_principal_arn = arns[0];
    s.source_identity = "user000000";
    s.expiration = muon::Clock::Real()->NowSeconds() + 3600;
    (void)store.PutSession(s);
  }
  fmt::print("PutSession with the snapshot patched ({} users): {:.1f} ms\n", users,
             Since(t0) * 1000 / writes);

  (void)store.CreateLoginProfile("user000001", "bench password", false);
  for (auto [user, pw, what] :
       {std::tuple{"user000001", "bench password", "right"},
        std::tuple{"user000001", "wrong password", "wrong"},
        std::tuple{"user000002", "bench password", "no profile"}}) {
    t0 = Steady::now();
    for (int i = 0; i < 10; ++i) (void)store.VerifyPassword(user, pw);
    fmt::print("VerifyPassword ({}): {:.1f} ms\n", what, Since(t0) * 100);
  }
  opened->reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}

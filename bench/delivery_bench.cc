// delivery_bench: how fast a delivery stream turns a durable stream into
// compressed objects. Results go to bench/RESULTS.md (STYLE.md rule 11).
//
// 1. fills --shards streamlog logs in --dir with --records records of --size
//    bytes (synced, as acknowledged puts would be);
// 2. opens one delivery stream over them (one delivery thread, as `serve`
//    runs it) writing into the local object store in --dir (every put
//    fdatasynced), or into memory with --store fake;
// 3. measures the time until every record is delivered and checkpointed.
//
// Payloads (bench/canonical_record.h): --payload json (muonpipe's canonical
// records: one muon event of JSON padded to --size, compressible like real
// detector data) or random (incompressible bytes, the compressor's worst case).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "canonical_record.h"
#include "base/clock.h"
#include "base/env.h"
#include "delivery/delivery_stream.h"
#include "objectstore/fake_object_store.h"
#ifdef MUON_HAVE_LOCAL_OBJECT_STORE
#include "objectstore/local_object_store.h"
#endif
#include "streamlog/log_store.h"

namespace {

using namespace muon;

struct Options {
  std::string dir;
  uint64_t records = 1'000'000;
  size_t size = 1024;
  int shards = 4;
  std::string compression = "GZIP";
  int buffer_mib = 64;
  std::string payload = "json";
  std::string store = "local";
  bool reuse = false;  // deliver the logs a previous run filled again
};

[[noreturn]] void Usage(const std::string& why) {
  fmt::print(stderr,
             "delivery_bench: {}\n"
             "usage: delivery_bench --dir DIR [--records N] [--size BYTES] [--shards N]\n"
             "         [--compression GZIP|ZSTD|UNCOMPRESSED] [--buffer-mib 1..128]\n"
             "         [--payload json|random] [--store local|fake] [--reuse]\n",
             why);
  std::exit(2);
}

std::string Record(std::mt19937_64& rng, const Options& o, uint64_t i) {
  return bench::PayloadRecord(o.payload, rng, o.size, i);
}

int Run(const Options& o) {
  Env* env = Env::Posix();
  Clock* clock = Clock::Real();
  if (Status s = o.reuse ? env->RemoveTree(JoinPath(o.dir, "state")) : env->RemoveTree(o.dir);
      !s.ok()) {
    Usage(s.ToString());
  }
  if (Status s = env->RemoveTree(JoinPath(o.dir, "objects")); !s.ok()) Usage(s.ToString());
  auto logs = streamlog::LogStore::Open(JoinPath(o.dir, "logs"), {}, env, clock);
  if (!logs.ok()) Usage(logs.status().ToString());
  std::vector<delivery::SourceShard> shards;
  std::mt19937_64 rng(42);
  auto fill_start = std::chrono::steady_clock::now();
  const uint64_t bytes = o.records * o.size;  // Record() makes every record exactly --size
  for (int sh = 0; sh < o.shards; ++sh) {
    auto log = o.reuse ? (*logs)->GetLog(fmt::format("shard-{}", sh))
                       : (*logs)->CreateLog(fmt::format("shard-{}", sh));
    if (!log.ok()) Usage(log.status().ToString());
    uint64_t n = o.records / o.shards + (static_cast<uint64_t>(sh) < o.records % o.shards ? 1 : 0);
    if (o.reuse && (*log)->EndSeq() != n) Usage("--reuse: the logs hold a different --records");

    for (uint64_t done = o.reuse ? n : 0; done < n;) {
      std::vector<std::string> datas;
      for (uint64_t i = 0; i < 500 && done + i < n; ++i) datas.push_back(Record(rng, o, done + i));
      std::vector<streamlog::AppendEntry> entries;
      for (const auto& d : datas) entries.push_back({.partition_key = "k", .data = d});

      auto r = (*log)->AppendSync(entries);
      if (!r.ok()) Usage(r.status().ToString());
      done += datas.size();
    }
    shards.push_back({fmt::format("shardId-{:012d}", sh), *log, false});
  }
  double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();

  std::unique_ptr<objectstore::ObjectStore> store;
  if (o.store == "fake") {
    store = std::make_unique<objectstore::FakeObjectStore>();
  } else {
#ifdef MUON_HAVE_LOCAL_OBJECT_STORE
    auto local = objectstore::LocalObjectStore::Open(JoinPath(o.dir, "objects"), env, clock);
    if (!local.ok()) Usage(local.status().ToString());
    store = std::move(local).value();
#else
    Usage("this build has no local object store; use --store fake");
#endif
  }
  if (Status s = store->CreateBucket("bench"); !s.ok()) Usage(s.ToString());

  delivery::DestinationConfig config;
  config.bucket = "bench";
  config.bucket_arn = "arn:aws:s3:::bench";
  config.size_mib = o.buffer_mib;
  config.interval_s = 1;
  config.append_delimiter = true;
  auto c = delivery::ParseCompression(o.compression);
  if (!c.ok()) Usage(c.status().message());
  config.compression = *c;
  delivery::DeliveryStreamOptions dopts;
  dopts.name = "bench";
  dopts.incarnation = 1;
  dopts.state_dir = JoinPath(o.dir, "state");
  dopts.metrics = false;

  auto start = std::chrono::steady_clock::now();
  auto d = delivery::DeliveryStream::Open(dopts, config, shards, store.get(), env, clock);
  if (!d.ok()) Usage(d.status().ToString());
  (*d)->Start();
  while ((*d)->Stats().delivered_records < o.records) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  (*d)->Stop();
  auto st = (*d)->Stats();
  (*logs)->Close();

  uint64_t stored = 0;
  auto page = store->List("bench", {.prefix = "", .start_after = "", .max_keys = 100000});
  if (page.ok()) {
    for (const auto& m : page->objects) stored += m.size;
  }
  fmt::print(
      "{{\"bench\":\"delivery\",\"compression\":\"{}\",\"payload\":\"{}\",\"store\":\"{}\","
      "\"records\":{},\"record_bytes\":{},\"shards\":{},\"buffer_mib\":{},\"seconds\":{:.3f},"
      "\"records_per_s\":{:.0f},\"source_mb_per_s\":{:.1f},\"objects\":{},\"stored_bytes\":{},"
      "\"ratio\":{:.3f},\"fill_records_per_s\":{:.0f},\"retries\":{}}}\n",
      o.compression, o.payload, o.store, st.delivered_records, o.size, o.shards, o.buffer_mib,
      secs, static_cast<double>(st.delivered_records) / secs, static_cast<double>(bytes) / secs / 1e6,
      st.delivered_objects, stored, static_cast<double>(stored) / static_cast<double>(bytes),
      o.reuse ? 0.0 : static_cast<double>(o.records) / fill_s, st.retries);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(f + " needs a value");
      return argv[++i];
    };
    if (f == "--dir") o.dir = next();
    else if (f == "--records") o.records = std::stoull(next());
    else if (f == "--size") o.size = std::stoul(next());
    else if (f == "--shards") o.shards = std::stoi(next());
    else if (f == "--compression") o.compression = next();
    else if (f == "--buffer-mib") o.buffer_mib = std::stoi(next());
    else if (f == "--payload") o.payload = next();
    else if (f == "--store") o.store = next();
    else if (f == "--reuse") o.reuse = true;
    else Usage("unknown flag " + f);
  }
  if (o.dir.empty()) Usage("--dir is required");
  if (o.shards < 1 || o.size < 64 || o.records == 0) Usage("bad --shards, --size or --records");
  if (!bench::IsPayloadName(o.payload)) Usage("--payload must be json or random");
  return Run(o);
}

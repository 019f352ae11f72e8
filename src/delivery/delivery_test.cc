#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/base64.h"
#include "base/fault_env.h"
#include "delivery/compress.h"
#include "delivery/config.h"
#include "delivery/delivery_stream.h"
#include "delivery/memory_budget.h"
#include "delivery/metadata_query.h"
#include "delivery/prefix.h"
#include "objectstore/fake_object_store.h"

namespace muon::delivery {
namespace {

using objectstore::FakeObjectStore;
using objectstore::FakeOp;

// 2023-11-14T22:13:20Z
constexpr int64_t kT0Ms = 1'700'000'000'000;

TEST(PrefixTest, FormatsJavaPatternsInUtc) {
  EXPECT_EQ(*FormatTimestamp("yyyy/MM/dd/HH/", kT0Ms), "2023/11/14/22/");
  EXPECT_EQ(*FormatTimestamp("yyyy-MM-dd-HH-mm-ss", kT0Ms + 5'123), "2023-11-14-22-13-25");
  EXPECT_EQ(*FormatTimestamp("'year='yyyy'/day='DDD", kT0Ms), "year=2023/day=318");
  EXPECT_EQ(*FormatTimestamp("yy MMM EEE h a SSS ''", kT0Ms + 42), "23 Nov Tue 10 PM 042 '");
  EXPECT_FALSE(FormatTimestamp("yyyy-QQ", kT0Ms).ok());
  EXPECT_FALSE(FormatTimestamp("'open", kT0Ms).ok());
}

TEST(PrefixTest, DefaultPrefixIsUtcHourWhenNoneGiven) {
  auto r = ResolvePrefixes("", "", false, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  PrefixValues v;
  v.timestamp_ms = kT0Ms;
  v.error_output_type = "partitioning-failed";
  EXPECT_EQ(r->success.Expand(v), "2023/11/14/22/");
  EXPECT_EQ(r->error.Expand(v), "partitioning-failed/2023/11/14/22/");
}

TEST(PrefixTest, PrefixWithoutTimestampGetsTheDefaultAppended) {
  auto r = ResolvePrefixes("raw/", "", false, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->success.Expand(PrefixValues{kT0Ms, "", "", {}}), "raw/2023/11/14/22/");
  auto e = ResolvePrefixes("raw/!{timestamp:yyyy}/", "err/!{firehose:error-output-type}/", false, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->success.Expand(PrefixValues{kT0Ms, "", "", {}}), "raw/2023/");
}

TEST(PrefixTest, ExpandsEveryNamespace) {
  auto t = PrefixTemplate::Parse(
      "d=!{partitionKeyFromQuery:detector}/!{timestamp:HH}/!{firehose:random-string}/");
  ASSERT_TRUE(t.ok());
  PrefixValues v;
  v.timestamp_ms = kT0Ms;
  v.random_string = "abcdefghijk";
  v.partition_keys["detector"] = "det-7";
  EXPECT_EQ(t->Expand(v), "d=det-7/22/abcdefghijk/");
}

TEST(PrefixTest, RejectsInvalidCombinations) {
  // error-output-type only in ErrorOutputPrefix.
  EXPECT_FALSE(ValidatePrefixes("a/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}", false, {}).ok());
  // An expression in Prefix needs an ErrorOutputPrefix.
  EXPECT_FALSE(ValidatePrefixes("a/!{timestamp:yyyy}/", "", false, {}).ok());
  // An ErrorOutputPrefix with expressions must name the error type.
  EXPECT_FALSE(ValidatePrefixes("a/", "e/!{timestamp:yyyy}/", false, {}).ok());
  // No partition keys in the error prefix.
  EXPECT_FALSE(ValidatePrefixes("a/!{partitionKeyFromQuery:d}/",
                                "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:d}", true, {"d"}).ok());
  // partitionKeyFromQuery needs dynamic partitioning, which needs the key in the query.
  EXPECT_FALSE(ValidatePrefixes("a/!{partitionKeyFromQuery:d}/", "e/!{firehose:error-output-type}", false, {"d"}).ok());
  EXPECT_FALSE(ValidatePrefixes("a/!{partitionKeyFromQuery:x}/", "e/!{firehose:error-output-type}", true, {"d"}).ok());
  EXPECT_FALSE(ValidatePrefixes("a/", "e/!{firehose:error-output-type}", true, {"d"}).ok());
  // Malformed and unknown expressions; Lambda is refused.
  EXPECT_FALSE(ValidatePrefixes("a/!{timestamp", "", false, {}).ok());
  EXPECT_FALSE(ValidatePrefixes("a/!{nope:x}/", "e/!{firehose:error-output-type}", false, {}).ok());
  EXPECT_FALSE(ValidatePrefixes("a/!{partitionKeyFromLambda:x}/", "e/!{firehose:error-output-type}", true, {"x"}).ok());
  EXPECT_FALSE(ValidatePrefixes(std::string(1025, 'a'), "", false, {}).ok());
  // And the valid ones.
  EXPECT_TRUE(ValidatePrefixes("a/!{partitionKeyFromQuery:d}/", "e/!{firehose:error-output-type}/", true, {"d"}).ok());
  EXPECT_TRUE(ValidatePrefixes("plain/", "", false, {}).ok());
}

TEST(MetadataQueryTest, ExtractsScalarsAlongPaths) {
  auto q = MetadataQuery::Parse(R"({detector: .detector, site : .loc.site, "n": .hits[1], ok: .meta."is ok"})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->Keys(), (std::vector<std::string>{"detector", "site", "n", "ok"}));
  auto v = q->Evaluate(R"({"detector":"d1","loc":{"site":"mine"},"hits":[3,17],"meta":{"is ok":true}})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["detector"], "d1");
  EXPECT_EQ((*v)["site"], "mine");
  EXPECT_EQ((*v)["n"], "17");
  EXPECT_EQ((*v)["ok"], "true");
}

TEST(MetadataQueryTest, ReportsWhyARecordFails) {
  auto q = MetadataQuery::Parse("{detector: .detector}");
  ASSERT_TRUE(q.ok());
  auto not_json = q->Evaluate("not json");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.status().message().find("not valid JSON"), std::string::npos);
  auto missing = q->Evaluate(R"({"other":1})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(".detector"), std::string::npos);
  EXPECT_FALSE(q->Evaluate(R"({"detector":{"a":1}})").ok());
  EXPECT_FALSE(q->Evaluate(R"({"detector":null})").ok());
}

TEST(MetadataQueryTest, RejectsMalformedQueries) {
  for (const char* bad : {"", "{}", "{a .a}", "{a: a}", "{a: .a", "{a: .a, a: .b}", "{a: .a} x",
                          "{a: .a[}"}) {
    EXPECT_FALSE(MetadataQuery::Parse(bad).ok()) << bad;
  }
}

TEST(CompressTest, RoundTripsAndIsDeterministic) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += fmt::format("{{\"i\":{},\"v\":\"abc{}\"}}\n", i, i * 7);
  for (Compression c : {Compression::kUncompressed, Compression::kGzip, Compression::kZstd}) {
    std::string a, b;
    ASSERT_TRUE(Compress(c, data, &a).ok());
    ASSERT_TRUE(Compress(c, data, &b).ok());
    EXPECT_EQ(a, b) << CompressionName(c);
    auto back = Decompress(c, a);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data);
    if (c != Compression::kUncompressed) {
      EXPECT_LT(a.size(), data.size() / 3);
    }
  }
}

// Plain text of `n` bytes that compresses about 4:3 (random letters), so
// compressed pieces stay large.
std::string Letters(std::mt19937_64& rng, size_t n) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-";
  std::string s(n, ' ');
  for (char& c : s) c = kAlphabet[rng() % 64];
  return s;
}

// True if `data` holds more than one gzip member (one inflate stops early).
bool HasSeveralGzipMembers(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out(4u << 20, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  bool several = rc == Z_STREAM_END && z.avail_in > 0;
  inflateEnd(&z);
  return several;
}

bool HasSeveralZstdFrames(std::string_view data) {
  size_t first = ZSTD_findFrameCompressedSize(data.data(), data.size());
  return !ZSTD_isError(first) && first < data.size();
}

TEST(CompressTest, ChunkedObjectsAreSeveralMembersOrFramesThatDecodeAsOneStream) {
  std::mt19937_64 rng(1);
  std::string data;
  for (int i = 0; data.size() < (3u << 20); ++i) {
    data += fmt::format("{{\"i\":{},\"v\":\"{}\"}}\n", i, Letters(rng, 40 + i % 200));
  }
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string a, b;
    ASSERT_TRUE(Compress(c, data, &a).ok());
    ASSERT_TRUE(Compress(c, data, &b).ok());
    EXPECT_EQ(a, b) << CompressionName(c);
    EXPECT_TRUE(c == Compression::kGzip ? HasSeveralGzipMembers(a) : HasSeveralZstdFrames(a))
        << CompressionName(c);
    auto back = Decompress(c, a);  // zlib inflate, or ZSTD_decompressStream, over every piece
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data) << CompressionName(c);
  }
}

TEST(CompressTest, IncompressibleGzipChunkIsStoredNotLarger) {
  std::mt19937_64 rng(2);
  std::string data(1u << 20, '\0');
  for (char& ch : data) ch = static_cast<char>(rng());
  Compressor c;
  std::string piece;
  ASSERT_TRUE(c.CompressChunk(Compression::kGzip, data, &piece).ok());
  EXPECT_LE(piece.size(), data.size() + data.size() / 1000 + 64);
  EXPECT_LE(piece.capacity(), c.PieceBound(Compression::kGzip, data.size()));
  EXPECT_EQ(*Decompress(Compression::kGzip, piece), data);
  EXPECT_EQ(c.StoredChunks(), 1u);  // level 1 would make the same size at 1/30 the speed
  // Compressible text is still compressed.
  std::string text;
  while (text.size() < (1u << 20)) text += "{\"detector\":\"mdet-0001\",\"kind\":\"muon\"}\n";
  ASSERT_TRUE(c.CompressChunk(Compression::kGzip, text, &piece).ok());
  EXPECT_LT(piece.size(), text.size() / 10);
  EXPECT_EQ(*Decompress(Compression::kGzip, piece), text);
  EXPECT_EQ(c.StoredChunks(), 1u);
}

TEST(CompressTest, StoredGzipPiecesOfEveryBlockBoundaryInflate) {
  // Stored deflate blocks hold at most 65535 bytes: sizes at and around the
  // block boundaries, each checked by zlib (CRC32 and ISIZE included).
  std::mt19937_64 rng(3);
  for (size_t n : {size_t{32768}, size_t{65534}, size_t{65535}, size_t{65536},
                   size_t{2 * 65535}, size_t{2 * 65535 + 1}, size_t{1000003}}) {
    std::string data(n, '\0');
    for (char& ch : data) ch = static_cast<char>(rng());
    Compressor c;
    std::string piece;
    ASSERT_TRUE(c.CompressChunk(Compression::kGzip, data, &piece).ok()) << n;
    ASSERT_EQ(c.StoredChunks(), 1u) << n;
    const size_t blocks = (n + 65534) / 65535;
    EXPECT_EQ(piece.size(), 10 + 5 * blocks + n + 8) << n;
    EXPECT_LE(piece.size(), c.PieceBound(Compression::kGzip, n)) << n;
    auto back = Decompress(Compression::kGzip, piece);
    ASSERT_TRUE(back.ok()) << n << ": " << back.status().ToString();
    EXPECT_EQ(*back, data) << n;
    // A flipped data byte fails the member's CRC.
    piece[20] ^= 1;
    EXPECT_FALSE(Decompress(Compression::kGzip, piece).ok()) << n;
  }
}

TEST(MemoryBudgetTest, RefusesWhatDoesNotFitAndYieldsToPriority) {
  MemoryBudget budget(MemoryBudget::kMinCapacity);
  {
    BudgetHold a(&budget), b(&budget);
    EXPECT_TRUE(a.Grow(3u << 20));
    EXPECT_FALSE(budget.Fits(2u << 20));
    EXPECT_FALSE(b.Grow(2u << 20));  // 5 MiB > 4 MiB
    EXPECT_TRUE(budget.Fits(1u << 20));
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.Grow(1u << 20));
    EXPECT_EQ(budget.InUse(), 4u << 20);
    budget.BeginPriority();
    a.Shrink(1u << 20);
    EXPECT_FALSE(b.Grow(1));  // ordinary reservations wait for the priority one
    EXPECT_TRUE(b.Grow(2u << 20, /*force=*/true));
    EXPECT_EQ(budget.HighWater(), 5u << 20);
    budget.EndPriority();
  }
  EXPECT_EQ(budget.InUse(), 0u);  // holds give everything back
  EXPECT_EQ(MemoryBudget(1).capacity(), MemoryBudget::kMinCapacity);
}

TEST(FakeObjectStoreTest, FailsTheNextCallsItIsToldToAndCountsAll) {
  FakeObjectStore store;
  ASSERT_TRUE(store.CreateBucket("b").ok());
  store.FailNext(FakeOp::kPut, 2, Status::Unavailable("injected"));
  EXPECT_EQ(store.Put("b", "k", "1", {}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.Put("b", "k", "2", {}).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(store.Contents("b").empty());
  auto ok = store.Put("b", "k", "3", {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->etag, "eccbc87e4b5ce2fe28308fd9f2a7baf3");  // md5("3")
  EXPECT_EQ(store.Calls(FakeOp::kPut), 3);
  EXPECT_EQ(store.Contents("b").at("k"), "3");
  EXPECT_EQ(store.Put("nobucket", "k", "x", {}).status().code(), StatusCode::kNotFound);
  auto page = store.List("b", {.prefix = "", .start_after = "", .max_keys = 10});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 1u);
}

TEST(FakeObjectStoreTest, PutPiecesJoinsThePiecesAndCountsAsAPut) {
  FakeObjectStore store;
  ASSERT_TRUE(store.CreateBucket("b").ok());
  store.FailNext(FakeOp::kPut, 1, Status::Unavailable("injected"));
  EXPECT_FALSE(store.PutPieces("b", "k", {"x", "y"}, {}).ok());
  EXPECT_TRUE(store.Contents("b").empty());
  auto ok = store.PutPieces("b", "k", {"1", "", "23"}, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size, 3u);
  EXPECT_EQ(store.Contents("b").at("k"), "123");
  EXPECT_EQ(store.Calls(FakeOp::kPut), 2);
}

// A shard log whose next scan fails, as a log that meets a corrupt record
// does, after visiting `visits` records.
class FailingScanLog final : public streamlog::ShardLog {
 public:
  explicit FailingScanLog(std::shared_ptr<streamlog::ShardLog> log) : log_(std::move(log)) {}

  void FailNextScanAfter(size_t visits) { fail_after_ = static_cast<int64_t>(visits); }
  int failures() const { return failures_; }

  Result<streamlog::ScanResult> Scan(uint64_t from_seq, size_t max_records, size_t max_bytes,
                                     const streamlog::RecordVisitor& visit) const override {
    const int64_t fail_after = fail_after_.exchange(-1);
    if (fail_after < 0) return log_->Scan(from_seq, max_records, max_bytes, visit);
    int64_t visited = 0;
    auto r = log_->Scan(from_seq, max_records, max_bytes, [&](const streamlog::RecordView& v) {
      if (visited == fail_after) return false;
      ++visited;
      return visit(v);
    });
    if (!r.ok()) return r.status();
    ++failures_;
    return Status::Corruption("injected: a bad record after " + std::to_string(visited));
  }
  void Append(std::span<const streamlog::AppendEntry> entries,
              streamlog::AppendCallback done) override {
    log_->Append(entries, std::move(done));
  }
  Result<uint64_t> SeqAtOrAfterTime(int64_t ms) const override {
    return log_->SeqAtOrAfterTime(ms);
  }
  uint64_t TrimSeq() const override { return log_->TrimSeq(); }
  uint64_t EndSeq() const override { return log_->EndSeq(); }
  int64_t LastArrivalMs() const override { return log_->LastArrivalMs(); }
  uint64_t SizeBytes() const override { return log_->SizeBytes(); }
  Status TrimBefore(int64_t cutoff_ms) override { return log_->TrimBefore(cutoff_ms); }

 private:
  const std::shared_ptr<streamlog::ShardLog> log_;
  mutable std::atomic<int64_t> fail_after_{-1};
  mutable std::atomic<int> failures_{0};
};

// A delivery stream over one shard log in a fault-injecting in-memory Env.
class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0Ms * 1'000'000);
    ASSERT_TRUE(store_.CreateBucket("bucket").ok());
    config_.bucket = "bucket";
    config_.bucket_arn = "arn:aws:s3:::bucket";
    config_.size_mib = 1;
    config_.interval_s = 60;
    config_.append_delimiter = true;
    OpenLogs();
  }
  void TearDown() override {
    stream_.reset();
    log_.reset();
    logs_.reset();
  }

  void OpenLogs() {
    auto s = streamlog::LogStore::Open("/data/logs", {}, &env_, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    logs_ = std::move(s).value();
    auto l = logs_->GetLog("src");
    if (!l.ok()) l = logs_->CreateLog("src");
    ASSERT_TRUE(l.ok());
    log_ = *l;
  }

  void OpenStream(bool start_at_end = false, size_t max_read_bytes_per_step = 8u << 20) {
    stream_.reset();
    DeliveryStreamOptions o;
    o.name = "hose";
    o.incarnation = 7;
    o.state_dir = "/data/firehose/hose";
    o.start_at_end = start_at_end;
    o.metrics = false;
    o.max_read_bytes_per_step = max_read_bytes_per_step;
    o.memory_budget = budget_;
    auto d = DeliveryStream::Open(o, config_,
                                  {{"shardId-000000000000", source_ ? source_ : log_, false}},
                                  &store_, &env_, &clock_);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    stream_ = std::move(d).value();
  }

  // Power loss of the whole process: drops everything not synced, then
  // reopens the logs and the stream from the same Env.
  void CrashAndRestart() {
    env_.SetFilesystemActive(false);
    stream_.reset();
    log_.reset();
    logs_.reset();
    env_.SimulateCrash();
    env_.SetFilesystemActive(true);
    OpenLogs();
    OpenStream();
  }

  std::vector<std::string> Append(int first, int n, size_t size = 100) {
    std::vector<std::string> datas;
    for (int i = first; i < first + n; ++i) {
      std::string d = fmt::format("{{\"detector\":\"d{}\",\"i\":{}", i % 3, i);
      d += ",\"pad\":\"";
      while (d.size() + 2 < size) d.push_back('x');
      d += "\"}";
      datas.push_back(d);
    }
    std::vector<streamlog::AppendEntry> entries;
    for (const auto& d : datas) entries.push_back({.partition_key = "pk", .data = d});
    auto r = log_->AppendSync(entries);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return datas;
  }

  void StepUntilIdle() {
    for (int i = 0; i < 100 && stream_->Step(); ++i) {
    }
  }

  // Every delivered line, decompressed, counted.
  std::map<std::string, int> DeliveredLines(const std::string& key_prefix = "") {
    std::map<std::string, int> lines;
    for (const auto& [key, data] : store_.Contents("bucket")) {
      if (key.rfind(key_prefix, 0) != 0) continue;
      Compression c = key.ends_with(".gz")    ? Compression::kGzip
                      : key.ends_with(".zst") ? Compression::kZstd
                                              : Compression::kUncompressed;
      auto text = Decompress(c, data);
      EXPECT_TRUE(text.ok()) << key;
      if (!text.ok()) continue;
      size_t pos = 0;
      while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        ++lines[text->substr(pos, nl - pos)];
        pos = nl + 1;
      }
    }
    return lines;
  }

  void ExpectExactlyOnce(const std::vector<std::string>& sent) {
    auto lines = DeliveredLines();
    EXPECT_EQ(lines.size(), sent.size());
    for (const auto& d : sent) EXPECT_EQ(lines[d], 1) << d;
  }

  std::unique_ptr<Env> base_ = NewMemEnv();
  FaultInjectionEnv env_{base_.get()};
  FakeClock clock_;
  FakeObjectStore store_{&clock_};
  DestinationConfig config_;
  std::unique_ptr<streamlog::LogStore> logs_;
  std::shared_ptr<streamlog::ShardLog> log_;
  std::shared_ptr<streamlog::ShardLog> source_;  // what the stream reads; log_ when null
  std::unique_ptr<DeliveryStream> stream_;
  MemoryBudget* budget_ = nullptr;  // the stream's own when null
};

TEST_F(DeliveryTest, WaitsForTheIntervalThenDeliversOneNamedObject) {
  OpenStream();
  auto sent = Append(0, 10);
  StepUntilIdle();
  EXPECT_TRUE(store_.Contents("bucket").empty());
  EXPECT_GT(stream_->Stats().lag_ms, -1);
  clock_.AdvanceSeconds(59);
  StepUntilIdle();
  EXPECT_TRUE(store_.Contents("bucket").empty());
  EXPECT_EQ(stream_->Stats().lag_ms, 59'000);
  clock_.AdvanceSeconds(1);
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 1u);
  const std::string& key = contents.begin()->first;
  // <prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>
  EXPECT_TRUE(key.starts_with("2023/11/14/22/hose-1-2023-11-14-22-13-20-")) << key;
  EXPECT_EQ(key.size(), std::string("2023/11/14/22/hose-1-2023-11-14-22-13-20-").size() + 36) << key;
  ExpectExactlyOnce(sent);
  auto st = stream_->Stats();
  EXPECT_EQ(st.delivered_records, 10u);
  EXPECT_EQ(st.delivered_objects, 1u);
  EXPECT_EQ(st.lag_ms, 0);
}

// Records a failing scan visited before its error are in the batch; the next
// scan goes on after them, so none is lost or delivered twice.
TEST_F(DeliveryTest, ScanFailingPartWayKeepsWhatItVisitedAndDeliversEachRecordOnce) {
  auto failing = std::make_shared<FailingScanLog>(log_);
  source_ = failing;
  OpenStream();
  auto sent = Append(0, 50);
  failing->FailNextScanAfter(20);
  EXPECT_TRUE(stream_->Step());
  EXPECT_EQ(failing->failures(), 1);
  EXPECT_NE(stream_->Stats().last_error.find("injected"), std::string::npos)
      << stream_->Stats().last_error;
  auto more = Append(50, 10);
  sent.insert(sent.end(), more.begin(), more.end());
  failing->FailNextScanAfter(0);  // a scan that fails before its first record
  stream_->Step();
  EXPECT_EQ(failing->failures(), 2);
  clock_.AdvanceSeconds(60);
  StepUntilIdle();
  ExpectExactlyOnce(sent);
  EXPECT_EQ(stream_->Stats().delivered_records, 60u);
  EXPECT_EQ(store_.Contents("bucket").size(), 1u);  // one batch: the failures did not cut it
}

TEST_F(DeliveryTest, SizeHintCutsObjectsBeforeTheInterval) {
  OpenStream();
  auto sent = Append(0, 2500, 1000);  // ~2.4 MiB, SizeInMBs 1
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  EXPECT_EQ(contents.size(), 2u);  // two full MiB; the rest waits for the interval
  clock_.AdvanceSeconds(60);
  StepUntilIdle();
  EXPECT_EQ(store_.Contents("bucket").size(), 3u);
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, BacklogFillsObjectsToTheSizeHint) {
  auto sent = Append(0, 2000, 1000);  // ~1.9 MiB waiting before delivery starts
  clock_.AdvanceSeconds(3600);        // long past the interval
  OpenStream(false, 64 << 10);        // but each Step reads only 64 KiB
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 2u);  // one full MiB, then the rest once caught up
  EXPECT_GE(contents.begin()->second.size(), 1u << 20);
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, IntervalZeroDeliversAtOnceWithoutDelimiter) {
  config_.interval_s = 0;
  config_.append_delimiter = false;
  OpenStream();
  Append(0, 3);
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(contents.begin()->second.find('\n'), std::string::npos);
  EXPECT_EQ(contents.begin()->second.substr(0, 18), "{\"detector\":\"d0\",\"");
}

TEST_F(DeliveryTest, CompressesWithGzipAndZstd) {
  config_.compression = Compression::kGzip;
  config_.interval_s = 0;
  OpenStream();
  auto sent = Append(0, 50);
  StepUntilIdle();
  ASSERT_TRUE(stream_->UpdateDestination([&] {
                auto c = config_;
                c.compression = Compression::kZstd;
                c.version = 2;
                return c;
              }())
                  .ok());
  auto more = Append(50, 50);
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 2u);
  auto it = contents.begin();
  EXPECT_TRUE(it->first.ends_with(".gz")) << it->first;
  EXPECT_NE(it->first.find("hose-1-"), std::string::npos);
  ++it;
  EXPECT_TRUE(it->first.ends_with(".zst")) << it->first;
  EXPECT_NE(it->first.find("hose-2-"), std::string::npos);
  sent.insert(sent.end(), more.begin(), more.end());
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, StoreFailuresAreRetriedWithBackoffAndNothingIsLost) {
  config_.interval_s = 0;
  OpenStream();
  auto sent = Append(0, 20);
  store_.FailNext(FakeOp::kPut, 3, Status::Unavailable("injected"));
  StepUntilIdle();
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 1);  // back-off: no retry until time passes
  EXPECT_TRUE(store_.Contents("bucket").empty());
  EXPECT_NE(stream_->Stats().last_error.find("injected"), std::string::npos);
  for (int i = 0; i < 10 && store_.Contents("bucket").empty(); ++i) {
    clock_.AdvanceSeconds(1);
    StepUntilIdle();
  }
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 4);
  ExpectExactlyOnce(sent);
  auto st = stream_->Stats();
  EXPECT_EQ(st.retries, 3u);
  EXPECT_EQ(st.delivered_records, 20u);
  EXPECT_EQ(st.last_error, "");
}

TEST_F(DeliveryTest, BackoffDoublesUpToTheMaximum) {
  config_.interval_s = 0;
  OpenStream();
  Append(0, 1);
  store_.FailNext(FakeOp::kPut, 100, Status::IoError("down"));
  StepUntilIdle();  // attempt 1 fails: wait 100 ms
  int64_t waited_ms = 0;
  std::vector<int64_t> gaps;
  int last_calls = store_.Calls(FakeOp::kPut);
  for (int i = 0; i < 200'000 && gaps.size() < 12; ++i) {
    clock_.Advance(50'000'000);
    waited_ms += 50;
    stream_->Step();
    if (store_.Calls(FakeOp::kPut) != last_calls) {
      gaps.push_back(waited_ms);
      waited_ms = 0;
      last_calls = store_.Calls(FakeOp::kPut);
    }
  }
  ASSERT_EQ(gaps.size(), 12u);
  EXPECT_EQ(gaps[0], 100);
  EXPECT_EQ(gaps[1], 200);
  EXPECT_EQ(gaps[2], 400);
  EXPECT_EQ(gaps[11], 60'000);
  EXPECT_TRUE(store_.Contents("bucket").empty());
}

TEST_F(DeliveryTest, CrashBetweenPutAndCheckpointRePutsTheSameObject) {
  config_.interval_s = 0;
  OpenStream();
  auto sent = Append(0, 30);
  // Intent written (rename 1), object put, then advancing the checkpoint
  // (rename 2) fails; the process dies before it retries.
  env_.FailNthRename(2);
  stream_->Step();
  ASSERT_EQ(store_.Contents("bucket").size(), 1u);
  std::string first_key = store_.Contents("bucket").begin()->first;
  std::string first_data = store_.Contents("bucket").begin()->second;
  CrashAndRestart();
  auto more = Append(30, 5);
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 3);  // the re-put, then the new records
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents.at(first_key), first_data);
  sent.insert(sent.end(), more.begin(), more.end());
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, CrashAfterIntentBeforePutDeliversTheRecordedRangeOnly) {
  OpenStream();
  auto sent = Append(0, 10);
  clock_.AdvanceSeconds(60);
  store_.FailNext(FakeOp::kPut, 1, Status::Unavailable("injected"));
  stream_->Step();  // intent recorded for records 0..9, put failed
  EXPECT_TRUE(store_.Contents("bucket").empty());
  CrashAndRestart();
  // More records arrive before the restarted stream runs: they must not join
  // the recorded batch, whose name is already fixed.
  auto more = Append(10, 10);
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(DeliveredLines().size(), 10u);
  clock_.AdvanceSeconds(60);
  StepUntilIdle();
  sent.insert(sent.end(), more.begin(), more.end());
  ExpectExactlyOnce(sent);
  EXPECT_EQ(store_.Contents("bucket").size(), 2u);
}

TEST_F(DeliveryTest, RestartAfterCleanDeliveryDoesNotRedeliver) {
  config_.interval_s = 0;
  OpenStream();
  auto sent = Append(0, 10);
  StepUntilIdle();
  CrashAndRestart();
  StepUntilIdle();
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 1);
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, CheckpointWriteFailureIsRetriedNotSkipped) {
  config_.interval_s = 0;
  OpenStream();
  auto sent = Append(0, 10);
  env_.FailNthSync(1);  // the intent's sync fails
  stream_->Step();
  EXPECT_TRUE(store_.Contents("bucket").empty());
  EXPECT_EQ(stream_->Stats().retries, 1u);
  clock_.AdvanceSeconds(1);
  StepUntilIdle();
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, StartAtEndSkipsWhatWasThereBefore) {
  Append(0, 5);
  config_.interval_s = 0;
  OpenStream(/*start_at_end=*/true);
  auto sent = Append(5, 5);
  StepUntilIdle();
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, DynamicPartitioningSplitsByKeyAndSendsUnparsableRecordsToErrors) {
  config_.interval_s = 0;
  config_.dynamic_partitioning = true;
  config_.metadata_query = "{detector: .detector}";
  config_.prefix = "det=!{partitionKeyFromQuery:detector}/!{timestamp:yyyy}/";
  config_.error_prefix = "errors/!{firehose:error-output-type}/";
  OpenStream();
  auto sent = Append(0, 9);
  std::vector<streamlog::AppendEntry> bad = {{.partition_key = "pk", .data = "not json"}};
  ASSERT_TRUE(log_->AppendSync(bad).ok());
  StepUntilIdle();
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 4u);
  for (int d = 0; d < 3; ++d) {
    auto lines = DeliveredLines(fmt::format("det=d{}/2023/hose-1-", d));
    EXPECT_EQ(lines.size(), 3u) << d;
    for (const auto& [line, n] : lines) EXPECT_NE(line.find(fmt::format("\"d{}\"", d)), std::string::npos);
  }
  auto errors = DeliveredLines("errors/partitioning-failed/hose-1-");
  ASSERT_EQ(errors.size(), 1u);
  auto j = nlohmann::json::parse(errors.begin()->first);
  EXPECT_EQ(Base64Decode(j["rawData"].get<std::string>()).value_or(""), "not json");
  EXPECT_NE(j["errorMessage"].get<std::string>().find("not valid JSON"), std::string::npos);
  EXPECT_EQ(stream_->Stats().error_records, 1u);
  EXPECT_EQ(stream_->Stats().delivered_records, 10u);
}

TEST_F(DeliveryTest, RandomStringIsStableAcrossRedelivery) {
  config_.interval_s = 0;
  config_.prefix = "r/!{firehose:random-string}/";
  config_.error_prefix = "e/!{firehose:error-output-type}/";
  OpenStream();
  Append(0, 3);
  env_.FailNthRename(2);
  stream_->Step();
  ASSERT_EQ(store_.Contents("bucket").size(), 1u);
  std::string key = store_.Contents("bucket").begin()->first;
  EXPECT_EQ(key.substr(0, 2), "r/");
  EXPECT_EQ(key.find('/', 2), 13u) << key;  // 11 characters
  CrashAndRestart();
  StepUntilIdle();
  EXPECT_EQ(store_.Contents("bucket").size(), 1u);
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 2);
}

TEST_F(DeliveryTest, ManyCrashesAtRandomPointsDeliverEachRecordOnce) {
  config_.interval_s = 0;
  OpenStream();
  std::vector<std::string> sent;
  for (int round = 0; round < 20; ++round) {
    auto more = Append(round * 7, 7);
    sent.insert(sent.end(), more.begin(), more.end());
    switch (round % 4) {
      case 0: env_.FailNthRename(1); break;  // intent
      case 1: env_.FailNthRename(2); break;  // checkpoint advance
      case 2: store_.FailNext(FakeOp::kPut, 1, Status::IoError("x")); break;
      default: break;
    }
    stream_->Step();
    CrashAndRestart();
  }
  for (int i = 0; i < 20; ++i) {
    clock_.AdvanceSeconds(1);
    StepUntilIdle();
  }
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, LargeCompressedObjectsAreBuiltInPiecesAndDecodeToExactlyTheRecords) {
  config_.size_mib = 4;
  config_.interval_s = 0;
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    config_.compression = c;
    OpenStream();
    std::mt19937_64 rng(static_cast<int>(c));
    std::vector<std::string> sent;
    std::vector<std::string> datas;
    for (int i = 0; i < 3000; ++i) datas.push_back(fmt::format("{}:{}", i, Letters(rng, 900)));
    std::vector<streamlog::AppendEntry> entries;
    for (const auto& d : datas) entries.push_back({.partition_key = "pk", .data = d});
    ASSERT_TRUE(log_->AppendSync(entries).ok());
    StepUntilIdle();
    auto contents = store_.Contents("bucket");
    for (const auto& [key, data] : contents) {
      if (!key.ends_with(CompressionSuffix(c))) continue;
      EXPECT_TRUE(c == Compression::kGzip ? HasSeveralGzipMembers(data) : HasSeveralZstdFrames(data))
          << key;
    }
    std::map<std::string, int> want;
    for (const auto& d : datas) ++want[d];
    std::map<std::string, int> got;
    for (const auto& [line, n] : DeliveredLines()) {
      if (want.contains(line)) got[line] = n;
    }
    EXPECT_EQ(got, want) << CompressionName(c);
  }
}

TEST_F(DeliveryTest, CrashBetweenPutAndCheckpointRebuildsTheSameMultiPieceObject) {
  config_.size_mib = 4;
  config_.interval_s = 0;
  config_.compression = Compression::kGzip;
  OpenStream();
  std::mt19937_64 rng(3);
  std::vector<std::string> sent;
  for (int i = 0; i < 2000; ++i) sent.push_back(fmt::format("{}:{}", i, Letters(rng, 700)));
  std::vector<streamlog::AppendEntry> entries;
  for (const auto& d : sent) entries.push_back({.partition_key = "pk", .data = d});
  ASSERT_TRUE(log_->AppendSync(entries).ok());
  env_.FailNthRename(2);  // the checkpoint advance after the put
  stream_->Step();
  ASSERT_EQ(store_.Contents("bucket").size(), 1u);
  auto first = *store_.Contents("bucket").begin();
  ASSERT_TRUE(HasSeveralGzipMembers(first.second));
  CrashAndRestart();
  StepUntilIdle();
  EXPECT_EQ(store_.Calls(FakeOp::kPut), 2);
  auto contents = store_.Contents("bucket");
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(contents.at(first.first), first.second);  // rebuilt byte for byte
  ExpectExactlyOnce(sent);
}

TEST_F(DeliveryTest, SharedBudgetIsNeverExceededAndFullMemoryClosesBatchesEarly) {
  // Two streams of three shards each, 8 MiB size hint, ~2.5 MiB of records
  // per shard: unbounded, they would hold ~15 MiB at once; the budget is 4 MiB.
  MemoryBudget budget(MemoryBudget::kMinCapacity);
  config_.size_mib = 8;
  config_.interval_s = 900;
  std::mt19937_64 rng(4);
  std::set<std::string> sent;
  std::vector<std::unique_ptr<DeliveryStream>> streams;
  for (int st = 0; st < 2; ++st) {
    std::vector<SourceShard> shards;
    for (int sh = 0; sh < 3; ++sh) {
      auto log = logs_->CreateLog(fmt::format("s{}-{}", st, sh));
      ASSERT_TRUE(log.ok());
      std::vector<std::string> datas;
      for (int i = 0; i < 2500; ++i) {
        datas.push_back(fmt::format("{}-{}-{}:{}", st, sh, i, Letters(rng, 1000)));
      }
      std::vector<streamlog::AppendEntry> entries;
      for (const auto& d : datas) entries.push_back({.partition_key = "pk", .data = d});
      ASSERT_TRUE((*log)->AppendSync(entries).ok());
      sent.insert(datas.begin(), datas.end());
      shards.push_back({fmt::format("shardId-{:012d}", sh), *log, false});
    }
    config_.compression = st == 0 ? Compression::kGzip : Compression::kUncompressed;
    DeliveryStreamOptions o;
    o.name = fmt::format("hose{}", st);
    o.incarnation = 1;
    o.state_dir = fmt::format("/data/firehose/hose{}", st);
    o.metrics = false;
    o.memory_budget = &budget;
    o.max_read_bytes_per_step = 256u << 10;  // shards take turns filling
    auto d = DeliveryStream::Open(o, config_, std::move(shards), &store_, &env_, &clock_);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    streams.push_back(std::move(d).value());
  }
  auto step_until_idle = [&] {
    for (int i = 0; i < 10'000; ++i) {
      bool worked = false;
      for (auto& s : streams) worked |= s->Step();
      EXPECT_LE(budget.InUse(), budget.capacity());
      if (!worked) break;
    }
  };
  step_until_idle();
  // Neither the size hint nor the interval was reached: only the full budget
  // closed these batches.
  uint64_t early = 0;
  for (auto& s : streams) early += s->Stats().delivered_records;
  EXPECT_GT(early, sent.size() / 2);
  clock_.AdvanceSeconds(3600);
  step_until_idle();
  EXPECT_LE(budget.HighWater(), budget.capacity());
  EXPECT_GT(budget.HighWater(), budget.capacity() / 2);  // it was the limit
  EXPECT_EQ(budget.InUse(), 0u);  // nothing held once all is delivered
  uint64_t delivered = 0;
  for (auto& s : streams) delivered += s->Stats().delivered_records;
  EXPECT_EQ(delivered, sent.size());
  // Every record exactly once, in objects well under the 8 MiB hint.
  auto lines = DeliveredLines();
  size_t matched = 0;
  for (const auto& [line, n] : lines) {
    if (!sent.contains(line)) continue;
    EXPECT_EQ(n, 1) << line.substr(0, 20);
    ++matched;
  }
  EXPECT_EQ(matched, sent.size());
  for (const auto& [key, data] : store_.Contents("bucket")) EXPECT_LT(data.size(), 4u << 20) << key;
  EXPECT_GE(store_.Contents("bucket").size(), 6u);
}

TEST_F(DeliveryTest, BatchRecordedBeforeACrashIsRebuiltFirstAsRecorded) {
  // A batch closed early by a full budget is recorded; after a crash its
  // range, not the size hint, decides what is rebuilt.
  MemoryBudget budget(MemoryBudget::kMinCapacity);
  budget_ = &budget;
  config_.size_mib = 16;
  config_.interval_s = 900;
  OpenStream();
  std::mt19937_64 rng(5);
  std::vector<std::string> sent;
  for (int i = 0; i < 6000; ++i) sent.push_back(fmt::format("{}:{}", i, Letters(rng, 1000)));
  std::vector<streamlog::AppendEntry> entries;
  for (const auto& d : sent) entries.push_back({.partition_key = "pk", .data = d});
  ASSERT_TRUE(log_->AppendSync(entries).ok());
  store_.FailNext(FakeOp::kPut, 1, Status::Unavailable("injected"));
  for (int i = 0; i < 20 && store_.Calls(FakeOp::kPut) == 0; ++i) stream_->Step();
  ASSERT_EQ(store_.Calls(FakeOp::kPut), 1);  // recorded, put failed
  EXPECT_GT(budget.InUse(), 0u);
  CrashAndRestart();
  EXPECT_EQ(budget.InUse(), 0u);  // the crashed stream gave its memory back
  for (int i = 0; i < 20; ++i) {
    clock_.AdvanceSeconds(1);
    StepUntilIdle();
  }
  clock_.AdvanceSeconds(3600);
  StepUntilIdle();
  EXPECT_LE(budget.HighWater(), budget.capacity());
  auto contents = store_.Contents("bucket");
  EXPECT_GE(contents.size(), 2u);  // closed early: 6 MiB in objects under 4 MiB
  ExpectExactlyOnce(sent);
  stream_.reset();  // before the budget it uses goes
  budget_ = nullptr;
}

}  // namespace
}  // namespace muon::delivery

#include <gtest/gtest.h>

#include <map>

#include <future>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "base/base64.h"
#include "kinesis/api_error.h"
#include "kinesis/hash_key.h"
#include "kinesis/iterator.h"
#include "kinesis/sequence_number.h"
#include "kinesis/service.h"
#include "kinesis/usage.h"

namespace muon::kinesis {
namespace {

using nlohmann::json;

TEST(HashKeyTest, SplitMatchesAwsRangesForThreeShards) {
  auto r = SplitKeySpace(3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(FormatUInt128(r[0].start), "0");
  EXPECT_EQ(FormatUInt128(r[0].end), "113427455640312821154458202477256070484");
  EXPECT_EQ(FormatUInt128(r[1].start), "113427455640312821154458202477256070485");
  EXPECT_EQ(FormatUInt128(r[1].end), "226854911280625642308916404954512140969");
  EXPECT_EQ(FormatUInt128(r[2].start), "226854911280625642308916404954512140970");
  EXPECT_EQ(FormatUInt128(r[2].end), "340282366920938463463374607431768211455");
}

TEST(HashKeyTest, RangesCoverKeySpaceWithoutGaps) {
  for (int n : {1, 2, 4, 7, 100, 500}) {
    auto r = SplitKeySpace(n);
    EXPECT_EQ(r.front().start, 0u);
    EXPECT_EQ(r.back().end, ~UInt128{0});
    for (int i = 0; i + 1 < n; ++i) EXPECT_EQ(r[i].end + 1, r[i + 1].start);
  }
}

TEST(HashKeyTest, PartitionKeyIsMd5BigEndian) {
  // md5("a") = 0cc175b9c0f1b6a831c399e269772661
  UInt128 expected = 0;
  for (unsigned char b : {0x0c, 0xc1, 0x75, 0xb9, 0xc0, 0xf1, 0xb6, 0xa8, 0x31, 0xc3, 0x99, 0xe2,
                          0x69, 0x77, 0x26, 0x61}) {
    expected = (expected << 8) | b;
  }
  EXPECT_EQ(HashKeyOfPartitionKey("a"), expected);
}

TEST(HashKeyTest, ParsesOnlyValidDecimalKeys) {
  EXPECT_EQ(ParseHashKey("0"), UInt128{0});
  EXPECT_EQ(ParseHashKey("340282366920938463463374607431768211455"), ~UInt128{0});
  EXPECT_FALSE(ParseHashKey("340282366920938463463374607431768211456"));
  EXPECT_FALSE(ParseHashKey("-1"));
  EXPECT_FALSE(ParseHashKey("01"));
  EXPECT_FALSE(ParseHashKey(""));
  EXPECT_FALSE(ParseHashKey("12a"));
}

TEST(SequenceNumberTest, RoundTripsAndOrdersAsStrings) {
  SequenceNumber a{1700000000123456789ull, 3, 41}, b{1700000000123456789ull, 3, 100000};
  EXPECT_EQ(a.ToString().size(), 56u);
  auto pa = SequenceNumber::Parse(a.ToString());
  ASSERT_TRUE(pa);
  EXPECT_EQ(pa->incarnation, a.incarnation);
  EXPECT_EQ(pa->shard_index, 3u);
  EXPECT_EQ(pa->seq, 41u);
  EXPECT_LT(a.ToString(), b.ToString());
  EXPECT_FALSE(SequenceNumber::Parse("12345"));
  EXPECT_FALSE(SequenceNumber::Parse(std::string(56, '9')));
}

TEST(IteratorTest, RejectsTamperedTokens) {
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  IteratorCodec codec(key);
  IteratorPosition p{"s", 42, 1, 99, 1000};
  std::string t = codec.Encode(p);
  auto d = codec.Decode(t);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seq, 99u);
  EXPECT_EQ(d->stream, "s");
  std::string bad = t;
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.Decode(bad));
  EXPECT_FALSE(codec.Decode("garbage"));
  std::array<uint8_t, 32> other{};
  EXPECT_FALSE(IteratorCodec(other).Decode(t));
}

class DenyPutAuthorizer : public auth::Authorizer {
 public:
  Status Authorize(const auth::Caller&, std::string_view action,
                   std::string_view) const override {
    if (action == "kinesis:PutRecord") return Status::PermissionDenied("no puts for you");
    return Status::Ok();
  }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(const auth::Authorizer* authz = nullptr) {
    svc_.reset();
    if (logs_) logs_->Close();
    logs_.reset();
    streamlog::LogStoreOptions lo;
    auto logs = streamlog::LogStore::Open("/data/streams", lo, env_.get(), &clock_);
    ASSERT_TRUE(logs.ok()) << logs.status().ToString();
    logs_ = std::move(logs).value();
    KinesisOptions o;
    o.enforce_shard_limits = enforce_;
    auto s = KinesisService::Open("/data/kinesis", o, logs_.get(), env_.get(), &clock_,
                                  authz ? authz : &allow_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
  }

  std::pair<int, json> Call(const std::string& op, const json& body) {
    std::promise<std::pair<int, std::string>> p;
    svc_->Call(op, body.dump(), auth::Caller{},
               [&p](int status, std::string b) { p.set_value({status, std::move(b)}); });
    auto [status, text] = p.get_future().get();
    return {status, text.empty() ? json::object() : json::parse(text)};
  }

  std::string ErrorType(const std::string& op, const json& body) {
    auto [status, j] = Call(op, body);
    if (status == 200) return "";
    return j.value("__type", "?");
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
  FakeClock clock_;
  auth::AllowAllAuthorizer allow_;
  bool enforce_ = false;
  std::unique_ptr<streamlog::LogStore> logs_;
  std::unique_ptr<KinesisService> svc_;
};

TEST_F(ServiceTest, PutRecordsThenReadBackInOrderPerShard) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 2}}).first, 200);
  json records = json::array();
  for (int i = 0; i < 50; ++i) {
    records.push_back({{"Data", Base64Encode("rec" + std::to_string(i))},
                       {"PartitionKey", "pk" + std::to_string(i)}});
  }
  auto [status, out] = Call("PutRecords", {{"StreamName", "s"}, {"Records", records}});
  ASSERT_EQ(status, 200) << out.dump();
  ASSERT_EQ(out["Records"].size(), 50u);
  EXPECT_FALSE(out.contains("FailedRecordCount"));
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_shard;
  auto ranges = SplitKeySpace(2);
  for (int i = 0; i < 50; ++i) {
    const auto& r = out["Records"][i];
    std::string shard = r["ShardId"];
    size_t expected = FindRange(ranges, HashKeyOfPartitionKey("pk" + std::to_string(i)));
    EXPECT_EQ(shard, expected == 0 ? "shardId-000000000000" : "shardId-000000000001");
    by_shard[shard].push_back({r["SequenceNumber"], "rec" + std::to_string(i)});
  }
  for (auto& [shard, expected] : by_shard) {
    auto [s1, it] = Call("GetShardIterator",
                         {{"StreamName", "s"}, {"ShardId", shard}, {"ShardIteratorType", "TRIM_HORIZON"}});
    ASSERT_EQ(s1, 200);
    auto [s2, got] = Call("GetRecords", {{"ShardIterator", it["ShardIterator"]}});
    ASSERT_EQ(s2, 200) << got.dump();
    ASSERT_EQ(got["Records"].size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(got["Records"][k]["SequenceNumber"], expected[k].first);
      EXPECT_EQ(*Base64Decode(got["Records"][k]["Data"].get<std::string>()), expected[k].second);
      EXPECT_TRUE(got["Records"][k].contains("ApproximateArrivalTimestamp"));
      if (k > 0) {
        EXPECT_LT(expected[k - 1].first, expected[k].first);
      }
    }
    EXPECT_EQ(got["MillisBehindLatest"], 0);
  }
}

TEST_F(ServiceTest, ExplicitHashKeyRoutesToOwningShard) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 4}}).first, 200);
  auto ranges = SplitKeySpace(4);
  for (int i = 0; i < 4; ++i) {
    auto [st, out] = Call("PutRecord", {{"StreamName", "s"},
                                        {"Data", Base64Encode("x")},
                                        {"PartitionKey", "same"},
                                        {"ExplicitHashKey", FormatUInt128(ranges[i].end)}});
    ASSERT_EQ(st, 200) << out.dump();
    EXPECT_EQ(out["ShardId"], fmt::format("shardId-{:012d}", i));
  }
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", ""}, {"PartitionKey", "k"},
                                    {"ExplicitHashKey", "340282366920938463463374607431768211456"}}),
            "InvalidArgumentException");
}

TEST_F(ServiceTest, ValidationErrorsUseAwsNames) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  EXPECT_EQ(ErrorType("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}),
            "ResourceInUseException");
  EXPECT_EQ(ErrorType("CreateStream", {{"StreamName", "bad name"}, {"ShardCount", 1}}),
            "ValidationException");
  EXPECT_EQ(ErrorType("DescribeStream", {{"StreamName", "nope"}}), "ResourceNotFoundException");
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="},
                                    {"PartitionKey", std::string(257, 'k')}}),
            "ValidationException");
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="},
                                    {"PartitionKey", std::string(256, 'k')}}),
            "");
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"},
                                    {"Data", Base64Encode(std::string((1 << 20) + 1, 'x'))},
                                    {"PartitionKey", "k"}}),
            "ValidationException");
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "not base64!"}, {"PartitionKey", "k"}}),
            "SerializationException");
  json many = json::array();
  for (int i = 0; i < 501; ++i) many.push_back({{"Data", "AA=="}, {"PartitionKey", "k"}});
  EXPECT_EQ(ErrorType("PutRecords", {{"StreamName", "s"}, {"Records", many}}),
            "ValidationException");
  EXPECT_EQ(ErrorType("PutRecords", {{"StreamName", "s"}, {"Records", json::array()}}),
            "ValidationException");
  EXPECT_EQ(ErrorType("GetRecords", {{"ShardIterator", "garbage"}}), "InvalidArgumentException");
  EXPECT_EQ(ErrorType("IncreaseStreamRetentionPeriod",
                      {{"StreamName", "s"}, {"RetentionPeriodHours", 8761}}),
            "InvalidArgumentException");
  EXPECT_EQ(ErrorType("DecreaseStreamRetentionPeriod",
                      {{"StreamName", "s"}, {"RetentionPeriodHours", 23}}),
            "InvalidArgumentException");
  EXPECT_EQ(ErrorType("CreateStream", {{"StreamName", "big"}, {"ShardCount", 501}}),
            "LimitExceededException");
  EXPECT_EQ(ErrorType("Frobnicate", json::object()), "UnknownOperationException");
}

TEST_F(ServiceTest, IteratorsExpireAfterFiveMinutes) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  auto [st, it] = Call("GetShardIterator", {{"StreamName", "s"},
                                            {"ShardId", "shardId-000000000000"},
                                            {"ShardIteratorType", "LATEST"}});
  ASSERT_EQ(st, 200);
  clock_.AdvanceSeconds(299);
  EXPECT_EQ(ErrorType("GetRecords", {{"ShardIterator", it["ShardIterator"]}}), "");
  clock_.AdvanceSeconds(2);
  EXPECT_EQ(ErrorType("GetRecords", {{"ShardIterator", it["ShardIterator"]}}),
            "ExpiredIteratorException");
}

TEST_F(ServiceTest, GetRecordsPagesWithLimitAndReportsHowFarBehind) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceSeconds(10);  // arrivals 10 s apart
    ASSERT_EQ(Call("PutRecord", {{"StreamName", "s"}, {"Data", Base64Encode("r" + std::to_string(i))},
                                 {"PartitionKey", "k"}})
                  .first,
              200);
  }
  auto [st, it] = Call("GetShardIterator", {{"StreamName", "s"},
                                            {"ShardId", "shardId-000000000000"},
                                            {"ShardIteratorType", "TRIM_HORIZON"}});
  ASSERT_EQ(st, 200);
  std::string iterator = it["ShardIterator"];
  std::vector<std::string> seen;
  std::vector<int64_t> behind;
  for (int page = 0; page < 3; ++page) {
    auto [s2, got] = Call("GetRecords", {{"ShardIterator", iterator}, {"Limit", 2}});
    ASSERT_EQ(s2, 200) << got.dump();
    for (const auto& r : got["Records"]) seen.push_back(*Base64Decode(r["Data"].get<std::string>()));
    behind.push_back(got["MillisBehindLatest"]);
    iterator = got["NextShardIterator"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"}));
  // The newest record arrived 30 s after the second and 10 s after the fourth.
  EXPECT_EQ(behind, (std::vector<int64_t>{30'000, 10'000, 0}));
}

TEST_F(ServiceTest, IteratorTypesPositionCorrectly) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  std::vector<std::string> seqs;
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceSeconds(10);
    auto [st, out] = Call("PutRecord", {{"StreamName", "s"}, {"Data", Base64Encode(std::to_string(i))},
                                        {"PartitionKey", "k"}});
    ASSERT_EQ(st, 200);
    seqs.push_back(out["SequenceNumber"]);
  }
  auto first_data = [&](const json& req) -> std::string {
    json r = req;
    r["StreamName"] = "s";
    r["ShardId"] = "shardId-000000000000";
    auto [st, it] = Call("GetShardIterator", r);
    if (st != 200) return "error:" + it.value("__type", "");
    auto [st2, got] = Call("GetRecords", {{"ShardIterator", it["ShardIterator"]}, {"Limit", 1}});
    if (got["Records"].empty()) return "none";
    return *Base64Decode(got["Records"][0]["Data"].get<std::string>());
  };
  EXPECT_EQ(first_data({{"ShardIteratorType", "TRIM_HORIZON"}}), "0");
  EXPECT_EQ(first_data({{"ShardIteratorType", "LATEST"}}), "none");
  EXPECT_EQ(first_data({{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", seqs[2]}}), "2");
  EXPECT_EQ(first_data({{"ShardIteratorType", "AFTER_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", seqs[2]}}), "3");
  // Records arrived at t0+10s, +20s, ...: asking for t0+25s gives the third.
  double t0 = static_cast<double>(clock_.NowMillis() - 50'000) / 1000.0;
  EXPECT_EQ(first_data({{"ShardIteratorType", "AT_TIMESTAMP"}, {"Timestamp", t0 + 25}}), "2");
  EXPECT_EQ(first_data({{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", "123"}}),
            "error:InvalidArgumentException");
}

TEST_F(ServiceTest, StreamsAndRecordsSurviveReopen) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}, {"Tags", {{"site", "dam"}}}}).first, 200);
  ASSERT_EQ(Call("IncreaseStreamRetentionPeriod", {{"StreamName", "s"}, {"RetentionPeriodHours", 48}}).first, 200);
  auto [st, first] = Call("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}});
  ASSERT_EQ(st, 200);
  Reopen();
  auto [st2, d] = Call("DescribeStreamSummary", {{"StreamName", "s"}});
  ASSERT_EQ(st2, 200);
  EXPECT_EQ(d["StreamDescriptionSummary"]["RetentionPeriodHours"], 48);
  auto [st3, tags] = Call("ListTagsForStream", {{"StreamName", "s"}});
  EXPECT_EQ(tags["Tags"][0]["Value"], "dam");
  auto [st4, second] = Call("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}});
  ASSERT_EQ(st4, 200);
  EXPECT_LT(first["SequenceNumber"].get<std::string>(), second["SequenceNumber"].get<std::string>());
}

TEST_F(ServiceTest, RecreatedStreamNeverRepeatsSequenceNumbers) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  auto [a, first] = Call("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}});
  ASSERT_EQ(Call("DeleteStream", {{"StreamName", "s"}}).first, 200);
  clock_.Advance(1);
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  auto [b, second] = Call("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}});
  EXPECT_NE(first["SequenceNumber"], second["SequenceNumber"]);
  // The old stream's sequence number is refused by the new stream.
  EXPECT_EQ(ErrorType("GetShardIterator", {{"StreamName", "s"},
                                           {"ShardId", "shardId-000000000000"},
                                           {"ShardIteratorType", "AT_SEQUENCE_NUMBER"},
                                           {"StartingSequenceNumber", first["SequenceNumber"]}}),
            "InvalidArgumentException");
}

TEST_F(ServiceTest, ShardLimitsThrottleWhenEnabled) {
  enforce_ = true;
  Reopen();
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  json recs = json::array();
  for (int i = 0; i < 500; ++i) recs.push_back({{"Data", "AA=="}, {"PartitionKey", "k"}});
  auto [s1, r1] = Call("PutRecords", {{"StreamName", "s"}, {"Records", recs}});
  auto [s2, r2] = Call("PutRecords", {{"StreamName", "s"}, {"Records", recs}});
  auto [s3, r3] = Call("PutRecords", {{"StreamName", "s"}, {"Records", recs}});
  EXPECT_FALSE(r1.contains("FailedRecordCount"));
  EXPECT_FALSE(r2.contains("FailedRecordCount"));
  ASSERT_TRUE(r3.contains("FailedRecordCount"));
  EXPECT_EQ(r3["FailedRecordCount"], 500);
  EXPECT_EQ(r3["Records"][0]["ErrorCode"], "ProvisionedThroughputExceededException");
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}}),
            "ProvisionedThroughputExceededException");
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}}), "");
}

TEST_F(ServiceTest, AuthorizerDenialIsAccessDenied) {
  DenyPutAuthorizer deny;
  Reopen(&deny);
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}}).first, 200);
  EXPECT_EQ(ErrorType("PutRecord", {{"StreamName", "s"}, {"Data", "AA=="}, {"PartitionKey", "k"}}),
            "AccessDeniedException");
  EXPECT_EQ(ErrorType("DescribeStream", {{"StreamName", "s"}}), "");
}

TEST_F(ServiceTest, ListShardsAndListStreamsPaginate) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "a"}, {"ShardCount", 5}}).first, 200);
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "b"}, {"StreamModeDetails", {{"StreamMode", "ON_DEMAND"}}}}).first, 200);
  auto [s1, p1] = Call("ListShards", {{"StreamName", "a"}, {"MaxResults", 2}});
  ASSERT_EQ(p1["Shards"].size(), 2u);
  std::vector<std::string> ids;
  json page = p1;
  for (const auto& s : page["Shards"]) ids.push_back(s["ShardId"]);
  while (page.contains("NextToken")) {
    page = Call("ListShards", {{"NextToken", page["NextToken"]}, {"MaxResults", 2}}).second;
    for (const auto& s : page["Shards"]) ids.push_back(s["ShardId"]);
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.back(), "shardId-000000000004");
  auto [s2, l1] = Call("ListStreams", {{"Limit", 1}});
  EXPECT_EQ(l1["StreamNames"], json::array({"a"}));
  EXPECT_TRUE(l1["HasMoreStreams"]);
  auto [s3, l2] = Call("ListStreams", {{"NextToken", l1["NextToken"]}});
  EXPECT_EQ(l2["StreamNames"], json::array({"b"}));
  EXPECT_FALSE(l2["HasMoreStreams"]);
  auto [s4, d] = Call("DescribeStreamSummary", {{"StreamName", "b"}});
  EXPECT_EQ(d["StreamDescriptionSummary"]["OpenShardCount"], 4);
  EXPECT_EQ(d["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"], "ON_DEMAND");
}

}  // namespace
}  // namespace muon::kinesis

namespace muon::kinesis {
namespace {

TEST(ApiErrorTest, AuthFailuresHaveJson11Names) {
  using auth::AuthError;
  EXPECT_EQ(ErrorOfAuthFailure({AuthError::kExpiredToken, "expired"}).type, "ExpiredTokenException");
  EXPECT_EQ(ErrorOfAuthFailure({AuthError::kUnknownAccessKey, "x"}).type,
            "UnrecognizedClientException");
  EXPECT_EQ(ErrorOfAuthFailure({AuthError::kMissingAuthentication, ""}).type,
            "MissingAuthenticationTokenException");
  EXPECT_EQ(ApiError::FromStatus(Status::PermissionDenied("no")).type, "AccessDeniedException");
}

TEST(UsageTrackerTest, AveragesPerKeyOverTheWindow) {
  UsageTracker t(1'000'000);
  std::vector<UsageTracker::Put> puts = {{"MD-0001", 1000}, {"MD-0002", 500}, {"MD-0001", 1000}};
  t.Record(puts, 1'000'500);
  auto doc = nlohmann::json::parse(t.SnapshotJson(1'000'000 + 10'000));
  EXPECT_EQ(doc["schema"], "muonpipe.usage.v1");
  EXPECT_DOUBLE_EQ(doc["window_seconds"].get<double>(), 10.0);
  ASSERT_EQ(doc["detectors"].size(), 2u);
  EXPECT_EQ(doc["detectors"][0]["id"], "MD-0001");
  EXPECT_DOUBLE_EQ(doc["detectors"][0]["records_per_second"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(doc["detectors"][0]["bytes_per_second"].get<double>(), 200.0);
  EXPECT_DOUBLE_EQ(doc["detectors"][0]["mean_record_bytes"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(doc["detectors"][1]["bytes_per_second"].get<double>(), 50.0);
}

TEST(UsageTrackerTest, KeysBeyondTheBoundCountAsOther) {
  UsageTracker t(0);
  std::vector<std::string> keys;
  for (size_t i = 0; i < UsageTracker::kMaxKeys + 5; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<UsageTracker::Put> puts;
  for (const auto& k : keys) puts.push_back({k, 10});
  t.Record(puts, 10);
  // Known keys are still found (and counted) after the table is full.
  std::vector<UsageTracker::Put> again = {{"k0", 10}, {"k99999", 10}, {"not-seen", 7}};
  t.Record(again, 20);
  auto doc = nlohmann::json::parse(t.SnapshotJson(1000));
  ASSERT_EQ(doc["detectors"].size(), UsageTracker::kMaxKeys + 1);
  std::map<std::string, double> bps;
  for (const auto& d : doc["detectors"]) bps[d["id"]] = d["bytes_per_second"].get<double>();
  EXPECT_DOUBLE_EQ(bps["k0"], 20.0);
  EXPECT_DOUBLE_EQ(bps["k99999"], 20.0);
  EXPECT_DOUBLE_EQ(bps["k1"], 10.0);
  EXPECT_EQ(bps.count("k100000"), 0u);
  EXPECT_DOUBLE_EQ(bps["(other)"], 57.0);  // five keys of 10 bytes and one of 7
}

TEST(UsageTrackerTest, DrainActivityReportsEachKeyOnceWithItsLastTime) {
  UsageTracker t(0);
  std::vector<UsageTracker::Put> first = {{"MD-1", 5}, {"MD-2", 5}, {"MD-1", 5}};
  t.Record(first, 1000);
  std::vector<UsageTracker::Put> second = {{"MD-1", 5}};
  t.Record(second, 2000);
  std::map<std::string, std::pair<uint64_t, int64_t>> seen;
  auto drain = [&] {
    seen.clear();
    t.DrainActivity([&](std::string_view key, uint64_t n, int64_t last) {
      seen[std::string(key)] = {n, last};
    });
  };
  drain();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["MD-1"], std::make_pair(uint64_t{3}, int64_t{2000}));
  EXPECT_EQ(seen["MD-2"], std::make_pair(uint64_t{1}, int64_t{1000}));
  drain();
  EXPECT_TRUE(seen.empty());  // nothing new
  std::vector<UsageTracker::Put> third = {{"MD-2", 5}};
  t.Record(third, 3000);
  drain();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen["MD-2"], std::make_pair(uint64_t{1}, int64_t{3000}));
}

TEST_F(ServiceTest, AcknowledgedPutsCountTowardsUsage) {
  ASSERT_EQ(Call("CreateStream", {{"StreamName", "s"}, {"ShardCount", 2}}).first, 200);
  json recs = json::array();
  for (int i = 0; i < 10; ++i) {
    recs.push_back({{"Data", Base64Encode("abcd")}, {"PartitionKey", i % 2 ? "MD-2" : "MD-1"}});
  }
  ASSERT_EQ(Call("PutRecords", {{"StreamName", "s"}, {"Records", recs}}).first, 200);
  // A refused put counts for nothing.
  ASSERT_NE(Call("PutRecord", {{"StreamName", "nope"}, {"Data", "AA=="}, {"PartitionKey", "MD-3"}}).first, 200);
  clock_.AdvanceSeconds(5);
  auto doc = json::parse(svc_->UsageJson());
  ASSERT_EQ(doc["detectors"].size(), 2u);
  EXPECT_EQ(doc["detector_count"], 2);
  EXPECT_DOUBLE_EQ(doc["detectors"][0]["records_per_second"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(doc["detectors"][1]["bytes_per_second"].get<double>(), 4.0);
}

}  // namespace
}  // namespace muon::kinesis

namespace muon::kinesis {
namespace {

TEST(SequenceNumberTest, MatchesTheDocumentedLayout) {
  SequenceNumber n{1795826763941648708ull, 12, 18446744073709551615ull};
  EXPECT_EQ(n.ToString(),
            "49" "000000001795826763941648708" "0000012" "18446744073709551615");
}

}  // namespace
}  // namespace muon::kinesis

#include <gtest/gtest.h>

#include <future>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "delivery/compress.h"
#include "delivery/firehose_service.h"
#include "objectstore/fake_object_store.h"

namespace muon::delivery {
namespace {

using nlohmann::json;
using objectstore::FakeObjectStore;

struct Answer {
  int status = 0;
  json body;
  std::string Type() const { return body.value("__type", ""); }
};

class DenyAuthorizer final : public auth::Authorizer {
 public:
  Status Authorize(const auth::Caller&, std::string_view action, std::string_view) const override {
    if (action == "firehose:DeleteDeliveryStream") return Status::PermissionDenied("not allowed");
    return Status::Ok();
  }
};

class FirehoseServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.CreateBucket("out").ok());
    Open();
  }
  void TearDown() override { Close(); }

  void Open() {
    auto l = streamlog::LogStore::Open("/d/streams", {}, env_.get(), &clock_);
    ASSERT_TRUE(l.ok());
    logs_ = std::move(l).value();
    auto b = streamlog::LogStore::Open("/d/firehose/buffers", {}, env_.get(), &clock_);
    ASSERT_TRUE(b.ok());
    buffers_ = std::move(b).value();
    auto k = kinesis::KinesisService::Open("/d/kinesis", {}, logs_.get(), env_.get(), &clock_, &authorizer_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    kinesis_ = std::move(k).value();
    FirehoseOptions o;
    o.background_delivery = false;
    auto f = FirehoseService::Open("/d/firehose", o, buffers_.get(), kinesis_.get(), &store_,
                                   env_.get(), &clock_, authorizer_ptr_);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    firehose_ = std::move(f).value();
  }
  void Close() {
    if (firehose_) firehose_->Close();
    firehose_.reset();
    kinesis_.reset();
    if (buffers_) buffers_->Close();
    if (logs_) logs_->Close();
    buffers_.reset();
    logs_.reset();
  }

  Answer Call(std::string_view op, const json& body) {
    std::promise<Answer> p;
    firehose_->Call(op, body.dump(), caller_, [&](int status, std::string out) {
      p.set_value({status, out.empty() ? json::object() : json::parse(out)});
    });
    return p.get_future().get();
  }
  Answer Kinesis(std::string_view op, const json& body) {
    std::promise<Answer> p;
    kinesis_->Call(op, body.dump(), caller_, [&](int status, std::string out) {
      p.set_value({status, out.empty() ? json::object() : json::parse(out)});
    });
    return p.get_future().get();
  }

  json S3Config(const std::string& prefix = "", const std::string& compression = "UNCOMPRESSED") {
    return {{"RoleARN", "arn:aws:iam::000000000000:role/firehose"},
            {"BucketARN", "arn:aws:s3:::out"},
            {"Prefix", prefix},
            {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 60}}},
            {"CompressionFormat", compression},
            {"ProcessingConfiguration",
             {{"Enabled", true}, {"Processors", {{{"Type", "AppendDelimiterToRecord"}}}}}}};
  }

  Answer CreateDirect(const std::string& name, json config) {
    return Call("CreateDeliveryStream", {{"DeliveryStreamName", name},
                                         {"DeliveryStreamType", "DirectPut"},
                                         {"ExtendedS3DestinationConfiguration", config}});
  }

  Answer PutBatch(const std::string& name, const std::vector<std::string>& datas) {
    json records = json::array();
    for (const auto& d : datas) records.push_back({{"Data", Base64Encode(d)}});
    return Call("PutRecordBatch", {{"DeliveryStreamName", name}, {"Records", records}});
  }

  std::map<std::string, int> Lines() {
    std::map<std::string, int> lines;
    for (const auto& [key, data] : store_.Contents("out")) {
      Compression c = key.ends_with(".gz") ? Compression::kGzip
                      : key.ends_with(".zst") ? Compression::kZstd : Compression::kUncompressed;
      auto text = Decompress(c, data);
      EXPECT_TRUE(text.ok());
      size_t pos = 0;
      while (text.ok() && pos < text->size()) {
        size_t nl = text->find('\n', pos);
        ++lines[text->substr(pos, nl - pos)];
        pos = nl + 1;
      }
    }
    return lines;
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
  FakeClock clock_{1'700'000'000'000'000'000};
  FakeObjectStore store_{&clock_};
  auth::AllowAllAuthorizer authorizer_;
  const auth::Authorizer* authorizer_ptr_ = &authorizer_;
  auth::Caller caller_ = [] {
    auth::Caller c;
    c.access_key_id = "AKID";
    c.principal_arn = "arn:aws:iam::000000000000:user/admin";
    c.source_ip = "127.0.0.1";
    c.user_agent = "test";
    return c;
  }();
  std::unique_ptr<streamlog::LogStore> logs_, buffers_;
  std::unique_ptr<kinesis::KinesisService> kinesis_;
  std::unique_ptr<FirehoseService> firehose_;
};

TEST_F(FirehoseServiceTest, CreateDescribeListDelete) {
  auto c = CreateDirect("hose", S3Config("raw/"));
  ASSERT_EQ(c.status, 200) << c.body.dump();
  EXPECT_EQ(c.body["DeliveryStreamARN"], "arn:aws:firehose:ap-southeast-2:000000000000:deliverystream/hose");
  EXPECT_EQ(CreateDirect("hose", S3Config()).Type(), "ResourceInUseException");
  auto d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}});
  ASSERT_EQ(d.status, 200);
  const json& desc = d.body["DeliveryStreamDescription"];
  EXPECT_EQ(desc["DeliveryStreamStatus"], "ACTIVE");
  EXPECT_EQ(desc["DeliveryStreamType"], "DirectPut");
  EXPECT_EQ(desc["VersionId"], "1");
  EXPECT_EQ(desc["HasMoreDestinations"], false);
  const json& dest = desc["Destinations"][0];
  EXPECT_EQ(dest["DestinationId"], "destinationId-000000000001");
  EXPECT_EQ(dest["ExtendedS3DestinationDescription"]["Prefix"], "raw/");
  EXPECT_EQ(dest["ExtendedS3DestinationDescription"]["BufferingHints"]["SizeInMBs"], 1);
  EXPECT_EQ(desc["MuonpipeDelivery"]["LagMillis"], 0);
  ASSERT_EQ(CreateDirect("other", S3Config()).status, 200);
  auto l = Call("ListDeliveryStreams", {{"Limit", 1}});
  EXPECT_EQ(l.body["DeliveryStreamNames"], json::array({"hose"}));
  EXPECT_EQ(l.body["HasMoreDeliveryStreams"], true);
  l = Call("ListDeliveryStreams", {{"ExclusiveStartDeliveryStreamName", "hose"}});
  EXPECT_EQ(l.body["DeliveryStreamNames"], json::array({"other"}));
  EXPECT_EQ(Call("DeleteDeliveryStream", {{"DeliveryStreamName", "hose"}}).status, 200);
  EXPECT_EQ(Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}}).Type(),
            "ResourceNotFoundException");
  EXPECT_EQ(Call("DeleteDeliveryStream", {{"DeliveryStreamName", "hose"}}).Type(),
            "ResourceNotFoundException");
}

TEST_F(FirehoseServiceTest, RefusesInvalidConfigurationsWithAwsErrors) {
  auto bad = [&](json config) { return CreateDirect("bad", config).Type(); };
  json c = S3Config();
  c["BufferingHints"]["SizeInMBs"] = 129;
  EXPECT_EQ(bad(c), "InvalidArgumentException");
  c = S3Config("a/!{timestamp:yyyy}/");  // an expression needs an ErrorOutputPrefix
  EXPECT_EQ(bad(c), "InvalidArgumentException");
  c = S3Config("a/", "SNAPPY");
  EXPECT_EQ(bad(c), "InvalidArgumentException");
  c = S3Config();
  c["ProcessingConfiguration"]["Processors"] = {{{"Type", "Lambda"}}};
  EXPECT_EQ(bad(c), "InvalidArgumentException");
  EXPECT_EQ(Call("CreateDeliveryStream", {{"DeliveryStreamName", "x y"}}).Type(), "ValidationException");
  EXPECT_EQ(Call("CreateDeliveryStream", {{"DeliveryStreamName", "nodest"}}).Type(),
            "InvalidArgumentException");
  EXPECT_EQ(Call("Nonsense", json::object()).Type(), "UnknownOperationException");
  EXPECT_EQ(firehose_->DeliveryStreamCount(), 0u);
}

TEST_F(FirehoseServiceTest, PutRecordBatchIsDeliveredExactlyOnce) {
  ASSERT_EQ(CreateDirect("hose", S3Config("raw/", "GZIP")).status, 200);
  std::vector<std::string> sent;
  for (int i = 0; i < 500; ++i) sent.push_back(fmt::format("{{\"i\":{}}}", i));
  auto r = PutBatch("hose", sent);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["FailedPutCount"], 0);
  ASSERT_EQ(r.body["RequestResponses"].size(), 500u);
  EXPECT_NE(r.body["RequestResponses"][0]["RecordId"], r.body["RequestResponses"][1]["RecordId"]);
  auto one = Call("PutRecord", {{"DeliveryStreamName", "hose"}, {"Record", {{"Data", Base64Encode("single")}}}});
  ASSERT_EQ(one.status, 200);
  EXPECT_TRUE(one.body.contains("RecordId"));
  sent.push_back("single");
  firehose_->StepAll();
  EXPECT_TRUE(store_.Contents("out").empty());  // the interval has not passed
  auto d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}});
  clock_.AdvanceSeconds(60);
  firehose_->StepAll();
  auto contents = store_.Contents("out");
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_TRUE(contents.begin()->first.starts_with("raw/2023/11/14/22/hose-1-2023-11-14-22-13-20-"));
  EXPECT_TRUE(contents.begin()->first.ends_with(".gz"));
  auto lines = Lines();
  EXPECT_EQ(lines.size(), sent.size());
  for (const auto& s : sent) EXPECT_EQ(lines[s], 1) << s;
  d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}});
  EXPECT_EQ(d.body["DeliveryStreamDescription"]["MuonpipeDelivery"]["DeliveredRecords"], 501);
}

TEST_F(FirehoseServiceTest, PutRecordBatchLimits) {
  ASSERT_EQ(CreateDirect("hose", S3Config()).status, 200);
  EXPECT_EQ(PutBatch("hose", std::vector<std::string>(501, "x")).Type(), "ValidationException");
  EXPECT_EQ(PutBatch("hose", {}).Type(), "ValidationException");
  EXPECT_EQ(PutBatch("hose", {std::string(1000 * 1024 + 1, 'a')}).Type(), "ValidationException");
  EXPECT_EQ(PutBatch("hose", {std::string(1000 * 1024, 'a')}).status, 200);
  EXPECT_EQ(PutBatch("hose", std::vector<std::string>(5, std::string(900 * 1024, 'b'))).Type(),
            "InvalidArgumentException");
  EXPECT_EQ(PutBatch("nohose", {"x"}).Type(), "ResourceNotFoundException");
  EXPECT_EQ(Call("PutRecordBatch", {{"DeliveryStreamName", "hose"}, {"Records", {{{"Data", "!!"}}}}}).Type(),
            "SerializationException");
}

TEST_F(FirehoseServiceTest, UpdateDestinationChecksVersionAndDestination) {
  ASSERT_EQ(CreateDirect("hose", S3Config("v1/")).status, 200);
  json update = {{"DeliveryStreamName", "hose"},
                 {"CurrentDeliveryStreamVersionId", "1"},
                 {"DestinationId", "destinationId-000000000001"},
                 {"ExtendedS3DestinationUpdate", {{"Prefix", "v2/"}, {"CompressionFormat", "ZSTD"}}}};
  json wrong_version = update;
  wrong_version["CurrentDeliveryStreamVersionId"] = "7";
  EXPECT_EQ(Call("UpdateDestination", wrong_version).Type(), "ConcurrentModificationException");
  json wrong_dest = update;
  wrong_dest["DestinationId"] = "destinationId-000000000002";
  EXPECT_EQ(Call("UpdateDestination", wrong_dest).Type(), "InvalidArgumentException");
  ASSERT_EQ(Call("UpdateDestination", update).status, 200);
  EXPECT_EQ(Call("UpdateDestination", update).Type(), "ConcurrentModificationException");
  auto d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}});
  const json& desc = d.body["DeliveryStreamDescription"];
  EXPECT_EQ(desc["VersionId"], "2");
  EXPECT_EQ(desc["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"], "v2/");
  // Untouched members are kept.
  EXPECT_EQ(desc["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"]["SizeInMBs"], 1);
  ASSERT_EQ(PutBatch("hose", {"a", "b"}).status, 200);
  clock_.AdvanceSeconds(60);
  firehose_->StepAll();
  auto contents = store_.Contents("out");
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_TRUE(contents.begin()->first.starts_with("v2/2023/11/14/22/hose-2-")) << contents.begin()->first;
  EXPECT_TRUE(contents.begin()->first.ends_with(".zst"));
}

TEST_F(FirehoseServiceTest, KinesisSourcedStreamDeliversRecordsPutAfterCreation) {
  ASSERT_EQ(Kinesis("CreateStream", {{"StreamName", "live"}, {"ShardCount", 2}}).status, 200);
  ASSERT_EQ(Kinesis("PutRecord", {{"StreamName", "live"}, {"PartitionKey", "k"}, {"Data", Base64Encode("before")}}).status, 200);
  std::string karn = "arn:aws:kinesis:ap-southeast-2:000000000000:stream/live";
  auto c = Call("CreateDeliveryStream",
                {{"DeliveryStreamName", "fromk"},
                 {"DeliveryStreamType", "KinesisStreamAsSource"},
                 {"KinesisStreamSourceConfiguration", {{"KinesisStreamARN", karn}, {"RoleARN", "arn:aws:iam::000000000000:role/r"}}},
                 {"ExtendedS3DestinationConfiguration", S3Config("k/")}});
  ASSERT_EQ(c.status, 200) << c.body.dump();
  json records = json::array();
  std::vector<std::string> sent;
  for (int i = 0; i < 100; ++i) {
    sent.push_back(fmt::format("rec-{}", i));
    records.push_back({{"PartitionKey", fmt::format("pk{}", i)}, {"Data", Base64Encode(sent.back())}});
  }
  ASSERT_EQ(Kinesis("PutRecords", {{"StreamName", "live"}, {"Records", records}}).status, 200);
  EXPECT_EQ(Call("PutRecord", {{"DeliveryStreamName", "fromk"}, {"Record", {{"Data", Base64Encode("x")}}}}).Type(),
            "InvalidArgumentException");
  auto d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "fromk"}});
  EXPECT_EQ(d.body["DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"], karn);
  clock_.AdvanceSeconds(60);
  firehose_->StepAll();
  EXPECT_EQ(store_.Contents("out").size(), 2u);  // one object per shard
  auto lines = Lines();
  EXPECT_EQ(lines.size(), sent.size());
  for (const auto& s : sent) EXPECT_EQ(lines[s], 1) << s;
  EXPECT_EQ(lines.count("before"), 0u);
  EXPECT_EQ(Call("CreateDeliveryStream",
                 {{"DeliveryStreamName", "nok"},
                  {"DeliveryStreamType", "KinesisStreamAsSource"},
                  {"KinesisStreamSourceConfiguration", {{"KinesisStreamARN", karn + "x"}, {"RoleARN", "arn:aws:iam::000000000000:role/r"}}},
                  {"ExtendedS3DestinationConfiguration", S3Config()}})
                .Type(),
            "InvalidArgumentException");
}

TEST_F(FirehoseServiceTest, ReopenKeepsStreamsAndDeliversWhatWasAcknowledged) {
  ASSERT_EQ(CreateDirect("hose", S3Config()).status, 200);
  ASSERT_EQ(PutBatch("hose", {"a", "b", "c"}).status, 200);
  Close();
  Open();
  auto d = Call("DescribeDeliveryStream", {{"DeliveryStreamName", "hose"}});
  ASSERT_EQ(d.status, 200);
  clock_.AdvanceSeconds(60);
  firehose_->StepAll();
  auto lines = Lines();
  EXPECT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines["a"] + lines["b"] + lines["c"], 3);
}

TEST_F(FirehoseServiceTest, AsksTheAuthorizer) {
  DenyAuthorizer deny;
  Close();
  authorizer_ptr_ = &deny;
  Open();
  ASSERT_EQ(CreateDirect("hose", S3Config()).status, 200);
  EXPECT_EQ(Call("DeleteDeliveryStream", {{"DeliveryStreamName", "hose"}}).Type(), "AccessDeniedException");
  Close();
  authorizer_ptr_ = &authorizer_;
  Open();
}

}  // namespace
}  // namespace muon::delivery

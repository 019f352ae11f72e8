#include "plan/cloudformation.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plan/test_util.h"

namespace muon::plan {
namespace {

using Json = nlohmann::json;

class CloudFormationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = PriceTable::FromToml(testing::ReadTestData("prices-ap-southeast-2.toml"), "fixture");
    ASSERT_TRUE(t.ok());
    prices_ = *t;
  }

  Json Emit(const DesignSpec& spec) {
    auto d = PriceDesign(spec, profile_, prices_);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    auto text = EmitCloudFormation(*d, profile_);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return Json::parse(*text);
  }

  PriceTable prices_;
  Profile profile_;
};

TEST_F(CloudFormationTest, ProvisionedStreamGetsPlannedShardsAndEncryption) {
  profile_.detectors = 1000;
  profile_.records_per_second_per_detector = 10;
  Json t = Emit({Ingest::kKdsProvisioned, false});
  const Json& stream = t["Resources"]["LiveStream"]["Properties"];
  EXPECT_EQ(stream["StreamModeDetails"]["StreamMode"], "PROVISIONED");
  EXPECT_EQ(stream["ShardCount"], 13);
  EXPECT_EQ(stream["StreamEncryption"]["EncryptionType"], "KMS");
  EXPECT_EQ(t["Resources"]["DeliveryStream"]["Properties"]["DeliveryStreamType"], "KinesisStreamAsSource");
}

TEST_F(CloudFormationTest, DirectPutHasNoStream) {
  Json t = Emit({Ingest::kFirehoseDirect, true});
  EXPECT_FALSE(t["Resources"].contains("LiveStream"));
  const Json& ds = t["Resources"]["DeliveryStream"]["Properties"];
  EXPECT_EQ(ds["DeliveryStreamType"], "DirectPut");
  const Json& dest = ds["ExtendedS3DestinationConfiguration"];
  EXPECT_EQ(dest["BufferingHints"]["IntervalInSeconds"], 60);
  EXPECT_EQ(dest["CompressionFormat"], "GZIP");
  EXPECT_NE(dest["ErrorOutputPrefix"].get<std::string>().find("error-output-type"), std::string::npos);
}

TEST_F(CloudFormationTest, LifecycleRulesFollowThePlan) {
  profile_.detectors = 100;
  profile_.archive_class = ArchiveClass::kDeepArchive;
  profile_.hot_days = 90;
  profile_.retention_days = 3650;
  Json t = Emit({Ingest::kBatchOnly, false});
  const Json& bucket = t["Resources"]["ArchiveBucket"]["Properties"];
  const Json& rule = bucket["LifecycleConfiguration"]["Rules"][0];
  EXPECT_EQ(rule["Transitions"][0]["StorageClass"], "DEEP_ARCHIVE");
  EXPECT_EQ(rule["Transitions"][0]["TransitionInDays"], 90);
  EXPECT_EQ(rule["ExpirationInDays"], 3650);
  EXPECT_EQ(bucket["VersioningConfiguration"]["Status"], "Enabled");
  EXPECT_TRUE(bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"]);
  EXPECT_FALSE(t["Resources"].contains("DeliveryStream"));
}

TEST_F(CloudFormationTest, RegistryPasswordLivesInSecretsManager) {
  profile_.registry_multi_az = true;
  Json t = Emit({Ingest::kKdsOnDemand, true});
  const Json& db = t["Resources"]["RegistryDatabase"]["Properties"];
  EXPECT_EQ(db["Engine"], "postgres");
  EXPECT_TRUE(db["ManageMasterUserPassword"]);
  EXPECT_TRUE(db["MultiAZ"]);
  EXPECT_FALSE(db.contains("MasterUserPassword"));
  EXPECT_TRUE(t["Outputs"].contains("RegistrySecretArn"));
}

TEST_F(CloudFormationTest, DynamicPartitioningWhenChosen) {
  profile_.partition_by_detector = true;
  Json t = Emit({Ingest::kFirehoseDirect, true});
  const Json& dest = t["Resources"]["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"];
  EXPECT_TRUE(dest["DynamicPartitioningConfiguration"]["Enabled"]);
  EXPECT_NE(dest["Prefix"].get<std::string>().find("partitionKeyFromQuery:detector"), std::string::npos);
}

// The roles carry the policy documents muonpipe enforces, byte for byte from the embedded files,
// minus statements on muonpipe-only services (registry:*, admin:* on arn:muonpipe:...), which IAM
// does not know.
TEST_F(CloudFormationTest, RolePoliciesAreTheEmbeddedDocuments) {
  Json t = Emit({Ingest::kFirehoseDirect, true});
  for (const std::string& role : RoleNames()) {
    std::ifstream in(std::string(MUON_PLAN_TESTDATA) + "/../../iam/policies/" + role + ".json");
    std::stringstream file;
    file << in.rdbuf();
    ASSERT_EQ(RolePolicyDocument(role).value(), file.str()) << role;
    Json source = Json::parse(file.str());
    Json expected = Json::array();
    for (const Json& st : source["Statement"]) {
      if (st.dump().find("arn:muonpipe:") == std::string::npos) expected.push_back(st);
    }
    const Json& doc = t["Resources"][role + "Policy"]["Properties"]["PolicyDocument"];
    EXPECT_EQ(doc["Statement"], expected) << role;
    const Json& trust = t["Resources"][role + "Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    bool has_mfa_deny = file.str().find("aws:MultiFactorAuthPresent") != std::string::npos;
    if (role == "Device") {
      EXPECT_FALSE(has_mfa_deny);
      EXPECT_FALSE(trust.contains("Condition"));
    } else {
      EXPECT_TRUE(has_mfa_deny) << role << " must deny everything but MFA self-service without MFA";
      EXPECT_EQ(trust["Condition"]["Bool"]["aws:MultiFactorAuthPresent"], "true") << role;
    }
  }
}

TEST(RolePolicyTest, UnknownRoleIsNotFound) {
  auto r = RolePolicyDocument("Janitor");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Administrator"), std::string::npos);
}

}  // namespace
}  // namespace muon::plan

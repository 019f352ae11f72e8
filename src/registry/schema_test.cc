#include "registry/schema.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry/registry.h"
#include "registry/test_util.h"

namespace muon::registry {
namespace {

using ::testing::HasSubstr;

class SchemaTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
  FakeClock clock_;
  std::string url_;
};

TEST_P(SchemaTest, MigratesAnEmptyDatabaseToTheLatestVersion) {
  if (url_.empty()) return;
  auto db = Database::Open(url_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(*SchemaVersionOf(**db), 0);
  ASSERT_TRUE(Migrate(**db).ok());
  EXPECT_EQ(*SchemaVersionOf(**db), kSchemaVersion);
  // Running again is a no-op.
  ASSERT_TRUE(Migrate(**db).ok());
  EXPECT_EQ(*SchemaVersionOf(**db), kSchemaVersion);
}

TEST_P(SchemaTest, MigratesFromThePreviousVersionKeepingData) {
  if (url_.empty()) return;
  {
    auto db = Database::Open(url_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(Migrate(**db, kSchemaVersion - 1).ok());
    EXPECT_EQ(*SchemaVersionOf(**db), kSchemaVersion - 1);
    // Rows as a version-1 muonpipe wrote them.
    Status s = (*db)->Transact([](Tx& tx) -> Status {
      MUON_RETURN_IF_ERROR(
          tx.Exec("INSERT INTO detectors (id, model, version, created_at, updated_at) VALUES "
                  "('MD-0001', 'MT-4', 3, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')")
              .status());
      return tx
          .Exec("INSERT INTO status_history (detector_id, status, since, by_whom) VALUES "
                "('MD-0001', 'active', '2026-01-02T00:00:00Z', 'alice')")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  auto reg = Registry::Open(url_, &clock_);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(*SchemaVersionOf((*reg)->db()), kSchemaVersion);
  auto d = (*reg)->Get(Kind::kDetector, "MD-0001");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)["version"], 3);
  EXPECT_EQ((*d)["status"], "active");
  EXPECT_EQ((*d)["silence_threshold_s"], 900);  // the version-2 default
  EXPECT_TRUE((*d)["last_seen"].is_null());
  EXPECT_EQ((*d)["records_seen"], 0);
}

TEST_P(SchemaTest, RefusesADatabaseNewerThanThisBinary) {
  if (url_.empty()) return;
  {
    auto db = Database::Open(url_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(Migrate(**db).ok());
    ASSERT_TRUE((*db)->Transact([](Tx& tx) {
                       return tx.Exec("UPDATE schema_version SET version = :v1",
                                      {int64_t{kSchemaVersion + 1}}).status();
                     }).ok());
  }
  auto reg = Registry::Open(url_, &clock_);
  ASSERT_FALSE(reg.ok());
  EXPECT_EQ(reg.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(reg.status().message(),
              HasSubstr(fmt::format("schema version {}, newer than this muonpipe knows (up to {})",
                                    kSchemaVersion + 1, kSchemaVersion)));
  // Untouched.
  auto db = Database::Open(url_);
  EXPECT_EQ(*SchemaVersionOf(**db), kSchemaVersion + 1);
}

TEST(TransitionsTest, FollowTheDocumentedLifecycle) {
  EXPECT_TRUE(IsLegalTransition("planned", "in-transit"));
  EXPECT_TRUE(IsLegalTransition("offline", "active"));
  EXPECT_TRUE(IsLegalTransition("lost", "retrieved"));
  EXPECT_FALSE(IsLegalTransition("decommissioned", "active"));
  EXPECT_FALSE(IsLegalTransition("planned", "active"));
  EXPECT_FALSE(IsLegalTransition("active", "active"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry

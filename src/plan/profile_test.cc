#include "plan/profile.h"

#include <gtest/gtest.h>

#include "base/env.h"
#include "plan/test_util.h"
#include "plan/usage_source.h"

namespace muon::plan {
namespace {

TEST(ProfileTest, ParsesEverySection) {
  auto p = ParseProfileToml(R"(
region = "us-east-1"
horizon_months = 24
[fleet]
detectors = 250
detectors_added_per_month = 10
[data]
aggregate_bytes = 25600
live_fraction = 0.5
[live]
max_latency_seconds = 30
partition_by_detector = true
[retention]
hot_days = 60
archive_class = "glacier_ir"
retention_days = 3650
[analysts]
read_gb_per_month = 100
[registry]
instance_class = "db.t4g.small"
multi_az = true
)", "p.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->region, "us-east-1");
  EXPECT_EQ(p->horizon_months, 24);
  EXPECT_EQ(p->detectors, 250);
  EXPECT_EQ(p->DetectorsInMonth(3), 280);
  EXPECT_EQ(p->aggregate_bytes, 25600);
  EXPECT_TRUE(p->partition_by_detector);
  EXPECT_EQ(p->archive_class, ArchiveClass::kGlacierIr);
  EXPECT_TRUE(p->registry_multi_az);
  EXPECT_EQ(p->registry_instance_class, "db.t4g.small");
}

TEST(ProfileTest, UnknownFieldIsNamedWithItsLine) {
  auto p = ParseProfileToml("[fleet]\ndetectors = 5\ndetector = 6\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("p.toml:3"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("'fleet.detector'"), std::string::npos);
  EXPECT_NE(p.status().message().find("docs/plan.md"), std::string::npos);
}

TEST(ProfileTest, WrongTypeNamesFieldAndExpectedType) {
  auto p = ParseProfileToml("[data]\nlive_fraction = \"most\"\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'data.live_fraction' must be a number"), std::string::npos)
      << p.status().message();
  p = ParseProfileToml("horizon_months = 1.5\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'horizon_months' must be an integer"), std::string::npos);
}

TEST(ProfileTest, OutOfRangeNamesFieldValueAndRange) {
  auto p = ParseProfileToml("[data]\nlive_fraction = 1.5\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'data.live_fraction' is 1.5; it must be between 0 and 1"),
            std::string::npos)
      << p.status().message();
}

TEST(ProfileTest, StandardIaNeedsThirtyHotDays) {
  auto p = ParseProfileToml("[retention]\narchive_class = \"standard_ia\"\nhot_days = 7\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("retention.hot_days"), std::string::npos);
  EXPECT_NE(p.status().message().find("30"), std::string::npos);
}

TEST(ProfileTest, BadArchiveClassListsChoices) {
  auto p = ParseProfileToml("[retention]\narchive_class = \"glacier\"\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("retention.archive_class"), std::string::npos);
  EXPECT_NE(p.status().message().find("deep_archive"), std::string::npos);
}

TEST(ProfileTest, SyntaxErrorGivesLine) {
  auto p = ParseProfileToml("[fleet]\ndetectors = = 3\n", "p.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("p.toml:2"), std::string::npos) << p.status().message();
}

TEST(UsageTest, MeasuredUsageBecomesPerDetectorMeans) {
  auto u = ParseUsageJson(testing::ReadTestData("usage.json"), "usage.json");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  // records/s: (2 + 1 + 3) / 3 = 2; bytes/s: (1000 + 1500 + 500) / 3 = 1000; record 1000 / 2 = 500 B.
  EXPECT_DOUBLE_EQ(u->records_per_second_per_detector, 2.0);
  EXPECT_DOUBLE_EQ(u->bytes_per_second_per_detector, 1000.0);
  EXPECT_DOUBLE_EQ(u->mean_record_bytes, 500.0);
  // live (64.8 + 129.6 + 0) MB of (64.8 + 129.6 + 21.6 + 43.2 + 0) MB = 194.4 / 259.2 = 0.75.
  EXPECT_DOUBLE_EQ(u->live_fraction, 0.75);
  Profile p;
  ApplyMeasuredUsage(*u, &p);
  EXPECT_EQ(p.detectors, 3);
  EXPECT_DOUBLE_EQ(p.RawRecordBytes(), 500.0);
}

TEST(UsageTest, ReadsFromDataDir) {
  auto u = ReadUsageFromDataDir(Env::Posix(), testing::TestDataPath("datadir"));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_DOUBLE_EQ(u->detector_count, 3);
  auto missing = ReadUsageFromDataDir(Env::Posix(), testing::TestDataPath("no-such-dir"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("metrics/usage.json"), std::string::npos);
}

TEST(UsageTest, WrongSchemaAndEmptyWindowAreExplained) {
  auto u = ParseUsageJson(R"({"schema": "v0"})", "u.json");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("muonpipe.usage.v1"), std::string::npos);
  u = ParseUsageJson(R"({"schema": "muonpipe.usage.v1", "window_seconds": 0, "detectors": []})", "u.json");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("nothing was measured"), std::string::npos);
}

}  // namespace
}  // namespace muon::plan

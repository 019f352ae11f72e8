#include "plan/prices.h"

#include <gtest/gtest.h>

#include "plan/test_util.h"

namespace muon::plan {
namespace {

using testing::ReadTestData;

TEST(PriceTableTest, BuiltInTablesParseForBothRegions) {
  for (const char* region : {"us-east-1", "ap-southeast-2"}) {
    auto t = PriceTable::Embedded(region);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->region(), region);
    for (const auto& [key, price] : t->prices()) {
      EXPECT_FALSE(price.source.empty()) << key;
      EXPECT_EQ(price.date.size(), 10u) << key;
      if (!price.confirmed) {
        EXPECT_FALSE(price.note.empty()) << key << " is unconfirmed without a note";
      }
    }
  }
}

TEST(PriceTableTest, UnknownRegionListsBuiltInOnes) {
  auto t = PriceTable::Embedded("eu-west-9");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("ap-southeast-2"), std::string::npos);
  EXPECT_NE(t.status().message().find("--prices"), std::string::npos);
}

TEST(PriceTableTest, MissingSourceNamesEntryAndField) {
  auto t = PriceTable::FromToml(R"(region = "us-east-1"
[prices."s3.standard_put"]
unit = "1000 requests"
price = 0.005
date = "2026-11-27"
)", "mine.toml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("mine.toml"), std::string::npos);
  EXPECT_NE(t.status().message().find("s3.standard_put"), std::string::npos);
  EXPECT_NE(t.status().message().find("'source'"), std::string::npos);
}

TEST(PriceTableTest, UnboundedTierMustBeLast) {
  auto t = PriceTable::FromToml(R"(region = "us-east-1"
[prices."x"]
unit = "GB"
source = "u"
date = "2026-11-27"
tiers = [{ price = 1.0 }, { up_to = 10, price = 0.5 }]
)", "t.toml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("only the last tier"), std::string::npos);
}

TEST(PriceTest, TieredCostAppliesEachBand) {
  Price p;
  p.tiers = {{10.0, 1.0}, {30.0, 0.5}, {std::nullopt, 0.25}};
  EXPECT_DOUBLE_EQ(p.CostOf(5), 5.0);
  // 10 × 1.0 + 20 × 0.5 + 10 × 0.25 = 22.5
  EXPECT_DOUBLE_EQ(p.CostOf(40), 22.5);
  EXPECT_DOUBLE_EQ(p.CostOf(0), 0.0);
}

TEST(OfferFileTest, S3OfferOverridesTieredStorageAndRequests) {
  auto t = PriceTable::FromToml(ReadTestData("prices-ap-southeast-2.toml"), "fixture");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto report = ApplyOfferFile(ReadTestData("offer-s3-sydney.json"), "offer-s3-sydney.json", &*t);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->products_in_region, 3);  // the us-east-1 product is skipped
  EXPECT_EQ(report->updated_keys.size(), 3u);
  const Price* std_storage = t->Get("s3.standard_storage").value();
  ASSERT_EQ(std_storage->tiers.size(), 3u);  // dimensions were out of order in the file
  EXPECT_DOUBLE_EQ(*std_storage->tiers[0].up_to, 51200);
  EXPECT_DOUBLE_EQ(std_storage->tiers[0].price, 0.026);
  EXPECT_DOUBLE_EQ(*std_storage->tiers[1].up_to, 512000);
  EXPECT_FALSE(std_storage->tiers[2].up_to.has_value());
  EXPECT_EQ(std_storage->unit, "GB-month");
  EXPECT_TRUE(std_storage->confirmed);
  EXPECT_NE(std_storage->source.find("sku SKUSTD"), std::string::npos);
  // Per-request prices become per-1000-request prices: 0.000006 × 1000.
  EXPECT_NEAR(t->Get("s3.standard_put").value()->FirstRate(), 0.006, 1e-12);
  EXPECT_NEAR(t->Get("s3.transition_deep_archive").value()->FirstRate(), 0.07, 1e-12);
}

TEST(OfferFileTest, RdsOfferTakesPostgresOnlyAndAddsNewClasses) {
  auto t = PriceTable::FromToml(ReadTestData("prices-ap-southeast-2.toml"), "fixture");
  ASSERT_TRUE(t.ok());
  auto report = ApplyOfferFile(ReadTestData("offer-rds-ec2-sydney.json"), "rds.json", &*t);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_DOUBLE_EQ(t->Get("rds.postgres.db.t4g.micro.single_az").value()->FirstRate(), 0.025);
  EXPECT_DOUBLE_EQ(t->Get("rds.postgres.db.r7g.large.multi_az").value()->FirstRate(), 0.6);
  EXPECT_EQ(t->Get("rds.postgres.db.r7g.large.multi_az").value()->unit, "instance-hour");
}

TEST(OfferFileTest, GapBetweenDimensionsIsAnError) {
  auto t = PriceTable::FromToml(ReadTestData("prices-ap-southeast-2.toml"), "fixture");
  ASSERT_TRUE(t.ok());
  auto report = ApplyOfferFile(ReadTestData("offer-bad-range.json"), "bad.json", &*t);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("bad.json"), std::string::npos);
  EXPECT_NE(report.status().message().find("gap"), std::string::npos);
}

TEST(OfferFileTest, NotAnOfferFileSaysWhatOneIs) {
  PriceTable t;
  auto r = ApplyOfferFile("{\"hello\": 1}", "x.json", &t);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"products\""), std::string::npos);
  r = ApplyOfferFile("not json", "y.json", &t);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Bulk API"), std::string::npos);
}

}  // namespace
}  // namespace muon::plan

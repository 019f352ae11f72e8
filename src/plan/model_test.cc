#include "plan/model.h"

#include <gtest/gtest.h>

#include "plan/recommend.h"
#include "plan/test_util.h"

namespace muon::plan {
namespace {

// Prices used below (testdata/prices-ap-southeast-2.toml, USD):
//   Kinesis shard-hour 0.0181, PUT payload units 0.0195 per million, on-demand stream-hour 0.048,
//   on-demand in 0.096/GB, out 0.048/GB; Firehose 0.036/GB; S3 Standard 0.025/GB-month,
//   Glacier IR 0.005/GB-month, PUT 0.0055 per 1000, transition to Glacier IR 0.02 per 1000;
//   RDS db.t4g.micro single-AZ 0.021/h, gp3 0.138/GB-month; secret 0.40/month;
//   EC2 t4g.medium 0.0424/h; EBS gp3 0.096/GB-month.
//
// The scenario: ap-southeast-2, 100 detectors × 1 KiB/s (1024 B/s), one 1 KiB record per second,
// or 5 KiB aggregates; 12 months; all live; kept in S3 Standard; no analyst reads.
//   Month = 730 h = 2,628,000 s; GB = 2^30 bytes.
//   Live bytes/month  = 100 × 1024 × 2,628,000 = 269,107,200,000 B = 250.6256103515625 GB.
//   Raw records/month = 100 × 2,628,000 = 262,800,000; 5 KiB aggregates: 52,560,000.
//   Firehose bills each record rounded up to 5 KiB:
//     raw: 262,800,000 × 5120 B = 1,253.1280517578125 GB × 0.036 = 45.11260986328125 /month
//     agg:  52,560,000 × 5120 B =   250.6256103515625 GB × 0.036 =  9.02252197265625 /month
//   Firehose objects: max(2,628,000 s / 60 s, 250.6 GB / 64 MiB = 4,010) = 43,800
//     → 43.8 thousand PUTs × 0.0055 = 0.2409 /month
//   Storage, data written at mid-month: month k holds (k + 0.5) × 250.6256 GB;
//     Σ k=0..11 (k + 0.5) = 72 → 72 × 250.6256103515625 × 0.025 = 451.1260986328125
//   Registry: 730 × 0.021 + 20 × 0.138 + 0.40 = 15.33 + 2.76 + 0.40 = 18.49 /month
class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = PriceTable::FromToml(testing::ReadTestData("prices-ap-southeast-2.toml"), "fixture");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    prices_ = *t;
    profile_.region = "ap-southeast-2";
    profile_.detectors = 100;
    profile_.bytes_per_second_per_detector = 1024;
    profile_.records_per_second_per_detector = 1;
    profile_.aggregate_bytes = 5120;
    profile_.horizon_months = 12;
    profile_.archive_class = ArchiveClass::kNone;
  }

  double Total(Ingest ingest, bool aggregated) {
    auto r = PriceDesign({ingest, aggregated}, profile_, prices_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->total : -1;
  }

  std::string Recommended() {
    auto plan = PriceAll(profile_, prices_);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    auto rec = Recommend(*plan, prices_);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    return rec->design_id;
  }

  PriceTable prices_;
  Profile profile_;
};

constexpr double kCent = 0.005;

TEST_F(ScenarioTest, FirehoseDirectRawAndAggregated) {
  // 12 × (45.11260986328125 + 0.2409 + 18.49) + 451.1260986328125 = 1,217.25
  EXPECT_NEAR(Total(Ingest::kFirehoseDirect, false), 1217.25, kCent);
  // 12 × (9.02252197265625 + 0.2409 + 18.49) + 451.1260986328125 = 784.17
  EXPECT_NEAR(Total(Ingest::kFirehoseDirect, true), 784.17, kCent);
}

TEST_F(ScenarioTest, KinesisProvisionedRawAndAggregated) {
  // One shard (102,400 B/s and 100 records/s are far under 80% of 1 MiB/s and 1000 records/s):
  //   730 × 0.0181 = 13.213 /month.
  // raw: 262.8 M PUT units × 0.0195 = 5.1246; 12 × (13.213 + 5.1246 + 45.11260986328125 + 0.2409
  //      + 18.49) + 451.1260986328125 = 1,437.30
  EXPECT_NEAR(Total(Ingest::kKdsProvisioned, false), 1437.30, kCent);
  // agg: 52.56 M PUT units × 0.0195 = 1.02492; 12 × (13.213 + 1.02492 + 9.02252197265625 + 0.2409
  //      + 18.49) + 451.1260986328125 = 955.02
  EXPECT_NEAR(Total(Ingest::kKdsProvisioned, true), 955.02, kCent);
}

TEST_F(ScenarioTest, KinesisOnDemandRawAndAggregated) {
  // On-demand rounds each record up to 1 KiB; both 1 KiB and 5 KiB records are exact multiples:
  //   250.6256103515625 GB in × 0.096 = 24.06; out (Firehose) × 0.048 = 12.03; 730 × 0.048 = 35.04.
  // raw: 12 × (35.04 + 24.0600585937 + 12.0300292969 + 45.11260986328125 + 0.2409 + 18.49)
  //      + 451.1260986328125 = 2,070.81
  EXPECT_NEAR(Total(Ingest::kKdsOnDemand, false), 2070.81, kCent);
  // agg: the same with Firehose at 9.02252197265625: 1,637.73
  EXPECT_NEAR(Total(Ingest::kKdsOnDemand, true), 1637.73, kCent);
}

TEST_F(ScenarioTest, BatchOnlyAndSelfHosted) {
  // Batch: 100 detectors × 1 file/day × 30.4167 days = 3,041.67 → 3,042 PUTs × 0.0055/1000
  //   = 0.016731; 12 × (0.016731 + 18.49) + 451.1260986328125 = 673.21
  EXPECT_NEAR(Total(Ingest::kBatchOnly, false), 673.21, kCent);
  // Self-hosted: one t4g.medium, 730 × 0.0424 = 30.952; EBS 50 GB + one day of stream log
  //   (102,400 × 86,400 B = 8.23974609375 GB) = 58.23974609375 × 0.096 = 5.59101562;
  //   no RDS (registry in SQLite on the instance); 12 × (30.952 + 5.59101562 + 0.2409)
  //   + 451.1260986328125 = 892.53
  EXPECT_NEAR(Total(Ingest::kSelfHosted, false), 892.53, kCent);
}

TEST_F(ScenarioTest, GlacierIrLifecycleOnBatchFiles) {
  // Batch files (one per detector per day, ~84 MiB) are large enough to transition.
  // Hot 30 days = 720/730 months = 0.98630; a cohort written at m + 0.5 is in Standard until
  // m + 1.48630. Standard GB-months: month 0 holds 0.5 of cohort 0, every later month 0.5 of its
  // own cohort + 0.48630 of the previous one: 0.5 + 11 × 0.98630 = 11.34932 cohorts.
  // Glacier IR: the rest of Σ(k + 0.5) = 72, i.e. 60.65068 cohorts.
  // Transitions: cohorts 0..10 move in months 1..11: 11 × 3,042 objects × 0.02/1000 = 0.66924.
  // 12 × (0.016731 + 18.49) + 250.6256103515625 × (11.34932 × 0.025 + 60.65068 × 0.005)
  //   + 0.66924 = 369.86
  profile_.archive_class = ArchiveClass::kGlacierIr;
  profile_.hot_days = 30;
  EXPECT_NEAR(Total(Ingest::kBatchOnly, false), 369.86, kCent);
}

TEST_F(ScenarioTest, SmallFirehoseObjectsAreNotTransitioned) {
  // 102,400 B/s × 60 s = 6 MiB per object: large enough. At 1 detector, 61,440 B per object
  // (< 128 KiB) S3 will not transition, so the plan keeps them in Standard and says so.
  profile_.detectors = 1;
  profile_.archive_class = ArchiveClass::kGlacierIr;
  auto r = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->storage.transitions_skipped_small_objects);
  for (const LineItem& li : r->items) EXPECT_EQ(li.item.find("Glacier"), std::string::npos) << li.item;
}

TEST_F(ScenarioTest, LineItemsAddUpAndCarryUnitPrices) {
  auto r = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(r.ok());
  double sum = 0;
  for (const LineItem& li : r->items) {
    EXPECT_NEAR(li.quantity * li.unit_price, li.cost, 1e-9) << li.item;
    sum += li.cost;
  }
  EXPECT_NEAR(sum, r->total, 1e-9);
  EXPECT_EQ(r->monthly_totals.size(), 12u);
}

TEST_F(ScenarioTest, RecommendsAggregatedFirehoseByDefault) {
  EXPECT_EQ(Recommended(), "firehose-direct-agg");
}

TEST_F(ScenarioTest, TightLatencyRulesOutFirehoseDirect) {
  // Firehose Direct PUT: 5 s aggregation + 60 s buffer = 65 s > 10 s. Kinesis: 5 s + 1 s.
  // Cheapest left: self-hosted at 892.53 (Kinesis provisioned aggregated: 955.02).
  profile_.max_latency_seconds = 10;
  EXPECT_EQ(Recommended(), "self-hosted-ec2");
  auto r = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->feasible);
  EXPECT_NE(r->violations.front().find("latency"), std::string::npos);
}

TEST_F(ScenarioTest, NoLatencyAskedMakesBatchOnlyCheapest) {
  profile_.max_latency_seconds = 0;
  EXPECT_EQ(Recommended(), "batch-only");
}

TEST_F(ScenarioTest, SelfHostedBreaksEvenWithFirehoseAt210Detectors) {
  // Steady month, N detectors (the storage and delivery PUTs are the same for both):
  //   Firehose Direct agg: 18.49 (registry) + N × 2,628,000 × 1024 B / 2^30 × 0.036
  //                      = 18.49 + 0.09022522 N
  //   Self-hosted:        30.952 + 0.096 × (50 + N × 1024 × 86,400 / 2^30)
  //                      = 35.752 + 0.00791016 N
  //   Equal at N = 17.262 / 0.08231506 = 209.7 → self-hosted is cheaper from 210 detectors.
  auto plan = PriceAll(profile_, prices_);
  ASSERT_TRUE(plan.ok());
  auto rec = Recommend(*plan, prices_);
  ASSERT_TRUE(rec.ok());
  bool found = false;
  for (const BreakEven& b : rec->break_evens) {
    if (b.cheaper_below == "firehose-direct-agg" && b.cheaper_above == "self-hosted-ec2") {
      EXPECT_EQ(b.detectors, 210);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  profile_.detectors = 200;
  EXPECT_EQ(Recommended(), "firehose-direct-agg");
  profile_.detectors = 220;
  EXPECT_EQ(Recommended(), "self-hosted-ec2");
}

TEST_F(ScenarioTest, FirehoseDirectPutQuotaFlipsAt1025Detectors) {
  // Sydney's default Direct PUT quota is 1 MiB/s: 1024 detectors × 1024 B/s fits, 1025 does not.
  profile_.detectors = 1024;
  auto ok = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->feasible);
  profile_.detectors = 1025;
  auto over = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(over.ok());
  EXPECT_FALSE(over->feasible);
  EXPECT_NE(over->violations.front().find("firehose.direct_put_bytes_per_second"), std::string::npos);
  profile_.allow_quota_increases = true;
  auto raised = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(raised.ok());
  EXPECT_TRUE(raised->feasible);
}

TEST_F(ScenarioTest, ShardCountFollowsRecordRateWithHeadroom) {
  // 10 records/s per detector of 102.4 B: 1,000 detectors → 10,000 records/s;
  // 80% of 1000 records/s per shard → ceil(10,000 / 800) = 13 shards.
  profile_.detectors = 1000;
  profile_.records_per_second_per_detector = 10;
  auto r = PriceDesign({Ingest::kKdsProvisioned, false}, profile_, prices_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_shards, 13);
  // Aggregated to 5 KiB: 1,024,000 B/s → ceil(1,024,000 / (0.8 × 1 MiB)) = 2 shards.
  auto agg = PriceDesign({Ingest::kKdsProvisioned, true}, profile_, prices_);
  ASSERT_TRUE(agg.ok());
  EXPECT_EQ(agg->max_shards, 2);
}

TEST_F(ScenarioTest, FleetGrowthIsPricedMonthByMonth) {
  profile_.detectors_added_per_month = 10;
  auto r = PriceDesign({Ingest::kFirehoseDirect, true}, profile_, prices_);
  ASSERT_TRUE(r.ok());
  // Month 12 has 100 + 11 × 10 = 210 detectors: Firehose 210 × 0.09022522 = 18.947.
  double firehose_last = 0;
  for (const LineItem& li : r->items) {
    if (li.month == 11 && li.service == "Firehose") firehose_last += li.cost;
  }
  EXPECT_NEAR(firehose_last, 18.95, kCent);
}

}  // namespace
}  // namespace muon::plan

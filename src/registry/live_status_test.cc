#include "registry/live_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace muon::registry {
namespace {

using ::testing::HasSubstr;

class LiveStatusTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string url = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (url.empty()) return;
    auto r = Registry::Open(url, &clock_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reg_ = std::move(r).value();
    live_ = std::make_unique<LiveStatus>(reg_.get(), &clock_);
    ASSERT_TRUE(reg_->Create(Kind::kDetector,
                             {{"id", "MD-0001"}, {"model", "MT-4"}, {"silence_threshold_s", 60},
                              {"status", "active"}},
                             "alice").ok());
  }
  std::string CurrentStatus() { return (*reg_->Get(Kind::kDetector, "MD-0001"))["status"]; }

  FakeClock clock_{1'780'000'000'000'000'000};
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<LiveStatus> live_;
};

TEST_P(LiveStatusTest, SilenceBeyondThresholdGoesOfflineAndDataBringsItBack) {
  if (!reg_) return;
  live_->OnIngest("MD-0001", 3, clock_.NowNanos());
  live_->OnIngest("OTHER", 1, clock_.NowNanos());
  clock_.AdvanceSeconds(10);
  live_->OnIngest("MD-0001", 7, clock_.NowNanos());  // 3 + 7 records
  const std::string last = Registry::FormatTime(clock_.NowNanos());
  ASSERT_TRUE(live_->Sweep().ok());
  EXPECT_EQ(CurrentStatus(), "active");
  auto f = live_->Of("MD-0001");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->records, 10u);

  clock_.AdvanceSeconds(60);
  EXPECT_EQ(*live_->Sweep(), 0);  // exactly the threshold
  EXPECT_EQ(CurrentStatus(), "active");
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(*live_->Sweep(), 1);
  EXPECT_EQ(CurrentStatus(), "offline");
  auto h = reg_->StatusHistory("MD-0001");
  EXPECT_EQ((*h)["reason"], "no data since " + last);

  clock_.AdvanceSeconds(3600);
  live_->OnIngest("MD-0001", 2, clock_.NowNanos());
  clock_.AdvanceSeconds(2);
  EXPECT_EQ(*live_->Sweep(), 1);
  EXPECT_EQ(CurrentStatus(), "active");
  h = reg_->StatusHistory("MD-0001");
  EXPECT_THAT((*h)["reason"].get<std::string>(), HasSubstr("data arrived"));
  EXPECT_EQ((*h)["records_seen"], 12);
  // Rate over the last window: 2 records in 3602 s.
  EXPECT_NEAR(live_->Of("MD-0001")->records_per_second, 2.0 / 3602, 1e-9);
}

TEST_P(LiveStatusTest, ReportsOfUnknownDetectorsAreIgnored) {
  if (!reg_) return;
  live_->OnIngest("NOT-REGISTERED", 5, clock_.NowNanos());
  auto moves = live_->Sweep();
  ASSERT_TRUE(moves.ok()) << moves.status().ToString();
  EXPECT_EQ(*moves, 0);
  EXPECT_EQ(reg_->Get(Kind::kDetector, "NOT-REGISTERED").status().code(), StatusCode::kNotFound);
  // Partition keys that are not detectors keep no figures (random keys would
  // otherwise fill memory), while a registered detector's do.
  EXPECT_FALSE(live_->Of("NOT-REGISTERED").has_value());
  live_->OnIngest("MD-0001", 3, clock_.NowNanos());
  ASSERT_TRUE(live_->Sweep().ok());
  ASSERT_TRUE(live_->Of("MD-0001").has_value());
  EXPECT_EQ(live_->Of("MD-0001")->records, 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveStatusTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry

#include "sim/record.h"

#include <gtest/gtest.h>

#include "sim/test_util.h"

namespace muon::sim {
namespace {

TEST(RecordTest, MuonLineIsCanonical) {
  MuonEvent e{.zenith_deg = 23.456, .azimuth_deg = 187.2, .edep_mev = 9.876,
              .hits = {{3, 0, 812}, {19, 0, 640}, {35, 2, 700}}};
  std::string line;
  AppendMuonLine({"MD-0001", 42, 1'700'000'000'123'456'789}, e, &line);
  EXPECT_EQ(line,
            R"({"v":1,"det":"MD-0001","seq":42,"t_ns":1700000000123456789,"kind":"muon",)"
            R"("zenith_deg":23.46,"azimuth_deg":187.20,"edep_mev":9.88,"hits":[)"
            R"({"ch":3,"dt_ns":0,"adc":812},{"ch":19,"dt_ns":0,"adc":640},)"
            R"({"ch":35,"dt_ns":2,"adc":700}]})");
  EXPECT_EQ(testing::CheckCanonicalLine(line), "");
}

TEST(RecordTest, HousekeepingLineIsCanonical) {
  Housekeeping s{.temp_c = 21.374, .pressure_hpa = 1013.25, .hv_v = 1450.34,
                 .interval_ns = 10'000'000'000, .triggers = 42, .muons = 40, .dead_ns = 420'000};
  std::string line;
  AppendHousekeepingLine({"MD-0001", 43, 1'700'000'010'000'000'000}, s, &line);
  EXPECT_EQ(line,
            R"({"v":1,"det":"MD-0001","seq":43,"t_ns":1700000010000000000,)"
            R"("kind":"housekeeping","temp_c":21.37,"pressure_hpa":1013.25,"hv_v":1450.3,)"
            R"("interval_ns":10000000000,"triggers":42,"muons":40,"dead_ns":420000})");
  EXPECT_EQ(testing::CheckCanonicalLine(line), "");
}

TEST(RecordTest, RoundingKeepsAnglesInRange) {
  MuonEvent e{.zenith_deg = 89.9999, .azimuth_deg = 359.999, .edep_mev = 1, .hits = {{0, 0, 60}}};
  std::string line;
  AppendMuonLine({"MD-0001", 1, 1}, e, &line);
  EXPECT_NE(line.find(R"("zenith_deg":89.99)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("azimuth_deg":0.00)"), std::string::npos) << line;
  EXPECT_EQ(testing::CheckCanonicalLine(line), "");
}

TEST(RecordTest, DetectorIdRules) {
  EXPECT_TRUE(IsValidDetectorId("MD-0001"));
  EXPECT_TRUE(IsValidDetectorId("cw.site_3"));
  EXPECT_FALSE(IsValidDetectorId(""));
  EXPECT_FALSE(IsValidDetectorId("a\"b"));
  EXPECT_FALSE(IsValidDetectorId(std::string(65, 'a')));
}

}  // namespace
}  // namespace muon::sim

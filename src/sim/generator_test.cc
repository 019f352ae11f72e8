#include "sim/generator.h"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/test_util.h"

namespace muon::sim {
namespace {

using nlohmann::json;

constexpr int64_t kStart = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

GeneratorOptions Options(uint64_t seed, std::string id = "MD-0001") {
  GeneratorOptions o;
  o.detector_id = std::move(id);
  o.seed = seed;
  o.start_ns = kStart;
  o.first_seq = kStart / 1000;
  return o;
}

// Kolmogorov–Smirnov statistic of `sample` against the zenith CDF.
double KsStatistic(std::vector<double> sample) {
  std::sort(sample.begin(), sample.end());
  const double n = static_cast<double>(sample.size());
  double d = 0;
  for (size_t i = 0; i < sample.size(); ++i) {
    const double f = ZenithCdf(sample[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}

// Critical value of D at significance 0.001 (asymptotic).
double KsCritical(size_t n) { return 1.949 / std::sqrt(static_cast<double>(n)); }

TEST(GeneratorTest, LinesAreCanonicalWithGaplessSeqAndIncreasingTime) {
  DetectorGenerator g(Options(7));
  std::vector<Line> lines;
  // Generate in uneven slices, as the simulator's ticks do.
  for (int64_t t = kStart; t < kStart + 120 * kSecond; t += 37'000'000) g.GenerateUntil(t, &lines);
  ASSERT_GT(lines.size(), 300u);
  int housekeeping = 0;
  uint64_t muons_since = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i].text);
    ASSERT_EQ(testing::CheckCanonicalLine(lines[i].text), "");
    json j = json::parse(lines[i].text);
    EXPECT_EQ(j["det"], "MD-0001");
    EXPECT_EQ(j["seq"].get<uint64_t>(), lines[i].seq);
    EXPECT_EQ(j["t_ns"].get<int64_t>(), lines[i].t_ns);
    EXPECT_EQ(lines[i].seq, kStart / 1000 + i);
    EXPECT_GT(lines[i].t_ns, i == 0 ? kStart : lines[i - 1].t_ns);
    if (j["kind"] == "housekeeping") {
      ++housekeeping;
      EXPECT_EQ(j["muons"].get<uint64_t>(), muons_since);
      EXPECT_EQ(j["interval_ns"].get<uint64_t>(), 10 * kSecond);
      muons_since = 0;
    } else {
      ++muons_since;
    }
  }
  EXPECT_EQ(housekeeping, 11);  // at 10 s, 20 s, ... 110 s
  EXPECT_EQ(g.next_seq(), kStart / 1000 + lines.size());
}

TEST(GeneratorTest, SameSeedSameLines) {
  DetectorGenerator a(Options(3));
  DetectorGenerator b(Options(3));
  std::vector<Line> la;
  std::vector<Line> lb;
  a.GenerateUntil(kStart + 30 * kSecond, &la);
  for (int64_t t = kStart; t <= kStart + 30 * kSecond; t += kSecond) b.GenerateUntil(t, &lb);
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].text, lb[i].text);
}

TEST(GeneratorTest, ZenithSamplerMatchesCosSquaredLaw) {
  std::mt19937_64 rng(12345);
  std::vector<double> sample(50'000);
  for (double& z : sample) {
    z = SampleZenithDeg(rng);
    ASSERT_GE(z, 0.0);
    ASSERT_LT(z, 90.0);
  }
  EXPECT_LT(KsStatistic(sample), KsCritical(sample.size()));
  // E[θ] = ∫ θ·3cos²θ·sinθ dθ = ∫ cos³θ dθ = 2/3 rad (by parts).
  double mean = 0;
  for (double z : sample) mean += z / sample.size();
  EXPECT_NEAR(mean, 2.0 / 3.0 * 180.0 / M_PI, 0.3);
}

TEST(GeneratorTest, KsTestRejectsTheWrongLaw) {
  // Isotropic flux (pdf ∝ sinθ): the same test must reject it.
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<double> sample(50'000);
  for (double& z : sample) z = std::acos(1.0 - u01(rng)) * 180.0 / M_PI;
  EXPECT_GT(KsStatistic(sample), KsCritical(sample.size()));
}

TEST(GeneratorTest, ZenithInEmittedLinesMatchesCosSquaredLaw) {
  std::vector<double> zenith;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    DetectorGenerator g(Options(seed));
    std::vector<Line> lines;
    g.GenerateUntil(kStart + 1800 * kSecond, &lines);
    for (const Line& line : lines) {
      json j = json::parse(line.text);
      if (j["kind"] == "muon") zenith.push_back(j["zenith_deg"].get<double>());
    }
  }
  ASSERT_GT(zenith.size(), 20'000u);
  EXPECT_LT(KsStatistic(zenith), KsCritical(zenith.size()));
}

// Muon arrivals are Poisson, so one detector's minute varies by 1/sqrt(events)
// (about 6.5% at 1 KB/s): each detector must be within 15% or 3.5 standard
// deviations, whichever is wider, and the fleet mean within 5%.
TEST(GeneratorTest, ByteRateWithinFifteenPercentOverASimulatedMinute) {
  for (double target : {512.0, 1024.0, 4096.0}) {
    double fleet_bytes = 0;
    constexpr int kDetectors = 10;
    for (int d = 0; d < kDetectors; ++d) {
      GeneratorOptions o = Options(100 + d, SimDetectorId(d));
      o.target_bytes_per_second = target;
      DetectorGenerator g(o);
      std::vector<Line> lines;
      g.GenerateUntil(kStart + 60 * kSecond, &lines);
      double bytes = 0;
      for (const Line& line : lines) bytes += line.text.size() + 1;
      const double events = 60 * g.muon_rate_hz();
      const double tolerance = std::max(0.15, 3.5 / std::sqrt(events));
      EXPECT_NEAR(bytes / 60, target, tolerance * target)
          << "detector " << d << " target " << target;
      fleet_bytes += bytes;
    }
    EXPECT_NEAR(fleet_bytes / 60 / kDetectors, target, 0.05 * target) << "target " << target;
  }
}

TEST(GeneratorTest, HousekeepingDriftsSlowly) {
  DetectorGenerator g(Options(9));
  std::vector<Line> lines;
  g.GenerateUntil(kStart + 3600 * kSecond, &lines);
  std::vector<double> temps;
  for (const Line& line : lines) {
    json j = json::parse(line.text);
    if (j["kind"] == "housekeeping") temps.push_back(j["temp_c"].get<double>());
  }
  ASSERT_EQ(temps.size(), 359u);
  for (size_t i = 1; i < temps.size(); ++i) EXPECT_LT(std::abs(temps[i] - temps[i - 1]), 0.5);
}

}  // namespace
}  // namespace muon::sim

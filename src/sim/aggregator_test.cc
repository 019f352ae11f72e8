#include "sim/aggregator.h"

#include <gtest/gtest.h>

#include "sim/test_util.h"

namespace muon::sim {
namespace {

constexpr int64_t kStart = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

std::vector<KinesisRecord> AggregateMinute(AggregatorOptions options, double rate_bytes,
                                           std::vector<Line>* lines_out) {
  GeneratorOptions g;
  g.start_ns = kStart;
  g.target_bytes_per_second = rate_bytes;
  DetectorGenerator generator(g);
  Aggregator aggregator("MD-0001", options);
  std::vector<KinesisRecord> records;
  for (int64_t t = kStart; t <= kStart + 60 * kSecond; t += kSecond / 10) {
    std::vector<Line> lines;
    generator.GenerateUntil(t, &lines);
    for (Line& line : lines) {
      EXPECT_TRUE(aggregator.Add(line, &records).ok());
      lines_out->push_back(std::move(line));
    }
    aggregator.FlushIfDue(t, &records);
  }
  aggregator.Flush(&records);
  return records;
}

// Every line arrives exactly once, in order, in records of one detector.
void ExpectRecordsHoldExactly(const std::vector<KinesisRecord>& records,
                              const std::vector<Line>& lines, size_t max_bytes) {
  size_t next = 0;
  for (const KinesisRecord& r : records) {
    EXPECT_EQ(r.partition_key, "MD-0001");
    EXPECT_LE(r.data.size(), max_bytes);
    ASSERT_FALSE(r.data.empty());
    EXPECT_EQ(r.data.back(), '\n');
    EXPECT_EQ(r.first_seq, lines[next].seq);
    size_t pos = 0;
    uint32_t count = 0;
    while (pos < r.data.size()) {
      const size_t eol = r.data.find('\n', pos);
      ASSERT_NE(eol, std::string::npos);
      ASSERT_LT(next, lines.size());
      EXPECT_EQ(r.data.substr(pos, eol - pos), lines[next].text);
      EXPECT_EQ(testing::CheckCanonicalLine(lines[next].text), "");
      pos = eol + 1;
      ++next;
      ++count;
    }
    EXPECT_EQ(r.lines, count);
    EXPECT_EQ(r.last_seq, lines[next - 1].seq);
  }
  EXPECT_EQ(next, lines.size());
}

TEST(AggregatorTest, RecordsCarryAboutOneSecondOfData) {
  std::vector<Line> lines;
  auto records = AggregateMinute({}, 1024, &lines);
  ExpectRecordsHoldExactly(records, lines, kDefaultMaxRecordBytes);
  // One record per detector-second (a second with no line has no record).
  EXPECT_GE(records.size(), 57u);
  EXPECT_LE(records.size(), 61u);
  for (const KinesisRecord& r : records) {
    const int64_t last_t_ns = lines[r.last_seq - lines[0].seq].t_ns;
    EXPECT_EQ(last_t_ns / kSecond, r.first_t_ns / kSecond);
  }
}

TEST(AggregatorTest, SizeLimitSplitsRecords) {
  std::vector<Line> lines;
  AggregatorOptions options{.max_record_bytes = 1024, .window_ns = kSecond};
  auto records = AggregateMinute(options, 8192, &lines);
  ExpectRecordsHoldExactly(records, lines, 1024);
  EXPECT_GT(records.size(), 60u * 8192 / 1024);
}

TEST(AggregatorTest, RejectsALineLargerThanARecord) {
  Aggregator aggregator("MD-0001", {.max_record_bytes = 100, .window_ns = kSecond});
  std::vector<KinesisRecord> records;
  Line big{.seq = 1, .t_ns = kStart, .text = std::string(100, 'x')};  // 101 with '\n'
  EXPECT_EQ(aggregator.Add(big, &records).code(), StatusCode::kInvalidArgument);
  Line fits{.seq = 1, .t_ns = kStart, .text = std::string(99, 'x')};
  EXPECT_TRUE(aggregator.Add(fits, &records).ok());
  EXPECT_TRUE(records.empty());
  aggregator.Flush(&records);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data.size(), 100u);
}

}  // namespace
}  // namespace muon::sim

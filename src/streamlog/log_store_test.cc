#include "streamlog/log_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/fault_env.h"
#include "streamlog/segment.h"

namespace muon::streamlog {
namespace {

constexpr char kDir[] = "/store";

// Entries plus the strings they point into.
struct Batch {
  std::vector<std::string> keys, datas;
  std::vector<AppendEntry> entries;
};

std::string DataFor(const std::string& tag, size_t i, size_t size) {
  std::string d = tag + "#" + std::to_string(i) + ":";
  while (d.size() < size) d += static_cast<char>('a' + (d.size() * 7 + i) % 26);
  return d;
}

Batch MakeBatch(const std::string& tag, size_t n, size_t data_size = 100) {
  Batch b;
  for (size_t i = 0; i < n; ++i) {
    b.keys.push_back("pk-" + tag + "-" + std::to_string(i));
    b.datas.push_back(DataFor(tag, i, data_size));
  }
  for (size_t i = 0; i < n; ++i) {
    AppendEntry e;
    e.partition_key = b.keys[i];
    e.data = b.datas[i];
    for (size_t k = 0; k < 16; ++k) e.hash_key[k] = static_cast<uint8_t>(i + k);
    b.entries.push_back(e);
  }
  return b;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void TearDown() override { store_.reset(); }

  void Reopen() {
    log_.reset();
    store_.reset();
    auto s = LogStore::Open(kDir, options_, &env_, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto l = store_->GetLog("shard");
    if (!l.ok()) l = store_->CreateLog("shard");
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = *l;
  }

  // Power loss: nothing the shutdown path does can become durable.
  void CrashAndReopen() {
    env_.SetFilesystemActive(false);
    log_.reset();
    store_.reset();
    env_.SimulateCrash();
    env_.SetFilesystemActive(true);
    Reopen();
  }

  // Appends n records tagged `tag` and returns the result.
  Result<AppendResult> Append(const std::string& tag, size_t n, size_t data_size = 100) {
    Batch b = MakeBatch(tag, n, data_size);
    return log_->AppendSync(b.entries);
  }

  std::vector<Record> ReadAll(uint64_t from = 0) {
    std::vector<Record> out;
    for (;;) {
      auto r = log_->Read(from, 1000, 1 << 30);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->records.empty()) break;
      for (auto& rec : r->records) out.push_back(std::move(rec));
      from = r->next_seq;
    }
    return out;
  }

  // Scans once, copying what the views show while they are valid.
  Result<ScanResult> ScanCopy(uint64_t from, size_t max_records, size_t max_bytes,
                              std::vector<Record>* seen) {
    return log_->Scan(from, max_records, max_bytes, [seen](const RecordView& v) {
      Record& r = seen->emplace_back();
      r.seq = v.seq;
      r.arrival_ms = v.arrival_ms;
      r.partition_key = std::string(v.partition_key);
      std::copy(v.hash_key, v.hash_key + r.hash_key.size(), r.hash_key.begin());
      r.data = std::string(v.data);
      return true;
    });
  }

  std::vector<std::string> Files(const std::string& suffix) {
    std::vector<std::string> out;
    auto names = env_.ListDir(std::string(kDir) + "/shard");
    if (!names.ok()) return out;
    for (auto& n : *names) {
      if (n.ends_with(suffix)) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string SegPath(const std::string& name) { return std::string(kDir) + "/shard/" + name; }

  void FlipByte(const std::string& path, uint64_t offset) {
    std::string data = *base_->ReadFile(path);
    ASSERT_LT(offset, data.size());
    data[offset] ^= 0x10;
    auto f = base_->NewWritableFile(path);
    ASSERT_TRUE((*f)->Append(data).ok());
  }

  // Offsets of the record headers in a segment file.
  std::vector<uint64_t> RecordOffsets(const std::string& path) {
    auto f = base_->NewRandomAccessFile(path);
    SegmentScanner sc(f->get(), kSegmentHeaderSize, *(*f)->Size());
    std::vector<uint64_t> out;
    SegmentRecord rec;
    while (*sc.Next(&rec) == SegmentScanner::State::kRecord) out.push_back(rec.offset);
    return out;
  }

  std::unique_ptr<Env> base_ = NewMemEnv();
  FaultInjectionEnv env_{base_.get()};
  FakeClock clock_;
  LogStoreOptions options_;
  std::unique_ptr<LogStore> store_;
  std::shared_ptr<ShardLog> log_;
};

TEST_F(LogStoreTest, AppendThenReadBack) {
  Batch b = MakeBatch("x", 5);
  auto r = log_->AppendSync(b.entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_seq, 0u);
  EXPECT_EQ(r->arrival_ms, clock_.NowMillis());
  auto r2 = Append("y", 3);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->first_seq, 5u);

  auto read = log_->Read(0, 100, 1 << 20);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->records.size(), 8u);
  EXPECT_EQ(read->next_seq, 8u);
  EXPECT_EQ(read->end_seq, 8u);
  EXPECT_EQ(read->last_arrival_ms, clock_.NowMillis());
  for (size_t i = 0; i < 5; ++i) {
    const Record& rec = read->records[i];
    EXPECT_EQ(rec.seq, i);
    EXPECT_EQ(rec.partition_key, b.keys[i]);
    EXPECT_EQ(rec.data, b.datas[i]);
    EXPECT_EQ(rec.hash_key, b.entries[i].hash_key);
    EXPECT_EQ(rec.arrival_ms, r->arrival_ms);
  }
  EXPECT_EQ(log_->EndSeq(), 8u);
  EXPECT_EQ(log_->TrimSeq(), 0u);
  EXPECT_GT(log_->SizeBytes(), 8u * 100);
}

TEST_F(LogStoreTest, EmptyLogReadsNothing) {
  auto read = log_->Read(0, 10, 1000);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->records.empty());
  EXPECT_EQ(read->next_seq, 0u);
  EXPECT_EQ(read->end_seq, 0u);
  EXPECT_EQ(log_->TrimSeq(), 0u);
  EXPECT_EQ(*log_->SeqAtOrAfterTime(0), 0u);
  EXPECT_FALSE(Append("x", 0).ok());
}

TEST_F(LogStoreTest, ReadHonoursLimits) {
  ASSERT_TRUE(Append("x", 10, 100).ok());
  auto r = log_->Read(2, 3, 1 << 20);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 3u);
  EXPECT_EQ(r->records[0].seq, 2u);
  EXPECT_EQ(r->next_seq, 5u);
  r = log_->Read(0, 100, 250);  // two 100-byte records fit, a third would not
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 2u);
  r = log_->Read(0, 100, 1);  // at least one record
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 1u);
  r = log_->Read(50, 100, 1 << 20);  // beyond the end
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
  EXPECT_EQ(r->next_seq, 50u);
  EXPECT_EQ(r->end_seq, 10u);
}

TEST_F(LogStoreTest, ScanShowsEachRecordInPlace) {
  Batch b = MakeBatch("x", 5, 120);
  auto appended = log_->AppendSync(b.entries);
  ASSERT_TRUE(appended.ok());
  size_t visits = 0;
  auto r = log_->Scan(0, 100, 1 << 20, [&](const RecordView& v) {
    EXPECT_EQ(v.seq, visits);
    EXPECT_EQ(v.arrival_ms, appended->arrival_ms);
    EXPECT_EQ(v.partition_key, b.keys[visits]);
    EXPECT_TRUE(std::equal(v.hash_key, v.hash_key + 16, b.entries[visits].hash_key.begin()));
    EXPECT_EQ(v.data, b.datas[visits]);
    ++visits;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(visits, 5u);
  EXPECT_EQ(r->records, 5u);
  EXPECT_EQ(r->bytes, 5u * 120);
  EXPECT_EQ(r->next_seq, 5u);
  EXPECT_EQ(r->end_seq, 5u);
  EXPECT_EQ(r->last_arrival_ms, appended->arrival_ms);
}

TEST_F(LogStoreTest, ScanOfAnEmptyLogOrPastTheEndVisitsNothing) {
  auto visit = [](const RecordView&) -> bool {
    ADD_FAILURE() << "visited a record";
    return true;
  };
  auto r = log_->Scan(0, 10, 1000, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records, 0u);
  EXPECT_EQ(r->next_seq, 0u);
  EXPECT_EQ(r->end_seq, 0u);
  ASSERT_TRUE(Append("x", 3).ok());
  r = log_->Scan(7, 10, 1000, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records, 0u);
  EXPECT_EQ(r->next_seq, 7u);
  EXPECT_EQ(r->end_seq, 3u);
}

// Read copies what Scan visits; both are checked against what was appended,
// across segment boundaries, below and above the trim point, under both limits.
TEST_F(LogStoreTest, ScanVisitsWhatReadReturnsAcrossSegmentsAfterTrim) {
  options_.segment_bytes = 512;
  Reopen();
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Append("t" + std::to_string(i), 4, 150 + i).ok());
    clock_.AdvanceSeconds(60);
  }
  ASSERT_TRUE(log_->TrimBefore(clock_.NowMillis() - 6 * 60'000).ok());
  const uint64_t trim = log_->TrimSeq();
  ASSERT_GT(trim, 0u);
  ASSERT_GE(Files(".seg").size(), 4u);
  auto expected_data = [](uint64_t seq) {
    return DataFor("t" + std::to_string(seq / 4), seq % 4, 150 + seq / 4);
  };
  const size_t kRecordLimits[] = {1, 3, 5, 100};
  const size_t kByteLimits[] = {1, 200, 500, 1 << 20};
  for (uint64_t from : {uint64_t{0}, trim, trim + 1, trim + 6, uint64_t{47}, uint64_t{48}}) {
    for (size_t max_records : kRecordLimits) {
      for (size_t max_bytes : kByteLimits) {
        SCOPED_TRACE(::testing::Message() << "from " << from << " max_records " << max_records
                                          << " max_bytes " << max_bytes);
        std::vector<Record> seen;
        auto scan = ScanCopy(from, max_records, max_bytes, &seen);
        auto read = log_->Read(from, max_records, max_bytes);
        ASSERT_TRUE(scan.ok()) << scan.status().ToString();
        ASSERT_TRUE(read.ok()) << read.status().ToString();
        ASSERT_EQ(seen.size(), read->records.size());
        EXPECT_EQ(scan->records, seen.size());
        EXPECT_EQ(scan->next_seq, read->next_seq);
        EXPECT_EQ(scan->end_seq, read->end_seq);
        EXPECT_EQ(scan->end_seq, 48u);
        EXPECT_EQ(scan->last_arrival_ms, read->last_arrival_ms);
        EXPECT_LE(seen.size(), max_records);
        size_t bytes = 0;
        const uint64_t first = std::max(from, trim);
        for (size_t i = 0; i < seen.size(); ++i) {
          EXPECT_EQ(seen[i].seq, first + i);
          EXPECT_EQ(seen[i].data, expected_data(seen[i].seq));
          EXPECT_EQ(seen[i].data, read->records[i].data);
          EXPECT_EQ(seen[i].partition_key, read->records[i].partition_key);
          EXPECT_EQ(seen[i].hash_key, read->records[i].hash_key);
          EXPECT_EQ(seen[i].arrival_ms, read->records[i].arrival_ms);
          bytes += seen[i].data.size();
        }
        EXPECT_EQ(scan->bytes, bytes);
        if (seen.size() > 1) {
          EXPECT_LE(bytes, max_bytes);
        }
        if (first < 48) {
          EXPECT_GE(seen.size(), 1u);  // at least one record when any is available
          const uint64_t limit_by_records = first + max_records;
          EXPECT_EQ(scan->next_seq, first + seen.size());
          // Stopped by a limit, or at the end.
          EXPECT_TRUE(scan->next_seq == 48 || scan->next_seq == limit_by_records ||
                      bytes + expected_data(scan->next_seq).size() > max_bytes);
        } else {
          EXPECT_TRUE(seen.empty());
        }
      }
    }
  }
}

TEST_F(LogStoreTest, ScanStoppedByTheVisitorLeavesNextSeqAtTheRefusedRecord) {
  options_.segment_bytes = 1024;
  Reopen();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Append("s" + std::to_string(i), 2, 200).ok());
  ASSERT_GE(Files(".seg").size(), 3u);
  // Refuse each seq in turn (every segment boundary among them) from 0 and
  // from just before it.
  for (uint64_t refuse = 0; refuse < 16; ++refuse) {
    for (uint64_t from : {uint64_t{0}, refuse > 0 ? refuse - 1 : 0, refuse}) {
      SCOPED_TRACE(::testing::Message() << "refuse " << refuse << " from " << from);
      std::vector<uint64_t> consumed;
      bool offered = false;
      auto r = log_->Scan(from, 100, 1 << 20, [&](const RecordView& v) {
        if (v.seq == refuse) {
          offered = true;
          EXPECT_EQ(v.data, DataFor("s" + std::to_string(refuse / 2), refuse % 2, 200));
          return false;
        }
        consumed.push_back(v.seq);
        return true;
      });
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE(offered);
      EXPECT_EQ(r->next_seq, refuse);
      EXPECT_EQ(r->records, refuse - from);
      EXPECT_EQ(r->bytes, (refuse - from) * 200);
      ASSERT_EQ(consumed.size(), refuse - from);
      for (size_t i = 0; i < consumed.size(); ++i) EXPECT_EQ(consumed[i], from + i);
      // The refused record is the first one the next scan offers.
      std::vector<Record> next;
      auto again = ScanCopy(r->next_seq, 1, 1 << 20, &next);
      ASSERT_TRUE(again.ok());
      ASSERT_EQ(next.size(), 1u);
      EXPECT_EQ(next[0].seq, refuse);
    }
  }
}

TEST_F(LogStoreTest, ScanStopsAtTheEndSampledWhenItBegan) {
  options_.segment_bytes = 512;
  Reopen();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append("a" + std::to_string(i), 2, 200).ok());
  ASSERT_EQ(Files(".seg").size(), 3u);
  std::vector<uint64_t> seqs;
  auto r = log_->Scan(0, 100, 1 << 20, [&](const RecordView& v) {
    // The log is not locked during a visit: appending from here commits,
    // into the active segment the scan has yet to reach.
    if (v.seq == 0) EXPECT_TRUE(Append("b", 2, 10).ok());
    seqs.push_back(v.seq);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(r->end_seq, 6u);
  EXPECT_EQ(r->next_seq, 6u);
  EXPECT_EQ(log_->EndSeq(), 8u);
}

TEST_F(LogStoreTest, SequentialSmallReadsWalkTheLog) {
  ASSERT_TRUE(Append("x", 500, 300).ok());
  uint64_t from = 0;
  size_t n = 0;
  for (;;) {
    auto r = log_->Read(from, 7, 1 << 20);
    ASSERT_TRUE(r.ok());
    if (r->records.empty()) break;
    for (const Record& rec : r->records) ASSERT_EQ(rec.seq, n++);
    from = r->next_seq;
  }
  EXPECT_EQ(n, 500u);
}

TEST_F(LogStoreTest, ArrivalNeverGoesBackwards) {
  auto a = Append("a", 1);
  clock_.Advance(-5'000'000'000);  // the wall clock steps back 5 s
  auto b = Append("b", 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->arrival_ms, a->arrival_ms);
  clock_.AdvanceSeconds(10);
  auto c = Append("c", 1);
  EXPECT_GT(c->arrival_ms, b->arrival_ms);
}

TEST_F(LogStoreTest, RollsSegmentsAndReadsAcrossThem) {
  options_.segment_bytes = 4096;
  Reopen();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Append("b" + std::to_string(i), 5, 200).ok());
  auto segs = Files(".seg");
  EXPECT_GE(segs.size(), 8u);
  EXPECT_TRUE(std::is_sorted(segs.begin(), segs.end()));
  auto all = ReadAll();
  ASSERT_EQ(all.size(), 200u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, i);
  // Sealed segments get an index once synced (written by the committer).
  store_->Close();
  EXPECT_EQ(Files(".idx").size(), segs.size() - 1);
  Reopen();
  all = ReadAll(57);
  ASSERT_EQ(all.size(), 143u);
  EXPECT_EQ(all.front().seq, 57u);
  EXPECT_EQ(all.front().data, DataFor("b11", 2, 200));
}

TEST_F(LogStoreTest, ReopenContinuesTheSequence) {
  ASSERT_TRUE(Append("a", 3).ok());
  Reopen();
  EXPECT_EQ(log_->EndSeq(), 3u);
  auto r = Append("b", 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_seq, 3u);
  EXPECT_EQ(ReadAll().size(), 5u);
}

TEST_F(LogStoreTest, ReopenManyTimesWithCrashesAndCleanCloses) {
  options_.segment_bytes = 2048;
  Reopen();
  uint64_t expected = 0;
  for (int round = 0; round < 30; ++round) {
    for (int k = 0; k < 3; ++k) {
      auto r = Append("r" + std::to_string(round) + "k" + std::to_string(k), 2, 150);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->first_seq, expected);
      expected += 2;
    }
    if (round % 2) {
      CrashAndReopen();
    } else {
      Reopen();
    }
    ASSERT_EQ(log_->EndSeq(), expected);
  }
  auto all = ReadAll();
  ASSERT_EQ(all.size(), expected);
  EXPECT_EQ(all[7].data, DataFor("r1k0", 1, 150));
}

TEST_F(LogStoreTest, CrashLosesOnlyUnacknowledgedRecords) {
  options_.segment_bytes = 16 << 10;
  Reopen();
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // seq -> data
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Batch b = MakeBatch("t" + std::to_string(t) + "i" + std::to_string(i), 3, 120);
        auto r = log_->AppendSync(b.entries);
        if (!r.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        for (size_t k = 0; k < 3; ++k) acked[r->first_seq + k] = b.datas[k];
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  env_.SetFilesystemActive(false);  // the power goes out
  stop = true;
  for (auto& w : writers) w.join();
  log_.reset();
  store_.reset();
  env_.SimulateCrash();
  env_.SetFilesystemActive(true);
  Reopen();
  ASSERT_FALSE(acked.empty());
  auto all = ReadAll();
  std::map<uint64_t, std::string> found;
  for (auto& r : all) found[r.seq] = r.data;
  for (const auto& [seq, data] : acked) {
    ASSERT_TRUE(found.count(seq)) << "acknowledged seq " << seq << " lost";
    ASSERT_EQ(found[seq], data);
  }
  EXPECT_GE(log_->EndSeq(), acked.rbegin()->first + 1);
  auto next = Append("after", 1);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->first_seq, acked.rbegin()->first);
}

TEST_F(LogStoreTest, UnsyncedAppendsVanishAtCrashButAckedOnesStay) {
  ASSERT_TRUE(Append("kept", 4).ok());
  env_.SetFaultPredicate([](FaultOp op, const std::string&) { return op == FaultOp::kSync; });
  EXPECT_FALSE(Append("lost", 4).ok());
  env_.SetFaultPredicate(nullptr);
  CrashAndReopen();
  auto all = ReadAll();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].data, DataFor("kept", 3, 100));
}

TEST_F(LogStoreTest, FailedWriteFailsTheBatchAndAppendsContinue) {
  ASSERT_TRUE(Append("a", 3).ok());
  env_.FailNthWrite(1);
  auto bad = Append("bad", 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kIoError);
  auto good = Append("b", 2);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  auto check = [&] {
    auto all = ReadAll();
    ASSERT_EQ(all.size(), 5u);
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, i);
    EXPECT_EQ(all[3].data, DataFor("b", 0, 100));
  };
  check();
  Reopen();
  check();
  CrashAndReopen();
  check();
}

TEST_F(LogStoreTest, FailedSyncIsNeverVisibleEvenIfTheBytesSurvive) {
  ASSERT_TRUE(Append("a", 3).ok());
  env_.FailNthSync(1);
  auto bad = Append("bad", 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(log_->EndSeq(), 3u);
  ASSERT_TRUE(Append("b", 2).ok());
  auto check = [&] {
    auto all = ReadAll();
    ASSERT_EQ(all.size(), 5u);
    for (auto& r : all) EXPECT_EQ(r.data.find("bad"), std::string::npos) << r.seq;
  };
  check();
  Reopen();  // the failed bytes stayed in the page cache of the MemEnv
  check();
}

TEST_F(LogStoreTest, FailedSyncWhoseCutAlsoFailsIsSupersededAtRecovery) {
  ASSERT_TRUE(Append("a", 3).ok());
  std::atomic<int> syncs_failed{0};
  env_.SetFaultPredicate([&](FaultOp op, const std::string&) {
    if (op == FaultOp::kTruncate) return true;
    return op == FaultOp::kSync && syncs_failed++ == 0;
  });
  ASSERT_FALSE(Append("bad", 3).ok());
  ASSERT_TRUE(Append("b", 2).ok());
  env_.SetFaultPredicate(nullptr);
  Reopen();
  auto all = ReadAll();
  ASSERT_EQ(all.size(), 5u);
  for (auto& r : all) EXPECT_EQ(r.data.find("bad"), std::string::npos) << r.seq;
  EXPECT_EQ(all[3].data, DataFor("b", 0, 100));
}

TEST_F(LogStoreTest, DiskFullThenSpaceReturns) {
  ASSERT_TRUE(Append("a", 5).ok());
  env_.SetDiskSpace(env_.UsedBytes() + 300);
  ASSERT_TRUE(Append("fits", 1).ok());
  for (int i = 0; i < 20; ++i) {
    auto r = Append("full", 3);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
  }
  EXPECT_LE(Files(".seg").size(), 2u);  // a full disk does not spray segment files
  EXPECT_EQ(ReadAll().size(), 6u);
  env_.SetDiskSpace(UINT64_MAX);
  auto r = Append("b", 4);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_seq, 6u);
  EXPECT_EQ(ReadAll().size(), 10u);
  CrashAndReopen();
  auto all = ReadAll();
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].data, DataFor("b", 3, 100));
}

TEST_F(LogStoreTest, DiskFullDuringRollThenSpaceReturns) {
  options_.segment_bytes = 1024;
  Reopen();
  ASSERT_TRUE(Append("a", 8).ok());  // fills the segment: the next append rolls
  env_.SetDiskSpace(env_.UsedBytes());
  auto r = Append("x", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
  env_.SetDiskSpace(UINT64_MAX);
  ASSERT_TRUE(Append("b", 1).ok());
  CrashAndReopen();
  EXPECT_EQ(ReadAll().size(), 9u);
}

TEST_F(LogStoreTest, CrashDuringSegmentRoll) {
  options_.segment_bytes = 1024;
  Reopen();
  ASSERT_TRUE(Append("a", 8).ok());
  // The roll's directory sync never happens: the power goes out first.
  env_.SetFaultPredicate([&](FaultOp op, const std::string&) {
    if (op != FaultOp::kSyncDir) return false;
    env_.SetFilesystemActive(false);
    return true;
  });
  EXPECT_FALSE(Append("x", 1).ok());
  env_.SetFaultPredicate(nullptr);
  log_.reset();
  store_.reset();
  env_.SimulateCrash();
  env_.SetFilesystemActive(true);
  Reopen();
  EXPECT_EQ(ReadAll().size(), 8u);
  auto r = Append("b", 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_seq, 8u);
  Reopen();
  EXPECT_EQ(ReadAll().size(), 10u);
}

TEST_F(LogStoreTest, ConcurrentAppendersShareSyncs) {
  // A slow disk: each sync takes 2 ms, so appends pile up behind it.
  env_.SetFaultPredicate([](FaultOp op, const std::string&) {
    if (op == FaultOp::kSync) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return false;
  });
  const uint64_t syncs_before = env_.sync_count();
  constexpr int kThreads = 8, kPerThread = 50;
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = Append("t" + std::to_string(t), 1);
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> lock(mu);
        seqs.insert(r->first_seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  env_.SetFaultPredicate(nullptr);
  EXPECT_EQ(seqs.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*seqs.rbegin(), uint64_t{kThreads * kPerThread - 1});
  const uint64_t syncs = env_.sync_count() - syncs_before;
  EXPECT_LT(syncs, uint64_t{kThreads * kPerThread} / 2) << syncs << " syncs";
  EXPECT_EQ(ReadAll().size(), size_t{kThreads * kPerThread});
}

// Holds the committer inside the sync of log "gate" until released, so that
// appends made meanwhile to logs "a" and "b" land in the next commit pass
// together. The first sync of each of "a" and "b" waits (bounded) for the
// other to overlap it (up to `overlap_wait`) and records how many ran at
// once; `fail_b` fails the first sync of "b".
class SyncGate {
 public:
  explicit SyncGate(FaultInjectionEnv* env, bool fail_b = false,
                    std::chrono::milliseconds overlap_wait = std::chrono::seconds(5))
      : env_(env), fail_b_(fail_b), overlap_wait_(overlap_wait) {
    env_->SetFaultPredicate([this](FaultOp op, const std::string& path) {
      if (op != FaultOp::kSync) return false;
      std::unique_lock<std::mutex> lock(mu_);
      if (path.find("/gate/") != std::string::npos) {
        gate_entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
        return false;
      }
      const bool is_a = path.find("/a/") != std::string::npos;
      const bool is_b = path.find("/b/") != std::string::npos;
      bool& first = is_a ? a_seen_ : b_seen_;
      if ((!is_a && !is_b) || first) return false;
      first = true;
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      cv_.notify_all();
      cv_.wait_for(lock, overlap_wait_, [&] { return max_in_flight_ >= 2; });
      --in_flight_;
      return is_b && fail_b_;
    });
  }
  ~SyncGate() { env_->SetFaultPredicate(nullptr); }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return gate_entered_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }

 private:
  FaultInjectionEnv* env_;
  const bool fail_b_;
  const std::chrono::milliseconds overlap_wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gate_entered_ = false, released_ = false, a_seen_ = false, b_seen_ = false;
  int in_flight_ = 0, max_in_flight_ = 0;
};

// Appends `b` to `log` and returns a future of the outcome.
std::future<Status> AppendAsync(ShardLog& log, const Batch& b) {
  auto done = std::make_shared<std::promise<Status>>();
  auto f = done->get_future();
  log.Append(b.entries, [done](Result<AppendResult> r) { done->set_value(r.status()); });
  return f;
}

// Logs "gate", "a" and "b", each holding one record (so that its segment
// file exists: starting a segment syncs too, outside any commit pass).
class ParallelSyncTest : public LogStoreTest {
 protected:
  void TearDown() override {
    gate_.reset();
    a_.reset();
    b_.reset();
    LogStoreTest::TearDown();
  }

  void OpenLogs() {
    Reopen();
    Batch p = MakeBatch("prime", 1);
    const std::pair<const char*, std::shared_ptr<ShardLog>*> logs[] = {
        {"gate", &gate_}, {"a", &a_}, {"b", &b_}};
    for (const auto& [name, log] : logs) {
      auto l = store_->CreateLog(name);
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      *log = *l;
      ASSERT_TRUE((*log)->AppendSync(p.entries).ok());
    }
  }

  // Appends `ba` to "a" and `bb` to "b" while `sync_gate` holds the committer
  // in a pass of its own, so both land in the next pass; their outcomes.
  std::pair<Status, Status> AppendInOnePass(SyncGate& sync_gate, const Batch& ba, const Batch& bb) {
    Batch g = MakeBatch("g", 1);
    auto held = AppendAsync(*gate_, g);
    sync_gate.WaitUntilHeld();
    auto fa = AppendAsync(*a_, ba);
    auto fb = AppendAsync(*b_, bb);
    sync_gate.Release();
    EXPECT_TRUE(held.get().ok());
    return {fa.get(), fb.get()};
  }

  std::shared_ptr<ShardLog> gate_, a_, b_;
};

TEST_F(ParallelSyncTest, OnePassSyncsTheFilesOfSeveralLogsAtOnce) {
  OpenLogs();
  SyncGate sync_gate(&env_);
  auto [sa, sb] = AppendInOnePass(sync_gate, MakeBatch("a", 3), MakeBatch("b", 3));
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_TRUE(sb.ok()) << sb.ToString();
  // Serial syncs would each have waited out the bound alone.
  EXPECT_EQ(sync_gate.max_in_flight(), 2);
  EXPECT_EQ(a_->EndSeq(), 4u);
  EXPECT_EQ(b_->EndSeq(), 4u);
}

TEST_F(ParallelSyncTest, AFailedSyncInAParallelPassFailsOnlyItsOwnLog) {
  OpenLogs();
  Batch bb = MakeBatch("b", 3);
  {
    SyncGate sync_gate(&env_, /*fail_b=*/true);
    auto [sa, sb] = AppendInOnePass(sync_gate, MakeBatch("a", 3), bb);
    EXPECT_TRUE(sa.ok()) << sa.ToString();
    EXPECT_EQ(sb.code(), StatusCode::kIoError);
  }
  EXPECT_EQ(a_->EndSeq(), 4u);
  EXPECT_EQ(b_->EndSeq(), 1u);
  ASSERT_TRUE(b_->AppendSync(bb.entries).ok());  // the log goes on
  a_.reset();
  b_.reset();
  gate_.reset();
  CrashAndReopen();
  auto ra = (*store_->GetLog("a"))->Read(0, 10, 1 << 20);
  auto rb = (*store_->GetLog("b"))->Read(0, 10, 1 << 20);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->records.size(), 4u);
  ASSERT_EQ(rb->records.size(), 4u);  // the primer, then the batch after the failure
  EXPECT_EQ(rb->records[1].seq, 1u);
  EXPECT_EQ(rb->records[1].data, DataFor("b", 0, 100));
}

TEST_F(ParallelSyncTest, SyncParallelismOneSyncsOneFileAtATime) {
  options_.sync_parallelism = 1;
  OpenLogs();
  // No overlap can come, so each sync waits out a short bound.
  SyncGate sync_gate(&env_, /*fail_b=*/false, std::chrono::milliseconds(200));
  auto [sa, sb] = AppendInOnePass(sync_gate, MakeBatch("a", 1), MakeBatch("b", 1));
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_TRUE(sb.ok()) << sb.ToString();
  EXPECT_EQ(sync_gate.max_in_flight(), 1);
}

TEST_F(LogStoreTest, AsyncAppendCallbacksRunOnceInOrder) {
  constexpr int kBatches = 200;
  std::mutex mu;
  std::vector<uint64_t> firsts;
  std::atomic<int> done{0};
  std::vector<Batch> batches;
  for (int i = 0; i < kBatches; ++i) batches.push_back(MakeBatch("b" + std::to_string(i), 2));
  for (auto& b : batches) {
    log_->Append(b.entries, [&](Result<AppendResult> r) {
      ASSERT_TRUE(r.ok());
      std::lock_guard<std::mutex> lock(mu);
      firsts.push_back(r->first_seq);
      done++;
    });
  }
  store_->Close();  // waits for in-flight appends
  ASSERT_EQ(done.load(), kBatches);
  EXPECT_TRUE(std::is_sorted(firsts.begin(), firsts.end()));
  EXPECT_EQ(firsts.back(), uint64_t{2 * (kBatches - 1)});
  EXPECT_FALSE(Append("late", 1).ok());
}

TEST_F(LogStoreTest, RetentionDeletesOldSealedSegments) {
  options_.segment_bytes = 1024;
  Reopen();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Append("old" + std::to_string(i), 4, 200).ok());
    clock_.AdvanceSeconds(60);
  }
  const int64_t cutoff = clock_.NowMillis() - 5 * 60'000;  // keep the last 5 minutes
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append("new" + std::to_string(i), 4, 200).ok());
  const size_t segs_before = Files(".seg").size();
  ASSERT_TRUE(log_->TrimBefore(cutoff).ok());
  EXPECT_LT(Files(".seg").size(), segs_before);
  const uint64_t trim = log_->TrimSeq();
  EXPECT_GT(trim, 0u);
  auto r = log_->Read(0, 1, 1 << 20);  // below the trim point
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].seq, trim);
  EXPECT_GE(r->records[0].arrival_ms, cutoff - 60'000);
  // Everything newer than the cutoff is still there.
  for (const Record& rec : ReadAll()) {
    if (rec.arrival_ms >= cutoff) EXPECT_GE(rec.seq, trim);
  }
  EXPECT_EQ(ReadAll().back().seq, 59u);

  // Trimming everything keeps the active segment and the sequence.
  ASSERT_TRUE(log_->TrimBefore(INT64_MAX).ok());
  EXPECT_EQ(Files(".seg").size(), 1u);
  EXPECT_EQ(log_->EndSeq(), 60u);
  Reopen();
  EXPECT_EQ(log_->EndSeq(), 60u);
  EXPECT_GE(log_->TrimSeq(), trim);
  auto next = Append("after", 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->first_seq, 60u);
}

TEST_F(LogStoreTest, SeqAtOrAfterTime) {
  options_.segment_bytes = 2048;
  Reopen();
  std::vector<std::pair<int64_t, uint64_t>> batches;  // (arrival, first seq)
  for (int i = 0; i < 60; ++i) {
    auto r = Append("t" + std::to_string(i), 3, 150);
    ASSERT_TRUE(r.ok());
    batches.emplace_back(r->arrival_ms, r->first_seq);
    clock_.Advance((i % 3 == 0 ? 0 : 1000) * 1'000'000);  // some batches share a millisecond
  }
  const int64_t t0 = batches.front().first;
  EXPECT_EQ(*log_->SeqAtOrAfterTime(t0 - 100000), 0u);
  EXPECT_EQ(*log_->SeqAtOrAfterTime(batches.back().first + 1), log_->EndSeq());
  for (int64_t ms = t0 - 10; ms <= batches.back().first + 10; ms += 137) {
    uint64_t want = log_->EndSeq();
    for (auto& [arrival, first] : batches) {
      if (arrival >= ms) {
        want = first;
        break;
      }
    }
    auto got = log_->SeqAtOrAfterTime(ms);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, want) << "ms " << ms - t0;
  }
  Reopen();  // answers come from the index files now
  EXPECT_EQ(*log_->SeqAtOrAfterTime(batches[30].first), batches[30].second);
}

TEST_F(LogStoreTest, TailingReaderSeesOnlyCommittedDenseRecords) {
  options_.segment_bytes = 8 << 10;
  Reopen();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> max_acked{0};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      auto r = Append("w" + std::to_string(i), 2, 200);
      ASSERT_TRUE(r.ok());
      max_acked = r->first_seq + 1;
    }
    stop = true;
  });
  uint64_t next = 0;
  while (!stop || next < 600) {
    auto r = log_->Read(next, 7, 1 << 20);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const Record& rec : r->records) {
      ASSERT_EQ(rec.seq, next);
      ASSERT_LT(rec.seq, r->end_seq);
      ASSERT_EQ(rec.data, DataFor("w" + std::to_string(rec.seq / 2), rec.seq % 2, 200));
      ++next;
    }
    if (stop && r->records.empty() && next >= log_->EndSeq()) break;
  }
  writer.join();
  EXPECT_EQ(next, 600u);
}

TEST_F(LogStoreTest, LargeRecordsRoundTrip) {
  options_.segment_bytes = 1 << 20;
  Reopen();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Append("big" + std::to_string(i), 1, 700 << 10).ok());
  Reopen();
  auto all = ReadAll();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[4].data, DataFor("big4", 0, 700 << 10));
  auto r = log_->Read(0, 10, 1000);  // one record even though it exceeds max_bytes
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 1u);
}

TEST_F(LogStoreTest, ManageLogs) {
  EXPECT_EQ(store_->CreateLog("shard").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateLog("bad/id").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateLog("..").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetLog("nope").status().code(), StatusCode::kNotFound);
  auto other = store_->CreateLog("stream-1.shardId-000000000001");
  ASSERT_TRUE(other.ok());
  Batch b = MakeBatch("o", 2);
  ASSERT_TRUE((*other)->AppendSync(b.entries).ok());
  auto ids = store_->ListLogs();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"shard", "stream-1.shardId-000000000001"}));
  ASSERT_TRUE(store_->DeleteLog("stream-1.shardId-000000000001").ok());
  auto after = (*other)->AppendSync(b.entries);
  EXPECT_EQ(after.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteLog("stream-1.shardId-000000000001").code(), StatusCode::kNotFound);
  Reopen();
  EXPECT_EQ(store_->ListLogs(), std::vector<std::string>{"shard"});
  auto again = store_->CreateLog("stream-1.shardId-000000000001");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->EndSeq(), 0u);
}

TEST_F(LogStoreTest, NoSyncModeStillWorks) {
  options_.sync = false;
  Reopen();
  const uint64_t syncs = env_.sync_count();
  ASSERT_TRUE(Append("a", 10).ok());
  EXPECT_EQ(env_.sync_count(), syncs);
  EXPECT_EQ(ReadAll().size(), 10u);
}

// One test per corruption case. Each writes records durably, closes the
// store, damages the last segment file, and reopens.
class RecoveryTest : public LogStoreTest {
 protected:
  void SetUp() override {
    LogStoreTest::SetUp();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Append("r" + std::to_string(i), 1, 100).ok());
    store_->Close();
    log_.reset();
    store_.reset();
    segs_ = Files(".seg");
    ASSERT_EQ(segs_.size(), 1u);
    path_ = SegPath(segs_.back());
    offsets_ = RecordOffsets(path_);
    ASSERT_EQ(offsets_.size(), 10u);
    size_ = *base_->FileSize(path_);
  }

  // Reopens and checks that exactly `n` records remain and appends continue at n.
  void ExpectRecords(size_t n) {
    Reopen();
    auto all = ReadAll();
    ASSERT_EQ(all.size(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(all[i].data, DataFor("r" + std::to_string(i), 0, 100));
    EXPECT_EQ(log_->EndSeq(), n);
    auto r = Append("next", 1);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->first_seq, n);
    Reopen();
    EXPECT_EQ(ReadAll().size(), n + 1);
  }

  std::vector<std::string> segs_;
  std::string path_;
  std::vector<uint64_t> offsets_;
  uint64_t size_ = 0;
};

TEST_F(RecoveryTest, CleanLogRecoversEverything) { ExpectRecords(10); }

TEST_F(RecoveryTest, RecoversAfterTornTailInHeader) {
  ASSERT_TRUE(base_->TruncateFile(path_, offsets_[9] + 10).ok());
  ExpectRecords(9);
  EXPECT_GT(*base_->FileSize(path_), offsets_[9]);  // cut, then appended to
}

TEST_F(RecoveryTest, RecoversAfterTornTailInBody) {
  ASSERT_TRUE(base_->TruncateFile(path_, offsets_[9] + kRecordHeaderSize + 20).ok());
  ExpectRecords(9);
}

TEST_F(RecoveryTest, RecoversAfterZeroFilledTail) {
  auto f = base_->NewAppendableFile(path_);
  ASSERT_TRUE((*f)->Append(std::string(4096, '\0')).ok());
  ExpectRecords(10);
}

TEST_F(RecoveryTest, RecoversAfterFlippedBitInLastRecord) {
  FlipByte(path_, size_ - 3);
  ExpectRecords(9);
}

TEST_F(RecoveryTest, RecoversAfterFlippedBitInLastRecordHeader) {
  FlipByte(path_, offsets_[9] + 17);  // in its seq
  ExpectRecords(9);
}

TEST_F(RecoveryTest, FlippedBitInMiddleRecordCutsEverythingAfterIt) {
  FlipByte(path_, offsets_[4] + kRecordHeaderSize + 5);
  ExpectRecords(4);
}

TEST_F(RecoveryTest, TruncatedFileKeepsWholeRecords) {
  ASSERT_TRUE(base_->TruncateFile(path_, offsets_[6]).ok());
  ExpectRecords(6);
}

TEST_F(RecoveryTest, FileTruncatedToItsHeaderIsAnEmptyLog) {
  ASSERT_TRUE(base_->TruncateFile(path_, kSegmentHeaderSize).ok());
  ExpectRecords(0);
}

TEST_F(RecoveryTest, EmptySegmentFileIsRemoved) {
  // A crash right after a roll created the next segment file.
  const std::string next = SegPath(SegmentFileName({10, 99}));
  ASSERT_TRUE(base_->NewWritableFile(next).ok());
  ExpectRecords(10);
  EXPECT_FALSE(base_->FileExists(next));
}

TEST_F(RecoveryTest, SegmentWithTornHeaderKeepsTheSequence) {
  const std::string next = SegPath(SegmentFileName({10, 99}));
  auto f = base_->NewWritableFile(next);
  ASSERT_TRUE((*f)->Append(EncodeSegmentHeader({10, 99}).substr(0, 20)).ok());
  ExpectRecords(10);
}

TEST_F(RecoveryTest, CorruptSegmentHeaderOfOnlySegment) {
  FlipByte(path_, 3);
  Reopen();
  EXPECT_TRUE(ReadAll().empty());
  // Damage outside our control loses the segment's records (logged); the log
  // is usable and durable again from the removed segment's first seq.
  ASSERT_TRUE(Append("x", 1).ok());
  Reopen();
  EXPECT_EQ(ReadAll().size(), 1u);
}

class SealedRecoveryTest : public LogStoreTest {
 protected:
  void SetUp() override {
    options_.segment_bytes = 1024;
    LogStoreTest::SetUp();
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(Append("s" + std::to_string(i), 1, 150).ok());
    store_->Close();
    log_.reset();
    store_.reset();
    idx_ = Files(".idx");
    ASSERT_GE(idx_.size(), 3u);
  }
  void ExpectAll() {
    Reopen();
    auto all = ReadAll();
    ASSERT_EQ(all.size(), 40u);
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].data, DataFor("s" + std::to_string(i), 0, 150));
    }
    EXPECT_EQ(*log_->SeqAtOrAfterTime(all[20].arrival_ms), 0u);  // same ms for all
  }
  std::vector<std::string> idx_;
};

TEST_F(SealedRecoveryTest, MissingIndexFileIsRebuilt) {
  ASSERT_TRUE(base_->RemoveFile(SegPath(idx_[1])).ok());
  ExpectAll();
  store_->Close();
  EXPECT_TRUE(base_->FileExists(SegPath(idx_[1])));
}

TEST_F(SealedRecoveryTest, CorruptIndexFileIsRebuilt) {
  FlipByte(SegPath(idx_[0]), 20);
  ExpectAll();
}

// A sealed segment with a good index is not rescanned at open, so a record
// corrupted since is found by the scan that reaches it.
TEST_F(SealedRecoveryTest, ScanReportsACorruptRecordAfterVisitingTheOnesBefore) {
  auto segs = Files(".seg");
  const std::string seg = SegPath(segs[1]);
  auto offsets = RecordOffsets(seg);
  ASSERT_GE(offsets.size(), 2u);
  FlipByte(seg, offsets[1] + kRecordHeaderSize + 20);
  Reopen();
  std::vector<Record> seen;
  auto r = ScanCopy(0, 100, 1 << 20, &seen);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  // Everything before the corrupt record was visited, in order.
  ASSERT_FALSE(seen.empty());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].seq, i);
    EXPECT_EQ(seen[i].data, DataFor("s" + std::to_string(i), 0, 150));
  }
  EXPECT_FALSE(log_->Read(0, 100, 1 << 20).ok());  // Read returns nothing, only the error
}

TEST_F(SealedRecoveryTest, IndexClaimingMoreThanTheFileIsRebuilt) {
  auto segs = Files(".seg");
  const std::string seg = SegPath(segs[1]);
  auto offsets = RecordOffsets(seg);
  ASSERT_TRUE(base_->TruncateFile(seg, offsets.back()).ok());  // lose its last record
  Reopen();
  auto all = ReadAll();
  EXPECT_EQ(all.size(), 39u);  // a gap where the lost record was
  auto r = Append("x", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_seq, 40u);
}

}  // namespace
}  // namespace muon::streamlog

namespace muon::streamlog {
namespace {

TEST(PosixLogStoreTest, RoundTripsOnARealDisk) {
  char tmpl[] = "/tmp/muon_streamlog_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  Env* env = Env::Posix();
  FakeClock clock;
  LogStoreOptions options;
  options.segment_bytes = 16 << 10;
  {
    auto store = LogStore::Open(dir, options, env, &clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto log = (*store)->CreateLog("s");
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 50; ++i) {
      Batch b = MakeBatch("p" + std::to_string(i), 4, 500);
      auto r = (*log)->AppendSync(b.entries);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->first_seq, uint64_t(i) * 4);
      clock.AdvanceSeconds(1);
    }
  }
  {
    auto store = LogStore::Open(dir, options, env, &clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto log = (*store)->GetLog("s");
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->EndSeq(), 200u);
    auto r = (*log)->Read(101, 1000, 1 << 30);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->records.size(), 99u);
    EXPECT_EQ(r->records[0].data, DataFor("p25", 1, 500));
    ASSERT_TRUE((*log)->TrimBefore(clock.NowMillis() - 10'000).ok());
    EXPECT_GT((*log)->TrimSeq(), 0u);
    Batch b = MakeBatch("after", 1);
    ASSERT_TRUE((*log)->AppendSync(b.entries).ok());
  }
  ASSERT_TRUE(env->RemoveTree(dir).ok());
}

}  // namespace
}  // namespace muon::streamlog

#include "registry/sql.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace muon::registry {
namespace {

// Generous bounds for liveness only: a read that queued behind the write
// would wait for ever, so the test fails at the bound instead of hanging.
constexpr auto kLiveness = std::chrono::seconds(60);

class SqlTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (url_.empty()) return;
    auto db = Database::Open(url_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Transact([](Tx& tx) -> Status {
                     MUON_RETURN_IF_ERROR(tx.Exec("CREATE TABLE t (v INTEGER NOT NULL)").status());
                     return tx.Exec("INSERT INTO t (v) VALUES (1)").status();
                   })
                    .ok());
  }

  Result<int64_t> Count(Tx& tx) {
    MUON_ASSIGN_OR_RETURN(SqlRows rows, tx.Query("SELECT COUNT(*) FROM t"));
    return AsInt(rows.rows.at(0).at(0));
  }

  std::string url_;
  std::unique_ptr<Database> db_;
};

TEST_P(SqlTest, ReadRunsBesideAWriteAndSeesOnlyCommittedRows) {
  if (!db_) return;
  std::promise<void> write_inside;
  std::promise<void> read_done;
  auto read_done_future = read_done.get_future();
  std::thread writer([&] {
    Status s = db_->Transact([&](Tx& tx) -> Status {
      MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO t (v) VALUES (2)").status());
      write_inside.set_value();
      // Hold the write open until the read has finished (or give up).
      if (read_done_future.wait_for(kLiveness) != std::future_status::ready) {
        return Status::Aborted("the read never finished while the write was open");
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  write_inside.get_future().wait();
  int64_t seen = -1;
  Status r = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(seen, Count(tx));
    return Status::Ok();
  });
  read_done.set_value();
  writer.join();
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(seen, 1) << "a read must not see a write that has not committed";
  ASSERT_TRUE(db_->Read([&](Tx& tx) -> Status {
                   MUON_ASSIGN_OR_RETURN(seen, Count(tx));
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(seen, 2);
}

TEST_P(SqlTest, ReadRefusesWrites) {
  if (!db_) return;
  Status s = db_->Read([](Tx& tx) { return tx.Exec("INSERT INTO t (v) VALUES (3)").status(); });
  EXPECT_FALSE(s.ok());
  int64_t seen = -1;
  ASSERT_TRUE(db_->Read([&](Tx& tx) -> Status {
                   MUON_ASSIGN_OR_RETURN(seen, Count(tx));
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(seen, 1);
}

TEST_P(SqlTest, ManyThreadsShareThePool) {
  if (!db_) return;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j) {
        Status s = (i + j) % 2 == 0
                       ? db_->Transact([&](Tx& tx) {
                           return tx.Exec("INSERT INTO t (v) VALUES (:v1)", {int64_t{i}}).status();
                         })
                       : db_->Read([&](Tx& tx) { return Count(tx).status(); });
        if (!s.ok()) {
          ADD_FAILURE() << s.ToString();
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  int64_t seen = -1;
  ASSERT_TRUE(db_->Read([&](Tx& tx) -> Status {
                   MUON_ASSIGN_OR_RETURN(seen, Count(tx));
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(seen, 1 + 8 * 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, SqlTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry

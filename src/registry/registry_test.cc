#include "registry/registry.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "registry/test_util.h"

namespace muon::registry {
namespace {

using ::testing::HasSubstr;

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (url_.empty()) return;  // failed with the reason
    auto r = Registry::Open(url_, &clock_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reg_ = std::move(r).value();
  }
  bool Ready() const { return reg_ != nullptr; }

  Json Site(std::string id) {
    return {{"id", id}, {"name", "Tailings dam north"}, {"kind", "underground"},
            {"latitude", -31.95}, {"longitude", 115.86}, {"depth_m", 42.5}};
  }
  Json Detector(std::string id) {
    return {{"id", id}, {"model", "MT-4"}, {"active_area_m2", 1.0}, {"channels", 64},
            {"firmware", "2.1.0"}, {"commissioned", "2026-01-15"}};
  }
  Json Deployment(std::string det, std::string site, std::string from, Json to = Json()) {
    return {{"detector_id", det}, {"site_id", site}, {"from_time", from}, {"to_time", to},
            {"zenith_deg", 0.0}, {"azimuth_deg", 90.0}, {"purpose", "dam monitoring"}};
  }
  // Row counts of every table: a failed write must leave them all unchanged.
  std::string Counts() {
    std::string out;
    for (const auto& t : Registry::TableNames()) {
      auto rows = reg_->ExportTable(t);
      EXPECT_TRUE(rows.ok());
      out += t + "=" + std::to_string(rows.ok() ? rows->rows.size() : 0) + " ";
    }
    return out;
  }
  void Seed() {
    ASSERT_TRUE(reg_->Create(Kind::kSite, Site("north"), "alice").ok());
    ASSERT_TRUE(reg_->Create(Kind::kSite, Site("south"), "alice").ok());
    ASSERT_TRUE(reg_->Create(Kind::kDetector, Detector("MD-0001"), "alice").ok());
    ASSERT_TRUE(reg_->Create(Kind::kDetector, Detector("MD-0002"), "alice").ok());
  }

  FakeClock clock_{1'780'000'000'000'000'000};
  std::string url_;
  std::unique_ptr<Registry> reg_;
};

TEST_P(RegistryTest, CreatesAndReadsASite) {
  if (!Ready()) return;
  auto s = reg_->Create(Kind::kSite, Site("north"), "alice");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)["version"], 1);
  auto got = reg_->Get(Kind::kSite, "north");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["kind"], "underground");
  EXPECT_DOUBLE_EQ((*got)["latitude"].get<double>(), -31.95);
  EXPECT_TRUE((*got)["contact"].is_null());
  EXPECT_EQ((*got)["created_at"], Registry::FormatTime(clock_.NowNanos()));
  EXPECT_EQ(reg_->Get(Kind::kSite, "nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg_->Create(Kind::kSite, Site("north"), "alice").status().code(),
            StatusCode::kAlreadyExists);
}

TEST_P(RegistryTest, NewDetectorStartsPlannedWithOneHistoryEntry) {
  if (!Ready()) return;
  auto d = reg_->Create(Kind::kDetector, Detector("MD-0001"), "alice");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)["status"], "planned");
  EXPECT_EQ((*d)["silence_threshold_s"], 900);
  auto h = reg_->StatusHistory("MD-0001");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ((*h)["entries"].size(), 1u);
  EXPECT_EQ((*h)["entries"][0]["by"], "alice");
}

TEST_P(RegistryTest, EachValidationRuleNamesFieldAndRuleAndChangesNothing) {
  if (!Ready()) return;
  Seed();
  const std::string before = Counts();
  struct Case {
    Kind kind;
    Json body;
    std::string field, rule;
  };
  Json lat = Site("x1");
  lat["latitude"] = 95.0;
  Json kind = Site("x2");
  kind["kind"] = "orbit";
  Json missing = Site("x3");
  missing.erase("name");
  Json badid = Site("has space");
  Json unknown = Site("x4");
  unknown["colour"] = "red";
  Json area = Detector("D-1");
  area["active_area_m2"] = 0.0;
  Json chans = Detector("D-2");
  chans["channels"] = 1.5;
  Json date = Detector("D-3");
  date["commissioned"] = "2026-02-30";
  Json az = Deployment("MD-0001", "north", "2026-02-01T00:00:00Z");
  az["azimuth_deg"] = 360.0;
  Json time = Deployment("MD-0001", "north", "yesterday");
  Json order = Deployment("MD-0001", "north", "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z");
  Json nosite = Deployment("MD-0001", "atlantis", "2026-02-01T00:00:00Z");
  Json nodet = Deployment("MD-9999", "north", "2026-02-01T00:00:00Z");
  const Case cases[] = {
      {Kind::kSite, lat, "latitude", "range"},
      {Kind::kSite, kind, "kind", "one_of"},
      {Kind::kSite, missing, "name", "required"},
      {Kind::kSite, badid, "id", "id_format"},
      {Kind::kSite, unknown, "colour", "known_field"},
      {Kind::kDetector, area, "active_area_m2", "range"},
      {Kind::kDetector, chans, "channels", "type"},
      {Kind::kDetector, date, "commissioned", "date"},
      {Kind::kDeployment, az, "azimuth_deg", "range"},
      {Kind::kDeployment, time, "from_time", "time"},
      {Kind::kDeployment, order, "to_time", "after_from_time"},
      {Kind::kDeployment, nosite, "site_id", "references"},
      {Kind::kDeployment, nodet, "detector_id", "references"},
  };
  for (const Case& c : cases) {
    auto r = reg_->Create(c.kind, c.body, "alice");
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    auto v = ParseViolation(r.status());
    ASSERT_TRUE(v.has_value()) << r.status().ToString();
    EXPECT_EQ(v->field, c.field) << r.status().ToString();
    EXPECT_EQ(v->rule, c.rule) << r.status().ToString();
  }
  EXPECT_EQ(Counts(), before);
}

TEST_P(RegistryTest, AtMostOneOpenDeploymentPerDetector) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0001", "north", "2026-02-01T00:00:00Z"), "a").ok());
  const std::string before = Counts();
  auto r = reg_->Create(Kind::kDeployment, Deployment("MD-0001", "south", "2026-03-01T00:00:00Z"), "a");
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_EQ(ParseViolation(r.status())->rule, "one_open_deployment");
  EXPECT_EQ(Counts(), before);
  // The other detector is free.
  EXPECT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0002", "north", "2026-02-01T00:00:00Z"), "a").ok());
}

TEST_P(RegistryTest, DeploymentsOfOneDetectorMustNotOverlap) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->Create(Kind::kDeployment,
                           Deployment("MD-0001", "north", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
                           "a").ok());
  const std::string before = Counts();
  auto r = reg_->Create(Kind::kDeployment,
                        Deployment("MD-0001", "south", "2026-02-15T00:00:00Z", "2026-04-01T00:00:00Z"), "a");
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseViolation(r.status())->rule, "no_overlap");
  EXPECT_EQ(Counts(), before);
  // Back to back is not an overlap.
  EXPECT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0001", "south", "2026-03-01T00:00:00Z"), "a").ok());
}

TEST_P(RegistryTest, DatabaseItselfRefusesOverlapsOpenDeploymentsAndIllegalMoves) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0001", "north", "2026-02-01T00:00:00Z"), "a").ok());
  auto insert = [&](const std::string& from, SqlValue to) {
    return reg_->db().Transact([&](Tx& tx) {
      return tx.Exec("INSERT INTO deployments (detector_id, site_id, from_time, to_time, version, "
                     "created_at, updated_at) VALUES ('MD-0001', 'south', :v1, :v2, 1, 'x', 'x')",
                     {from, to}).status();
    });
  };
  Status open = insert("2026-05-01T00:00:00Z", std::monostate{});
  EXPECT_EQ(open.code(), StatusCode::kFailedPrecondition) << open.ToString();
  Status overlap = insert("2026-01-01T00:00:00Z", std::string("2026-02-02T00:00:00Z"));
  EXPECT_EQ(overlap.code(), StatusCode::kFailedPrecondition) << overlap.ToString();
  EXPECT_THAT(overlap.message(), HasSubstr("no_overlap"));
  Status fk = reg_->db().Transact([&](Tx& tx) {
    return tx.Exec("INSERT INTO deployments (detector_id, site_id, from_time, version, created_at, "
                   "updated_at) VALUES ('MD-0001', 'atlantis', '2020-01-01T00:00:00Z', 1, 'x', 'x')")
        .status();
  });
  EXPECT_EQ(fk.code(), StatusCode::kFailedPrecondition) << fk.ToString();
  Status move = reg_->db().Transact([&](Tx& tx) {
    return tx.Exec("INSERT INTO status_history (detector_id, status, since, by_whom) VALUES "
                   "('MD-0001', 'offline', '2026-01-01T00:00:00Z', 'x')")
        .status();
  });
  EXPECT_EQ(move.code(), StatusCode::kFailedPrecondition) << move.ToString();
  EXPECT_THAT(move.message(), HasSubstr("status_transition"));
}

// Two servers inserting overlapping deployments of one detector at the same
// moment: the database lets exactly one in.
TEST_P(RegistryTest, ConcurrentOverlappingInsertsOnTwoConnectionsOneWins) {
  if (!Ready()) return;
  Seed();
  auto other = Registry::Open(url_, &clock_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto insert = [](Registry& r, const char* from, std::atomic<bool>* inserted) {
    return r.db().Transact([&](Tx& tx) {
      Status s = tx.Exec("INSERT INTO deployments (detector_id, site_id, from_time, to_time, "
                         "version, created_at, updated_at) VALUES ('MD-0001', 'north', :v1, "
                         "'2026-06-01T00:00:00Z', 1, 'x', 'x')",
                         {std::string(from)})
                     .status();
      if (inserted != nullptr) {
        inserted->store(true);
        // Hold the transaction open while the other connection tries.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      return s;
    });
  };
  std::atomic<bool> first_inserted{false};
  Status a, b;
  std::thread ta([&] { a = insert(*reg_, "2026-01-01T00:00:00Z", &first_inserted); });
  while (!first_inserted.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread tb([&] { b = insert(**other, "2026-03-01T00:00:00Z", nullptr); });
  ta.join();
  tb.join();
  EXPECT_TRUE(a.ok()) << a.ToString();
  EXPECT_EQ(b.code(), StatusCode::kFailedPrecondition) << b.ToString();
  auto rows = reg_->db().Transact([](Tx& tx) {
    auto q = tx.Query("SELECT COUNT(*) FROM deployments WHERE detector_id = 'MD-0001'");
    if (!q.ok()) return q.status();
    return AsInt(q->rows[0][0]) == 1 ? Status::Ok() : Status::Internal("overlapping rows stored");
  });
  EXPECT_TRUE(rows.ok()) << rows.ToString();
}

TEST_P(RegistryTest, StatusMovesFollowTheTransitionRules) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->SetStatus("MD-0001", {{"status", "in-transit"}}, std::nullopt, "bob").ok());
  ASSERT_TRUE(reg_->SetStatus("MD-0001", {{"status", "deployed"}, {"reason", "installed"}}, std::nullopt, "bob").ok());
  const std::string before = Counts();
  auto bad = reg_->SetStatus("MD-0001", {{"status", "planned"}}, std::nullopt, "bob");
  ASSERT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseViolation(bad.status())->field, "status");
  EXPECT_EQ(ParseViolation(bad.status())->rule, "transition");
  EXPECT_THAT(bad.status().message(), HasSubstr("'deployed' to 'planned'"));
  auto unknown = reg_->SetStatus("MD-0001", {{"status", "sleeping"}}, std::nullopt, "bob");
  EXPECT_EQ(ParseViolation(unknown.status())->rule, "one_of");
  EXPECT_EQ(Counts(), before);
  auto h = reg_->StatusHistory("MD-0001");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)["status"], "deployed");
  EXPECT_EQ((*h)["reason"], "installed");
  EXPECT_EQ((*h)["entries"].size(), 3u);
}

TEST_P(RegistryTest, UpdateWithStaleVersionIsAbortedAndChangesNothing) {
  if (!Ready()) return;
  Seed();
  auto u = reg_->Update(Kind::kDetector, "MD-0001", {{"firmware", "2.2.0"}}, 1, "alice");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ((*u)["version"], 2);
  const std::string before = Counts();
  auto stale = reg_->Update(Kind::kDetector, "MD-0001", {{"firmware", "9.9.9"}}, 1, "bob");
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ((*reg_->Get(Kind::kDetector, "MD-0001"))["firmware"], "2.2.0");
}

TEST_P(RegistryTest, TwoConcurrentWritersOneWinsOtherAbortsNothingHalfWritten) {
  if (!Ready()) return;
  Seed();
  for (int round = 0; round < 10; ++round) {
    int64_t v = (*reg_->Get(Kind::kDetector, "MD-0001"))["version"].get<int64_t>();
    Result<Json> a = Status::Internal("unset"), b = Status::Internal("unset");
    std::thread ta([&] {
      a = reg_->Update(Kind::kDetector, "MD-0001",
                       {{"firmware", "A" + std::to_string(round)}, {"notes", "writer A"}}, v, "a");
    });
    std::thread tb([&] {
      b = reg_->Update(Kind::kDetector, "MD-0001",
                       {{"firmware", "B" + std::to_string(round)}, {"notes", "writer B"}}, v, "b");
    });
    ta.join();
    tb.join();
    ASSERT_NE(a.ok(), b.ok()) << a.status().ToString() << " / " << b.status().ToString();
    const Result<Json>& loser = a.ok() ? b : a;
    EXPECT_EQ(loser.status().code(), StatusCode::kAborted);
    auto now = reg_->Get(Kind::kDetector, "MD-0001");
    std::string w = a.ok() ? "A" : "B";
    EXPECT_EQ((*now)["firmware"], w + std::to_string(round));
    EXPECT_EQ((*now)["notes"], "writer " + w);
    EXPECT_EQ((*now)["version"], v + 1);
  }
  auto changes = reg_->Changes(Kind::kDetector, "MD-0001");
  EXPECT_EQ(changes->size(), 11u);  // create + one update per round
}

// Two processes (two connections, as two servers behind a load balancer
// would have) writing one detector with the same If-Match.
TEST_P(RegistryTest, TwoConnectionsWritingOneDetectorOneWinsOtherAborts) {
  if (!Ready()) return;
  Seed();
  auto other = Registry::Open(url_, &clock_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  for (int round = 0; round < 10; ++round) {
    int64_t v = (*reg_->Get(Kind::kDetector, "MD-0001"))["version"].get<int64_t>();
    Result<Json> a = Status::Internal("unset"), b = Status::Internal("unset");
    std::thread ta([&] {
      a = reg_->SetStatus("MD-0001", {{"status", round % 2 ? "planned" : "in-transit"}}, v, "a");
    });
    std::thread tb([&] {
      b = (*other)->Update(Kind::kDetector, "MD-0001", {{"notes", "B" + std::to_string(round)}}, v, "b");
    });
    ta.join();
    tb.join();
    ASSERT_NE(a.ok(), b.ok()) << a.status().ToString() << " / " << b.status().ToString();
    EXPECT_EQ((a.ok() ? b : a).status().code(), StatusCode::kAborted);
    auto now = reg_->Get(Kind::kDetector, "MD-0001");
    EXPECT_EQ((*now)["version"], v + 1);
    if (b.ok()) {
      // The status move was rolled back whole: no history entry without its version bump.
      EXPECT_EQ((*now)["status"], round % 2 ? "in-transit" : "planned");
      EXPECT_EQ((*now)["notes"], "B" + std::to_string(round));
    } else {
      EXPECT_EQ((*now)["status"], round % 2 ? "planned" : "in-transit");
    }
    // Bring the status to the state the next round expects.
    if (b.ok() && round % 2 == 0) {
      ASSERT_TRUE(reg_->SetStatus("MD-0001", {{"status", "in-transit"}}, std::nullopt, "fix").ok());
    } else if (b.ok() && round % 2 == 1) {
      ASSERT_TRUE(reg_->SetStatus("MD-0001", {{"status", "planned"}}, std::nullopt, "fix").ok());
    }
  }
  auto h = reg_->StatusHistory("MD-0001");
  auto c = reg_->Changes(Kind::kDetector, "MD-0001");
  // Every status entry has its change record, and no more.
  size_t status_changes = 0;
  for (const auto& ch : *c) status_changes += ch["action"] == "status";
  EXPECT_EQ((*h)["entries"].size(), status_changes + 1);
}

TEST_P(RegistryTest, EveryChangeIsRecordedWithWhoWhenBeforeAndAfter) {
  if (!Ready()) return;
  Seed();
  clock_.AdvanceSeconds(60);
  ASSERT_TRUE(reg_->Update(Kind::kSite, "north", {{"contact", "ops@example.org"}}, std::nullopt, "carol").ok());
  ASSERT_TRUE(reg_->Delete(Kind::kSite, "south", std::nullopt, "carol").ok());
  auto c = reg_->Changes(Kind::kSite, "north");
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[1]["actor"], "carol");
  EXPECT_EQ((*c)[1]["action"], "update");
  EXPECT_EQ((*c)[1]["at"], Registry::FormatTime(clock_.NowNanos()));
  EXPECT_TRUE((*c)[1]["before"]["contact"].is_null());
  EXPECT_EQ((*c)[1]["after"]["contact"], "ops@example.org");
  auto d = reg_->Changes(Kind::kSite, "south");
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[1]["action"], "delete");
  EXPECT_TRUE((*d)[1]["after"].is_null());
}

TEST_P(RegistryTest, ASiteInUseCannotBeDeleted) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0001", "north", "2026-02-01T00:00:00Z"), "a").ok());
  const std::string before = Counts();
  Status s = reg_->Delete(Kind::kSite, "north", std::nullopt, "a");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseViolation(s)->rule, "in_use");
  EXPECT_EQ(Counts(), before);
}

TEST_P(RegistryTest, ImmutableFieldsStayPut) {
  if (!Ready()) return;
  Seed();
  auto dep = reg_->Create(Kind::kDeployment, Deployment("MD-0001", "north", "2026-02-01T00:00:00Z"), "a");
  ASSERT_TRUE(dep.ok());
  std::string id = std::to_string((*dep)["id"].get<int64_t>());
  auto r = reg_->Update(Kind::kDeployment, id, {{"site_id", "south"}}, std::nullopt, "a");
  EXPECT_EQ(ParseViolation(r.status())->rule, "immutable");
  auto ok = reg_->Update(Kind::kDeployment, id, {{"to_time", "2026-03-01T00:00:00+10:00"}}, std::nullopt, "a");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["to_time"], "2026-02-28T14:00:00Z");
}

TEST_P(RegistryTest, ListsFilterSortAndPage) {
  if (!Ready()) return;
  Seed();
  for (int i = 3; i <= 7; ++i) {
    Json d = Detector(fmt::format("MD-000{}", i));
    d["model"] = i % 2 ? "MT-8" : "MT-4";
    ASSERT_TRUE(reg_->Create(Kind::kDetector, d, "a").ok());
  }
  ASSERT_TRUE(reg_->Create(Kind::kDeployment,
                           Deployment("MD-0001", "north", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"), "a").ok());
  ASSERT_TRUE(reg_->Create(Kind::kDeployment, Deployment("MD-0002", "north", "2026-01-15T00:00:00Z"), "a").ok());
  ASSERT_TRUE(reg_->SetStatus("MD-0002", {{"status", "deployed"}}, std::nullopt, "a").ok());

  ListQuery q;
  q.filters = {{"model", "MT-8"}};
  q.sort = "-id";
  auto p = reg_->List(Kind::kDetector, q);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->items.size(), 3u);
  EXPECT_EQ(p->items[0]["id"], "MD-0007");

  q = {};
  q.limit = 3;
  p = reg_->List(Kind::kDetector, q);
  ASSERT_EQ(p->items.size(), 3u);
  ASSERT_TRUE(p->next_offset.has_value());
  q.offset = *p->next_offset;
  auto p2 = reg_->List(Kind::kDetector, q);
  EXPECT_EQ(p2->items[0]["id"], "MD-0004");

  q = {};
  q.filters = {{"status", "deployed"}};
  EXPECT_EQ(reg_->List(Kind::kDetector, q)->items.size(), 1u);
  q.filters = {{"site", "north"}};  // deployed there now
  EXPECT_EQ(reg_->List(Kind::kDetector, q)->items.size(), 1u);
  q.filters = {{"site", "north"}, {"deployed_at", "2026-01-20T00:00:00Z"}};
  EXPECT_EQ(reg_->List(Kind::kDetector, q)->items.size(), 2u);
  q.filters = {{"active_at", "2026-02-10T00:00:00Z"}};
  EXPECT_EQ(reg_->List(Kind::kDeployment, q)->items.size(), 1u);
  q.filters = {{"colour", "red"}};
  EXPECT_EQ(ParseViolation(reg_->List(Kind::kDetector, q).status())->rule, "known_filter");
  q = {};
  q.sort = "secret; DROP TABLE sites";
  EXPECT_EQ(ParseViolation(reg_->List(Kind::kSite, q).status())->rule, "known_field");
}

TEST_P(RegistryTest, ConfigurationDocumentsAreVersioned) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->PutConfig("MD-0001", "calibration", {{"gain", 1.5}}, "a").ok());
  auto v2 = reg_->PutConfig("MD-0001", "calibration", {{"gain", 1.7}}, "a");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)["version"], 2);
  EXPECT_EQ((*reg_->GetConfig("MD-0001", "calibration", 0))["document"]["gain"], 1.7);
  EXPECT_EQ((*reg_->GetConfig("MD-0001", "calibration", 1))["document"]["gain"], 1.5);
  EXPECT_EQ(reg_->ListConfigs("MD-0001")->size(), 1u);
  EXPECT_EQ(reg_->GetConfig("MD-0001", "thresholds", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg_->PutConfig("MD-9999", "calibration", {{"gain", 1}}, "a").status().code(),
            StatusCode::kNotFound);
}

TEST_P(RegistryTest, SilentDetectorGoesOfflineAndComesBackWhenDataArrives) {
  if (!Ready()) return;
  Seed();
  ASSERT_TRUE(reg_->Update(Kind::kDetector, "MD-0001", {{"silence_threshold_s", 300}}, std::nullopt, "a").ok());
  ASSERT_TRUE(reg_->SetStatus("MD-0001", {{"status", "deployed"}}, std::nullopt, "a").ok());
  // Data arriving at a deployed detector makes it active.
  clock_.AdvanceSeconds(10);
  auto moves = reg_->ApplyLiveStatus({{"MD-0001", 5, clock_.NowNanos()}, {"UNKNOWN", 3, clock_.NowNanos()}},
                                     clock_.NowNanos());
  ASSERT_TRUE(moves.ok()) << moves.status().ToString();
  EXPECT_EQ(*moves, 1);
  const std::string seen = Registry::FormatTime(clock_.NowNanos());
  auto d = reg_->Get(Kind::kDetector, "MD-0001");
  EXPECT_EQ((*d)["status"], "active");
  EXPECT_EQ((*d)["last_seen"], seen);
  EXPECT_EQ((*d)["records_seen"], 5);
  // Silent for exactly the threshold: still active.
  clock_.AdvanceSeconds(300);
  EXPECT_EQ(*reg_->ApplyLiveStatus({}, clock_.NowNanos()), 0);
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(*reg_->ApplyLiveStatus({}, clock_.NowNanos()), 1);
  auto h = reg_->StatusHistory("MD-0001");
  EXPECT_EQ((*h)["status"], "offline");
  EXPECT_EQ((*h)["reason"], "no data since " + seen);
  EXPECT_EQ((*h)["by"], std::string(kLiveStatusActor));
  // Data again: active, recorded in the history.
  clock_.AdvanceSeconds(1000);
  EXPECT_EQ(*reg_->ApplyLiveStatus({{"MD-0001", 2, clock_.NowNanos()}}, clock_.NowNanos()), 1);
  h = reg_->StatusHistory("MD-0001");
  EXPECT_EQ((*h)["status"], "active");
  EXPECT_EQ((*h)["records_seen"], 7);
  EXPECT_THAT((*h)["reason"].get<std::string>(), HasSubstr("data arrived at"));
  EXPECT_EQ((*h)["entries"].size(), 5u);  // planned, deployed, active, offline, active
  // A planned detector is never moved by data.
  EXPECT_EQ(*reg_->ApplyLiveStatus({{"MD-0002", 1, clock_.NowNanos()}}, clock_.NowNanos()), 0);
  EXPECT_EQ((*reg_->Get(Kind::kDetector, "MD-0002"))["status"], "planned");
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry

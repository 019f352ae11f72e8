#include "registry/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace muon::registry {
namespace {

using ::testing::HasSubstr;

TEST(CsvFormatTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvLine({"a", "b c", "", "x,y", "say \"hi\"", " pad", "two\nlines"}),
            "a,b c,,\"x,y\",\"say \"\"hi\"\"\",\" pad\",\"two\nlines\"\r\n");
  auto back = ParseCsv(CsvLine({"a", "x,y", "say \"hi\"", "two\nlines"}) + CsvLine({"next"}));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_THAT((*back)[0].fields, ::testing::ElementsAre("a", "x,y", "say \"hi\"", "two\nlines"));
  EXPECT_EQ((*back)[1].line, 3u);  // the quoted newline counts
}

TEST(CsvFormatTest, UnclosedQuoteNamesItsLine) {
  auto r = ParseCsv("a,b\r\nc,\"open\r\nd\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 2"));
}

class CsvTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Registry> Open() {
    std::string skip;
    std::string url = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) {
      skipped_ = true;
      return nullptr;
    }
    if (url.empty()) return nullptr;
    auto r = Registry::Open(url, &clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  void Fill(Registry& reg) {
    ASSERT_TRUE(reg.Create(Kind::kSite, {{"id", "north"}, {"name", "Dam, \"north\" wall"}, {"kind", "underground"},
                                         {"latitude", -31.950001}, {"longitude", 115.1}, {"depth_m", 1e-7},
                                         {"notes", "line one\nline two"}}, "alice").ok());
    ASSERT_TRUE(reg.Create(Kind::kSite, {{"id", "lab"}, {"name", "Lab"}, {"kind", "lab"},
                                         {"latitude", 0.1 + 0.2}, {"longitude", -0.0}}, "alice").ok());
    ASSERT_TRUE(reg.Create(Kind::kDetector, {{"id", "MD-0001"}, {"model", "MT-4"}, {"channels", 64},
                                             {"active_area_m2", 1.0 / 3}}, "alice").ok());
    ASSERT_TRUE(reg.Create(Kind::kDetector, {{"id", "MD-0002"}, {"model", "MT-4"}}, "bob").ok());
    clock_.AdvanceSeconds(5);
    ASSERT_TRUE(reg.Create(Kind::kDeployment, {{"detector_id", "MD-0001"}, {"site_id", "north"},
                                               {"from_time", "2026-01-01T00:00:00Z"},
                                               {"to_time", "2026-02-01T00:00:00Z"}, {"zenith_deg", 12.5}}, "a").ok());
    ASSERT_TRUE(reg.Create(Kind::kDeployment, {{"detector_id", "MD-0001"}, {"site_id", "lab"},
                                               {"from_time", "2026-02-01T00:00:00Z"}}, "a").ok());
    ASSERT_TRUE(reg.SetStatus("MD-0001", {{"status", "deployed"}, {"reason", "in, \"place\""}}, std::nullopt, "a").ok());
    ASSERT_TRUE(reg.PutConfig("MD-0001", "calibration", {{"gain", 1.25}, {"map", {1, 2, 3}}}, "a").ok());
    ASSERT_TRUE(reg.Delete(Kind::kDetector, "MD-0002", std::nullopt, "a").ok());
    ASSERT_TRUE(reg.ApplyLiveStatus({{"MD-0001", 9, clock_.NowNanos()}}, clock_.NowNanos()).ok());
  }
  FakeClock clock_{1'780'000'000'000'000'000};
  bool skipped_ = false;
};

TEST_P(CsvTest, ExportImportExportGivesTheSameBytes) {
  auto a = Open();
  if (skipped_) GTEST_SKIP() << "no PostgreSQL URL";
  ASSERT_TRUE(a);
  Fill(*a);
  auto first = ExportCsv(*a);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 6u);
  a.reset();
  auto b = Open();
  ASSERT_TRUE(b);
  CsvError err;
  auto counts = ImportCsv(*b, *first, &err);
  ASSERT_TRUE(counts.ok()) << err.message;
  EXPECT_EQ((*counts)["deployments.csv"], 2u);
  auto second = ExportCsv(*b);
  ASSERT_TRUE(second.ok());
  for (const auto& [name, text] : *first) EXPECT_EQ((*second)[name], text) << name;
  // The imported registry goes on numbering where the original stopped.
  auto dep = b->Create(Kind::kDeployment, {{"detector_id", "MD-0001"}, {"site_id", "north"},
                                           {"from_time", "2025-01-01T00:00:00Z"}, {"to_time", "2025-02-01T00:00:00Z"}}, "a");
  ASSERT_TRUE(dep.ok()) << dep.status().ToString();
  EXPECT_EQ((*dep)["id"], 3);
  // A second import into a registry that is not empty is refused.
  EXPECT_FALSE(ImportCsv(*b, *first, &err).ok());
  EXPECT_THAT(err.message, HasSubstr("not empty"));
}

TEST_P(CsvTest, BadCsvNamesFileLineAndFieldAndImportsNothing) {
  auto a = Open();
  if (skipped_) GTEST_SKIP() << "no PostgreSQL URL";
  ASSERT_TRUE(a);
  Fill(*a);
  auto good = ExportCsv(*a);
  ASSERT_TRUE(good.ok());
  a.reset();
  struct Case {
    std::string file, from, to;
    size_t line;
    std::string field, words;
  };
  const Case cases[] = {
      {"detectors.csv", "MT-4,0.3333333333333333,64", "MT-4,0.3333333333333333,6.5", 2, "channels", "not an integer"},
      {"sites.csv", ",lab,0.30000000000000004", ",moon,0.30000000000000004", 2, "kind", "one_of"},
      {"deployments.csv", "MD-0001,lab,2026-02-01T00:00:00Z", "MD-0001,lab,2026-02-01", 3, "from_time", "time"},
      {"status_history.csv", ",deployed,", ",sleeping,", 3, "status", "one_of"},
      {"deployments.csv", "MD-0001,lab", "MD-0001,atlantis", 3, "", "FOREIGN KEY"},
  };
  for (const Case& c : cases) {
    CsvFiles bad = *good;
    auto pos = bad[c.file].find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from << " in\n" << bad[c.file];
    bad[c.file].replace(pos, c.from.size(), c.to);
    auto b = Open();
    ASSERT_TRUE(b);
    CsvError err;
    auto r = ImportCsv(*b, bad, &err);
    ASSERT_FALSE(r.ok()) << c.to;
    EXPECT_EQ(err.file, c.file) << err.message;
    EXPECT_EQ(err.line, c.line) << err.message;
    EXPECT_EQ(err.field, c.field) << err.message;
    if (c.words != "FOREIGN KEY") {
      EXPECT_THAT(err.message, HasSubstr(c.words));
    }
    for (const auto& table : Registry::TableNames()) {
      EXPECT_TRUE(b->ExportTable(table)->rows.empty()) << table << " after " << err.message;
    }
  }
  CsvFiles missing = *good;
  missing.erase("changes.csv");
  auto b = Open();
  CsvError err;
  EXPECT_FALSE(ImportCsv(*b, missing, &err).ok());
  EXPECT_EQ(err.file, "changes.csv");
  CsvFiles header = *good;
  header["sites.csv"].replace(0, 2, "ID");
  EXPECT_FALSE(ImportCsv(*b, header, &err).ok());
  EXPECT_EQ(err.line, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, CsvTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry

// Helpers shared by the plan tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace muon::plan::testing {

inline std::string TestDataPath(const std::string& name) {
  return std::string(MUON_PLAN_TESTDATA) + "/" + name;
}

inline std::string ReadTestData(const std::string& name) {
  std::ifstream in(TestDataPath(name), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace muon::plan::testing

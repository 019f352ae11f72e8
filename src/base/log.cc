#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace muon::log {

void Init() {
  auto logger = spdlog::stderr_color_mt("muonpipe");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

void SetLevel(std::string_view level) {
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace muon::log

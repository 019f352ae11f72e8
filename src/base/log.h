// Logging goes through spdlog; this header fixes how muonpipe uses it.
#pragma once

#include <spdlog/spdlog.h>

namespace muon::log {

// Sets the global level from a name ("debug", "info", "warn", "error").
void SetLevel(std::string_view level);
void Init();

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace muon::log

// Compression of delivered objects. Output is a deterministic function of the
// input (a gzip header carries no time or name), so re-delivering the same
// records after a crash writes byte-identical objects.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "delivery/config.h"

namespace muon::delivery {

// Appends the compressed form of `data` to *out.
Status Compress(Compression format, std::string_view data, std::string* out);

// The inverse, for tests and tools.
Result<std::string> Decompress(Compression format, std::string_view data);

}  // namespace muon::delivery

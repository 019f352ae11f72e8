// Random (version 4) UUIDs: request ids, event ids.
#pragma once

#include <string>

namespace muon {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" in lower-case hex, from the OpenSSL
// CSPRNG. Thread-safe.
std::string NewUuid();

}  // namespace muon

// The console's Directory over the identity store (src/identity).
#pragma once

#include <memory>

#include "console/console.h"
#include "identity/identity_store.h"

namespace muon::console {

// `store` must outlive the result.
std::unique_ptr<Directory> NewIdentityStoreDirectory(identity::IdentityStore* store);

}  // namespace muon::console

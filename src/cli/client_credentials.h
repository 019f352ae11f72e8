// The credentials of commands that talk to a running server (`registry`,
// `plan --from-url`): their flags plus the process environment, resolved in
// the order sim::ResolveCredentials documents.
#pragma once

#include <string>

#include "sim/credentials.h"

namespace muon::cli {

// The flags given, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_SHARED_CREDENTIALS_FILE and HOME from the environment.
sim::CredentialSources CredentialSourcesFromEnvironment(std::string credentials_file,
                                                        std::string profile, std::string data_dir);

}  // namespace muon::cli

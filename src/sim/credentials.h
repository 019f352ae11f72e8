// AWS shared-credentials files (INI: "[profile]" sections with
// aws_access_key_id, aws_secret_access_key, optional aws_session_token), as
// `muonpipe serve` writes to DIR/admin-credentials and the AWS CLI reads.
#pragma once

#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::sim {

// Reads `path` through env (parsed by auth::ParseCredentialsFile). Errors
// name the file and the fix.
Result<auth::Credentials> LoadSharedCredentials(Env* env, const std::string& path,
                                                std::string_view profile);

// The file to read when --credentials is not given: $AWS_SHARED_CREDENTIALS_FILE,
// else $HOME/.aws/credentials. Empty arguments mean "unset".
std::string DefaultCredentialsPath(std::string_view shared_credentials_file_env,
                                   std::string_view home_env);

}  // namespace muon::sim

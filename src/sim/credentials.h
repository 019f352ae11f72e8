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

// Where a command that talks to a muonpipe server (`registry`, `plan
// --from-url`) finds the credentials it signs with; the first that applies
// wins:
//   1. credentials_file (--credentials), its `profile`;
//   2. access_key_id and secret_access_key (AWS_ACCESS_KEY_ID,
//      AWS_SECRET_ACCESS_KEY; session_token from AWS_SESSION_TOKEN);
//   3. DATA_DIR/admin-credentials, when data_dir is set and the file exists;
//   4. the AWS shared credentials file (DefaultCredentialsPath), `profile`.
// Environment values are passed in (empty: unset) so that the order can be
// tested; the command reads the process environment.
struct CredentialSources {
  std::string credentials_file;
  std::string profile = "default";
  std::string data_dir;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string shared_credentials_file;  // AWS_SHARED_CREDENTIALS_FILE
  std::string home;                     // HOME
};
Result<auth::Credentials> ResolveCredentials(Env* env, const CredentialSources& sources);

}  // namespace muon::sim

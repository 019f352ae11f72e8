#include "cli/client_credentials.h"

#include <cstdlib>

namespace muon::cli {
namespace {

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

sim::CredentialSources CredentialSourcesFromEnvironment(std::string credentials_file,
                                                        std::string profile, std::string data_dir) {
  return {.credentials_file = std::move(credentials_file),
          .profile = std::move(profile),
          .data_dir = std::move(data_dir),
          .access_key_id = EnvOr("AWS_ACCESS_KEY_ID"),
          .secret_access_key = EnvOr("AWS_SECRET_ACCESS_KEY"),
          .session_token = EnvOr("AWS_SESSION_TOKEN"),
          .shared_credentials_file = EnvOr("AWS_SHARED_CREDENTIALS_FILE"),
          .home = EnvOr("HOME")};
}

}  // namespace muon::cli

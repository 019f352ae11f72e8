#include "sim/credentials.h"

#include "auth/credentials_file.h"

#include <fmt/format.h>

namespace muon::sim {
Result<auth::Credentials> LoadSharedCredentials(Env* env, const std::string& path,
                                                std::string_view profile) {
  if (!env->FileExists(path)) {
    return Status::NotFound(fmt::format(
        "credentials file {} does not exist — pass --credentials DIR/admin-credentials (written "
        "by `muonpipe serve --data-dir DIR`) or set AWS_SHARED_CREDENTIALS_FILE",
        path));
  }
  auto text = env->ReadFile(path);
  if (!text.ok()) return text.status().WithContext(fmt::format("reading credentials {}", path));
  auto c = auth::ParseCredentialsFile(*text, profile);
  if (!c.ok()) {
    return Status(c.status().code(),
                  fmt::format("credentials file {}: {} — use the file `muonpipe serve` wrote "
                              "(DIR/admin-credentials)",
                              path, c.status().message()));
  }
  return c;
}

std::string DefaultCredentialsPath(std::string_view shared_credentials_file_env,
                                   std::string_view home_env) {
  if (!shared_credentials_file_env.empty()) return std::string(shared_credentials_file_env);
  return JoinPath(home_env.empty() ? "." : home_env, ".aws/credentials");
}

}  // namespace muon::sim

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

Result<auth::Credentials> ResolveCredentials(Env* env, const CredentialSources& s) {
  if (!s.credentials_file.empty()) return LoadSharedCredentials(env, s.credentials_file, s.profile);
  if (!s.access_key_id.empty() && !s.secret_access_key.empty()) {
    return auth::Credentials{s.access_key_id, s.secret_access_key, s.session_token};
  }
  if (!s.data_dir.empty()) {
    std::string admin = JoinPath(s.data_dir, "admin-credentials");
    if (env->FileExists(admin)) return LoadSharedCredentials(env, admin, "default");
  }
  return LoadSharedCredentials(env, DefaultCredentialsPath(s.shared_credentials_file, s.home),
                               s.profile);
}

}  // namespace muon::sim

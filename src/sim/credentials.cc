#include "sim/credentials.h"

#include <fmt/format.h>

namespace muon::sim {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<auth::Credentials> ParseSharedCredentials(std::string_view text, std::string_view profile) {
  auth::Credentials c;
  bool in_profile = false;
  bool found = false;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = Trim(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_profile = Trim(line.substr(1, line.size() - 2)) == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, eq));
    const std::string value(Trim(line.substr(eq + 1)));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (!found) return Status::NotFound(fmt::format("no [{}] profile", profile));
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(fmt::format(
        "profile [{}] lacks aws_access_key_id or aws_secret_access_key", profile));
  }
  return c;
}

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
  auto c = ParseSharedCredentials(*text, profile);
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

#include "auth/credentials_file.h"

#include <sodium.h>


#include <fmt/format.h>

namespace muon::auth {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string RandomChars(const char* alphabet, size_t alphabet_len, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(alphabet[randombytes_uniform(static_cast<uint32_t>(alphabet_len))]);
  }
  return out;
}

}  // namespace

Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile) {
  Credentials c;
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

Result<Credentials> ReadCredentialsFile(Env* env, const std::string& path,
                                        const std::string& profile) {
  MUON_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  auto c = ParseCredentialsFile(text, profile);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

std::string FormatCredentialsFile(const Credentials& c, const std::string& profile) {
  std::string out = fmt::format("[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                                profile, c.access_key_id, c.secret_access_key);
  if (!c.session_token.empty()) out += fmt::format("aws_session_token = {}\n", c.session_token);
  return out;
}

Credentials GenerateAccessKey() {
  if (sodium_init() < 0) abort();  // cannot happen after a successful first call
  static constexpr char kKeyAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  static constexpr char kSecretAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  Credentials c;
  c.access_key_id = "AKIA" + RandomChars(kKeyAlphabet, 32, 16);
  c.secret_access_key = RandomChars(kSecretAlphabet, 64, 40);
  return c;
}

}  // namespace muon::auth

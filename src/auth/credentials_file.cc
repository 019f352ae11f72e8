#include "auth/credentials_file.h"

#include <sodium.h>

#include <sstream>

#include <fmt/format.h>

namespace muon::auth {
namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string RandomChars(const char* alphabet, size_t alphabet_len, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(alphabet[randombytes_uniform(static_cast<uint32_t>(alphabet_len))]);
  }
  return out;
}

}  // namespace

Result<Credentials> ReadCredentialsFile(Env* env, const std::string& path,
                                        const std::string& profile) {
  MUON_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  std::istringstream in(text);
  std::string line, section;
  Credentials c;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}: profile [{}] lacks aws_access_key_id or aws_secret_access_key", path, profile));
  }
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

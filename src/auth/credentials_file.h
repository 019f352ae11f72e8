// AWS shared-credentials files ("[default]\naws_access_key_id = ...") and the
// generation of new access keys.
#pragma once

#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::auth {

// The keys of `profile` in a file's text. NotFound names a missing profile;
// InvalidArgument a profile without both keys.
Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile);
// Reads the named profile. Errors name the file and what is missing.
Result<Credentials> ReadCredentialsFile(Env* env, const std::string& path,
                                        const std::string& profile = "default");
// The file's text for one profile.
std::string FormatCredentialsFile(const Credentials& c, const std::string& profile = "default");

// A new key pair shaped like AWS's: "AKIA" + 16 characters [A-Z2-7], and a
// 40-character secret, from the operating system's CSPRNG.
Credentials GenerateAccessKey();

}  // namespace muon::auth

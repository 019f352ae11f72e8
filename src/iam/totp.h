// Time-based one-time passwords for virtual MFA devices (RFC 6238 over RFC
// 4226, computed by liboath), their enrolment artefacts (Base32 seed,
// otpauth:// URI, QR code as PNG and as terminal text) and single-use
// recovery codes.
//
// Parameters are AWS's and every authenticator app's: HMAC-SHA1, 6 digits,
// 30-second steps from the Unix epoch, and one step of clock drift either way.
//
// Replay: a device remembers the last time step at which it accepted a code.
// A code is accepted only for a step later than that one, so each code works
// once, and an older code still inside the drift window is refused after a
// newer one was used. The functions here are pure: the caller stores the new
// step with the device and must do so atomically (compare-and-set on the old
// value), or two concurrent requests could both spend the same code.
//
// Time comes only from the Clock passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace muon::iam {

inline constexpr int kTotpDigits = 6;
inline constexpr int kTotpStepSeconds = 30;
inline constexpr int kTotpDriftSteps = 1;
inline constexpr size_t kTotpSecretBytes = 20;

enum class TotpHash { kSha1, kSha256, kSha512 };

// 20 random bytes from libsodium's randombytes_buf.
std::string NewTotpSecret();

// RFC 4648 Base32, upper case, without padding (what authenticator apps and
// IAM's Base32StringSeed show).
std::string Base32Encode(std::string_view bytes);
// Accepts upper or lower case, with or without padding, ignoring spaces.
std::optional<std::string> Base32Decode(std::string_view text);

// otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
// with issuer and account percent-encoded.
std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view secret);

// The HOTP value of `counter` (RFC 4226).
Result<std::string> HotpCode(std::string_view secret, uint64_t counter, int digits = kTotpDigits);

// The TOTP value at `unix_seconds` (RFC 6238, T0 = 0).
Result<std::string> TotpCode(std::string_view secret, int64_t unix_seconds,
                             int digits = kTotpDigits, TotpHash hash = TotpHash::kSha1);

// The time step containing `unix_seconds`.
int64_t TotpStep(int64_t unix_seconds);

enum class TotpOutcome {
  kAccepted,
  kInvalid,   // no step within the drift window has this code (or malformed)
  kReplayed,  // the code is right but its step is not after the last accepted
};

struct TotpVerdict {
  TotpOutcome outcome = TotpOutcome::kInvalid;
  // For kAccepted: the step to store as the device's new last accepted step.
  int64_t step = 0;
};

// Checks a 6-digit `code` for `secret` at clock time, against steps
// now-1, now, now+1. `last_accepted_step` is the device's stored value (-1
// when it never accepted a code). Comparisons are constant-time.
TotpVerdict VerifyTotp(std::string_view secret, std::string_view code, int64_t last_accepted_step,
                       const Clock& clock);

// Enrolment (IAM EnableMFADevice): two codes of consecutive steps, the second
// no later than now+1 and the first no earlier than now-2. On kAccepted,
// `step` is the second code's step.
TotpVerdict VerifyConsecutiveTotp(std::string_view secret, std::string_view code1,
                                  std::string_view code2, const Clock& clock);

// Ten single-use recovery codes.
//
// Each code is 16 characters from the alphabet 0-9 A-Z without I, L, O, U
// (Crockford's Base32: 80 random bits), shown as XXXX-XXXX-XXXX-XXXX. Only
// hashes are kept: BLAKE2b-256 (libsodium crypto_generichash) keyed with a
// random 32-byte salt per set. Why not Argon2id (crypto_pwhash_str): a slow
// hash protects guessable secrets, and these are 80-bit random values that no
// search can reach, while checking one attempt means trying up to ten stored
// hashes, i.e. ten Argon2id runs per attempt, a CPU cost any caller could
// impose. The salt makes equal codes hash differently across sets.
// Input is normalised before hashing: case, spaces and dashes do not matter,
// and the look-alikes O->0, I and L->1 are mapped as Crockford specifies.
struct RecoveryCodeSet {
  std::string salt;                 // 32 bytes
  std::vector<std::string> hashes;  // 32 bytes each; empty once used
  int remaining() const;

  // "v1:" base64(salt) ":" then the hashes in base64, comma-separated, a used
  // one as "-". For storage beside the MFA device.
  std::string Serialize() const;
  static Result<RecoveryCodeSet> Parse(std::string_view text);
};

struct NewRecoveryCodes {
  std::vector<std::string> codes;  // show once, then forget
  RecoveryCodeSet stored;
};

inline constexpr int kRecoveryCodeCount = 10;

NewRecoveryCodes GenerateRecoveryCodes();

// Consumes `code` if it is one of the set's unused codes: returns true and
// clears its hash. Constant-time in which code matched.
bool RedeemRecoveryCode(RecoveryCodeSet* set, std::string_view code);

// QR code of `text` (error correction level M) as a PNG: 1-bit grayscale,
// `scale` pixels a module, a 4-module quiet zone. Written with zlib.
Result<std::string> QrPng(std::string_view text, int scale = 6);

// The same QR code as terminal text: each character is two modules stacked
// (Unicode half blocks), light modules drawn as ink, for light-on-dark
// terminals (as `qrencode -t UTF8` does), with the quiet zone. Lines end in
// '\n'.
Result<std::string> QrTerminal(std::string_view text);

// The module matrix libqrencode produced (true = dark), without quiet zone.
// Exposed so tests can check the renderings against it.
Result<std::vector<std::vector<bool>>> QrMatrix(std::string_view text);

}  // namespace muon::iam

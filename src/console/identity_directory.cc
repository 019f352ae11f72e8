#include "console/identity_directory.h"

namespace muon::console {
namespace {

class IdentityStoreDirectory final : public Directory {
 public:
  explicit IdentityStoreDirectory(identity::IdentityStore* store) : store_(store) {}

  Status VerifyPassword(std::string_view user, std::string_view password) override {
    return store_->VerifyPassword(user, password);
  }
  Result<bool> HasMfa(std::string_view user) override {
    auto devices = store_->ListMfaDevices(user);
    if (!devices.ok()) return devices.status();
    for (const identity::MfaDevice& d : *devices) {
      if (d.enable_date) return true;
    }
    return false;
  }
  Status VerifyMfaCode(std::string_view user, std::string_view code) override {
    return store_->VerifyMfaCode(user, "", code);
  }
  Status RedeemRecoveryCode(std::string_view user, std::string_view code) override {
    return store_->RedeemRecoveryCode(user, code);
  }
  Result<std::string> UserArn(std::string_view user) override {
    auto u = store_->GetUser(user);
    if (!u.ok()) return u.status();
    return u->arn;
  }
  Result<bool> PasswordResetRequired(std::string_view user) override {
    auto profile = store_->GetLoginProfile(user);
    if (!profile.ok()) return profile.status();
    return profile->password_reset_required;
  }
  Status ChangePassword(std::string_view user, std::string_view old_password,
                        std::string_view new_password) override {
    return store_->ChangePassword(user, old_password, new_password);
  }

 private:
  identity::IdentityStore* const store_;
};

}  // namespace

std::unique_ptr<Directory> NewIdentityStoreDirectory(identity::IdentityStore* store) {
  return std::make_unique<IdentityStoreDirectory>(store);
}

}  // namespace muon::console

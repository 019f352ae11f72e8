// A CredentialStore holding a fixed set of keys (the bootstrap administrator
// from DIR/admin-credentials, or test keys). Immutable after construction.
#pragma once

#include <map>
#include <string>

#include "auth/sigv4.h"

namespace muon::auth {

class StaticCredentialStore final : public CredentialStore {
 public:
  void Add(Credentials c, std::string principal_arn) {
    std::string id = c.access_key_id;
    keys_[std::move(id)] = {std::move(c), std::move(principal_arn)};
  }
  std::optional<Credentials> Lookup(std::string_view access_key_id) const override {
    auto it = keys_.find(std::string(access_key_id));
    if (it == keys_.end()) return std::nullopt;
    return it->second.first;
  }
  std::string PrincipalOf(std::string_view access_key_id) const {
    auto it = keys_.find(std::string(access_key_id));
    return it == keys_.end() ? std::string() : it->second.second;
  }

 private:
  std::map<std::string, std::pair<Credentials, std::string>> keys_;
};

}  // namespace muon::auth

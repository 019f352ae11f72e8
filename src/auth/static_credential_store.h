// A fixed set of keys and their principals (test keys, tools), as both the
// CredentialStore SigV4 checks and the Identities an edge authenticates
// with. Every key is long-term. Not thread-safe while keys are added; after
// that, read-only and safe from any thread.
#pragma once

#include <map>
#include <string>

#include "auth/identities.h"
#include "auth/sigv4.h"

namespace muon::auth {

class StaticCredentialStore final : public CredentialStore, public Identities {
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

  const CredentialStore& credentials() const override { return *this; }
  std::optional<KeyOwner> OwnerOf(std::string_view access_key_id) const override {
    auto it = keys_.find(std::string(access_key_id));
    if (it == keys_.end()) return std::nullopt;
    return KeyOwner{it->second.second, !it->second.first.session_token.empty(), std::nullopt};
  }

 private:
  std::map<std::string, std::pair<Credentials, std::string>> keys_;
};

}  // namespace muon::auth

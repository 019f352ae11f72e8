// The one authorisation point. Every API edge (Kinesis, Firehose, S3, the
// registry, IAM, STS, admin endpoints) asks it before acting, with an action
// ("kinesis:PutRecords") and a resource ARN. Policy evaluation lives behind
// this interface (the iam component); API code never decides access itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace muon::auth {

// Who is calling and how; filled in by the edge after authentication.
struct Caller {
  std::string access_key_id;
  std::string principal_arn;  // e.g. arn:aws:iam::000000000000:user/admin
  std::string source_ip;
  std::string user_agent;
  bool secure_transport = false;
  // Temporary credentials (an STS session or a console sign-in) record
  // whether a second factor was used to obtain them and when (Unix seconds).
  // Long-term access keys carry neither, so aws:MultiFactorAuthPresent is
  // absent from their requests, as on AWS.
  bool temporary_credentials = false;
  std::optional<int64_t> mfa_authenticated_at;
  // When temporary credentials were issued (Unix seconds), when known.
  std::optional<int64_t> session_created_at;
  // The request's id as its response carries it, and the region the edge
  // serves: what an audit record needs to name the call.
  std::string request_id;
  std::string region;
};

// Service-specific condition keys of one request ("s3:prefix", "kinesis:..."),
// in the order given; a key may repeat to carry several values. Keys in the
// aws: namespace are the Authorizer's to set and are ignored here.
using RequestKeys = std::vector<std::pair<std::string, std::string>>;

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // OK to proceed, or PermissionDenied with a message safe to show the caller.
  // Thread-safe.
  virtual Status Authorize(const Caller& caller, std::string_view action,
                           std::string_view resource) const = 0;
  // The same with the request's service-specific condition keys. Authorizers
  // that use no condition keys need not override it.
  virtual Status Authorize(const Caller& caller, std::string_view action, std::string_view resource,
                           const RequestKeys& keys) const {
    return Authorize(caller, action, resource);
  }
};

// Allows every authenticated caller: the bootstrap policy while the only
// identity is the administrator.
class AllowAllAuthorizer final : public Authorizer {
 public:
  using Authorizer::Authorize;
  Status Authorize(const Caller&, std::string_view, std::string_view) const override {
    return Status::Ok();
  }
};

// Lets requests signed with one long-term key through without asking, and
// asks `inner` about every other request. The key is the bootstrap
// administrator's (DATA_DIR/admin-credentials): the account's break-glass
// credential, which, like an AWS account's root user, policies do not bind.
// Temporary credentials obtained with it are not exempt.
class BootstrapKeyAuthorizer final : public Authorizer {
 public:
  // `inner` must outlive this.
  BootstrapKeyAuthorizer(const Authorizer* inner, std::string bootstrap_access_key_id)
      : inner_(inner), key_(std::move(bootstrap_access_key_id)) {}
  Status Authorize(const Caller& caller, std::string_view action,
                   std::string_view resource) const override {
    return Authorize(caller, action, resource, {});
  }
  Status Authorize(const Caller& caller, std::string_view action, std::string_view resource,
                   const RequestKeys& keys) const override {
    if (!key_.empty() && !caller.temporary_credentials && caller.access_key_id == key_) {
      return Status::Ok();
    }
    return inner_->Authorize(caller, action, resource, keys);
  }

 private:
  const Authorizer* const inner_;
  const std::string key_;
};

}  // namespace muon::auth

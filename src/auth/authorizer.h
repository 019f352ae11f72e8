// The one authorisation point. Every API edge (Kinesis, Firehose, S3, the
// registry, IAM, STS, admin endpoints) asks it before acting, with an action
// ("kinesis:PutRecords") and a resource ARN. Policy evaluation lives behind
// this interface (the iam component); API code never decides access itself.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace muon::auth {

// Who is calling and how; filled in by the edge after authentication.
struct Caller {
  std::string access_key_id;
  std::string principal_arn;  // e.g. arn:aws:iam::000000000000:user/admin
  std::string source_ip;
  std::string user_agent;
  bool secure_transport = false;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // OK to proceed, or PermissionDenied with a message safe to show the caller.
  // Thread-safe.
  virtual Status Authorize(const Caller& caller, std::string_view action,
                           std::string_view resource) const = 0;
};

// Allows every authenticated caller: the bootstrap policy while the only
// identity is the administrator.
class AllowAllAuthorizer final : public Authorizer {
 public:
  Status Authorize(const Caller&, std::string_view, std::string_view) const override {
    return Status::Ok();
  }
};

}  // namespace muon::auth

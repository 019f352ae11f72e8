// CloudFormation for a priced design: the AWS side of a scale-out muonpipe deployment.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "plan/model.h"

namespace muon::plan {

// The five role names, each with a policy document embedded from src/iam/policies/<Name>.json.
const std::vector<std::string>& RoleNames();

// The embedded policy document for `role` as muonpipe enforces it; NotFound for other names.
Result<std::string> RolePolicyDocument(const std::string& role);

// Writes a JSON template for `design` under `profile`: the stream (Kinesis designs), the delivery
// stream (Firehose designs), the bucket with the plan's lifecycle, the registry database (not for
// self-hosted), the five roles and Firehose's own role. Policy statements that name muonpipe-only
// services (e.g. "registry:*" on arn:muonpipe:...) are left out of the AWS template: IAM does not
// know those services, and muonpipe enforces them itself.
Result<std::string> EmitCloudFormation(const DesignResult& design, const Profile& profile);

}  // namespace muon::plan

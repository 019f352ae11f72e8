#include "audit/event.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "base/json_writer.h"

namespace muon::audit {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void Pairs(JsonWriter& w, std::string_view key,
           const std::vector<std::pair<std::string, std::string>>& pairs) {
  w.Key(key);
  w.BeginObject();
  for (const auto& [k, v] : pairs) {
    w.Key(k);
    w.String(v);
  }
  w.EndObject();
}

// The ARN's fields: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE.
struct ArnParts {
  std::string_view service, region, account, resource;
};
std::optional<ArnParts> SplitArn(std::string_view arn) {
  if (!StartsWith(arn, "arn:")) return std::nullopt;
  std::string_view f[6];
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    size_t colon = arn.find(':', start);
    if (colon == arn.npos) return std::nullopt;
    f[i] = arn.substr(start, colon - start);
    start = colon + 1;
  }
  f[5] = arn.substr(start);
  return ArnParts{f[2], f[3], f[4], f[5]};
}

}  // namespace

std::string IsoTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[80];  // room for any int fields, so the format is never cut
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<int64_t> ParseIsoTime(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  struct tm tm = {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string EventSourceOf(std::string_view service) {
  if (service == "registry" || service == "muonpipe") return "registry.muonpipe";
  if (service == "admin") return "admin.muonpipe";
  if (service == "console" || service == "signin") return "signin.amazonaws.com";
  return std::string(service) + ".amazonaws.com";
}

bool IsReadOnly(std::string_view name) {
  for (std::string_view p : {"Get", "List", "Describe", "Head", "Lookup", "Export"}) {
    if (StartsWith(name, p)) return true;
  }
  return false;
}

std::string ResourceTypeOf(std::string_view arn) {
  auto a = SplitArn(arn);
  if (!a) return "";
  if (a->service == "s3") {
    return a->resource.find('/') == a->resource.npos ? "AWS::S3::Bucket" : "AWS::S3::Object";
  }
  if (a->service == "kinesis") return "AWS::Kinesis::Stream";
  if (a->service == "firehose") return "AWS::KinesisFirehose::DeliveryStream";
  if (a->service == "registry") {
    std::string_view kind = a->resource.substr(0, a->resource.find('/'));
    if (kind == "site") return "Muonpipe::Registry::Site";
    if (kind == "detector") return "Muonpipe::Registry::Detector";
    if (kind == "deployment") return "Muonpipe::Registry::Deployment";
    return "Muonpipe::Registry::Registry";
  }
  if (a->service == "admin") return "Muonpipe::Admin::Endpoint";
  if (a->service == "iam") {
    std::string_view kind = a->resource.substr(0, a->resource.find('/'));
    if (kind == "user") return "AWS::IAM::User";
    if (kind == "role") return "AWS::IAM::Role";
    if (kind == "group") return "AWS::IAM::Group";
    if (kind == "policy") return "AWS::IAM::Policy";
    if (kind == "mfa") return "AWS::IAM::MFADevice";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> RequestParametersOf(std::string_view arn) {
  auto a = SplitArn(arn);
  if (!a) return arn.empty() ? std::vector<std::pair<std::string, std::string>>{}
                             : std::vector<std::pair<std::string, std::string>>{
                                   {"resource", std::string(arn)}};
  if (a->service == "s3") {
    size_t slash = a->resource.find('/');
    if (slash == a->resource.npos) return {{"bucketName", std::string(a->resource)}};
    return {{"bucketName", std::string(a->resource.substr(0, slash))},
            {"key", std::string(a->resource.substr(slash + 1))}};
  }
  if (a->service == "kinesis" && StartsWith(a->resource, "stream/")) {
    return {{"streamName", std::string(a->resource.substr(7))}};
  }
  if (a->service == "firehose" && StartsWith(a->resource, "deliverystream/")) {
    return {{"deliveryStreamName", std::string(a->resource.substr(15))}};
  }
  return {{"resource", std::string(arn)}};
}

UserIdentity IdentityOf(const auth::Caller& caller, const IdentityOptions& options) {
  UserIdentity u;
  u.arn = caller.principal_arn;
  u.access_key_id = caller.access_key_id;
  u.account_id = options.account_id;
  u.temporary = caller.temporary_credentials;
  u.mfa_authenticated = caller.mfa_authenticated_at.has_value();
  u.creation_date = caller.session_created_at;
  u.type = "Unknown";
  if (auto a = SplitArn(caller.principal_arn)) {
    if (!a->account.empty()) u.account_id = std::string(a->account);
    std::string_view r = a->resource;
    if (a->service == "iam" && StartsWith(r, "user/")) {
      u.type = "IAMUser";
      u.user_name = std::string(r.substr(r.rfind('/') + 1));
    } else if (a->service == "sts" && StartsWith(r, "assumed-role/")) {
      u.type = "AssumedRole";
      std::string_view rest = r.substr(13);
      size_t slash = rest.rfind('/');
      std::string_view role = rest.substr(0, slash);
      u.session_issuer_name = std::string(role.substr(role.rfind('/') + 1));
      u.session_issuer_arn = "arn:aws:iam::" + u.account_id + ":role/" + std::string(role);
      u.temporary = true;
    } else if (a->service == "iam" && r == "root") {
      u.type = "Root";
    }
  }
  if (std::find(options.root_arns.begin(), options.root_arns.end(), caller.principal_arn) !=
      options.root_arns.end()) {
    u.type = "Root";
  }
  if (options.principal_id_of && !caller.principal_arn.empty()) {
    u.principal_id = options.principal_id_of(caller.principal_arn);
  }
  if (u.principal_id.empty()) u.principal_id = caller.access_key_id;
  return u;
}

std::string UsernameOf(const UserIdentity& user) {
  if (!user.user_name.empty()) return user.user_name;
  if (user.type == "AssumedRole") return user.arn.substr(user.arn.rfind('/') + 1);
  return "";
}

std::string ToJson(const Event& e) {
  std::string out;
  out.reserve(768);
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("eventVersion");
  w.String(kEventVersion);
  w.Key("userIdentity");
  w.BeginObject();
  w.Key("type");
  w.String(e.user.type);
  if (!e.user.principal_id.empty()) {
    w.Key("principalId");
    w.String(e.user.principal_id);
  }
  if (!e.user.arn.empty()) {
    w.Key("arn");
    w.String(e.user.arn);
  }
  w.Key("accountId");
  w.String(e.user.account_id);
  if (!e.user.access_key_id.empty()) {
    w.Key("accessKeyId");
    w.String(e.user.access_key_id);
  }
  if (!e.user.user_name.empty()) {
    w.Key("userName");
    w.String(e.user.user_name);
  }
  if (e.user.type != "Unknown") {
    w.Key("sessionContext");
    w.BeginObject();
    if (!e.user.session_issuer_arn.empty()) {
      w.Key("sessionIssuer");
      w.BeginObject();
      w.Key("type");
      w.String("Role");
      w.Key("arn");
      w.String(e.user.session_issuer_arn);
      w.Key("accountId");
      w.String(e.user.account_id);
      w.Key("userName");
      w.String(e.user.session_issuer_name);
      w.EndObject();
    }
    w.Key("attributes");
    w.BeginObject();
    w.Key("mfaAuthenticated");
    w.String(e.user.mfa_authenticated ? "true" : "false");
    if (e.user.temporary && e.user.creation_date) {
      w.Key("creationDate");
      w.String(IsoTime(*e.user.creation_date));
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.Key("eventTime");
  w.String(IsoTime(e.event_time_nanos / 1'000'000'000));
  w.Key("eventSource");
  w.String(e.event_source);
  w.Key("eventName");
  w.String(e.event_name);
  w.Key("awsRegion");
  w.String(e.region);
  w.Key("sourceIPAddress");
  w.String(e.source_ip);
  w.Key("userAgent");
  w.String(e.user_agent);
  if (!e.error_code.empty()) {
    w.Key("errorCode");
    w.String(e.error_code);
  }
  if (!e.error_message.empty()) {
    w.Key("errorMessage");
    w.String(e.error_message);
  }
  if (e.request_parameters.empty()) {
    w.Key("requestParameters");
    w.Raw("null");
  } else {
    Pairs(w, "requestParameters", e.request_parameters);
  }
  if (e.response_elements.empty()) {
    w.Key("responseElements");
    w.Raw("null");
  } else {
    Pairs(w, "responseElements", e.response_elements);
  }
  if (!e.additional_event_data.empty()) Pairs(w, "additionalEventData", e.additional_event_data);
  w.Key("requestID");
  w.String(e.request_id);
  w.Key("eventID");
  w.String(e.event_id);
  w.Key("readOnly");
  w.Bool(e.read_only);
  if (!e.resources.empty()) {
    w.Key("resources");
    w.BeginArray();
    for (const Resource& r : e.resources) {
      w.BeginObject();
      w.Key("accountId");
      w.String(e.user.account_id);
      w.Key("type");
      w.String(r.type);
      w.Key("ARN");
      w.String(r.arn);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("eventType");
  w.String(e.event_type);
  w.Key("managementEvent");
  w.Bool(e.event_type == kConsoleSignIn || e.event_source != "s3.amazonaws.com" ||
         e.event_name.find("Object") == std::string::npos);
  w.Key("recipientAccountId");
  w.String(e.user.account_id);
  w.EndObject();
  return out;
}

}  // namespace muon::audit

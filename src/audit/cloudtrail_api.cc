#include "audit/cloudtrail_api.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/reader.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "kinesis/api_error.h"

namespace muon::audit {
namespace {

using Json = nlohmann::json;
using kinesis::ApiError;

std::pair<int, std::string> Error(std::string type, std::string message) {
  ApiError e{std::move(type), std::move(message)};
  return {e.http_status, e.ToJson()};
}

// A JSON 1.1 timestamp: epoch seconds (botocore sends a number), or ISO 8601.
std::optional<int64_t> TimeOf(const Json& j) {
  if (j.is_number()) return static_cast<int64_t>(std::floor(j.get<double>()));
  if (j.is_string()) return ParseIsoTime(j.get<std::string>());
  return std::nullopt;
}

std::pair<int, std::string> LookupEventsCall(const CloudTrailApi& api, std::string_view body) {
  Json req = body.empty() ? Json::object()
                          : Json::parse(body.begin(), body.end(), nullptr, false);
  if (!req.is_object()) return Error("SerializationException", "The request body is not JSON.");
  Filter filter;
  for (const char* key : {"StartTime", "EndTime"}) {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) continue;
    auto t = TimeOf(*it);
    if (!t) {
      return Error("SerializationException",
                   fmt::format("{} must be a timestamp (epoch seconds or ISO 8601).", key));
    }
    (std::string_view(key) == "StartTime" ? filter.start_time : filter.end_time) = *t;
  }
  if (filter.start_time && filter.end_time && *filter.start_time > *filter.end_time) {
    return Error("InvalidTimeRangeException",
                 "Occurs if the timestamp values are invalid. Either the start time occurs after "
                 "the end time or the time range is outside the range of possible values.");
  }
  if (auto it = req.find("LookupAttributes"); it != req.end() && !it->is_null()) {
    if (!it->is_array()) {
      return Error("InvalidLookupAttributesException", "LookupAttributes must be a list.");
    }
    for (const Json& a : *it) {
      auto k = a.is_object() ? a.find("AttributeKey") : a.end();
      auto v = a.is_object() ? a.find("AttributeValue") : a.end();
      if (k == a.end() || v == a.end() || !k->is_string() || !v->is_string() ||
          !IsLookupAttributeKey(k->get<std::string>())) {
        return Error("InvalidLookupAttributesException",
                     "Each lookup attribute needs an AttributeKey (EventId, EventName, ReadOnly, "
                     "Username, ResourceType, ResourceName, EventSource or AccessKeyId) and an "
                     "AttributeValue.");
      }
      filter.attributes.emplace_back(k->get<std::string>(), v->get<std::string>());
    }
  }
  if (auto it = req.find("EventCategory"); it != req.end() && !it->is_null()) {
    return Error("InvalidEventCategoryException",
                 "This endpoint records no Insights events; omit EventCategory.");
  }
  int max_results = 50;
  if (auto it = req.find("MaxResults"); it != req.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 50) {
      return Error("InvalidMaxResultsException", "MaxResults must be 1 to 50.");
    }
    max_results = static_cast<int>(it->get<int64_t>());
  }
  std::string token;
  if (auto it = req.find("NextToken"); it != req.end() && it->is_string()) {
    token = it->get<std::string>();
  }
  if (api.log) {
    if (Status s = api.log->Flush(); !s.ok()) log::warn("audit log flush: {}", s.ToString());
  }
  auto page = LookupEvents(api.env, api.dir, filter, max_results, token);
  if (!page.ok()) {
    if (page.status().code() == StatusCode::kInvalidArgument) {
      return Error("InvalidNextTokenException", std::string(page.status().message()));
    }
    log::error("cloudtrail: LookupEvents: {}", page.status().ToString());
    ApiError e = ApiError::InternalFailure("The audit log could not be read.");
    return {e.http_status, e.ToJson()};
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("Events");
  w.BeginArray();
  for (const StoredEvent& e : page->events) {
    w.BeginObject();
    w.Key("EventId");
    w.String(e.event_id);
    w.Key("EventName");
    w.String(e.event_name);
    w.Key("ReadOnly");
    w.String(e.read_only ? "true" : "false");
    if (!e.access_key_id.empty()) {
      w.Key("AccessKeyId");
      w.String(e.access_key_id);
    }
    w.Key("EventTime");
    w.Int(e.event_time);
    w.Key("EventSource");
    w.String(e.event_source);
    if (!e.username.empty()) {
      w.Key("Username");
      w.String(e.username);
    }
    w.Key("Resources");
    w.BeginArray();
    for (const Resource& r : e.resources) {
      w.BeginObject();
      w.Key("ResourceType");
      w.String(r.type);
      w.Key("ResourceName");
      w.String(r.arn);
      w.EndObject();
    }
    w.EndArray();
    w.Key("CloudTrailEvent");
    w.String(e.json);
    w.EndObject();
  }
  w.EndArray();
  if (!page->next_token.empty()) {
    w.Key("NextToken");
    w.String(page->next_token);
  }
  w.EndObject();
  return {200, std::move(out)};
}

}  // namespace

bool IsCloudTrailRequest(const http::Request& request) {
  return request.Header("X-Amz-Target").substr(0, kCloudTrailTargetPrefix.size()) ==
         kCloudTrailTargetPrefix;
}

std::pair<int, std::string> CallCloudTrail(const CloudTrailApi& api, std::string_view operation,
                                           std::string_view body, const auth::Caller& caller) {
  if (operation != "LookupEvents") {
    return Error("UnknownOperationException",
                 fmt::format("This endpoint serves CloudTrail LookupEvents only, not {}.",
                             operation));
  }
  if (Status s = api.authorizer->Authorize(caller, "cloudtrail:LookupEvents", "*"); !s.ok()) {
    return Error("AccessDeniedException", s.message().empty()
                                              ? "User is not authorized to perform "
                                                "cloudtrail:LookupEvents"
                                              : std::string(s.message()));
  }
  return LookupEventsCall(api, body);
}

void ServeCloudTrail(const CloudTrailApi& api, const auth::Identities* identities,
                     const Clock* clock, const kinesis::EdgeOptions& options,
                     http::Request&& request, http::Responder respond) {
  kinesis::ServeJson11({"CloudTrail", "cloudtrail", kCloudTrailTargetPrefix}, identities, clock,
                       options, std::move(request), std::move(respond),
                       [&api](std::string_view op, std::string body, const auth::Caller& caller,
                              kinesis::Reply reply) {
                         auto [status, out] = CallCloudTrail(api, op, body, caller);
                         reply(status, std::move(out));
                       });
}

}  // namespace muon::audit

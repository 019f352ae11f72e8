#include "s3api/lifecycle.h"

#include <ctime>
#include <sstream>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "s3api/s3_util.h"

namespace muon::s3api {
namespace {

constexpr int64_t kDayMs = 86'400'000;

std::optional<uint64_t> ParseUint(const char* s) {
  std::string_view v(s);
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t out = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out;
}

}  // namespace

Result<std::vector<LifecycleRule>> ParseLifecycleXml(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return Status::InvalidArgument("MalformedXML: the lifecycle configuration is not XML");
  }
  pugi::xml_node root = doc.child("LifecycleConfiguration");
  if (!root) return Status::InvalidArgument("MalformedXML: no LifecycleConfiguration element");
  std::vector<LifecycleRule> rules;
  for (pugi::xml_node r : root.children("Rule")) {
    LifecycleRule rule;
    rule.id = r.child_value("ID");
    std::string status = r.child_value("Status");
    if (status != "Enabled" && status != "Disabled") {
      return Status::InvalidArgument("MalformedXML: Rule.Status must be Enabled or Disabled");
    }
    rule.enabled = status == "Enabled";
    if (r.child("Prefix")) rule.prefix = r.child_value("Prefix");
    if (pugi::xml_node f = r.child("Filter")) {
      pugi::xml_node conds = f.child("And") ? f.child("And") : f;
      if (conds.child("Tag")) {
        return Status::InvalidArgument("lifecycle filters on tags are not supported");
      }
      if (conds.child("Prefix")) rule.prefix = conds.child_value("Prefix");
      if (conds.child("ObjectSizeGreaterThan")) {
        rule.size_greater_than = ParseUint(conds.child_value("ObjectSizeGreaterThan"));
        if (!rule.size_greater_than) return Status::InvalidArgument("bad ObjectSizeGreaterThan");
      }
      if (conds.child("ObjectSizeLessThan")) {
        rule.size_less_than = ParseUint(conds.child_value("ObjectSizeLessThan"));
        if (!rule.size_less_than) return Status::InvalidArgument("bad ObjectSizeLessThan");
      }
    }
    if (r.child("Transition") || r.child("NoncurrentVersionTransition")) {
      return Status::InvalidArgument("lifecycle transitions are not supported (one storage class)");
    }
    if (pugi::xml_node e = r.child("Expiration")) {
      if (e.child("Days")) {
        auto d = ParseUint(e.child_value("Days"));
        if (!d || *d == 0 || *d > 1'000'000) {
          return Status::InvalidArgument("Expiration.Days must be a positive integer");
        }
        rule.expiration_days = static_cast<int>(*d);
      } else if (e.child("Date")) {
        auto t = ParseHttpDate(e.child_value("Date"));
        if (!t || *t % 86400 != 0) {
          return Status::InvalidArgument("Expiration.Date must be midnight UTC (ISO 8601)");
        }
        rule.expiration_date_ms = *t * 1000;
      } else if (!e.child("ExpiredObjectDeleteMarker")) {
        return Status::InvalidArgument("MalformedXML: Expiration needs Days or Date");
      }
    }
    if (pugi::xml_node a = r.child("AbortIncompleteMultipartUpload")) {
      auto d = ParseUint(a.child_value("DaysAfterInitiation"));
      if (!d || *d == 0 || *d > 1'000'000) {
        return Status::InvalidArgument("DaysAfterInitiation must be a positive integer");
      }
      rule.abort_incomplete_days = static_cast<int>(*d);
    }
    if (!rule.expiration_days && !rule.expiration_date_ms && !rule.abort_incomplete_days &&
        !r.child("NoncurrentVersionExpiration") && !r.child("Expiration")) {
      return Status::InvalidArgument("MalformedXML: a rule needs at least one action");
    }
    rules.push_back(std::move(rule));
  }
  if (rules.empty()) return Status::InvalidArgument("MalformedXML: no Rule");
  if (rules.size() > 1000) return Status::InvalidArgument("at most 1000 rules");
  return rules;
}

std::string LifecycleXml(const std::vector<LifecycleRule>& rules) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = doc.append_child("LifecycleConfiguration");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const LifecycleRule& r : rules) {
    auto n = root.append_child("Rule");
    if (!r.id.empty()) n.append_child("ID").text() = r.id.c_str();
    auto filter = n.append_child("Filter");
    bool sized = r.size_greater_than || r.size_less_than;
    auto conds = sized ? filter.append_child("And") : filter;
    conds.append_child("Prefix").text() = r.prefix.c_str();
    if (r.size_greater_than) {
      conds.append_child("ObjectSizeGreaterThan").text() =
          std::to_string(*r.size_greater_than).c_str();
    }
    if (r.size_less_than) {
      conds.append_child("ObjectSizeLessThan").text() = std::to_string(*r.size_less_than).c_str();
    }
    n.append_child("Status").text() = r.enabled ? "Enabled" : "Disabled";
    if (r.expiration_days || r.expiration_date_ms) {
      auto e = n.append_child("Expiration");
      if (r.expiration_days) e.append_child("Days").text() = *r.expiration_days;
      if (r.expiration_date_ms) {
        e.append_child("Date").text() =
            (IsoTime(*r.expiration_date_ms).substr(0, 19) + ".000Z").c_str();
      }
    }
    if (r.abort_incomplete_days) {
      n.append_child("AbortIncompleteMultipartUpload").append_child("DaysAfterInitiation").text() =
          *r.abort_incomplete_days;
    }
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

int64_t ExpiryForDays(int64_t last_modified_ms, int days) {
  int64_t t = last_modified_ms + static_cast<int64_t>(days) * kDayMs;
  return (t + kDayMs - 1) / kDayMs * kDayMs;
}

bool RuleExpires(const LifecycleRule& rule, const objectstore::ObjectMeta& meta, int64_t now_ms) {
  if (!rule.enabled) return false;
  if (meta.key.compare(0, rule.prefix.size(), rule.prefix) != 0) return false;
  if (rule.size_greater_than && !(meta.size > *rule.size_greater_than)) return false;
  if (rule.size_less_than && !(meta.size < *rule.size_less_than)) return false;
  if (rule.expiration_days && now_ms >= ExpiryForDays(meta.last_modified_ms, *rule.expiration_days)) {
    return true;
  }
  return rule.expiration_date_ms && now_ms >= *rule.expiration_date_ms;
}

Result<std::unique_ptr<LifecycleStore>> LifecycleStore::Open(const std::string& dir, Env* env) {
  MUON_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<LifecycleStore> store(new LifecycleStore(dir, env));
  MUON_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  for (const std::string& name : names) {
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".xml") != 0) continue;
    MUON_ASSIGN_OR_RETURN(std::string xml, env->ReadFile(JoinPath(dir, name)));
    auto rules = ParseLifecycleXml(xml);
    if (!rules.ok()) return rules.status().WithContext(JoinPath(dir, name));
    store->rules_[name.substr(0, name.size() - 4)] = std::move(rules).value();
  }
  return store;
}

Status LifecycleStore::Put(std::string_view bucket, const std::vector<LifecycleRule>& rules) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(
      env_->WriteFileAtomic(JoinPath(dir_, std::string(bucket) + ".xml"), LifecycleXml(rules)));
  rules_[std::string(bucket)] = rules;
  return Status::Ok();
}

Result<std::vector<LifecycleRule>> LifecycleStore::Get(std::string_view bucket) {
  std::lock_guard lock(mu_);
  auto it = rules_.find(bucket);
  if (it == rules_.end()) {
    return Status::NotFound(fmt::format("bucket '{}' has no lifecycle configuration", bucket));
  }
  return it->second;
}

Status LifecycleStore::Delete(std::string_view bucket) {
  std::lock_guard lock(mu_);
  auto it = rules_.find(bucket);
  if (it == rules_.end()) return Status::Ok();
  std::string path = JoinPath(dir_, std::string(bucket) + ".xml");
  MUON_RETURN_IF_ERROR(env_->RemoveFile(path));
  MUON_RETURN_IF_ERROR(env_->SyncDir(dir_));
  rules_.erase(it);
  return Status::Ok();
}

std::map<std::string, std::vector<LifecycleRule>> LifecycleStore::All() {
  std::lock_guard lock(mu_);
  return {rules_.begin(), rules_.end()};
}

}  // namespace muon::s3api

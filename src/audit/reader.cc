#include "audit/reader.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "base/base64.h"

namespace muon::audit {
namespace {

using Json = nlohmann::json;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct FileRef {
  std::string name;
  AuditFileInfo info;
};

// The audit files of `dir` in write order; a missing directory has none.
Result<std::vector<FileRef>> ListFiles(Env* env, const std::string& dir) {
  if (!env->FileExists(dir)) return std::vector<FileRef>{};
  auto names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<FileRef> files;
  for (std::string& n : *names) {
    if (auto info = ParseAuditFileName(n)) files.push_back({std::move(n), *info});
  }
  std::sort(files.begin(), files.end(),
            [](const FileRef& a, const FileRef& b) { return a.info.seq < b.info.seq; });
  return files;
}

// Records of file i are all older than file i+1's opening, so files that
// closed before start_time hold nothing wanted.
bool ClosedBefore(const std::vector<FileRef>& files, size_t i, const Filter& filter) {
  return filter.start_time && i + 1 < files.size() &&
         files[i + 1].info.opened_at < *filter.start_time;
}

// Complete lines of `data` with their offsets; a last line without '\n' is torn.
std::vector<std::pair<uint64_t, std::string_view>> Lines(std::string_view data,
                                                         uint64_t* torn) {
  std::vector<std::pair<uint64_t, std::string_view>> out;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == data.npos) {
      ++*torn;
      break;
    }
    out.emplace_back(start, data.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string_view LastNamePart(std::string_view arn) {
  size_t slash = arn.rfind('/');
  if (slash != arn.npos) return arn.substr(slash + 1);
  size_t colon = arn.rfind(':');
  return colon == arn.npos ? arn : arn.substr(colon + 1);
}

bool AttributeMatches(const StoredEvent& e, std::string_view key, std::string_view value) {
  if (key == "EventId") return e.event_id == value;
  if (key == "EventName") return e.event_name == value;
  if (key == "ReadOnly") return (e.read_only ? "true" : "false") == value;
  if (key == "Username") return e.username == value;
  if (key == "EventSource") return e.event_source == value;
  if (key == "AccessKeyId") return e.access_key_id == value;
  if (key == "ResourceType") {
    return std::any_of(e.resources.begin(), e.resources.end(),
                       [&](const Resource& r) { return r.type == value; });
  }
  if (key == "ResourceName") {
    return std::any_of(e.resources.begin(), e.resources.end(), [&](const Resource& r) {
      if (r.arn == value) return true;
      // S3 objects: "bucket/key" names the object, as the key alone does.
      std::string_view arn = r.arn;
      if (arn.substr(0, 13) == "arn:aws:s3:::") {
        std::string_view path = arn.substr(13);
        size_t slash = path.find('/');
        if (path == value || path.substr(0, slash) == value) return true;
        return slash != path.npos && path.substr(slash + 1) == value;
      }
      return LastNamePart(arn) == value;
    });
  }
  return false;
}

std::string MakeToken(uint64_t seq, uint64_t offset) {
  return Base64Encode(fmt::format("audit1:{}:{}", seq, offset));
}

std::optional<std::pair<uint64_t, uint64_t>> ParseToken(std::string_view token) {
  auto raw = Base64Decode(token);
  if (!raw || raw->substr(0, 7) != "audit1:") return std::nullopt;
  std::string_view rest = std::string_view(*raw).substr(7);
  size_t colon = rest.find(':');
  if (colon == rest.npos) return std::nullopt;
  uint64_t seq = 0, offset = 0;
  auto a = std::from_chars(rest.data(), rest.data() + colon, seq);
  auto b = std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), offset);
  if (a.ec != std::errc() || a.ptr != rest.data() + colon || b.ec != std::errc() ||
      b.ptr != rest.data() + rest.size()) {
    return std::nullopt;
  }
  return std::make_pair(seq, offset);
}

}  // namespace

bool IsLookupAttributeKey(std::string_view key) {
  return std::find(std::begin(kLookupAttributeKeys), std::end(kLookupAttributeKeys), key) !=
         std::end(kLookupAttributeKeys);
}

std::optional<StoredEvent> ParseStoredEvent(std::string_view line) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  StoredEvent e;
  auto time = ParseIsoTime(Str(j, "eventTime"));
  if (!time) return std::nullopt;
  e.event_time = *time;
  e.event_id = Str(j, "eventID");
  e.event_name = Str(j, "eventName");
  e.event_source = Str(j, "eventSource");
  e.event_type = Str(j, "eventType");
  e.error_code = Str(j, "errorCode");
  if (auto it = j.find("readOnly"); it != j.end() && it->is_boolean()) e.read_only = it->get<bool>();
  if (auto it = j.find("userIdentity"); it != j.end() && it->is_object()) {
    UserIdentity u;
    u.type = Str(*it, "type");
    u.arn = Str(*it, "arn");
    u.user_name = Str(*it, "userName");
    e.username = UsernameOf(u);
    e.access_key_id = Str(*it, "accessKeyId");
  }
  // Console sign-in failures name the user who tried in additionalEventData.
  if (e.username.empty()) {
    if (auto it = j.find("additionalEventData"); it != j.end() && it->is_object()) {
      e.username = Str(*it, "UserName");
    }
  }
  if (auto it = j.find("resources"); it != j.end() && it->is_array()) {
    for (const Json& r : *it) {
      if (r.is_object()) e.resources.push_back({Str(r, "ARN"), Str(r, "type")});
    }
  }
  e.json = std::string(line);
  return e;
}

bool Matches(const StoredEvent& e, const Filter& f) {
  if (f.start_time && e.event_time < *f.start_time) return false;
  if (f.end_time && e.event_time > *f.end_time) return false;
  for (const auto& [k, v] : f.attributes) {
    if (!AttributeMatches(e, k, v)) return false;
  }
  return true;
}

Result<Page> LookupEvents(Env* env, const std::string& dir, const Filter& filter,
                          int max_results, std::string_view next_token) {
  std::optional<std::pair<uint64_t, uint64_t>> after;
  if (!next_token.empty()) {
    after = ParseToken(next_token);
    if (!after) return Status::InvalidArgument("the NextToken was not issued by this endpoint");
  }
  auto files = ListFiles(env, dir);
  if (!files.ok()) return files.status();
  Page page;
  size_t want = static_cast<size_t>(std::max(1, max_results));
  uint64_t last_seq = 0, last_offset = 0;
  for (size_t i = files->size(); i-- > 0;) {
    const FileRef& f = (*files)[i];
    if (after && f.info.seq > after->first) continue;
    if (ClosedBefore(*files, i, filter)) break;  // and so did every older file
    auto data = env->ReadFile(JoinPath(dir, f.name));
    if (!data.ok()) return data.status();
    auto lines = Lines(*data, &page.skipped_lines);
    for (size_t k = lines.size(); k-- > 0;) {
      auto [offset, line] = lines[k];
      if (after && f.info.seq == after->first && offset >= after->second) continue;
      auto e = ParseStoredEvent(line);
      if (!e) {
        ++page.skipped_lines;
        continue;
      }
      if (!Matches(*e, filter)) continue;
      if (page.events.size() == want) {
        page.next_token = MakeToken(last_seq, last_offset);
        return page;
      }
      page.events.push_back(std::move(*e));
      last_seq = f.info.seq;
      last_offset = offset;
    }
  }
  return page;
}

Status ScanEvents(Env* env, const std::string& dir, const Filter& filter,
                  const std::function<bool(const StoredEvent&)>& fn, uint64_t* skipped_lines) {
  auto files = ListFiles(env, dir);
  if (!files.ok()) return files.status();
  uint64_t skipped = 0;
  for (size_t i = 0; i < files->size(); ++i) {
    if (ClosedBefore(*files, i, filter)) continue;
    auto data = env->ReadFile(JoinPath(dir, (*files)[i].name));
    if (!data.ok()) return data.status();
    for (auto [offset, line] : Lines(*data, &skipped)) {
      auto e = ParseStoredEvent(line);
      if (!e) {
        ++skipped;
        continue;
      }
      if (!Matches(*e, filter)) continue;
      if (!fn(*e)) {
        if (skipped_lines) *skipped_lines = skipped;
        return Status::Ok();
      }
    }
  }
  if (skipped_lines) *skipped_lines = skipped;
  return Status::Ok();
}

}  // namespace muon::audit

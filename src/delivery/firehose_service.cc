#include "delivery/firehose_service.h"

#include <simdjson.h>

#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "delivery/config.h"
#include "delivery/delivery_stream.h"
#include "kinesis/api_error.h"

namespace muon::delivery {
namespace {

using kinesis::ApiError;
using kinesis::ValidationError;
using nlohmann::json;

constexpr int kCatalogVersion = 1;
constexpr size_t kMaxBatchRecords = 500;
constexpr size_t kMaxBatchBytes = 4 * 1024 * 1024;
constexpr size_t kMaxRecordBytes = 1000 * 1024;
constexpr std::string_view kDestinationId = "destinationId-000000000001";

ApiError ConcurrentModification(std::string m) {
  return {"ConcurrentModificationException", std::move(m)};
}
ApiError ServiceUnavailable(std::string m) {
  return {"ServiceUnavailableException", std::move(m), 503};
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

struct DeliveryStreamEntry {
  std::string name;
  std::string arn;
  uint64_t incarnation = 0;
  bool kinesis_source = false;
  std::string kinesis_arn;
  std::string kinesis_role_arn;
  int64_t created_ms = 0;
  std::map<std::string, std::string> tags;

  std::shared_ptr<streamlog::ShardLog> buffer;  // Direct PUT only
  std::unique_ptr<DeliveryStream> delivery;

  mutable std::mutex mu;
  int64_t updated_ms = 0;    // guarded by mu
  DestinationConfig config;  // guarded by mu; config.version is the VersionId

  std::string Type() const { return kinesis_source ? "KinesisStreamAsSource" : "DirectPut"; }
};

class FirehoseServiceImpl final : public FirehoseService {
 public:
  FirehoseServiceImpl(std::string dir, FirehoseOptions options, streamlog::LogStore* buffers,
                      kinesis::KinesisService* kinesis, objectstore::ObjectStore* store, Env* env,
                      Clock* clock, const auth::Authorizer* authorizer)
      : dir_(std::move(dir)),
        options_(std::move(options)),
        memory_budget_(options_.delivery_memory_bytes),
        buffers_(buffers),
        kinesis_(kinesis),
        store_(store),
        env_(env),
        clock_(clock),
        authorizer_(authorizer) {
    auto* m = MetricsRegistry::Global();
    records_in_ = m->GetCounter("muonpipe_firehose_records_in_total",
                                "Records acknowledged by PutRecord(Batch)");
    bytes_in_ = m->GetCounter("muonpipe_firehose_bytes_in_total", "Data bytes acknowledged");
  }
  ~FirehoseServiceImpl() override { Close(); }

  Status Load();

  void Call(std::string_view op, std::string body, const auth::Caller& caller,
            Reply reply) override;

  void StepAll() override {
    std::vector<std::shared_ptr<DeliveryStreamEntry>> all;
    {
      std::shared_lock lock(streams_mu_);
      for (const auto& [n, s] : streams_) all.push_back(s);
    }
    for (const auto& s : all) {
      if (s->delivery) s->delivery->Step();
    }
  }

  void Close() override {
    std::shared_lock lock(streams_mu_);
    for (const auto& [n, s] : streams_) {
      if (s->delivery) s->delivery->Stop();
    }
  }

  size_t DeliveryStreamCount() const override {
    std::shared_lock lock(streams_mu_);
    return streams_.size();
  }

 private:
  using Outcome = std::variant<std::string, ApiError>;

  std::string Arn(std::string_view name) const {
    return fmt::format("arn:aws:firehose:{}:{}:deliverystream/{}", options_.region,
                       options_.account_id, name);
  }
  std::string StateDir(const DeliveryStreamEntry& s) const {
    return JoinPath(JoinPath(dir_, "state"), fmt::format("{}-{}", s.name, s.incarnation));
  }
  std::string BufferLogId(const DeliveryStreamEntry& s) const {
    return fmt::format("{}-{}", s.name, s.incarnation);
  }

  std::optional<ApiError> Authorize(const auth::Caller& caller, std::string_view op,
                                    std::string_view resource) const {
    Status s = authorizer_->Authorize(caller, fmt::format("firehose:{}", op), resource);
    if (s.ok()) return std::nullopt;
    return ApiError::AccessDenied(s.message());
  }

  // Opens the stream's source and delivery; `create` makes its buffer log.
  Status Materialise(DeliveryStreamEntry* s, bool create);
  Status SaveCatalog();
  std::variant<std::shared_ptr<DeliveryStreamEntry>, ApiError> Find(std::string_view name) const;

  Outcome Create(const json& req, const auth::Caller& caller);
  Outcome Describe(const json& req, const auth::Caller& caller);
  Outcome List(const json& req, const auth::Caller& caller);
  Outcome Delete(const json& req, const auth::Caller& caller);
  Outcome Update(const json& req, const auth::Caller& caller);
  void Put(std::string& body, const auth::Caller& caller, bool single, Reply reply);

  const std::string dir_;
  const FirehoseOptions options_;
  // Shared by every delivery stream; declared before streams_ to outlive them.
  MemoryBudget memory_budget_;
  streamlog::LogStore* const buffers_;
  kinesis::KinesisService* const kinesis_;
  objectstore::ObjectStore* const store_;
  Env* const env_;
  Clock* const clock_;
  const auth::Authorizer* const authorizer_;

  std::mutex catalog_mu_;  // serialises changes to the set of streams and the catalogue
  mutable std::shared_mutex streams_mu_;
  std::map<std::string, std::shared_ptr<DeliveryStreamEntry>> streams_;  // guarded by streams_mu_

  Counter* records_in_;
  Counter* bytes_in_;
};

void Finish(const Reply& reply, const ApiError& e) { reply(e.http_status, e.ToJson()); }

// Reads the destination out of Extended S3 (or plain S3) configuration or
// update JSON, on top of `base`. `update` allows every member to be absent.
std::variant<DestinationConfig, ApiError> ParseDestination(const json& j, DestinationConfig base,
                                                           bool update) {
  try {
    if (!j.is_object()) return ApiError::Serialization("destination configuration must be an object");
    if (j.contains("BucketARN")) {
      std::string arn = j["BucketARN"];
      auto pos = arn.find(":s3:::");
      if (arn.rfind("arn:", 0) != 0 || pos == std::string::npos || pos + 6 == arn.size()) {
        return ValidationError(arn, "bucketARN",
                               "Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}");
      }
      base.bucket_arn = arn;
      base.bucket = arn.substr(pos + 6);
    } else if (!update) {
      return ValidationError("null", "bucketARN", "Member must not be null");
    }
    if (j.contains("RoleARN")) base.role_arn = j["RoleARN"];
    else if (!update) return ValidationError("null", "roleARN", "Member must not be null");
    if (j.contains("Prefix")) base.prefix = j["Prefix"];
    if (j.contains("ErrorOutputPrefix")) base.error_prefix = j["ErrorOutputPrefix"];
    if (j.contains("BufferingHints")) {
      const json& b = j["BufferingHints"];
      if (b.contains("SizeInMBs")) base.size_mib = b["SizeInMBs"];
      if (b.contains("IntervalInSeconds")) base.interval_s = b["IntervalInSeconds"];
    }
    if (j.contains("CompressionFormat")) {
      auto c = ParseCompression(j["CompressionFormat"].get<std::string>());
      if (!c.ok()) return ApiError::InvalidArgument(c.status().message());
      base.compression = *c;
    }
    if (j.contains("DataFormatConversionConfiguration") &&
        j["DataFormatConversionConfiguration"].value("Enabled", true)) {
      return ApiError::InvalidArgument(
          "DataFormatConversionConfiguration is not supported by muonpipe");
    }
    if (j.contains("CustomTimeZone") && j["CustomTimeZone"] != "UTC" && j["CustomTimeZone"] != "") {
      return ApiError::InvalidArgument("muonpipe evaluates prefixes in UTC only (CustomTimeZone)");
    }
    if (j.contains("FileExtension") && j["FileExtension"] != "") {
      return ApiError::InvalidArgument(
          "FileExtension is not supported by muonpipe; objects end in .gz or .zst by compression");
    }
    if (j.contains("DynamicPartitioningConfiguration")) {
      base.dynamic_partitioning = j["DynamicPartitioningConfiguration"].value("Enabled", false);
    }
    if (j.contains("ProcessingConfiguration")) {
      const json& p = j["ProcessingConfiguration"];
      bool enabled = p.value("Enabled", false);
      base.append_delimiter = false;
      base.metadata_query.clear();
      if (enabled && p.contains("Processors")) {
        for (const auto& proc : p["Processors"]) {
          std::string type = proc.at("Type");
          std::map<std::string, std::string> params;
          if (proc.contains("Parameters")) {
            for (const auto& kv : proc["Parameters"]) {
              params[kv.at("ParameterName")] = kv.at("ParameterValue");
            }
          }
          if (type == "AppendDelimiterToRecord") {
            if (params.count("Delimiter") && params["Delimiter"] != "\\n") {
              return ApiError::InvalidArgument("AppendDelimiterToRecord supports only the newline delimiter");
            }
            base.append_delimiter = true;
          } else if (type == "MetadataExtraction") {
            if (!params.count("MetadataExtractionQuery")) {
              return ApiError::InvalidArgument("MetadataExtraction needs a MetadataExtractionQuery parameter");
            }
            base.metadata_query = params["MetadataExtractionQuery"];
            if (params.count("JsonParsingEngine")) base.json_parsing_engine = params["JsonParsingEngine"];
            if (base.json_parsing_engine != "JQ-1.6") {
              return ApiError::InvalidArgument("JsonParsingEngine must be JQ-1.6");
            }
          } else {
            return ApiError::InvalidArgument(fmt::format(
                "Processor type {} is not supported by muonpipe (AppendDelimiterToRecord, "
                "MetadataExtraction)",
                type));
          }
        }
      }
    }
  } catch (const json::exception& e) {
    return ApiError::Serialization(fmt::format("destination configuration: {}", e.what()));
  }
  if (base.dynamic_partitioning && base.metadata_query.empty()) {
    return ApiError::InvalidArgument(
        "Dynamic partitioning needs a MetadataExtraction processor with a MetadataExtractionQuery");
  }
  if (Status s = Validate(base); !s.ok()) return ApiError::InvalidArgument(s.message());
  return base;
}

void WriteDestination(JsonWriter& w, const DestinationConfig& c, bool extended) {
  w.BeginObject();
  w.Key("RoleARN");
  w.String(c.role_arn);
  w.Key("BucketARN");
  w.String(c.bucket_arn);
  w.Key("Prefix");
  w.String(c.prefix);
  if (!c.error_prefix.empty()) {
    w.Key("ErrorOutputPrefix");
    w.String(c.error_prefix);
  }
  w.Key("BufferingHints");
  w.BeginObject();
  w.Key("SizeInMBs");
  w.Int(c.size_mib);
  w.Key("IntervalInSeconds");
  w.Int(c.interval_s);
  w.EndObject();
  w.Key("CompressionFormat");
  w.String(CompressionName(c.compression));
  w.Key("EncryptionConfiguration");
  w.Raw(R"({"NoEncryptionConfig":"NoEncryption"})");
  w.Key("CloudWatchLoggingOptions");
  w.Raw(R"({"Enabled":false})");
  if (extended) {
    w.Key("ProcessingConfiguration");
    w.BeginObject();
    w.Key("Enabled");
    w.Bool(c.append_delimiter || !c.metadata_query.empty());
    w.Key("Processors");
    w.BeginArray();
    if (!c.metadata_query.empty()) {
      w.BeginObject();
      w.Key("Type");
      w.String("MetadataExtraction");
      w.Key("Parameters");
      w.BeginArray();
      w.Raw(fmt::format(R"({{"ParameterName":"MetadataExtractionQuery","ParameterValue":{}}})",
                        json(c.metadata_query).dump()));
      w.Raw(fmt::format(R"({{"ParameterName":"JsonParsingEngine","ParameterValue":{}}})",
                        json(c.json_parsing_engine).dump()));
      w.EndArray();
      w.EndObject();
    }
    if (c.append_delimiter) w.Raw(R"({"Type":"AppendDelimiterToRecord","Parameters":[]})");
    w.EndArray();
    w.EndObject();
    w.Key("S3BackupMode");
    w.String("Disabled");
    w.Key("DynamicPartitioningConfiguration");
    w.BeginObject();
    w.Key("Enabled");
    w.Bool(c.dynamic_partitioning);
    w.EndObject();
  }
  w.EndObject();
}

Status FirehoseServiceImpl::Materialise(DeliveryStreamEntry* s, bool create) {
  std::vector<SourceShard> shards;
  DeliveryStreamOptions o;
  o.name = s->name;
  o.incarnation = s->incarnation;
  o.state_dir = StateDir(*s);
  o.memory_budget = &memory_budget_;
  if (s->kinesis_source) {
    if (!kinesis_) return Status::FailedPrecondition("no Kinesis service to read from");
    std::string stream = s->kinesis_arn.substr(s->kinesis_arn.find(":stream/") + 8);
    auto src = kinesis_->ShardsOf(stream);
    if (!src.ok()) return src.status();
    for (auto& [id, log] : src->shards) shards.push_back({id, log, false});
    o.start_at_end = true;
  } else {
    auto log = create ? buffers_->CreateLog(BufferLogId(*s)) : buffers_->GetLog(BufferLogId(*s));
    if (!log.ok() && !create && log.status().code() == StatusCode::kNotFound) {
      log = buffers_->CreateLog(BufferLogId(*s));  // created by a CreateDeliveryStream cut short
    }
    if (!log.ok()) return log.status();
    s->buffer = *log;
    shards.push_back({"buffer", s->buffer, true});
  }
  DestinationConfig config;
  {
    std::lock_guard lock(s->mu);
    config = s->config;
  }
  auto d = DeliveryStream::Open(o, config, std::move(shards), store_, env_, clock_);
  if (!d.ok()) return d.status();
  s->delivery = std::move(d).value();
  if (options_.background_delivery) s->delivery->Start();
  return Status::Ok();
}

Status FirehoseServiceImpl::Load() {
  MUON_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(dir_, "state")));
  std::string path = JoinPath(dir_, "streams.json");
  std::set<std::string> live_logs, live_states;
  if (env_->FileExists(path)) {
    MUON_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("delivery_streams")) {
      return Status::Corruption(fmt::format("{}: not a muonpipe delivery stream catalogue", path));
    }
    if (doc.value("version", 0) > kCatalogVersion) {
      return Status::FailedPrecondition(
          fmt::format("{} was written by a newer muonpipe; upgrade muonpipe", path));
    }
    for (const auto& e : doc["delivery_streams"]) {
      auto s = std::make_shared<DeliveryStreamEntry>();
      try {
        s->name = e.at("name");
        s->arn = Arn(s->name);
        s->incarnation = e.at("incarnation");
        s->kinesis_source = e.value("type", "DirectPut") == "KinesisStreamAsSource";
        s->kinesis_arn = e.value("kinesis_stream_arn", "");
        s->kinesis_role_arn = e.value("kinesis_role_arn", "");
        s->created_ms = e.value("created_ms", int64_t{0});
        s->updated_ms = e.value("updated_ms", s->created_ms);
        if (e.contains("tags")) s->tags = e["tags"].get<std::map<std::string, std::string>>();
      } catch (const json::exception& ex) {
        return Status::Corruption(fmt::format("{}: {}", path, ex.what()));
      }
      MUON_ASSIGN_OR_RETURN(s->config, DestinationConfig::FromJson(e.at("destination").dump()));
      if (Status st = Materialise(s.get(), false); !st.ok()) {
        // A Kinesis source deleted under us: keep the stream visible, undelivering.
        log::warn("firehose: delivery stream {} cannot deliver: {}", s->name, st.ToString());
      }
      live_logs.insert(BufferLogId(*s));
      live_states.insert(fmt::format("{}-{}", s->name, s->incarnation));
      streams_[s->name] = std::move(s);
    }
  }
  for (const auto& id : buffers_->ListLogs()) {
    if (!live_logs.count(id)) {
      log::info("firehose: removing orphaned buffer log {}", id);
      MUON_RETURN_IF_ERROR(buffers_->DeleteLog(id));
    }
  }
  MUON_ASSIGN_OR_RETURN(auto states, env_->ListDir(JoinPath(dir_, "state")));
  for (const auto& d : states) {
    if (!live_states.count(d)) MUON_RETURN_IF_ERROR(env_->RemoveTree(JoinPath(JoinPath(dir_, "state"), d)));
  }
  return Status::Ok();
}

Status FirehoseServiceImpl::SaveCatalog() {
  json doc;
  doc["version"] = kCatalogVersion;
  doc["delivery_streams"] = json::array();
  std::shared_lock lock(streams_mu_);
  for (const auto& [name, s] : streams_) {
    std::lock_guard slock(s->mu);
    doc["delivery_streams"].push_back({{"name", name},
                                       {"incarnation", s->incarnation},
                                       {"type", s->Type()},
                                       {"kinesis_stream_arn", s->kinesis_arn},
                                       {"kinesis_role_arn", s->kinesis_role_arn},
                                       {"created_ms", s->created_ms},
                                       {"updated_ms", s->updated_ms},
                                       {"tags", s->tags},
                                       {"destination", json::parse(s->config.ToJson())}});
  }
  return env_->WriteFileAtomic(JoinPath(dir_, "streams.json"), doc.dump(2));
}

std::variant<std::shared_ptr<DeliveryStreamEntry>, ApiError> FirehoseServiceImpl::Find(
    std::string_view name) const {
  std::shared_lock lock(streams_mu_);
  auto it = streams_.find(std::string(name));
  if (it == streams_.end()) {
    return ApiError::ResourceNotFound(fmt::format("Firehose stream {} under account {} not found.",
                                                  name, options_.account_id));
  }
  return it->second;
}

std::variant<std::string, ApiError> NameOf(const json& req) {
  if (!req.contains("DeliveryStreamName")) {
    return ValidationError("null", "deliveryStreamName", "Member must not be null");
  }
  if (!req["DeliveryStreamName"].is_string()) {
    return ApiError::Serialization("DeliveryStreamName must be a string");
  }
  std::string name = req["DeliveryStreamName"];
  if (!ValidName(name)) {
    return ValidationError(name, "deliveryStreamName",
                           "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and "
                           "have length between 1 and 64");
  }
  return name;
}

FirehoseServiceImpl::Outcome FirehoseServiceImpl::Create(const json& req,
                                                         const auth::Caller& caller) {
  auto n = NameOf(req);
  if (auto* e = std::get_if<ApiError>(&n)) return *e;
  std::string name = std::get<std::string>(n);
  if (auto e = Authorize(caller, "CreateDeliveryStream", Arn(name))) return *e;
  auto s = std::make_shared<DeliveryStreamEntry>();
  s->name = name;
  s->arn = Arn(name);
  std::string type = req.value("DeliveryStreamType", "DirectPut");
  if (type == "KinesisStreamAsSource") {
    if (!req.contains("KinesisStreamSourceConfiguration")) {
      return ApiError::InvalidArgument(
          "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource");
    }
    const json& k = req["KinesisStreamSourceConfiguration"];
    s->kinesis_source = true;
    s->kinesis_arn = k.value("KinesisStreamARN", "");
    s->kinesis_role_arn = k.value("RoleARN", "");
    auto pos = s->kinesis_arn.find(":stream/");
    if (s->kinesis_arn.rfind("arn:", 0) != 0 || s->kinesis_arn.find(":kinesis:") == std::string::npos ||
        pos == std::string::npos) {
      return ApiError::InvalidArgument(
          fmt::format("KinesisStreamARN '{}' is not a Kinesis stream ARN", s->kinesis_arn));
    }
    if (!kinesis_) return ApiError::InvalidArgument("this server has no Kinesis streams");
    auto shards = kinesis_->ShardsOf(s->kinesis_arn.substr(pos + 8));
    if (!shards.ok() || shards->arn != s->kinesis_arn) {
      return ApiError::InvalidArgument(
          fmt::format("Kinesis stream {} does not exist", s->kinesis_arn));
    }
  } else if (type == "DirectPut") {
    if (req.contains("KinesisStreamSourceConfiguration")) {
      return ApiError::InvalidArgument(
          "KinesisStreamSourceConfiguration is only valid for KinesisStreamAsSource");
    }
  } else {
    return ApiError::InvalidArgument(fmt::format(
        "DeliveryStreamType {} is not supported (DirectPut, KinesisStreamAsSource)", type));
  }
  const json* dest = nullptr;
  for (const char* other : {"RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
                            "AmazonopensearchserviceDestinationConfiguration",
                            "SplunkDestinationConfiguration", "HttpEndpointDestinationConfiguration",
                            "AmazonOpenSearchServerlessDestinationConfiguration",
                            "SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration"}) {
    if (req.contains(other)) {
      return ApiError::InvalidArgument(
          fmt::format("{} is not supported: muonpipe delivers to S3 only", other));
    }
  }
  if (req.contains("ExtendedS3DestinationConfiguration")) dest = &req["ExtendedS3DestinationConfiguration"];
  else if (req.contains("S3DestinationConfiguration")) dest = &req["S3DestinationConfiguration"];
  if (!dest) {
    return ApiError::InvalidArgument(
        "An ExtendedS3DestinationConfiguration (or S3DestinationConfiguration) is required");
  }
  auto config = ParseDestination(*dest, DestinationConfig{}, false);
  if (auto* e = std::get_if<ApiError>(&config)) return *e;
  s->config = std::get<DestinationConfig>(config);
  s->config.version = 1;
  if (req.contains("Tags")) {
    for (const auto& t : req["Tags"]) s->tags[t.value("Key", "")] = t.value("Value", "");
  }
  s->created_ms = clock_->NowMillis();
  s->updated_ms = s->created_ms;
  s->incarnation = static_cast<uint64_t>(clock_->NowNanos());

  std::lock_guard cat(catalog_mu_);
  {
    std::shared_lock lock(streams_mu_);
    if (streams_.count(name)) {
      return ApiError::ResourceInUse(fmt::format("Firehose stream {} under account {} already exists.",
                                                 name, options_.account_id));
    }
    if (static_cast<int>(streams_.size()) >= options_.max_delivery_streams) {
      return ApiError::LimitExceeded(fmt::format("You have already consumed your limit of {} Firehose streams.",
                                                 options_.max_delivery_streams));
    }
  }
  if (Status st = Materialise(s.get(), true); !st.ok()) {
    if (s->buffer) (void)buffers_->DeleteLog(BufferLogId(*s));
    return ApiError::FromStatus(st);
  }
  {
    std::unique_lock lock(streams_mu_);
    streams_[name] = s;
  }
  if (Status st = SaveCatalog(); !st.ok()) {
    {
      std::unique_lock lock(streams_mu_);
      streams_.erase(name);
    }
    s->delivery->Stop();
    if (s->buffer) (void)buffers_->DeleteLog(BufferLogId(*s));
    return ApiError::FromStatus(st);
  }
  log::info("firehose: created delivery stream {} ({}) into s3://{}/{}", name, s->Type(),
            s->config.bucket, s->config.prefix);
  return json{{"DeliveryStreamARN", s->arn}}.dump();
}

FirehoseServiceImpl::Outcome FirehoseServiceImpl::Describe(const json& req,
                                                           const auth::Caller& caller) {
  auto n = NameOf(req);
  if (auto* e = std::get_if<ApiError>(&n)) return *e;
  auto f = Find(std::get<std::string>(n));
  if (auto* e = std::get_if<ApiError>(&f)) return *e;
  auto s = std::get<std::shared_ptr<DeliveryStreamEntry>>(f);
  if (auto e = Authorize(caller, "DescribeDeliveryStream", s->arn)) return *e;
  DestinationConfig c;
  int64_t updated_ms;
  {
    std::lock_guard lock(s->mu);
    c = s->config;
    updated_ms = s->updated_ms;
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("DeliveryStreamDescription");
  w.BeginObject();
  w.Key("DeliveryStreamName");
  w.String(s->name);
  w.Key("DeliveryStreamARN");
  w.String(s->arn);
  w.Key("DeliveryStreamStatus");
  w.String("ACTIVE");
  w.Key("DeliveryStreamEncryptionConfiguration");
  w.Raw(R"({"Status":"DISABLED"})");
  w.Key("DeliveryStreamType");
  w.String(s->Type());
  w.Key("VersionId");
  w.String(std::to_string(c.version));
  w.Key("CreateTimestamp");
  w.Double(static_cast<double>(s->created_ms) / 1000.0);
  w.Key("LastUpdateTimestamp");
  w.Double(static_cast<double>(updated_ms) / 1000.0);
  if (s->kinesis_source) {
    w.Key("Source");
    w.BeginObject();
    w.Key("KinesisStreamSourceDescription");
    w.BeginObject();
    w.Key("KinesisStreamARN");
    w.String(s->kinesis_arn);
    w.Key("RoleARN");
    w.String(s->kinesis_role_arn);
    w.Key("DeliveryStartTimestamp");
    w.Double(static_cast<double>(s->created_ms) / 1000.0);
    w.EndObject();
    w.EndObject();
  }
  w.Key("Destinations");
  w.BeginArray();
  w.BeginObject();
  w.Key("DestinationId");
  w.String(kDestinationId);
  w.Key("S3DestinationDescription");
  WriteDestination(w, c, false);
  w.Key("ExtendedS3DestinationDescription");
  WriteDestination(w, c, true);
  w.EndObject();
  w.EndArray();
  w.Key("HasMoreDestinations");
  w.Bool(false);
  // muonpipe's extension: how delivery is doing.
  w.Key("MuonpipeDelivery");
  w.BeginObject();
  if (s->delivery) {
    DeliveryStats st = s->delivery->Stats();
    w.Key("LagMillis");
    w.Int(st.lag_ms);
    w.Key("DeliveredRecords");
    w.Uint(st.delivered_records);
    w.Key("DeliveredBytes");
    w.Uint(st.delivered_bytes);
    w.Key("DeliveredObjects");
    w.Uint(st.delivered_objects);
    w.Key("ErrorRecords");
    w.Uint(st.error_records);
    w.Key("Retries");
    w.Uint(st.retries);
    w.Key("LastError");
    w.String(st.last_error);
  } else {
    w.Key("LastError");
    w.String("the source of this delivery stream is gone; nothing is delivered");
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return out;
}

FirehoseServiceImpl::Outcome FirehoseServiceImpl::List(const json& req,
                                                       const auth::Caller& caller) {
  if (auto e = Authorize(caller, "ListDeliveryStreams", "*")) return *e;
  int64_t limit = 10;
  if (req.contains("Limit")) {
    if (!req["Limit"].is_number_integer()) return ApiError::Serialization("Limit must be an integer");
    limit = req["Limit"];
    if (limit < 1 || limit > 10000) {
      return ValidationError(std::to_string(limit), "limit",
                             "Member must have value between 1 and 10000");
    }
  }
  std::string type = req.value("DeliveryStreamType", "");
  std::string start = req.value("ExclusiveStartDeliveryStreamName", "");
  json names = json::array();
  bool more = false;
  std::shared_lock lock(streams_mu_);
  for (auto it = start.empty() ? streams_.begin() : streams_.upper_bound(start); it != streams_.end();
       ++it) {
    if (!type.empty() && it->second->Type() != type) continue;
    if (static_cast<int64_t>(names.size()) == limit) {
      more = true;
      break;
    }
    names.push_back(it->first);
  }
  return json{{"DeliveryStreamNames", names}, {"HasMoreDeliveryStreams", more}}.dump();
}

FirehoseServiceImpl::Outcome FirehoseServiceImpl::Delete(const json& req,
                                                         const auth::Caller& caller) {
  auto n = NameOf(req);
  if (auto* e = std::get_if<ApiError>(&n)) return *e;
  std::string name = std::get<std::string>(n);
  if (auto e = Authorize(caller, "DeleteDeliveryStream", Arn(name))) return *e;
  std::lock_guard cat(catalog_mu_);
  auto f = Find(name);
  if (auto* e = std::get_if<ApiError>(&f)) return *e;
  auto s = std::get<std::shared_ptr<DeliveryStreamEntry>>(f);
  {
    std::unique_lock lock(streams_mu_);
    streams_.erase(name);
  }
  if (Status st = SaveCatalog(); !st.ok()) {
    std::unique_lock lock(streams_mu_);
    streams_[name] = s;
    return ApiError::FromStatus(st);
  }
  if (s->delivery) s->delivery->Stop();
  // Leftovers of a crash here are removed at the next start (Load).
  if (s->buffer) (void)buffers_->DeleteLog(BufferLogId(*s));
  (void)env_->RemoveTree(StateDir(*s));
  log::info("firehose: deleted delivery stream {}", name);
  return std::string("{}");
}

FirehoseServiceImpl::Outcome FirehoseServiceImpl::Update(const json& req,
                                                         const auth::Caller& caller) {
  auto n = NameOf(req);
  if (auto* e = std::get_if<ApiError>(&n)) return *e;
  std::string name = std::get<std::string>(n);
  if (auto e = Authorize(caller, "UpdateDestination", Arn(name))) return *e;
  std::lock_guard cat(catalog_mu_);
  auto f = Find(name);
  if (auto* e = std::get_if<ApiError>(&f)) return *e;
  auto s = std::get<std::shared_ptr<DeliveryStreamEntry>>(f);
  std::string version = req.value("CurrentDeliveryStreamVersionId", "");
  std::string dest_id = req.value("DestinationId", "");
  if (version.empty()) return ValidationError("null", "currentDeliveryStreamVersionId", "Member must not be null");
  if (dest_id.empty()) return ValidationError("null", "destinationId", "Member must not be null");
  if (dest_id != kDestinationId) {
    return ApiError::InvalidArgument(fmt::format(
        "Destination {} does not exist in Firehose stream {} (its destination is {})", dest_id,
        name, kDestinationId));
  }
  DestinationConfig current;
  {
    std::lock_guard lock(s->mu);
    current = s->config;
  }
  if (version != std::to_string(current.version)) {
    return ConcurrentModification(fmt::format(
        "Version id {} does not match the current version {} of Firehose stream {}; describe "
        "it again and retry.",
        version, current.version, name));
  }
  const json* update = nullptr;
  if (req.contains("ExtendedS3DestinationUpdate")) update = &req["ExtendedS3DestinationUpdate"];
  else if (req.contains("S3DestinationUpdate")) update = &req["S3DestinationUpdate"];
  if (!update) {
    return ApiError::InvalidArgument(
        "An ExtendedS3DestinationUpdate (or S3DestinationUpdate) is required: muonpipe delivers "
        "to S3 only");
  }
  auto config = ParseDestination(*update, current, true);
  if (auto* e = std::get_if<ApiError>(&config)) return *e;
  DestinationConfig next = std::get<DestinationConfig>(config);
  next.version = current.version + 1;
  int64_t old_updated;
  {
    std::lock_guard lock(s->mu);
    old_updated = s->updated_ms;
    s->config = next;
    s->updated_ms = clock_->NowMillis();
  }
  if (Status st = SaveCatalog(); !st.ok()) {
    std::lock_guard lock(s->mu);
    s->config = current;
    s->updated_ms = old_updated;
    return ApiError::FromStatus(st);
  }
  if (s->delivery) {
    if (Status st = s->delivery->UpdateDestination(next); !st.ok()) return ApiError::FromStatus(st);
  }
  return std::string("{}");
}

simdjson::simdjson_result<simdjson::dom::element> ParsePadded(simdjson::dom::parser& parser,
                                                              std::string& body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return parser.parse(body.data(), body.size(), false);
}

void FirehoseServiceImpl::Put(std::string& body, const auth::Caller& caller, bool single,
                              Reply reply) {
  thread_local simdjson::dom::parser parser;
  struct PutCall {
    std::string arena;
    std::vector<std::pair<size_t, size_t>> records;  // offset, length in arena
    std::shared_ptr<DeliveryStreamEntry> stream;
    Reply reply;
  };
  auto call = std::make_shared<PutCall>();
  std::string name;
  std::optional<ApiError> error;
  auto fail = [&](ApiError e) {
    if (!error) error = std::move(e);
  };
  auto parse_record = [&](simdjson::dom::element rec, size_t index) {
    simdjson::dom::object obj;
    std::string_view b64;
    std::string field = single ? "record.data" : fmt::format("records.{}.member.data", index + 1);
    if (rec.get_object().get(obj)) return fail(ApiError::Serialization("a record must be an object"));
    if (obj["Data"].get_string().get(b64)) {
      return fail(ValidationError("null", field, "Member must not be null"));
    }
    size_t start = call->arena.size();
    if (!Base64DecodeAppend(b64, &call->arena)) {
      return fail(ApiError::Serialization(fmt::format("Base64 encoded value of {} is not valid.", field)));
    }
    size_t len = call->arena.size() - start;
    if (len > kMaxRecordBytes) {
      return fail(ValidationError("...", field,
                                  fmt::format("Member must have length less than or equal to {}",
                                              kMaxRecordBytes)));
    }
    call->records.emplace_back(start, len);
  };
  {
    simdjson::dom::element doc;
    simdjson::dom::object root;
    if (ParsePadded(parser, body).get(doc) || doc.get_object().get(root)) {
      return Finish(reply, ApiError::Serialization("The request body is not a JSON object."));
    }
    call->arena.reserve(body.size() * 3 / 4 + 64);
    std::string_view v;
    if (root["DeliveryStreamName"].get_string().get(v)) {
      return Finish(reply, ValidationError("null", "deliveryStreamName", "Member must not be null"));
    }
    name = std::string(v);
    if (single) {
      simdjson::dom::element rec;
      if (root["Record"].get(rec)) {
        return Finish(reply, ValidationError("null", "record", "Member must not be null"));
      }
      parse_record(rec, 0);
    } else {
      simdjson::dom::array arr;
      if (root["Records"].get_array().get(arr)) {
        return Finish(reply, ValidationError("null", "records", "Member must not be null"));
      }
      size_t i = 0;
      for (auto rec : arr) {
        if (i >= kMaxBatchRecords) {
          fail(ValidationError("[...]", "records", "Member must have length less than or equal to 500"));
          break;
        }
        parse_record(rec, i++);
        if (error) break;
      }
      if (!error && call->records.empty()) {
        fail(ValidationError("[]", "records", "Member must have length greater than or equal to 1"));
      }
      if (!error && call->arena.size() > kMaxBatchBytes) {
        fail(ApiError::InvalidArgument(fmt::format(
            "Records size exceeds 4 MiB limit: the batch carries {} bytes of data.",
            call->arena.size())));
      }
    }
  }
  if (error) return Finish(reply, *error);
  if (!ValidName(name)) {
    return Finish(reply, ValidationError(name, "deliveryStreamName",
                                         "Member must satisfy regular expression pattern: "
                                         "[a-zA-Z0-9_.-]+ and have length between 1 and 64"));
  }
  auto f = Find(name);
  if (auto* e = std::get_if<ApiError>(&f)) return Finish(reply, *e);
  call->stream = std::get<std::shared_ptr<DeliveryStreamEntry>>(f);
  const char* op = single ? "PutRecord" : "PutRecordBatch";
  if (auto e = Authorize(caller, op, call->stream->arn)) return Finish(reply, *e);
  if (call->stream->kinesis_source) {
    return Finish(reply, ApiError::InvalidArgument(fmt::format(
                             "This operation is not permitted on KinesisStreamAsSource Firehose "
                             "stream {}: put records into its Kinesis stream.",
                             name)));
  }
  std::vector<streamlog::AppendEntry> entries;
  entries.reserve(call->records.size());
  for (const auto& [off, len] : call->records) {
    entries.push_back({.partition_key = {}, .data = std::string_view(call->arena).substr(off, len)});
  }
  call->reply = std::move(reply);
  call->stream->buffer->Append(entries, [this, call, single](Result<streamlog::AppendResult> r) {
    if (!r.ok()) {
      Finish(call->reply, r.status().code() == StatusCode::kNotFound
                              ? ApiError::ResourceNotFound(fmt::format(
                                    "Firehose stream {} was deleted.", call->stream->name))
                              : ServiceUnavailable(fmt::format(
                                    "The records could not be stored ({}); retry.", r.status().message())));
      return;
    }
    records_in_->Add(call->records.size());
    bytes_in_->Add(call->arena.size());
    if (call->stream->delivery) call->stream->delivery->Wake();
    const uint64_t inc = call->stream->incarnation;
    std::string out;
    out.reserve(call->records.size() * 64 + 64);
    JsonWriter w(&out);
    w.BeginObject();
    if (single) {
      w.Key("RecordId");
      w.String(fmt::format("{:016x}{:016x}", inc, r->first_seq));
    } else {
      w.Key("FailedPutCount");
      w.Int(0);
      w.Key("RequestResponses");
      w.BeginArray();
      for (size_t i = 0; i < call->records.size(); ++i) {
        w.BeginObject();
        w.Key("RecordId");
        w.String(fmt::format("{:016x}{:016x}", inc, r->first_seq + i));
        w.EndObject();
      }
      w.EndArray();
    }
    w.Key("Encrypted");
    w.Bool(false);
    w.EndObject();
    call->reply(200, std::move(out));
  });
}

void FirehoseServiceImpl::Call(std::string_view op, std::string body, const auth::Caller& caller,
                               Reply reply) {
  if (op == "PutRecordBatch" || op == "PutRecord") {
    Put(body, caller, op == "PutRecord", std::move(reply));
    return;
  }
  json req = json::parse(body.empty() ? std::string("{}") : body, nullptr, false);
  if (req.is_discarded() || !req.is_object()) {
    return Finish(reply, ApiError::Serialization("The request body is not a JSON object."));
  }
  Outcome out;
  try {
    if (op == "CreateDeliveryStream") out = Create(req, caller);
    else if (op == "DescribeDeliveryStream") out = Describe(req, caller);
    else if (op == "ListDeliveryStreams") out = List(req, caller);
    else if (op == "DeleteDeliveryStream") out = Delete(req, caller);
    else if (op == "UpdateDestination") out = Update(req, caller);
    else {
      out = ApiError::UnknownOperation(fmt::format(
          "Operation {} is not supported by muonpipe's Firehose API", op));
    }
  } catch (const json::exception& e) {
    out = ApiError::Serialization(fmt::format("The request does not match the Firehose model: {}", e.what()));
  }
  if (auto* e = std::get_if<ApiError>(&out)) return Finish(reply, *e);
  reply(200, std::move(std::get<std::string>(out)));
}

}  // namespace

Result<std::unique_ptr<FirehoseService>> FirehoseService::Open(
    const std::string& dir, const FirehoseOptions& options, streamlog::LogStore* buffers,
    kinesis::KinesisService* kinesis, objectstore::ObjectStore* store, Env* env, Clock* clock,
    const auth::Authorizer* authorizer) {
  auto s = std::make_unique<FirehoseServiceImpl>(dir, options, buffers, kinesis, store, env, clock,
                                                 authorizer);
  MUON_RETURN_IF_ERROR(s->Load());
  return std::unique_ptr<FirehoseService>(std::move(s));
}

}  // namespace muon::delivery

#include "plan/prices.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "plan/embedded.h"

namespace muon::plan {

double Price::CostOf(double quantity) const {
  double cost = 0;
  double lower = 0;
  for (const PriceTier& tier : tiers) {
    if (quantity <= lower) break;
    double upper = tier.up_to ? *tier.up_to : std::numeric_limits<double>::infinity();
    cost += (std::min(quantity, upper) - lower) * tier.price;
    lower = upper;
  }
  return cost;
}

Result<const Price*> PriceTable::Get(std::string_view key) const {
  auto it = prices_.find(key);
  if (it == prices_.end()) {
    return Status::NotFound("price '" + std::string(key) + "' is missing from the price table " +
                            origin_ + "; add a [prices.\"" + std::string(key) +
                            "\"] entry (see docs/plan.md for its unit) or load it with "
                            "--offer-file");
  }
  return &it->second;
}

Result<double> PriceTable::QuotaValue(std::string_view key) const {
  auto it = quotas_.find(key);
  if (it == quotas_.end()) {
    return Status::NotFound("quota '" + std::string(key) + "' is missing from the price table " +
                            origin_ + "; add a [quotas.\"" + std::string(key) + "\"] entry");
  }
  return it->second.value;
}

namespace {

std::optional<double> NumberAt(const toml::node* node) {
  if (node == nullptr) return std::nullopt;
  if (auto v = node->value<double>()) return *v;
  return std::nullopt;
}

Status FieldError(const std::string& origin, const std::string& where, const std::string& what) {
  return Status::InvalidArgument(origin + ": " + where + ": " + what);
}

Result<Price> ParsePrice(const toml::table& t, const std::string& origin, const std::string& key) {
  std::string where = "[prices.\"" + key + "\"]";
  Price p;
  auto unit = t["unit"].value<std::string>();
  auto source = t["source"].value<std::string>();
  auto date = t["date"].value<std::string>();
  if (!unit) return FieldError(origin, where, "'unit' is missing; give the billing unit, e.g. \"GB-month\"");
  if (!source) return FieldError(origin, where, "'source' is missing; every figure needs the URL it came from");
  if (!date) return FieldError(origin, where, "'date' is missing; give the date the figure was recorded (YYYY-MM-DD)");
  p.unit = *unit;
  p.source = *source;
  p.date = *date;
  p.confirmed = t["confirmed"].value_or(false);
  p.note = t["note"].value_or(std::string());
  if (auto price = NumberAt(t.get("price"))) {
    p.tiers.push_back({std::nullopt, *price});
  } else if (const toml::array* tiers = t["tiers"].as_array()) {
    for (size_t i = 0; i < tiers->size(); ++i) {
      const toml::table* tier = (*tiers)[i].as_table();
      auto price_i = tier ? NumberAt(tier->get("price")) : std::nullopt;
      if (!price_i) {
        return FieldError(origin, where, "tiers[" + std::to_string(i) + "] needs a number 'price'");
      }
      auto up_to = NumberAt(tier->get("up_to"));
      if (!up_to && i + 1 != tiers->size()) {
        return FieldError(origin, where, "tiers[" + std::to_string(i) +
                                             "] has no 'up_to'; only the last tier may be unbounded");
      }
      if (up_to && !p.tiers.empty() && p.tiers.back().up_to && *up_to <= *p.tiers.back().up_to) {
        return FieldError(origin, where, "tiers must have ascending 'up_to'");
      }
      p.tiers.push_back({up_to, *price_i});
    }
  }
  if (p.tiers.empty()) {
    return FieldError(origin, where, "give 'price = <USD per unit>' or 'tiers = [{up_to = N, price = P}, ...]'");
  }
  for (const PriceTier& tier : p.tiers) {
    if (tier.price < 0 || !std::isfinite(tier.price)) {
      return FieldError(origin, where, "prices must be finite and not negative");
    }
  }
  return p;
}

}  // namespace

Result<PriceTable> PriceTable::FromToml(std::string_view text, std::string origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()) + "; fix the TOML syntax");
  }
  PriceTable table;
  table.origin_ = origin;
  auto region = root["region"].value<std::string>();
  if (!region) return FieldError(origin, "top level", "'region' is missing, e.g. region = \"ap-southeast-2\"");
  table.region_ = *region;
  if (auto currency = root["currency"].value<std::string>(); currency && *currency != "USD") {
    return FieldError(origin, "currency", "only USD is supported, got '" + *currency + "'");
  }
  const toml::table* prices = root["prices"].as_table();
  if (prices == nullptr) return FieldError(origin, "top level", "no [prices.\"...\"] entries");
  for (const auto& [k, v] : *prices) {
    std::string key(k.str());
    const toml::table* t = v.as_table();
    if (t == nullptr) return FieldError(origin, "prices." + key, "must be a table");
    MUON_ASSIGN_OR_RETURN(Price p, ParsePrice(*t, origin, key));
    table.prices_[key] = std::move(p);
  }
  if (const toml::table* quotas = root["quotas"].as_table()) {
    for (const auto& [k, v] : *quotas) {
      std::string key(k.str());
      const toml::table* t = v.as_table();
      auto value = t ? NumberAt(t->get("value")) : std::nullopt;
      if (!value) return FieldError(origin, "[quotas.\"" + key + "\"]", "needs a number 'value'");
      Quota q;
      q.value = *value;
      q.source = (*t)["source"].value_or(std::string());
      q.date = (*t)["date"].value_or(std::string());
      q.confirmed = (*t)["confirmed"].value_or(false);
      q.note = (*t)["note"].value_or(std::string());
      if (q.source.empty() || q.date.empty()) {
        return FieldError(origin, "[quotas.\"" + key + "\"]", "needs 'source' and 'date'");
      }
      table.quotas_[key] = std::move(q);
    }
  }
  return table;
}

std::vector<std::string> PriceTable::EmbeddedRegions() {
  std::vector<std::string> regions;
  for (std::string_view name : EmbeddedFileNames()) {
    if (name.starts_with("prices/") && name.ends_with(".toml")) {
      regions.emplace_back(name.substr(7, name.size() - 7 - 5));
    }
  }
  return regions;
}

Result<PriceTable> PriceTable::Embedded(std::string_view region) {
  std::string name = "prices/" + std::string(region) + ".toml";
  auto text = EmbeddedFile(name);
  if (!text) {
    std::string known;
    for (const std::string& r : EmbeddedRegions()) known += (known.empty() ? "" : ", ") + r;
    return Status::NotFound("no built-in price table for region '" + std::string(region) +
                            "' (built in: " + known + "); pass --prices FILE with a table for it");
  }
  return FromToml(*text, "built-in " + name);
}

std::string_view RegionLocationName(std::string_view region) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"us-east-1", "US East (N. Virginia)"},      {"us-east-2", "US East (Ohio)"},
      {"us-west-2", "US West (Oregon)"},           {"eu-west-1", "EU (Ireland)"},
      {"ap-southeast-2", "Asia Pacific (Sydney)"}, {"ap-southeast-4", "Asia Pacific (Melbourne)"},
  };
  for (const auto& [code, name] : kNames) {
    if (code == region) return name;
  }
  return {};
}

namespace {

// How an offer-file product becomes a table key. `usage_type` is matched after stripping the
// region prefix ("APS2-"); a trailing '*' matches any suffix, which `key` may reuse as "{}".
struct OfferRule {
  std::string_view service_code;
  std::string_view usage_type;
  std::string_view key;
  std::string_view unit;
  double scale;  // table price = offer price per unit × scale
};

constexpr OfferRule kOfferRules[] = {
    {"AmazonKinesis", "Storage-ShardHour", "kinesis.shard_hour", "shard-hour", 1},
    {"AmazonKinesis", "PutRequestPayloadUnits", "kinesis.put_payload_units",
     "million PUT payload units", 1e6},
    {"AmazonKinesis", "Extended-ShardHour", "kinesis.extended_retention_shard_hour", "shard-hour", 1},
    {"AmazonKinesis", "OnDemand-StreamHour", "kinesis.on_demand_stream_hour", "stream-hour", 1},
    {"AmazonKinesis", "OnDemand-BilledIncomingBytes", "kinesis.on_demand_data_in", "GB", 1},
    {"AmazonKinesis", "OnDemand-BilledOutgoingBytes", "kinesis.on_demand_data_out", "GB", 1},
    {"AmazonKinesisFirehose", "BilledBytes", "firehose.ingest", "GB", 1},
    {"AmazonS3", "TimedStorage-ByteHrs", "s3.standard_storage", "GB-month", 1},
    {"AmazonS3", "TimedStorage-SIA-ByteHrs", "s3.standard_ia_storage", "GB-month", 1},
    {"AmazonS3", "TimedStorage-GIR-ByteHrs", "s3.glacier_ir_storage", "GB-month", 1},
    {"AmazonS3", "TimedStorage-GDA-ByteHrs", "s3.deep_archive_storage", "GB-month", 1},
    {"AmazonS3", "Requests-Tier1", "s3.standard_put", "1000 requests", 1000},
    {"AmazonS3", "Requests-Tier2", "s3.standard_get", "1000 requests", 1000},
    {"AmazonS3", "Requests-SIA-Tier1", "s3.transition_standard_ia", "1000 requests", 1000},
    {"AmazonS3", "Requests-GIR-Tier1", "s3.transition_glacier_ir", "1000 requests", 1000},
    {"AmazonS3", "Requests-GDA-Tier1", "s3.transition_deep_archive", "1000 requests", 1000},
    {"AmazonS3", "Requests-SIA-Tier2", "s3.standard_ia_get", "1000 requests", 1000},
    {"AmazonS3", "Requests-GIR-Tier2", "s3.glacier_ir_get", "1000 requests", 1000},
    {"AmazonS3", "Retrieval-SIA", "s3.standard_ia_retrieval", "GB", 1},
    {"AmazonS3", "Retrieval-GIR", "s3.glacier_ir_retrieval", "GB", 1},
    {"AWSDataTransfer", "DataTransfer-Out-Bytes", "data_transfer.out_internet", "GB", 1},
    {"AmazonRDS", "InstanceUsage:*", "rds.postgres.{}.single_az", "instance-hour", 1},
    {"AmazonRDS", "Multi-AZUsage:*", "rds.postgres.{}.multi_az", "instance-hour", 1},
    {"AmazonRDS", "RDS:GP3-Storage", "rds.gp3_storage.single_az", "GB-month", 1},
    {"AmazonRDS", "RDS:Multi-AZ-GP3-Storage", "rds.gp3_storage.multi_az", "GB-month", 1},
    {"AmazonEC2", "BoxUsage:*", "ec2.{}", "instance-hour", 1},
    {"AmazonEC2", "EBS:VolumeUsage.gp3", "ebs.gp3_storage", "GB-month", 1},
    {"AWSSecretsManager", "AWSSecretsManager-Secrets", "secretsmanager.secret", "secret-month", 1},
};

std::string_view StripRegionPrefix(std::string_view usage_type) {
  size_t dash = usage_type.find('-');
  if (dash == std::string_view::npos || dash > 6) return usage_type;
  for (char c : usage_type.substr(0, dash)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return usage_type;
  }
  return usage_type.substr(dash + 1);
}

std::string AttrString(const nlohmann::json& attributes, const char* name) {
  auto it = attributes.find(name);
  return it != attributes.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Products the rules must skip although the usage type matches: other database engines,
// licensed or dedicated EC2 instances.
bool ExcludedProduct(const OfferRule& rule, const nlohmann::json& a) {
  if (rule.service_code == "AmazonRDS" && rule.usage_type.ends_with("*")) {
    return AttrString(a, "databaseEngine") != "PostgreSQL";
  }
  if (rule.service_code == "AmazonEC2" && rule.usage_type.ends_with("*")) {
    auto is = [&](const char* k, const char* want) {
      std::string v = AttrString(a, k);
      return v.empty() || v == want;
    };
    return !(is("operatingSystem", "Linux") && is("tenancy", "Shared") &&
             is("preInstalledSw", "NA") && is("capacitystatus", "Used"));
  }
  return false;
}

Result<double> ParseNumber(const nlohmann::json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "Inf") return std::numeric_limits<double>::infinity();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0') return d;
  }
  return Status::InvalidArgument(where + ": expected a number, got " + v.dump());
}

}  // namespace

Result<OfferFileReport> ApplyOfferFile(std::string_view json_text, const std::string& origin,
                                       PriceTable* table) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument(origin + ": not valid JSON; an offer file is the JSON "
                                   "document the AWS Price List Bulk API serves "
                                   "(.../offers/v1.0/aws/<service>/current/<region>/index.json)");
  }
  auto products = doc.find("products");
  auto terms = doc.find("terms");
  if (products == doc.end() || !products->is_object()) {
    return Status::InvalidArgument(origin + ": has no \"products\" object; is it an offer file?");
  }
  if (terms == doc.end() || !terms->contains("OnDemand")) {
    return Status::InvalidArgument(origin + ": has no \"terms.OnDemand\"; only on-demand prices "
                                   "are used");
  }
  const nlohmann::json& on_demand = (*terms)["OnDemand"];
  std::string location(RegionLocationName(table->region()));
  OfferFileReport report;
  for (const auto& [sku, product] : products->items()) {
    const nlohmann::json& a = product.value("attributes", nlohmann::json::object());
    std::string region_code = AttrString(a, "regionCode");
    bool in_region = region_code.empty() ? (!location.empty() && AttrString(a, "location") == location)
                                         : region_code == table->region();
    if (!in_region) continue;
    ++report.products_in_region;
    std::string service = AttrString(a, "servicecode");
    const std::string usage_type = AttrString(a, "usagetype");
    std::string_view usage = StripRegionPrefix(usage_type);
    for (const OfferRule& rule : kOfferRules) {
      if (rule.service_code != service) continue;
      std::string key(rule.key);
      if (rule.usage_type.ends_with("*")) {
        std::string_view prefix = rule.usage_type.substr(0, rule.usage_type.size() - 1);
        if (!usage.starts_with(prefix) || usage.size() == prefix.size()) continue;
        key.replace(key.find("{}"), 2, std::string(usage.substr(prefix.size())));
      } else if (usage != rule.usage_type) {
        continue;
      }
      if (ExcludedProduct(rule, a)) continue;
      std::string where = origin + ": terms.OnDemand." + sku;
      auto sku_terms = on_demand.find(sku);
      if (sku_terms == on_demand.end() || sku_terms->empty()) {
        return Status::InvalidArgument(where + ": product " + std::string(usage) +
                                       " has no on-demand term");
      }
      const nlohmann::json& term = sku_terms->begin().value();
      auto dims = term.find("priceDimensions");
      if (dims == term.end() || !dims->is_object() || dims->empty()) {
        return Status::InvalidArgument(where + ": term has no priceDimensions");
      }
      struct Band { double begin, end, price; };
      std::vector<Band> bands;
      for (const auto& [dim_id, dim] : dims->items()) {
        std::string dwhere = where + ".priceDimensions." + dim_id;
        MUON_ASSIGN_OR_RETURN(double begin, ParseNumber(dim.value("beginRange", nlohmann::json("0")), dwhere + ".beginRange"));
        MUON_ASSIGN_OR_RETURN(double end, ParseNumber(dim.value("endRange", nlohmann::json("Inf")), dwhere + ".endRange"));
        auto usd = dim.find("pricePerUnit");
        if (usd == dim.end() || !usd->contains("USD")) {
          return Status::InvalidArgument(dwhere + ".pricePerUnit: no USD price");
        }
        MUON_ASSIGN_OR_RETURN(double price, ParseNumber((*usd)["USD"], dwhere + ".pricePerUnit.USD"));
        bands.push_back({begin, end, price * rule.scale});
      }
      std::sort(bands.begin(), bands.end(), [](const Band& x, const Band& y) { return x.begin < y.begin; });
      Price p;
      p.unit = table->Has(key) ? table->Get(key).value()->unit : std::string(rule.unit);
      for (size_t i = 0; i < bands.size(); ++i) {
        if (i > 0 && bands[i].begin != bands[i - 1].end) {
          return Status::InvalidArgument(where + ": price dimensions leave a gap or overlap at " +
                                         std::to_string(bands[i].begin));
        }
        std::optional<double> up_to;
        if (std::isfinite(bands[i].end)) up_to = bands[i].end;
        p.tiers.push_back({up_to, bands[i].price});
      }
      p.source = "offer file " + origin + " sku " + sku;
      p.date = term.value("effectiveDate", doc.value("publicationDate", std::string("unknown")));
      p.confirmed = true;
      p.note = "Loaded from an AWS Price List offer file.";
      table->SetPrice(key, std::move(p));
      report.updated_keys.push_back(key);
    }
  }
  return report;
}

}  // namespace muon::plan

// Price tables: what each AWS billing unit costs in one region, with where every figure came from.
//
// A table is loaded from TOML (the files in prices/, embedded in the binary, or the user's own with
// --prices) and may then be overridden figure by figure from AWS Price List Bulk API offer files
// (--offer-file). Prices are looked up by key ("kinesis.shard_hour"); docs/plan.md lists every key,
// its unit and how the planner uses it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::plan {

// One band of a tiered price: quantities in (previous band's up_to, up_to] cost price per unit.
struct PriceTier {
  std::optional<double> up_to;  // nullopt: no upper bound (last band)
  double price = 0;
};

struct Price {
  std::string unit;              // the billing unit, e.g. "GB-month", "1000 requests"
  std::vector<PriceTier> tiers;  // non-empty; ascending up_to; only the last may be unbounded
  std::string source;            // URL, or "offer file <path> sku <sku>"
  std::string date;              // when the figure was recorded (YYYY-MM-DD)
  bool confirmed = false;        // read at the source on that date
  std::string note;

  // The cost of `quantity` units in one billing month, applying the tiers in order.
  double CostOf(double quantity) const;
  // The price of the first unit (the headline rate).
  double FirstRate() const { return tiers.front().price; }
};

struct Quota {
  double value = 0;
  std::string source;
  std::string date;
  bool confirmed = false;
  std::string note;
};

class PriceTable {
 public:
  const std::string& region() const { return region_; }
  const std::string& origin() const { return origin_; }

  // NotFound names the key, the table's origin, and how to add it.
  Result<const Price*> Get(std::string_view key) const;
  Result<double> QuotaValue(std::string_view key) const;
  bool Has(std::string_view key) const { return prices_.count(std::string(key)) > 0; }

  const std::map<std::string, Price, std::less<>>& prices() const { return prices_; }
  const std::map<std::string, Quota, std::less<>>& quotas() const { return quotas_; }
  void SetPrice(std::string key, Price price) { prices_[std::move(key)] = std::move(price); }

  // Parses a price table. `origin` names the file in errors. Every price must have a unit, a
  // price or tiers, a source and a date; errors name the entry and the missing field.
  static Result<PriceTable> FromToml(std::string_view text, std::string origin);
  // The table compiled into the binary for `region`; NotFound lists the regions that exist.
  static Result<PriceTable> Embedded(std::string_view region);
  static std::vector<std::string> EmbeddedRegions();

 private:
  std::string region_;
  std::string origin_;
  std::map<std::string, Price, std::less<>> prices_;
  std::map<std::string, Quota, std::less<>> quotas_;
};

// What an offer file changed in a table.
struct OfferFileReport {
  std::vector<std::string> updated_keys;  // keys whose price now comes from the offer file
  int products_in_region = 0;             // products whose location matched the table's region
};

// Overrides prices in `table` from one AWS Price List Bulk API offer file (JSON with
// "products": {sku: {attributes}} and "terms": {"OnDemand": {sku: {term: {"priceDimensions":
// {id: {beginRange, endRange, unit, pricePerUnit: {USD}}}}}}}). Only products whose regionCode
// (or location name) is the table's region are used; the mapping from product attributes to
// table keys is documented in docs/plan.md. Errors name `origin` and the JSON path at fault.
Result<OfferFileReport> ApplyOfferFile(std::string_view json_text, const std::string& origin,
                                       PriceTable* table);

// AWS's display name for a region ("Asia Pacific (Sydney)"), used by offer files' "location".
std::string_view RegionLocationName(std::string_view region);

}  // namespace muon::plan

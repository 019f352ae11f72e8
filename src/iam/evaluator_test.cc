#include "iam/evaluator.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "iam/policy.h"

namespace muon::iam {
namespace {

using Keys = std::vector<std::pair<std::string, std::vector<std::string>>>;

RequestContext MakeContext(const Keys& keys) {
  RequestContext ctx;
  for (const auto& [k, v] : keys) ctx.SetMulti(k, v);
  return ctx;
}

NamedPolicy MustParse(const std::string& json, std::string name = "test-policy",
                      PolicyKind kind = PolicyKind::kIdentity) {
  auto p = ParsePolicy(json, kind);
  EXPECT_TRUE(p.ok()) << p.status().ToString() << "\n" << json;
  if (!p.ok()) return {std::move(name), Policy{}};
  return {std::move(name), std::move(p).value()};
}

Decision Decide(const std::vector<const NamedPolicy*>& policies, const Request& r) {
  return Evaluate(r, policies).decision;
}

// ---------------------------------------------------------------------------
// Condition operators. Each case is one Allow statement for s3:GetObject on
// "*" with the given Condition; the request carries exactly the listed keys.

struct ConditionCase {
  const char* name;
  const char* condition;  // the JSON value of "Condition"
  Keys context;
  bool allowed;
};

void PrintTo(const ConditionCase& c, std::ostream* os) { *os << c.name; }

class ConditionTest : public testing::TestWithParam<ConditionCase> {};

TEST_P(ConditionTest, DecidesAsAws) {
  const ConditionCase& c = GetParam();
  std::string json = std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",)"
                                 R"("Action":"s3:GetObject","Resource":"*","Condition":)") +
                     c.condition + "}}";
  NamedPolicy p = MustParse(json);
  Request r{"arn:aws:iam::123456789012:user/alice", "s3:GetObject", "arn:aws:s3:::b/k",
            MakeContext(c.context)};
  EXPECT_EQ(Decide({&p}, r), c.allowed ? Decision::kAllow : Decision::kImplicitDeny) << c.condition;
}

const ConditionCase kConditionCases[] = {
    // String operators.
    {"StringEqualsMatches",
     R"({"StringEquals":{"aws:username":"alice"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringEqualsIsCaseSensitive",
     R"({"StringEquals":{"aws:username":"alice"}})",
     {{"aws:username", {"Alice"}}},
     false},
    {"StringEqualsOnAbsentKeyIsFalse", R"({"StringEquals":{"aws:username":"alice"}})", {}, false},
    {"StringEqualsValuesAreOred",
     R"({"StringEquals":{"aws:username":["bob","alice"]}})",
     {{"aws:username", {"alice"}}},
     true},
    {"ConditionKeyNamesIgnoreCase",
     R"({"StringEquals":{"AWS:UserName":"alice"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringEqualsTakesStarLiterally",
     R"({"StringEquals":{"aws:username":"al*"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotEqualsDifferentValue",
     R"({"StringNotEquals":{"aws:username":"bob"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringNotEqualsSameValue",
     R"({"StringNotEquals":{"aws:username":"alice"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotEqualsOnAbsentKeyIsTrue",
     R"({"StringNotEquals":{"aws:username":"alice"}})",
     {},
     true},
    {"StringNotEqualsValuesAreNored",
     R"({"StringNotEquals":{"aws:username":["bob","alice"]}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotEqualsNoneOfTheValues",
     R"({"StringNotEquals":{"aws:username":["bob","carol"]}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringEqualsIgnoreCaseMatches",
     R"({"StringEqualsIgnoreCase":{"aws:username":"ALICE"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringEqualsIgnoreCaseDiffers",
     R"({"StringEqualsIgnoreCase":{"aws:username":"ALICIA"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotEqualsIgnoreCaseSame",
     R"({"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotEqualsIgnoreCaseDifferent",
     R"({"StringNotEqualsIgnoreCase":{"aws:username":"bob"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringNotEqualsIgnoreCaseAbsent",
     R"({"StringNotEqualsIgnoreCase":{"aws:username":"bob"}})",
     {},
     true},
    {"StringLikeStar",
     R"({"StringLike":{"aws:username":"ali*"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringLikeQuestionMark",
     R"({"StringLike":{"aws:username":"al?ce"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringLikeQuestionMarkNeedsOneCharacter",
     R"({"StringLike":{"aws:username":"alice?"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringLikeIsCaseSensitive",
     R"({"StringLike":{"aws:username":"ALI*"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringLikeStarInTheMiddle",
     R"({"StringLike":{"aws:username":"a*e"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringLikeSeveralStars",
     R"({"StringLike":{"s3:prefix":"a*/*/c*"}})",
     {{"s3:prefix", {"ab/x/y/cd"}}},
     true},
    {"StringLikeWithoutWildcardIsExact",
     R"({"StringLike":{"aws:username":"ali"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringLikeOnAbsentKey", R"({"StringLike":{"aws:username":"*"}})", {}, false},
    {"StringLikeStarMatchesEmpty",
     R"({"StringLike":{"s3:prefix":"*"}})",
     {{"s3:prefix", {""}}},
     true},
    {"StringNotLikeNotMatching",
     R"({"StringNotLike":{"aws:username":"bob*"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringNotLikeMatching",
     R"({"StringNotLike":{"aws:username":"a*"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringNotLikeOnAbsentKey", R"({"StringNotLike":{"aws:username":"a*"}})", {}, true},
    {"StringEqualsIfExistsAbsent",
     R"({"StringEqualsIfExists":{"aws:username":"alice"}})",
     {},
     true},
    {"StringEqualsIfExistsPresentMismatch",
     R"({"StringEqualsIfExists":{"aws:username":"alice"}})",
     {{"aws:username", {"bob"}}},
     false},
    {"StringEqualsIfExistsPresentMatch",
     R"({"StringEqualsIfExists":{"aws:username":"alice"}})",
     {{"aws:username", {"alice"}}},
     true},
    {"StringNotEqualsIfExistsPresentSame",
     R"({"StringNotEqualsIfExists":{"aws:username":"alice"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"StringLikeIfExistsAbsent", R"({"StringLikeIfExists":{"aws:username":"x*"}})", {}, true},
    {"StringEqualsNumberValueAsText",
     R"({"StringEquals":{"s3:max-keys":10}})",
     {{"s3:max-keys", {"10"}}},
     true},

    // Numeric operators.
    {"NumericEqualsSame",
     R"({"NumericEquals":{"s3:max-keys":"10"}})",
     {{"s3:max-keys", {"10"}}},
     true},
    {"NumericEqualsComparesNumbersNotText",
     R"({"NumericEquals":{"s3:max-keys":"10"}})",
     {{"s3:max-keys", {"10.0"}}},
     true},
    {"NumericEqualsDifferent",
     R"({"NumericEquals":{"s3:max-keys":"10"}})",
     {{"s3:max-keys", {"11"}}},
     false},
    {"NumericNotEqualsDifferent",
     R"({"NumericNotEquals":{"s3:max-keys":"10"}})",
     {{"s3:max-keys", {"11"}}},
     true},
    {"NumericNotEqualsSame",
     R"({"NumericNotEquals":{"s3:max-keys":"10"}})",
     {{"s3:max-keys", {"10"}}},
     false},
    {"NumericNotEqualsAbsent", R"({"NumericNotEquals":{"s3:max-keys":"10"}})", {}, true},
    {"NumericLessThanBelow",
     R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}})",
     {{"aws:MultiFactorAuthAge", {"100"}}},
     true},
    {"NumericLessThanEqualIsFalse",
     R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}})",
     {{"aws:MultiFactorAuthAge", {"3600"}}},
     false},
    {"NumericLessThanEqualsEqual",
     R"({"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"3600"}})",
     {{"aws:MultiFactorAuthAge", {"3600"}}},
     true},
    {"NumericLessThanEqualsAbove",
     R"({"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"3600"}})",
     {{"aws:MultiFactorAuthAge", {"3601"}}},
     false},
    {"NumericGreaterThanAbove",
     R"({"NumericGreaterThan":{"s3:max-keys":"5"}})",
     {{"s3:max-keys", {"6"}}},
     true},
    {"NumericGreaterThanEqualIsFalse",
     R"({"NumericGreaterThan":{"s3:max-keys":"5"}})",
     {{"s3:max-keys", {"5"}}},
     false},
    {"NumericGreaterThanEqualsEqual",
     R"({"NumericGreaterThanEquals":{"s3:max-keys":"5"}})",
     {{"s3:max-keys", {"5"}}},
     true},
    {"NumericGreaterThanEqualsBelow",
     R"({"NumericGreaterThanEquals":{"s3:max-keys":"5"}})",
     {{"s3:max-keys", {"4"}}},
     false},
    {"NumericJsonNumberValue",
     R"({"NumericLessThan":{"aws:MultiFactorAuthAge":3600}})",
     {{"aws:MultiFactorAuthAge", {"10"}}},
     true},
    {"NumericContextNotANumber",
     R"({"NumericLessThan":{"aws:MultiFactorAuthAge":3600}})",
     {{"aws:MultiFactorAuthAge", {"abc"}}},
     false},
    {"NumericLessThanAbsent", R"({"NumericLessThan":{"aws:MultiFactorAuthAge":3600}})", {}, false},
    {"NumericLessThanIfExistsAbsent",
     R"({"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":3600}})",
     {},
     true},
    {"NumericNegativeAndFractional",
     R"({"NumericGreaterThan":{"x:temp":"-2"}})",
     {{"x:temp", {"-1.5"}}},
     true},
    {"NumericValuesAreOred",
     R"({"NumericEquals":{"s3:max-keys":[1,2]}})",
     {{"s3:max-keys", {"2"}}},
     true},

    // Date operators.
    {"DateLessThanFuture",
     R"({"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateLessThanPast",
     R"({"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     false},
    {"DateGreaterThanPast",
     R"({"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateGreaterThanSameInstant",
     R"({"DateGreaterThan":{"aws:CurrentTime":"2026-11-28T02:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     false},
    {"DateGreaterThanEqualsSameInstant",
     R"({"DateGreaterThanEquals":{"aws:CurrentTime":"2026-11-28T02:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateLessThanEqualsSameInstant",
     R"({"DateLessThanEquals":{"aws:CurrentTime":"2026-11-28T02:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateEqualsAcrossTimeZones",
     R"({"DateEquals":{"aws:CurrentTime":"2026-11-28T12:00:00+10:00"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateNotEqualsSameInstant",
     R"({"DateNotEquals":{"aws:CurrentTime":"2026-11-28T02:00:00Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     false},
    {"DateNotEqualsDifferentInstant",
     R"({"DateNotEquals":{"aws:CurrentTime":"2026-11-28T02:00:01Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateNotEqualsAbsent",
     R"({"DateNotEquals":{"aws:CurrentTime":"2026-11-28T02:00:01Z"}})",
     {},
     true},
    {"DateEpochPolicyValue",
     R"({"DateGreaterThan":{"aws:EpochTime":"1700000000"}})",
     {{"aws:EpochTime", {"1764295200"}}},
     true},
    {"DateEpochContextAgainstIsoPolicy",
     R"({"DateLessThan":{"aws:EpochTime":"2030-01-01"}})",
     {{"aws:EpochTime", {"1764295200"}}},
     true},
    {"DateOnlyIsMidnightUtc",
     R"({"DateEquals":{"aws:CurrentTime":"2026-11-28"}})",
     {{"aws:CurrentTime", {"2026-11-28T00:00:00Z"}}},
     true},
    {"DateFractionalSeconds",
     R"({"DateLessThan":{"aws:CurrentTime":"2026-11-28T02:00:00.500Z"}})",
     {{"aws:CurrentTime", {"2026-11-28T02:00:00Z"}}},
     true},
    {"DateLessThanAbsent",
     R"({"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}})",
     {},
     false},
    {"DateLessThanIfExistsAbsent",
     R"({"DateLessThanIfExists":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}})",
     {},
     true},
    {"DateContextNotADate",
     R"({"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}})",
     {{"aws:CurrentTime", {"yesterday"}}},
     false},

    // Bool.
    {"BoolTrue",
     R"({"Bool":{"aws:SecureTransport":"true"}})",
     {{"aws:SecureTransport", {"true"}}},
     true},
    {"BoolIgnoresCase",
     R"({"Bool":{"aws:SecureTransport":"true"}})",
     {{"aws:SecureTransport", {"TRUE"}}},
     true},
    {"BoolMismatch",
     R"({"Bool":{"aws:SecureTransport":"true"}})",
     {{"aws:SecureTransport", {"false"}}},
     false},
    {"BoolOnAbsentKey", R"({"Bool":{"aws:MultiFactorAuthPresent":"false"}})", {}, false},
    {"BoolIfExistsAbsentKey",
     R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}})",
     {},
     true},
    {"BoolIfExistsPresentTrue",
     R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}})",
     {{"aws:MultiFactorAuthPresent", {"true"}}},
     false},
    {"BoolIfExistsPresentFalse",
     R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}})",
     {{"aws:MultiFactorAuthPresent", {"false"}}},
     true},
    {"BoolJsonBooleanValue",
     R"({"Bool":{"aws:SecureTransport":true}})",
     {{"aws:SecureTransport", {"true"}}},
     true},
    {"BoolContextNotABoolean",
     R"({"Bool":{"aws:SecureTransport":"true"}})",
     {{"aws:SecureTransport", {"yes"}}},
     false},

    // BinaryEquals: the policy holds base64, the context the raw bytes.
    {"BinaryEqualsMatches",
     R"({"BinaryEquals":{"x:blob":"QmluYXJ5"}})",
     {{"x:blob", {"Binary"}}},
     true},
    {"BinaryEqualsDiffers",
     R"({"BinaryEquals":{"x:blob":"QmluYXJ5"}})",
     {{"x:blob", {"binary"}}},
     false},
    {"BinaryEqualsAbsent", R"({"BinaryEquals":{"x:blob":"QmluYXJ5"}})", {}, false},
    {"BinaryEqualsIfExistsAbsent", R"({"BinaryEqualsIfExists":{"x:blob":"QmluYXJ5"}})", {}, true},

    // IP addresses.
    {"IpAddressInBlock",
     R"({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}})",
     {{"aws:SourceIp", {"203.0.113.7"}}},
     true},
    {"IpAddressOutsideBlock",
     R"({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}})",
     {{"aws:SourceIp", {"203.0.114.7"}}},
     false},
    {"IpAddressBareAddressSame",
     R"({"IpAddress":{"aws:SourceIp":"198.51.100.9"}})",
     {{"aws:SourceIp", {"198.51.100.9"}}},
     true},
    {"IpAddressBareAddressDifferent",
     R"({"IpAddress":{"aws:SourceIp":"198.51.100.9"}})",
     {{"aws:SourceIp", {"198.51.100.10"}}},
     false},
    {"IpAddressSlashZeroIsEveryIpv4",
     R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})",
     {{"aws:SourceIp", {"192.0.2.1"}}},
     true},
    {"IpAddressOddPrefixInside",
     R"({"IpAddress":{"aws:SourceIp":"10.0.16.0/20"}})",
     {{"aws:SourceIp", {"10.0.31.255"}}},
     true},
    {"IpAddressOddPrefixOutside",
     R"({"IpAddress":{"aws:SourceIp":"10.0.16.0/20"}})",
     {{"aws:SourceIp", {"10.0.32.0"}}},
     false},
    {"IpAddressIpv6Inside",
     R"({"IpAddress":{"aws:SourceIp":"2001:db8::/32"}})",
     {{"aws:SourceIp", {"2001:db8:1::5"}}},
     true},
    {"IpAddressIpv6Outside",
     R"({"IpAddress":{"aws:SourceIp":"2001:db8::/32"}})",
     {{"aws:SourceIp", {"2001:db9::1"}}},
     false},
    {"IpAddressIpv6Slash64Inside",
     R"({"IpAddress":{"aws:SourceIp":"2001:db8:0:1::/64"}})",
     {{"aws:SourceIp", {"2001:db8:0:1:ffff::1"}}},
     true},
    {"IpAddressIpv6Slash64Outside",
     R"({"IpAddress":{"aws:SourceIp":"2001:db8:0:1::/64"}})",
     {{"aws:SourceIp", {"2001:db8:0:2::1"}}},
     false},
    {"IpAddressFamiliesDoNotMix",
     R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})",
     {{"aws:SourceIp", {"::1"}}},
     false},
    {"IpAddressBlocksAreOred",
     R"({"IpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}})",
     {{"aws:SourceIp", {"203.0.113.200"}}},
     true},
    {"NotIpAddressOutside",
     R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})",
     {{"aws:SourceIp", {"192.0.2.1"}}},
     true},
    {"NotIpAddressInside",
     R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})",
     {{"aws:SourceIp", {"203.0.113.1"}}},
     false},
    {"NotIpAddressAbsent", R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})", {}, true},
    {"IpAddressAbsent", R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})", {}, false},
    {"IpAddressContextNotAnAddress",
     R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})",
     {{"aws:SourceIp", {"localhost"}}},
     false},
    {"IpAddressIfExistsAbsent", R"({"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}})", {}, true},

    // ARN operators.
    {"ArnEqualsSame",
     R"({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/alice"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnEqualsDifferent",
     R"({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/bob"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     false},
    {"ArnEqualsIsCaseSensitive",
     R"({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/Alice"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     false},
    {"ArnLikeResourceWildcard",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/*"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnLikeAccountWildcard",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/alice"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnLikeQuestionMark",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::12345678901?:user/alice"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnLikeStarDoesNotCrossColons",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:*:user/alice"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     false},
    {"ArnLikeAllSixPartsWildcard",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:*:*:*:*:*"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnLikeContextNotAnArn",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:*:*:*:*:*"}})",
     {{"aws:PrincipalArn", {"alice"}}},
     false},
    {"ArnNotLikeNotMatching",
     R"({"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     true},
    {"ArnNotLikeMatching",
     R"({"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}},
     false},
    {"ArnNotEqualsAbsent",
     R"({"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/alice"}})",
     {},
     true},
    {"ArnLikeAbsent", R"({"ArnLike":{"aws:PrincipalArn":"arn:*:*:*:*:*"}})", {}, false},
    {"ArnLikeIfExistsAbsent",
     R"({"ArnLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::*:x"}})",
     {},
     true},

    // Null: presence only.
    {"NullTrueOnAbsentKey", R"({"Null":{"aws:MultiFactorAuthAge":"true"}})", {}, true},
    {"NullTrueOnPresentKey",
     R"({"Null":{"aws:MultiFactorAuthAge":"true"}})",
     {{"aws:MultiFactorAuthAge", {"10"}}},
     false},
    {"NullFalseOnPresentKey",
     R"({"Null":{"aws:MultiFactorAuthAge":"false"}})",
     {{"aws:MultiFactorAuthAge", {"10"}}},
     true},
    {"NullFalseOnAbsentKey", R"({"Null":{"aws:MultiFactorAuthAge":false}})", {}, false},

    // Set qualifiers on a multi-valued key.
    {"ForAnyValueOneMatches",
     R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}})",
     {{"aws:TagKeys", {"a", "x"}}},
     true},
    {"ForAnyValueNoneMatch",
     R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}})",
     {{"aws:TagKeys", {"x", "y"}}},
     false},
    {"ForAnyValueOnAbsentKey", R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}})", {}, false},
    {"ForAnyValueOnEmptySet",
     R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {}}},
     false},
    {"ForAllValuesAllInside",
     R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a","b","c"]}})",
     {{"aws:TagKeys", {"a", "b"}}},
     true},
    {"ForAllValuesOneOutside",
     R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}})",
     {{"aws:TagKeys", {"a", "z"}}},
     false},
    {"ForAllValuesOnAbsentKeyIsTrue",
     R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}})",
     {},
     true},
    {"ForAllValuesOnEmptySetIsTrue",
     R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {}}},
     true},
    {"ForAllValuesStringLike",
     R"({"ForAllValues:StringLike":{"aws:TagKeys":"dept-*"}})",
     {{"aws:TagKeys", {"dept-a", "dept-b"}}},
     true},
    {"ForAnyValueStringLike",
     R"({"ForAnyValue:StringLike":{"aws:TagKeys":"dept-*"}})",
     {{"aws:TagKeys", {"team", "dept-b"}}},
     true},
    {"ForAllValuesNegatedNoValueListed",
     R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {"x", "y"}}},
     true},
    {"ForAllValuesNegatedOneValueListed",
     R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {"a", "y"}}},
     false},
    {"ForAnyValueNegatedOneValueUnlisted",
     R"({"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {"a", "y"}}},
     true},
    {"ForAnyValueNegatedAllValuesListed",
     R"({"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}})",
     {{"aws:TagKeys", {"a"}}},
     false},
    {"ForAllValuesIfExistsAbsent",
     R"({"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["a"]}})",
     {},
     true},
    {"ForAnyValueIfExistsAbsent",
     R"({"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}})",
     {},
     true},
    {"UnqualifiedPositiveOnMultiValuedKeyIsAny",
     R"({"StringEquals":{"aws:TagKeys":"a"}})",
     {{"aws:TagKeys", {"x", "a"}}},
     true},
    {"UnqualifiedNegatedOnMultiValuedKeyIsNone",
     R"({"StringNotEquals":{"aws:TagKeys":"a"}})",
     {{"aws:TagKeys", {"x", "a"}}},
     false},
    {"ForAnyValueNumeric",
     R"({"ForAnyValue:NumericLessThan":{"x:sizes":10}})",
     {{"x:sizes", {"5", "50"}}},
     true},
    {"ForAllValuesNumeric",
     R"({"ForAllValues:NumericLessThan":{"x:sizes":10}})",
     {{"x:sizes", {"5", "50"}}},
     false},
    {"ForAnyValueIpAddress",
     R"({"ForAnyValue:IpAddress":{"x:hops":"10.0.0.0/8"}})",
     {{"x:hops", {"192.0.2.1", "10.1.2.3"}}},
     true},
    {"ForAllValuesArnLike",
     R"({"ForAllValues:ArnLike":{"x:arns":"arn:aws:s3:::b/*"}})",
     {{"x:arns", {"arn:aws:s3:::b/1", "arn:aws:s3:::c/2"}}},
     false},

    // Several operators and keys are ANDed.
    {"TwoOperatorsBothHold",
     R"({"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})",
     {{"aws:SecureTransport", {"true"}}, {"aws:SourceIp", {"10.2.3.4"}}},
     true},
    {"TwoOperatorsOneFails",
     R"({"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})",
     {{"aws:SecureTransport", {"false"}}, {"aws:SourceIp", {"10.2.3.4"}}},
     false},
    {"TwoKeysUnderOneOperatorOneAbsent",
     R"({"StringEquals":{"aws:username":"alice","aws:userid":"AIDA1"}})",
     {{"aws:username", {"alice"}}},
     false},
    {"TwoKeysUnderOneOperatorBothHold",
     R"({"StringEquals":{"aws:username":"alice","aws:userid":"AIDA1"}})",
     {{"aws:username", {"alice"}}, {"aws:userid", {"AIDA1"}}},
     true},

    // Policy variables in condition values.
    {"VariableInStringEquals",
     R"({"StringEquals":{"s3:prefix":"home/${aws:username}/"}})",
     {{"s3:prefix", {"home/alice/"}}, {"aws:username", {"alice"}}},
     true},
    {"VariableForSomeoneElse",
     R"({"StringEquals":{"s3:prefix":"home/${aws:username}/"}})",
     {{"s3:prefix", {"home/alice/"}}, {"aws:username", {"bob"}}},
     false},
    {"VariableUnresolvedVoidsTheCondition",
     R"({"StringEquals":{"s3:prefix":"home/${aws:username}/"}})",
     {{"s3:prefix", {"home//"}}},
     false},
    {"VariableUnresolvedVoidsNegatedCondition",
     R"({"StringNotEquals":{"s3:prefix":"home/${aws:username}/"}})",
     {{"s3:prefix", {"x"}}},
     false},
    {"VariableDefaultValue",
     R"({"StringEquals":{"s3:prefix":"home/${aws:username, 'guest'}/"}})",
     {{"s3:prefix", {"home/guest/"}}},
     true},
    {"VariableDefaultIgnoredWhenPresent",
     R"({"StringEquals":{"s3:prefix":"home/${aws:username, 'guest'}/"}})",
     {{"s3:prefix", {"home/guest/"}}, {"aws:username", {"alice"}}},
     false},
    {"VariableDefaultDoubledQuote",
     R"({"StringEquals":{"x:name":"${aws:username, 'o''neil'}"}})",
     {{"x:name", {"o'neil"}}},
     true},
    {"VariableInStringLikeWithWildcard",
     R"({"StringLike":{"s3:prefix":"home/${aws:username}/*"}})",
     {{"s3:prefix", {"home/alice/photos/1"}}, {"aws:username", {"alice"}}},
     true},
    {"VariableValueIsNeverAWildcard",
     R"({"StringLike":{"s3:prefix":"home/${aws:username}/x"}})",
     {{"s3:prefix", {"home/bob/x"}}, {"aws:username", {"*"}}},
     false},
    {"VariableStarIsLiteralInStringEquals",
     R"({"StringEquals":{"x:k":"a${*}b"}})",
     {{"x:k", {"a*b"}}},
     true},
    {"VariableStarIsLiteralInStringLike",
     R"({"StringLike":{"x:k":"a${*}b"}})",
     {{"x:k", {"axb"}}},
     false},
    {"VariableQuestionMarkIsLiteral", R"({"StringLike":{"x:k":"a${?}"}})", {{"x:k", {"a?"}}}, true},
    {"VariableQuestionMarkDoesNotMatchOther",
     R"({"StringLike":{"x:k":"a${?}"}})",
     {{"x:k", {"ab"}}},
     false},
    {"VariableDollarIsLiteral", R"({"StringEquals":{"x:k":"${$}{x}"}})", {{"x:k", {"${x}"}}}, true},
    {"VariablePrincipalTag",
     R"({"StringEquals":{"x:project":"${aws:PrincipalTag/project}"}})",
     {{"x:project", {"muography"}}, {"aws:PrincipalTag/project", {"muography"}}},
     true},
    {"VariableMultiValuedKeyIsUnresolved",
     R"({"StringEquals":{"x:k":"${aws:TagKeys}"}})",
     {{"x:k", {"a"}}, {"aws:TagKeys", {"a", "b"}}},
     false},
    {"VariableNameIgnoresCase",
     R"({"StringEquals":{"x:k":"${AWS:UserName}"}})",
     {{"x:k", {"alice"}}, {"aws:username", {"alice"}}},
     true},
    {"VariableUserId",
     R"({"StringEquals":{"x:owner":"${aws:userid}"}})",
     {{"x:owner", {"AIDAEXAMPLE"}}, {"aws:userid", {"AIDAEXAMPLE"}}},
     true},
    {"VariableInArnLike",
     R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:username}"}})",
     {{"aws:PrincipalArn", {"arn:aws:iam::123456789012:user/alice"}}, {"aws:username", {"alice"}}},
     true},
    {"VariableSpacesAroundDefault",
     R"({"StringEquals":{"x:k":"${ aws:username , 'guest' }"}})",
     {{"x:k", {"guest"}}},
     true},
};

INSTANTIATE_TEST_SUITE_P(Operators, ConditionTest, testing::ValuesIn(kConditionCases),
                         [](const testing::TestParamInfo<ConditionCase>& i) {
                           return std::string(i.param.name);
                         });

// ---------------------------------------------------------------------------
// Action and Resource matching.

struct MatchCase {
  const char* name;
  const char* action_element;    // JSON: "Action": ... or "NotAction": ...
  const char* resource_element;  // JSON: "Resource": ... or "NotResource": ...
  const char* action;
  const char* resource;
  Keys context;
  bool allowed;
};

void PrintTo(const MatchCase& c, std::ostream* os) { *os << c.name; }

class MatchTest : public testing::TestWithParam<MatchCase> {};

TEST_P(MatchTest, DecidesAsAws) {
  const MatchCase& c = GetParam();
  std::string json = std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)") +
                     c.action_element + "," + c.resource_element + "}]}";
  NamedPolicy p = MustParse(json);
  Request r{"arn:aws:iam::123456789012:user/alice", c.action, c.resource, MakeContext(c.context)};
  EXPECT_EQ(Decide({&p}, r), c.allowed ? Decision::kAllow : Decision::kImplicitDeny) << json;
}

constexpr const char* kStream = "arn:aws:kinesis:ap-southeast-2:123456789012:stream/muonpipe-a";

const MatchCase kMatchCases[] = {
    {"ActionExact",
     R"("Action":"s3:GetObject")",
     R"("Resource":"*")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ActionIgnoresCase",
     R"("Action":"S3:getobject")",
     R"("Resource":"*")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ActionPrefixWildcard",
     R"("Action":"s3:Get*")",
     R"("Resource":"*")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ActionPrefixWildcardOtherVerb",
     R"("Action":"s3:Get*")",
     R"("Resource":"*")",
     "s3:PutObject",
     "arn:aws:s3:::b/k",
     {},
     false},
    {"ActionServiceWildcard",
     R"("Action":"s3:*")",
     R"("Resource":"*")",
     "s3:PutObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ActionOtherService",
     R"("Action":"kinesis:*")",
     R"("Resource":"*")",
     "s3:PutObject",
     "arn:aws:s3:::b/k",
     {},
     false},
    {"ActionStarAlone", R"("Action":"*")", R"("Resource":"*")", "iam:CreateUser", "*", {}, true},
    {"ActionQuestionMark",
     R"("Action":"s3:?etObject")",
     R"("Resource":"*")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ActionWildcardInMiddle",
     R"("Action":"iam:*AccessKey*")",
     R"("Resource":"*")",
     "iam:CreateAccessKey",
     "*",
     {},
     true},
    {"ActionServicePrefixIsExact",
     R"("Action":"s3:GetObject")",
     R"("Resource":"*")",
     "s3x:GetObject",
     "*",
     {},
     false},
    {"ActionList",
     R"("Action":["kinesis:PutRecord","kinesis:PutRecords"])",
     R"("Resource":"*")",
     "kinesis:PutRecords",
     kStream,
     {},
     true},
    {"NotActionExcludesListed",
     R"("NotAction":"iam:*")",
     R"("Resource":"*")",
     "iam:CreateUser",
     "*",
     {},
     false},
    {"NotActionCoversOthers",
     R"("NotAction":"iam:*")",
     R"("Resource":"*")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"NotActionIgnoresCase",
     R"("NotAction":"IAM:createuser")",
     R"("Resource":"*")",
     "iam:CreateUser",
     "*",
     {},
     false},
    {"ResourceExact",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/k")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"ResourceIsCaseSensitive",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/K")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     false},
    {"ResourceKeyWildcard",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/*")",
     "s3:GetObject",
     "arn:aws:s3:::b/x/y/z",
     {},
     true},
    {"ResourceBucketIsNotItsObjects",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b")",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     false},
    {"ResourceOtherBucket",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/*")",
     "s3:GetObject",
     "arn:aws:s3:::c/k",
     {},
     false},
    {"ResourceRegionAndAccountWildcards",
     R"("Action":"kinesis:PutRecord")",
     R"("Resource":"arn:aws:kinesis:*:*:stream/muonpipe-*")",
     "kinesis:PutRecord",
     kStream,
     {},
     true},
    {"ResourceRegionPrefix",
     R"("Action":"kinesis:PutRecord")",
     R"("Resource":"arn:aws:kinesis:us-*:*:stream/*")",
     "kinesis:PutRecord",
     kStream,
     {},
     false},
    {"ResourceServiceSegment",
     R"("Action":"*")",
     R"("Resource":"arn:aws:s3:::*")",
     "kinesis:PutRecord",
     kStream,
     {},
     false},
    {"ResourceEverySegmentWildcard",
     R"("Action":"*")",
     R"("Resource":"arn:*:*:*:*:*")",
     "kinesis:PutRecord",
     kStream,
     {},
     true},
    {"ResourcePartTakesTheRestWithColons",
     R"("Action":"logs:PutLogEvents")",
     R"("Resource":"arn:aws:logs:*:*:log-group:g:*")",
     "logs:PutLogEvents",
     "arn:aws:logs:ap-southeast-2:123456789012:log-group:g:log-stream:s",
     {},
     true},
    {"ResourceQuestionMark",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/k?")",
     "s3:GetObject",
     "arn:aws:s3:::b/k1",
     {},
     true},
    {"ResourceStarMatchesStarResource",
     R"("Action":"kinesis:ListStreams")",
     R"("Resource":"*")",
     "kinesis:ListStreams",
     "*",
     {},
     true},
    {"ResourceArnDoesNotMatchStarResource",
     R"("Action":"kinesis:ListStreams")",
     R"("Resource":"arn:aws:kinesis:*:*:stream/*")",
     "kinesis:ListStreams",
     "*",
     {},
     false},
    {"ResourceStreamNameIsExact",
     R"("Action":"kinesis:PutRecord")",
     R"("Resource":"arn:aws:kinesis:*:*:stream/muonpipe")",
     "kinesis:PutRecord",
     kStream,
     {},
     false},
    {"ResourceList",
     R"("Action":"s3:GetObject")",
     R"("Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"])",
     "s3:GetObject",
     "arn:aws:s3:::b/k",
     {},
     true},
    {"NotResourceExcludesListed",
     R"("Action":"s3:*")",
     R"("NotResource":"arn:aws:s3:::secret/*")",
     "s3:GetObject",
     "arn:aws:s3:::secret/k",
     {},
     false},
    {"NotResourceCoversOthers",
     R"("Action":"s3:*")",
     R"("NotResource":"arn:aws:s3:::secret/*")",
     "s3:GetObject",
     "arn:aws:s3:::open/k",
     {},
     true},
    {"ResourceVariable",
     R"("Action":"s3:PutObject")",
     R"("Resource":"arn:aws:s3:::b/home/${aws:username}/*")",
     "s3:PutObject",
     "arn:aws:s3:::b/home/alice/f",
     {{"aws:username", {"alice"}}},
     true},
    {"ResourceVariableOtherUser",
     R"("Action":"s3:PutObject")",
     R"("Resource":"arn:aws:s3:::b/home/${aws:username}/*")",
     "s3:PutObject",
     "arn:aws:s3:::b/home/bob/f",
     {{"aws:username", {"alice"}}},
     false},
    {"ResourceVariableUnresolved",
     R"("Action":"s3:PutObject")",
     R"("Resource":"arn:aws:s3:::b/home/${aws:username}/*")",
     "s3:PutObject",
     "arn:aws:s3:::b/home//f",
     {},
     false},
    {"ResourceVariableNeverWildcard",
     R"("Action":"s3:PutObject")",
     R"("Resource":"arn:aws:s3:::b/home/${aws:username}/f")",
     "s3:PutObject",
     "arn:aws:s3:::b/home/bob/f",
     {{"aws:username", {"*"}}},
     false},
    {"ResourceVariableDefault",
     R"("Action":"s3:PutObject")",
     R"("Resource":"arn:aws:s3:::b/home/${aws:username,'shared'}/*")",
     "s3:PutObject",
     "arn:aws:s3:::b/home/shared/f",
     {},
     true},
    {"ResourceLiteralStarVariable",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/${*}")",
     "s3:GetObject",
     "arn:aws:s3:::b/x",
     {},
     false},
    {"ResourceLiteralStarVariableMatchesStar",
     R"("Action":"s3:GetObject")",
     R"("Resource":"arn:aws:s3:::b/${*}")",
     "s3:GetObject",
     "arn:aws:s3:::b/*",
     {},
     true},
    {"NotResourceVariableUnresolvedVoidsStatement",
     R"("Action":"s3:*")",
     R"("NotResource":"arn:aws:s3:::b/home/${aws:username}/*")",
     "s3:GetObject",
     "arn:aws:s3:::other/k",
     {},
     false},
};

INSTANTIATE_TEST_SUITE_P(Elements, MatchTest, testing::ValuesIn(kMatchCases),
                         [](const testing::TestParamInfo<MatchCase>& i) {
                           return std::string(i.param.name);
                         });

// ---------------------------------------------------------------------------
// Evaluation logic across statements and policies.

constexpr const char* kAllowS3 =
    R"({"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Action":"s3:*","Resource":"*"}]})";
constexpr const char* kDenySecret =
    R"({"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::secret/*"}]})";

Request S3Get(std::string resource) {
  return {"arn:aws:iam::123456789012:user/alice", "s3:GetObject", std::move(resource), {}};
}

TEST(EvaluateTest, NoPoliciesIsImplicitDeny) {
  auto r = Evaluate(S3Get("arn:aws:s3:::b/k"), {});
  EXPECT_EQ(r.decision, Decision::kImplicitDeny);
  EXPECT_FALSE(r.statement.has_value());
}

TEST(EvaluateTest, ExplicitDenyBeatsAllowInAnotherPolicy) {
  NamedPolicy allow = MustParse(kAllowS3, "AllowS3");
  NamedPolicy deny = MustParse(kDenySecret, "DenySecret");
  auto r = Evaluate(S3Get("arn:aws:s3:::secret/k"), std::vector<const NamedPolicy*>{&allow, &deny});
  EXPECT_EQ(r.decision, Decision::kExplicitDeny);
  ASSERT_TRUE(r.statement);
  EXPECT_EQ(r.statement->policy_name, "DenySecret");
  EXPECT_EQ(r.statement->sid, "NoSecrets");
}

TEST(EvaluateTest, ExplicitDenyBeatsAllowWhateverTheOrder) {
  NamedPolicy allow = MustParse(kAllowS3, "AllowS3");
  NamedPolicy deny = MustParse(kDenySecret, "DenySecret");
  auto r = Evaluate(S3Get("arn:aws:s3:::secret/k"), std::vector<const NamedPolicy*>{&deny, &allow});
  EXPECT_EQ(r.decision, Decision::kExplicitDeny);
}

TEST(EvaluateTest, DenyThatDoesNotApplyLeavesAllow) {
  NamedPolicy allow = MustParse(kAllowS3, "AllowS3");
  NamedPolicy deny = MustParse(kDenySecret, "DenySecret");
  auto r = Evaluate(S3Get("arn:aws:s3:::public/k"), std::vector<const NamedPolicy*>{&allow, &deny});
  EXPECT_EQ(r.decision, Decision::kAllow);
  ASSERT_TRUE(r.statement);
  EXPECT_EQ(r.statement->policy_name, "AllowS3");
  EXPECT_EQ(r.statement->sid, "AllowAll");
  EXPECT_EQ(r.statement->index, 0);
}

TEST(EvaluateTest, DenyWithinOnePolicyBeatsEarlierAllow) {
  NamedPolicy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"*","Resource":"*"},
      {"Sid":"Second","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]})");
  auto r = Evaluate(S3Get("arn:aws:s3:::b/k"), std::vector<const NamedPolicy*>{&p});
  EXPECT_EQ(r.decision, Decision::kExplicitDeny);
  EXPECT_EQ(r.statement->index, 1);
}

TEST(EvaluateTest, FirstApplicableAllowIsReported) {
  NamedPolicy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Sid":"Other","Effect":"Allow","Action":"kinesis:*","Resource":"*"},
      {"Sid":"First","Effect":"Allow","Action":"s3:*","Resource":"*"},
      {"Sid":"Later","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]})");
  auto r = Evaluate(S3Get("arn:aws:s3:::b/k"), std::vector<const NamedPolicy*>{&p});
  EXPECT_EQ(r.decision, Decision::kAllow);
  EXPECT_EQ(r.statement->sid, "First");
}

TEST(EvaluateTest, DenyOnlyPolicyNeverAllows) {
  NamedPolicy deny = MustParse(kDenySecret, "DenySecret");
  auto r = Evaluate(S3Get("arn:aws:s3:::public/k"), std::vector<const NamedPolicy*>{&deny});
  EXPECT_EQ(r.decision, Decision::kImplicitDeny);
}

TEST(EvaluateTest, OldVersionTakesVariablesLiterally) {
  NamedPolicy p = MustParse(R"({"Version":"2008-10-17","Statement":{"Effect":"Allow",
      "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}})");
  Request r = S3Get("arn:aws:s3:::b/alice/k");
  r.context.Set("aws:username", "alice");
  EXPECT_EQ(Decide({&p}, r), Decision::kImplicitDeny);
  EXPECT_EQ(Decide({&p}, S3Get("arn:aws:s3:::b/${aws:username}/k")), Decision::kAllow);
}

TEST(EvaluateTest, MissingVersionMeansOldVersion) {
  auto p = ParsePolicy(R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->version, "2008-10-17");
  EXPECT_FALSE(p->variables_enabled());
}

TEST(EvaluateTest, ImplicitDenialMessageIsAwsShaped) {
  Request r = S3Get("arn:aws:s3:::b/k");
  EvaluationResult res = Evaluate(r, {});
  EXPECT_EQ(res.DenialMessage(r),
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
            "s3:GetObject on resource: arn:aws:s3:::b/k because no identity-based policy allows "
            "the s3:GetObject action");
}

TEST(EvaluateTest, ExplicitDenialMessageNamesPolicyAndStatement) {
  NamedPolicy deny = MustParse(kDenySecret, "arn:aws:iam::123456789012:policy/DenySecret");
  Request r = S3Get("arn:aws:s3:::secret/k");
  EvaluationResult res = Evaluate(r, std::vector<const NamedPolicy*>{&deny});
  EXPECT_EQ(res.DenialMessage(r),
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
            "s3:GetObject on resource: arn:aws:s3:::secret/k with an explicit deny in an "
            "identity-based policy: arn:aws:iam::123456789012:policy/DenySecret (NoSecrets)");
}

TEST(EvaluateTest, DecisionNames) {
  EXPECT_EQ(DecisionName(Decision::kAllow), "Allow");
  EXPECT_EQ(DecisionName(Decision::kExplicitDeny), "ExplicitDeny");
  EXPECT_EQ(DecisionName(Decision::kImplicitDeny), "ImplicitDeny");
}

TEST(RequestContextTest, KeysIgnoreCaseValuesDoNot) {
  RequestContext ctx;
  ctx.Set("aws:PrincipalTag/Team", "Physics");
  ASSERT_NE(ctx.Find("AWS:principaltag/team"), nullptr);
  EXPECT_EQ(ctx.Find("aws:principaltag/team")->at(0), "Physics");
  ctx.Erase("AWS:PRINCIPALTAG/TEAM");
  EXPECT_EQ(ctx.Find("aws:PrincipalTag/Team"), nullptr);
}

// ---------------------------------------------------------------------------
// Trust (resource) policies: Principal and NotPrincipal.

struct TrustCase {
  const char* name;
  const char* principal_element;
  const char* principal;
  bool allowed;
};

void PrintTo(const TrustCase& c, std::ostream* os) { *os << c.name; }

class TrustTest : public testing::TestWithParam<TrustCase> {};

TEST_P(TrustTest, DecidesAsAws) {
  const TrustCase& c = GetParam();
  std::string json = std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)") +
                     c.principal_element + R"(,"Action":"sts:AssumeRole"}]})";
  NamedPolicy p = MustParse(json, "trust", PolicyKind::kResource);
  Request r{c.principal, "sts:AssumeRole", "arn:aws:iam::123456789012:role/Analyst", {}};
  EXPECT_EQ(EvaluateResourcePolicy(r, p).decision,
            c.allowed ? Decision::kAllow : Decision::kImplicitDeny);
}

const TrustCase kTrustCases[] = {
    {"StarCoversEveryone", R"("Principal":"*")", "arn:aws:iam::999999999999:user/x", true},
    {"AwsStarCoversEveryone", R"("Principal":{"AWS":"*"})", "arn:aws:iam::999999999999:user/x",
     true},
    {"AccountIdCoversItsUsers", R"("Principal":{"AWS":"123456789012"})",
     "arn:aws:iam::123456789012:user/alice", true},
    {"AccountIdDoesNotCoverOthers", R"("Principal":{"AWS":"123456789012"})",
     "arn:aws:iam::999999999999:user/alice", false},
    {"AccountRootCoversItsUsers", R"("Principal":{"AWS":"arn:aws:iam::123456789012:root"})",
     "arn:aws:iam::123456789012:user/alice", true},
    {"ExactUserArn", R"("Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"})",
     "arn:aws:iam::123456789012:user/alice", true},
    {"OtherUserArn", R"("Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"})",
     "arn:aws:iam::123456789012:user/bob", false},
    {"UserArnList",
     R"("Principal":{"AWS":["arn:aws:iam::123456789012:user/bob","arn:aws:iam::123456789012:user/alice"]})",
     "arn:aws:iam::123456789012:user/alice", true},
    {"ServicePrincipal", R"("Principal":{"Service":"firehose.amazonaws.com"})",
     "firehose.amazonaws.com", true},
    {"ServicePrincipalOther", R"("Principal":{"Service":"firehose.amazonaws.com"})",
     "ec2.amazonaws.com", false},
    {"NotPrincipalExcludesListed", R"("NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/bob"})",
     "arn:aws:iam::123456789012:user/bob", false},
    {"NotPrincipalCoversOthers", R"("NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/bob"})",
     "arn:aws:iam::123456789012:user/alice", true},
};

INSTANTIATE_TEST_SUITE_P(Principals, TrustTest, testing::ValuesIn(kTrustCases),
                         [](const testing::TestParamInfo<TrustCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(TrustTest, MfaConditionInTrustPolicy) {
  NamedPolicy p = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole",
      "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]})",
                            "trust", PolicyKind::kResource);
  Request r{"arn:aws:iam::123456789012:user/alice",
            "sts:AssumeRole",
            "arn:aws:iam::123456789012:role/Operator",
            {}};
  EXPECT_EQ(EvaluateResourcePolicy(r, p).decision, Decision::kImplicitDeny);
  r.context.Set("aws:MultiFactorAuthPresent", "true");
  EXPECT_EQ(EvaluateResourcePolicy(r, p).decision, Decision::kAllow);
}

TEST(TrustTest, DenyForAPrincipalWins) {
  NamedPolicy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"},
      {"Sid":"NotBob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},
       "Action":"sts:*"}]})",
                            "trust", PolicyKind::kResource);
  Request r{"arn:aws:iam::123456789012:user/bob", "sts:AssumeRole", "", {}};
  EXPECT_EQ(EvaluateResourcePolicy(r, p).decision, Decision::kExplicitDeny);
  r.principal_arn = "arn:aws:iam::123456789012:user/alice";
  EXPECT_EQ(EvaluateResourcePolicy(r, p).decision, Decision::kAllow);
}

}  // namespace
}  // namespace muon::iam

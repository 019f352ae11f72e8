#include "iam/policy.h"

#include <gtest/gtest.h>

#include <string>

#include "iam/variables.h"

namespace muon::iam {
namespace {

// Wraps one statement body in a 2012-10-17 document.
std::string Doc(const std::string& statement_body) {
  return R"({"Version":"2012-10-17","Statement":[{)" + statement_body + "}]}";
}

struct MalformedCase {
  const char* name;
  std::string json;
  PolicyKind kind;
  const char* message_part;  // the field (and problem) the error must name
};

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

class MalformedTest : public testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, IsRejectedNamingTheField) {
  const MalformedCase& c = GetParam();
  auto p = ParsePolicy(c.json, c.kind);
  ASSERT_FALSE(p.ok()) << c.json;
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find(c.message_part), std::string::npos) << p.status().message();
}

const std::string kOk = R"("Effect":"Allow","Action":"s3:GetObject","Resource":"*")";
constexpr PolicyKind kId = PolicyKind::kIdentity;
constexpr PolicyKind kRes = PolicyKind::kResource;

const MalformedCase kMalformed[] = {
    {"NotJson", "{\"Version\":", kId, "not valid JSON"},
    {"NotAnObject", "[]", kId, "Policy: a policy document must be a JSON object"},
    {"UnknownTopLevelElement", R"({"Version":"2012-10-17","Foo":1,"Statement":[{)" + kOk + "}]}",
     kId, "Foo: unknown policy element"},
    {"WrongVersion", R"({"Version":"2012-10-18","Statement":[{)" + kOk + "}]}", kId, "Version:"},
    {"VersionNotAString", R"({"Version":2012,"Statement":[{)" + kOk + "}]}", kId, "Version:"},
    {"MissingStatement", R"({"Version":"2012-10-17"})", kId, "Statement: is required"},
    {"EmptyStatementArray", R"({"Version":"2012-10-17","Statement":[]})", kId,
     "Statement: must not be empty"},
    {"StatementIsAString", R"({"Version":"2012-10-17","Statement":"x"})", kId, "Statement:"},
    {"StatementElementNotObject", R"({"Version":"2012-10-17","Statement":[1]})", kId,
     "Statement[0]: each statement must be an object"},
    {"MissingEffect", Doc(R"("Action":"s3:GetObject","Resource":"*")"), kId,
     "Statement[0].Effect: is required"},
    {"LowerCaseEffect", Doc(R"("Effect":"allow","Action":"s3:GetObject","Resource":"*")"), kId,
     "Statement[0].Effect: must be \"Allow\" or \"Deny\""},
    {"BothActionAndNotAction",
     Doc(R"("Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*")"), kId,
     "Statement[0].Action: exactly one of Action and NotAction"},
    {"NoAction", Doc(R"("Effect":"Allow","Resource":"*")"), kId, "exactly one of Action"},
    {"ActionWithoutService", Doc(R"("Effect":"Allow","Action":"GetObject","Resource":"*")"), kId,
     "Statement[0].Action: action \"GetObject\" must be prefaced by a service"},
    {"ActionEmptyArray", Doc(R"("Effect":"Allow","Action":[],"Resource":"*")"), kId,
     "Statement[0].Action: must not be an empty array"},
    {"ActionNotString", Doc(R"("Effect":"Allow","Action":5,"Resource":"*")"), kId,
     "Statement[0].Action: must be a string"},
    {"ActionBadServicePrefix", Doc(R"("Effect":"Allow","Action":"s 3:Get","Resource":"*")"), kId,
     "invalid service prefix"},
    {"NoResourceInIdentityPolicy", Doc(R"("Effect":"Allow","Action":"s3:GetObject")"), kId,
     "Statement[0].Resource: exactly one of Resource and NotResource"},
    {"BothResourceAndNotResource",
     Doc(R"("Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*")"), kId,
     "only one of Resource and NotResource"},
    {"ResourceNotAnArn", Doc(R"("Effect":"Allow","Action":"s3:GetObject","Resource":"b/*")"), kId,
     "Statement[0].Resource: resource \"b/*\" must be in ARN format"},
    {"ResourceTooFewParts",
     Doc(R"("Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:b")"), kId,
     "must be in ARN format"},
    {"PrincipalInIdentityPolicy", Doc(kOk + R"(,"Principal":"*")"), kId,
     "Statement[0].Principal: an identity policy must not name a principal"},
    {"UnknownStatementElement", Doc(R"("Effect":"Allow","Actions":"s3:GetObject","Resource":"*")"),
     kId, "Statement[0].Actions: unknown statement element"},
    {"DuplicateKey",
     Doc(R"("Effect":"Allow","Effect":"Deny","Action":"s3:GetObject","Resource":"*")"), kId,
     "Effect: appears twice"},
    {"DuplicateSid",
     R"({"Version":"2012-10-17","Statement":[{"Sid":"A",)" + kOk + R"(},{"Sid":"A",)" + kOk + "}]}",
     kId, "Statement[1].Sid: \"A\" is not unique"},
    {"SidNotAlphanumeric", Doc(R"("Sid":"my sid",)" + kOk), kId,
     "Statement[0].Sid: \"my sid\" must be alphanumeric"},
    {"SidNotString", Doc(R"("Sid":1,)" + kOk), kId, "Statement[0].Sid: must be a string"},
    {"UnknownOperator", Doc(kOk + R"(,"Condition":{"StringEqual":{"aws:username":"a"}})"), kId,
     "Statement[0].Condition.StringEqual: unknown condition operator"},
    {"NullIfExists", Doc(kOk + R"(,"Condition":{"NullIfExists":{"aws:username":"true"}})"), kId,
     "the Null operator takes neither IfExists"},
    {"QualifiedNull", Doc(kOk + R"(,"Condition":{"ForAnyValue:Null":{"aws:username":"true"}})"),
     kId, "Null operator"},
    {"LowerCaseQualifier",
     Doc(kOk + R"(,"Condition":{"forallvalues:StringEquals":{"aws:TagKeys":"a"}})"), kId,
     "unknown condition operator"},
    {"NumericNotANumber",
     Doc(kOk + R"(,"Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"ten"}})"), kId,
     "Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge: \"ten\" is not a number"},
    {"NumericVariableNotAllowed",
     Doc(kOk + R"(,"Condition":{"NumericEquals":{"s3:max-keys":"${aws:username}"}})"), kId,
     "is not a number"},
    {"DateBadMonth", Doc(kOk + R"(,"Condition":{"DateLessThan":{"aws:CurrentTime":"2026-13-01"}})"),
     kId, "Statement[0].Condition.DateLessThan.aws:CurrentTime: \"2026-13-01\" is not a date"},
    {"DateNotLeapYear",
     Doc(kOk + R"(,"Condition":{"DateLessThan":{"aws:CurrentTime":"2025-02-29"}})"), kId,
     "is not a date"},
    {"DateGarbage", Doc(kOk + R"(,"Condition":{"DateLessThan":{"aws:CurrentTime":"soon"}})"), kId,
     "is not a date"},
    {"BoolNotBoolean", Doc(kOk + R"(,"Condition":{"Bool":{"aws:SecureTransport":"yes"}})"), kId,
     "\"yes\" must be \"true\" or \"false\""},
    {"NullNotBoolean", Doc(kOk + R"(,"Condition":{"Null":{"aws:username":"maybe"}})"), kId,
     "must be \"true\" or \"false\""},
    {"IpOutOfRange", Doc(kOk + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}})"), kId,
     "\"300.1.1.1/8\" is not an IP address or CIDR block"},
    {"IpPrefixTooLong", Doc(kOk + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}})"),
     kId, "is not an IP address"},
    {"Ipv6PrefixTooLong",
     Doc(kOk + R"(,"Condition":{"NotIpAddress":{"aws:SourceIp":"2001:db8::/129"}})"), kId,
     "is not an IP address"},
    {"BinaryNotBase64", Doc(kOk + R"(,"Condition":{"BinaryEquals":{"x:blob":"***"}})"), kId,
     "is not base64"},
    {"ConditionKeyWithoutVendor", Doc(kOk + R"(,"Condition":{"StringEquals":{"username":"a"}})"),
     kId, "Statement[0].Condition.StringEquals.username: condition key must be prefaced"},
    {"ConditionNotObject", Doc(kOk + R"(,"Condition":"x")"), kId,
     "Statement[0].Condition: must be an object"},
    {"ConditionOperatorEmpty", Doc(kOk + R"(,"Condition":{"StringEquals":{}})"), kId,
     "Statement[0].Condition.StringEquals: must be an object of condition keys"},
    {"ConditionValueNull", Doc(kOk + R"(,"Condition":{"StringEquals":{"aws:username":null}})"), kId,
     "values must be strings, numbers or booleans"},
    {"ConditionValueEmptyArray", Doc(kOk + R"(,"Condition":{"StringEquals":{"aws:username":[]}})"),
     kId, "must not be an empty array"},
    {"UnterminatedVariableInResource",
     Doc(R"("Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username")"), kId,
     "Statement[0].Resource: malformed policy variable"},
    {"EmptyVariable", Doc(R"("Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${}")"),
     kId, "malformed policy variable"},
    {"UnquotedDefault",
     Doc(kOk + R"(,"Condition":{"StringEquals":{"s3:prefix":"${aws:username, guest}"}})"), kId,
     "malformed policy variable"},
    {"TrustPolicyWithoutPrincipal", Doc(R"("Effect":"Allow","Action":"sts:AssumeRole")"), kRes,
     "Statement[0].Principal: exactly one of Principal and NotPrincipal"},
    {"TrustPolicyUnknownPrincipalType",
     Doc(R"("Effect":"Allow","Principal":{"User":"x"},"Action":"sts:AssumeRole")"), kRes,
     "Statement[0].Principal.User: principal type must be"},
    {"TrustPolicyBadAwsPrincipal",
     Doc(R"("Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole")"), kRes,
     "invalid principal \"alice\""},
    {"TrustPolicyPrincipalStringNotStar",
     Doc(R"("Effect":"Allow","Principal":"alice","Action":"sts:AssumeRole")"), kRes,
     "Statement[0].Principal: must be \"*\""},
};

INSTANTIATE_TEST_SUITE_P(Documents, MalformedTest, testing::ValuesIn(kMalformed),
                         [](const testing::TestParamInfo<MalformedCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(ParsePolicyTest, StatementMayBeASingleObject) {
  auto p = ParsePolicy(R"({"Version":"2012-10-17","Statement":{"Sid":"One",)" + kOk + "}}");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->statements.size(), 1u);
  EXPECT_EQ(p->statements[0].sid, "One");
  EXPECT_EQ(p->statements[0].effect, Effect::kAllow);
}

TEST(ParsePolicyTest, KeepsEveryElement) {
  auto p = ParsePolicy(R"({"Version":"2012-10-17","Id":"doc","Statement":[
      {"Sid":"A","Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"arn:aws:s3:::b/*",
       "Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},
                    "NumericLessThan":{"aws:MultiFactorAuthAge":3600}}}]})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "doc");
  const Statement& s = p->statements[0];
  EXPECT_EQ(s.effect, Effect::kDeny);
  EXPECT_TRUE(s.not_action);
  EXPECT_EQ(s.actions, (std::vector<std::string>{"iam:*", "sts:*"}));
  EXPECT_TRUE(s.not_resource);
  ASSERT_EQ(s.conditions.size(), 2u);
  const ConditionClause& c = s.conditions[0];
  EXPECT_EQ(c.qualifier, SetQualifier::kForAllValues);
  EXPECT_TRUE(c.if_exists);
  EXPECT_EQ(c.op, ConditionOp::kStringLike);
  EXPECT_EQ(c.key, "aws:TagKeys");
  ASSERT_EQ(c.values.size(), 2u);
  EXPECT_EQ(s.conditions[1].values[0].number, 3600);
}

TEST(ParsePolicyTest, TrustPolicyNeedsNoResource) {
  auto p = ParsePolicy(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:user/a"],
                   "Service":"firehose.amazonaws.com"},"Action":"sts:AssumeRole"}]})",
                       PolicyKind::kResource);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->statements[0].has_resource);
  EXPECT_EQ(p->statements[0].principal.entries.size(), 3u);
}

TEST(ParsePolicyTest, TrustPolicySidMayHaveSpaces) {
  auto p = ParsePolicy(Doc(R"("Sid":"trust the account","Effect":"Allow","Principal":"*",)"
                           R"("Action":"sts:AssumeRole")"),
                       PolicyKind::kResource);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
}

TEST(ParseConditionOperatorTest, SplitsQualifierBaseAndSuffix) {
  auto c = ParseConditionOperator("ForAnyValue:StringNotEqualsIgnoreCaseIfExists");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->qualifier, SetQualifier::kForAnyValue);
  EXPECT_EQ(c->op, ConditionOp::kStringEqualsIgnoreCase);
  EXPECT_TRUE(c->negated);
  EXPECT_TRUE(c->if_exists);
  EXPECT_FALSE(ParseConditionOperator("IfExists").ok());
  EXPECT_FALSE(ParseConditionOperator("ForAnyValue:").ok());
  EXPECT_FALSE(ParseConditionOperator("stringequals").ok());
}

TEST(ParseIamDateTest, Forms) {
  EXPECT_EQ(ParseIamDate("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIamDate("1970-01-02"), 86'400'000);
  EXPECT_EQ(ParseIamDate("2026-11-28T02:11Z"), ParseIamDate("2026-11-28T02:11:00Z"));
  EXPECT_EQ(ParseIamDate("2026-11-28T12:11:31+10:00"), ParseIamDate("2026-11-28T02:11:31Z"));
  EXPECT_EQ(ParseIamDate("2026-11-27T21:11:31-05:00"), ParseIamDate("2026-11-28T02:11:31Z"));
  EXPECT_EQ(ParseIamDate("2000-02-29T00:00:00.25Z"), 951'782'400'250);
  EXPECT_EQ(ParseIamDate("1764295200"), 1'764'295'200'000);
  EXPECT_FALSE(ParseIamDate("2026-11-28T25:00:00Z"));
  EXPECT_FALSE(ParseIamDate("2026-11-28T02:11:31X"));
  EXPECT_FALSE(ParseIamDate("2026-11-28T02:11:31Zjunk"));
  EXPECT_FALSE(ParseIamDate("26-11-28"));
  EXPECT_FALSE(ParseIamDate(""));
}

TEST(ParseIamNumberTest, Forms) {
  EXPECT_EQ(ParseIamNumber("10"), 10.0);
  EXPECT_EQ(ParseIamNumber("-1.5"), -1.5);
  EXPECT_EQ(ParseIamNumber("2e3"), 2000.0);
  EXPECT_FALSE(ParseIamNumber(""));
  EXPECT_FALSE(ParseIamNumber("10x"));
  EXPECT_FALSE(ParseIamNumber("inf"));
  EXPECT_FALSE(ParseIamNumber("nan"));
}

TEST(ParseIpNetworkTest, Forms) {
  auto v4 = ParseIpNetwork("10.1.0.0/16");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->prefix_len, 16);
  EXPECT_EQ(ParseIpNetwork("10.1.2.3")->prefix_len, 32);
  EXPECT_EQ(ParseIpNetwork("::1")->prefix_len, 128);
  EXPECT_FALSE(ParseIpNetwork("10.1.2.3/"));
  EXPECT_FALSE(ParseIpNetwork("10.1.2.3/-1"));
  EXPECT_FALSE(ParseIpNetwork("10.1.2"));
}

TEST(WildcardTest, GlobNeverBacktracksExponentially) {
  // A pattern that takes exponential time in naive recursive matchers.
  std::string pattern(30, '*');
  pattern = "a" + pattern + "b";
  std::string text(5000, 'a');
  EXPECT_FALSE(WildcardMatch(pattern, text, false));
  EXPECT_TRUE(WildcardMatch(pattern, text + "b", false));
}

TEST(WildcardTest, Basics) {
  EXPECT_TRUE(WildcardMatch("", "", false));
  EXPECT_FALSE(WildcardMatch("", "a", false));
  EXPECT_TRUE(WildcardMatch("*", "", false));
  EXPECT_TRUE(WildcardMatch("a?c", "abc", false));
  EXPECT_FALSE(WildcardMatch("a?c", "ac", false));
  EXPECT_TRUE(WildcardMatch("A*", "abc", true));
  EXPECT_FALSE(WildcardMatch("A*", "abc", false));
}

TEST(VariablesTest, ExpansionIsOnePass) {
  VariableLookup lookup = [](std::string_view key) -> std::optional<std::string> {
    if (key == "aws:username") return std::string("${aws:userid}");
    if (key == "aws:userid") return std::string("AIDA");
    return std::nullopt;
  };
  auto p = ExpandPattern("${aws:username}", &lookup, true);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->text, "${aws:userid}");
  auto d = ExpandPattern("${x:missing, '${aws:userid}'}", &lookup, true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->text, "${aws:userid}");
}

}  // namespace
}  // namespace muon::iam

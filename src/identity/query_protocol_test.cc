#include "identity/query_protocol.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace muon::query {
namespace {

http::Request FormPost(std::string body, std::string query = {}) {
  http::Request r;
  r.method = "POST";
  r.path = "/";
  r.query = std::move(query);
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = std::move(body);
  return r;
}

TEST(ParamsTest, DecodesPlusAndPercentEscapes) {
  auto p = Params::ParseForm("A=a+b%2Bc%26d%3D&B=%E2%9C%93&C=&D");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Get("A"), "a b+c&d=");
  EXPECT_EQ(p->Get("B"), "\xE2\x9C\x93");
  ASSERT_NE(p->Find("C"), nullptr);
  EXPECT_EQ(*p->Find("C"), "");
  ASSERT_NE(p->Find("D"), nullptr);
  EXPECT_EQ(p->Find("E"), nullptr);
}

TEST(ParamsTest, RejectsMalformedPercentEscapesNamingTheParameter) {
  for (const char* bad : {"A=%", "A=%4", "A=%G1", "A=ok&B=x%zz"}) {
    auto p = Params::ParseForm(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(Params::ParseForm("A=ok&B=x%zz").status().message().find("'B'"), std::string::npos);
}

TEST(ParamsTest, EmptyPiecesAndRepeatedNamesKeepTheFirstValue) {
  auto p = Params::ParseForm("&&A=1&&A=2&");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Get("A"), "1");
  EXPECT_EQ(p->entries().size(), 2u);
}

TEST(ParamsTest, NamesAreCaseSensitive) {
  auto p = Params::ParseForm("RoleArn=x");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Has("rolearn"));
}

TEST(ParamsTest, IntegersAndBooleans) {
  auto p = Params::ParseForm("D=900&N=-3&Bad=9x&Big=99999999999999999999&E=&T=true&F=False&X=yes");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(**p->Int("D"), 900);
  EXPECT_EQ(**p->Int("N"), -3);
  EXPECT_FALSE(p->Int("Missing")->has_value());
  EXPECT_FALSE(p->Int("Bad").ok());
  EXPECT_FALSE(p->Int("Big").ok());
  EXPECT_FALSE(p->Int("E").ok());
  EXPECT_TRUE(**p->Bool("T"));
  EXPECT_FALSE(**p->Bool("F"));
  EXPECT_FALSE(p->Bool("X").ok());
}

TEST(ParamsTest, ListsComeInIndexOrderWhateverTheWireOrder) {
  auto p =
      Params::ParseForm("Names.member.10=j&Names.member.2=b&Names.member.1=a&Other.member.1=z");
  ASSERT_TRUE(p.ok());
  auto list = p->List("Names");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, (std::vector<std::string>{"a", "b", "j"}));
}

TEST(ParamsTest, AbsentAndEmptyListsAreEmpty) {
  auto p = Params::ParseForm("Names=&Action=X");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->List("Names")->empty());
  EXPECT_TRUE(p->List("Absent")->empty());
  EXPECT_TRUE(p->Structs("Tags")->empty());
}

TEST(ParamsTest, ListIndexMustBeAPositiveInteger) {
  for (const char* bad :
       {"Names.member.0=a", "Names.member.x=a", "Names.member.=a", "Names.member.-1=a"}) {
    auto p = Params::ParseForm(bad);
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->List("Names").ok()) << bad;
  }
}

TEST(ParamsTest, PrefixOfAnotherNameIsNotTheList) {
  auto p = Params::ParseForm("NamesX.member.1=a&Names.memberx.1=b");
  ASSERT_TRUE(p.ok());
  auto list = p->List("Names");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(ParamsTest, ListOfStructuresGroupsFieldsByIndex) {
  auto p = Params::ParseForm(
      "Tags.member.2.Key=team&Tags.member.1.Key=site&Tags.member.1.Value=Mt+Isa&"
      "Tags.member.2.Value=ops&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3A1%3Apolicy%2FA");
  ASSERT_TRUE(p.ok());
  auto tags = p->Structs("Tags");
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_EQ((*tags)[0].Get("Key"), "site");
  EXPECT_EQ((*tags)[0].Get("Value"), "Mt Isa");
  EXPECT_EQ((*tags)[1].Get("Key"), "team");
  EXPECT_EQ((*tags)[1].Get("Value"), "ops");
  auto arns = p->Structs("PolicyArns");
  ASSERT_TRUE(arns.ok());
  ASSERT_EQ(arns->size(), 1u);
  EXPECT_EQ((*arns)[0].Get("arn"), "arn:aws:iam::1:policy/A");
}

TEST(ParamsTest, NestedListsInsideStructures) {
  auto p = Params::ParseForm("A.member.1.Names.member.2=y&A.member.1.Names.member.1=x");
  ASSERT_TRUE(p.ok());
  auto a = p->Structs("A");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ(*(*a)[0].List("Names"), (std::vector<std::string>{"x", "y"}));
}

TEST(ParamsTest, MapsUseTheEntryInfix) {
  auto p = Params::ParseForm("M.entry.1.key=k&M.entry.1.value=v");
  ASSERT_TRUE(p.ok());
  auto m = p->Structs("M", "entry");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].Get("key"), "k");
  EXPECT_EQ((*m)[0].Get("value"), "v");
}

TEST(ParamsTest, StructListWithoutFieldAndStringListWithFieldAreRefused) {
  auto p = Params::ParseForm("Tags.member.1=x&Names.member.1.Key=y");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Structs("Tags").ok());
  EXPECT_FALSE(p->List("Names").ok());
}

TEST(ParseRequestTest, ReadsActionVersionAndParametersFromTheBody) {
  auto r =
      ParseRequest(FormPost("Action=AssumeRole&Version=2011-06-15&RoleArn=a&RoleSessionName=s"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action, "AssumeRole");
  EXPECT_EQ(r->version, "2011-06-15");
  EXPECT_EQ(r->params.Get("RoleArn"), "a");
  EXPECT_FALSE(r->params.Has("Action"));
  EXPECT_FALSE(r->params.Has("Version"));
}

TEST(ParseRequestTest, GetReadsTheQueryStringAndDropsPresignParameters) {
  http::Request g;
  g.method = "GET";
  g.query =
      "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
      "X-Amz-Credential=AKID%2F20261128%2Fap-southeast-2%2Fsts%2Faws4_request&X-Amz-Signature=ab";
  auto r = ParseRequest(g);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action, "GetCallerIdentity");
  EXPECT_TRUE(r->params.entries().empty());
  EXPECT_EQ(SigningService(g), "sts");
  EXPECT_TRUE(IsQueryShaped(g));
}

TEST(ParseRequestTest, BodyOfAnotherContentTypeIsNotRead) {
  http::Request r = FormPost("Action=GetCallerIdentity");
  r.headers = {{"Content-Type", "application/json"}};
  auto parsed = ParseRequest(r);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->action, "");
  EXPECT_FALSE(IsQueryShaped(r));
}

TEST(ParseRequestTest, MalformedBodyIsAnError) {
  EXPECT_FALSE(ParseRequest(FormPost("Action=X&RoleArn=%ZZ")).ok());
}

TEST(SigningServiceTest, ReadsTheCredentialScopeOfTheAuthorizationHeader) {
  http::Request r = FormPost("Action=ListUsers");
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/iam/aws4_request, "
       "SignedHeaders=host;x-amz-date, Signature=abc"});
  EXPECT_EQ(SigningService(r), "iam");
  r.headers.back().second = "AWS4-HMAC-SHA256 Credential=AKID/20261128/iam, Signature=x";
  EXPECT_EQ(SigningService(r), "");
  EXPECT_EQ(SigningService(FormPost("Action=X")), "");
}

TEST(IsQueryShapedTest, OnlyFormPostsAndActionGets) {
  EXPECT_TRUE(IsQueryShaped(FormPost("")));
  http::Request put = FormPost("");
  put.method = "PUT";
  EXPECT_FALSE(IsQueryShaped(put));
  http::Request get;
  get.method = "GET";
  get.query = "list-type=2&prefix=Action=";
  EXPECT_FALSE(IsQueryShaped(get));
}

std::string Escaped(std::string_view s) {
  std::string out;
  XmlWriter::Escape(s, &out);
  return out;
}

TEST(XmlWriterTest, EscapesMarkupCharacters) {
  EXPECT_EQ(Escaped("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(Escaped("]]>"), "]]&gt;");
  EXPECT_EQ(Escaped("line\r\nnext\ttab"), "line&#13;\nnext\ttab");
}

TEST(XmlWriterTest, KeepsValidUtf8AndReplacesWhatXmlCannotCarry) {
  EXPECT_EQ(Escaped("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(Escaped(std::string("a\0b", 3)), "a" + kFffd + "b");
  EXPECT_EQ(Escaped("\x01\x1F\x7F"), kFffd + kFffd + kFffd);
  EXPECT_EQ(Escaped("\xC3"), kFffd);                          // truncated
  EXPECT_EQ(Escaped("\xC0\xAF"), kFffd + kFffd);              // overlong '/'
  EXPECT_EQ(Escaped("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(Escaped("\xEF\xBF\xBF"), kFffd + kFffd + kFffd);  // U+FFFF
  EXPECT_EQ(Escaped("\xFF"), kFffd);
}

TEST(XmlWriterTest, AnyBytesMakeAWellFormedDocument) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  XmlWriter w;
  w.Open("Root", "urn:x").Element("Text", all).Element("N", int64_t{-7});
  std::string doc = w.Finish();
  pugi::xml_document d;
  ASSERT_TRUE(d.load_string(doc.c_str())) << doc;
  EXPECT_EQ(std::string(d.child("Root").attribute("xmlns").value()), "urn:x");
  EXPECT_EQ(std::string(d.child("Root").child_value("N")), "-7");
  std::string text = d.child("Root").child_value("Text");
  for (char c : std::string("<>&\"'")) EXPECT_NE(text.find(c), std::string::npos) << c;
  EXPECT_NE(text.find('\r'), std::string::npos);  // CR survives as a character reference
}

TEST(ReplyTest, WrapsTheResultInTheActionEnvelope) {
  http::Response r = Reply("https://sts.amazonaws.com/doc/2011-06-15/", "GetCallerIdentity",
                           "rid-1", [](XmlWriter& w) {
                             w.Element("Arn", "arn:aws:iam::000000000000:user/a&b");
                             w.Open("Nested").Element("X", "1").Close();
                           });
  EXPECT_EQ(r.status, 200);
  pugi::xml_document d;
  ASSERT_TRUE(d.load_string(r.body.c_str()));
  auto resp = d.child("GetCallerIdentityResponse");
  ASSERT_TRUE(resp);
  EXPECT_STREQ(resp.attribute("xmlns").value(), "https://sts.amazonaws.com/doc/2011-06-15/");
  EXPECT_STREQ(resp.child("GetCallerIdentityResult").child_value("Arn"),
               "arn:aws:iam::000000000000:user/a&b");
  EXPECT_STREQ(resp.child("GetCallerIdentityResult").child("Nested").child_value("X"), "1");
  EXPECT_STREQ(resp.child("ResponseMetadata").child_value("RequestId"), "rid-1");
  bool has_type = false, has_id = false;
  for (const auto& [k, v] : r.headers) {
    if (k == "Content-Type") has_type = v == "text/xml";
    if (k == "x-amzn-RequestId") has_id = v == "rid-1";
  }
  EXPECT_TRUE(has_type);
  EXPECT_TRUE(has_id);
}

TEST(ReplyTest, ActionWithoutResultHasAnEmptyResultElement) {
  http::Response r = Reply("urn:iam", "DeleteUser", "rid", nullptr);
  pugi::xml_document d;
  ASSERT_TRUE(d.load_string(r.body.c_str()));
  EXPECT_TRUE(d.child("DeleteUserResponse").child("DeleteUserResult"));
}

TEST(ErrorReplyTest, HasTheErrorResponseShapeAndStatus) {
  http::Response r =
      ErrorReply("urn:sts", {403, "AccessDenied", "User: x is <not> allowed", true}, "rid-2");
  EXPECT_EQ(r.status, 403);
  pugi::xml_document d;
  ASSERT_TRUE(d.load_string(r.body.c_str()));
  auto e = d.child("ErrorResponse");
  EXPECT_STREQ(e.attribute("xmlns").value(), "urn:sts");
  EXPECT_STREQ(e.child("Error").child_value("Type"), "Sender");
  EXPECT_STREQ(e.child("Error").child_value("Code"), "AccessDenied");
  EXPECT_STREQ(e.child("Error").child_value("Message"), "User: x is <not> allowed");
  EXPECT_STREQ(e.child_value("RequestId"), "rid-2");
  http::Response internal = ErrorReply("urn:sts", {500, "InternalFailure", "x", false}, "r");
  pugi::xml_document d2;
  ASSERT_TRUE(d2.load_string(internal.body.c_str()));
  EXPECT_STREQ(d2.child("ErrorResponse").child("Error").child_value("Type"), "Receiver");
}

TEST(CommonErrorsTest, AreWordedAsAwsWordsThem) {
  EXPECT_EQ(InvalidAction("Nope", "2011-06-15").message,
            "Could not find operation Nope for version 2011-06-15");
  EXPECT_EQ(
      ValidationError("1", "durationSeconds", "Member must have value greater than or equal to 900")
          .message,
      "1 validation error detected: Value '1' at 'durationSeconds' failed to satisfy "
      "constraint: Member must have value greater than or equal to 900");
  EXPECT_EQ(MissingAction().code, "MissingAction");
}

TEST(Iso8601Test, FormatsUtcWithWholeSeconds) {
  EXPECT_EQ(Iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Iso8601(1795842000), "2026-11-28T05:00:00Z");
}

TEST(NewRequestIdTest, IsAVersion4Uuid) {
  std::string id = NewRequestId();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(id, NewRequestId());
}

}  // namespace
}  // namespace muon::query

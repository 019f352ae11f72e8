// S3Service: routing, authentication, payload decoding and the operations.
// Every operation: resolve the address, authenticate, ask the Authorizer,
// then act on the ObjectStore. Errors leave as S3 <Error> documents.
#include "s3api/s3_service.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "auth/aws_chunked.h"
#include "auth/http_auth.h"
#include "base/base64.h"
#include "base/checksum.h"
#include "base/log.h"
#include "base/strings.h"
#include "s3api/s3_util.h"

namespace muon::s3api {
namespace {

using objectstore::ChecksumType;
using objectstore::ChecksumTypeName;
using objectstore::ObjectMeta;
using objectstore::PutOptions;

constexpr char kXmlns[] = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr uint64_t kMinPartSize = 5ull << 20;

struct S3Error {
  int status = 500;
  std::string code;
  std::string message;
  std::vector<std::pair<std::string, std::string>> extra;  // more elements in <Error>
};

S3Error Err(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message), {}};
}

std::string NewRequestId() {
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  std::string out;
  for (unsigned char c : b) out += fmt::format("{:02X}", c);
  return out;
}

std::string Md5Raw(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Quoted(std::string_view etag) { return fmt::format("\"{}\"", etag); }

std::string Unquoted(std::string_view etag) {
  etag = etag.substr(etag.find_first_not_of(' ') == std::string_view::npos
                         ? etag.size()
                         : etag.find_first_not_of(' '));
  while (!etag.empty() && etag.back() == ' ') etag.remove_suffix(1);
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// An If-Match / If-None-Match list against an ETag.
bool EtagListMatches(std::string_view list, std::string_view etag) {
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string item = Unquoted(list.substr(0, comma));
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// XML building.
class Xml {
 public:
  explicit Xml(const char* root_name) {
    auto decl = doc_.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    root_ = doc_.append_child(root_name);
    root_.append_attribute("xmlns") = kXmlns;
  }
  pugi::xml_node root() { return root_; }
  std::string str() {
    std::ostringstream out;
    doc_.save(out, "", pugi::format_raw);
    return out.str();
  }

 private:
  pugi::xml_document doc_;
  pugi::xml_node root_;
};

pugi::xml_node Add(pugi::xml_node parent, const char* name, std::string_view text) {
  auto n = parent.append_child(name);
  n.text() = std::string(text).c_str();
  return n;
}
pugi::xml_node Add(pugi::xml_node parent, const char* name, uint64_t v) {
  return Add(parent, name, std::to_string(v));
}
pugi::xml_node AddBool(pugi::xml_node parent, const char* name, bool v) {
  return Add(parent, name, v ? "true" : "false");
}

http::Response XmlResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "application/xml");
  r.body = std::move(body);
  return r;
}

// The request being served.
struct Ctx {
  http::Request* req = nullptr;
  Address addr;
  std::map<std::string, std::string> query;
  auth::VerifiedRequest verified;
  auth::Caller caller;
  std::string request_id;
  bool head = false;

  bool Has(const char* q) const { return query.count(q) > 0; }
  std::string Q(const char* q) const {
    auto it = query.find(q);
    return it == query.end() ? std::string() : it->second;
  }
  std::string_view H(std::string_view name) const { return req->Header(name); }
  std::string Resource() const {
    if (addr.bucket.empty()) return "/";
    return addr.key.empty() ? "/" + addr.bucket : "/" + addr.bucket + "/" + addr.key;
  }
};

using Reply = std::variant<http::Response, S3Error>;

S3Error FromAuthFailure(const auth::AuthFailure& f, bool presigned) {
  using auth::AuthError;
  switch (f.error) {
    case AuthError::kMissingAuthentication:
      return Err(403, "AccessDenied", "Anonymous access is not allowed; sign the request.");
    case AuthError::kIncompleteSignature:
      return Err(presigned ? 403 : 400, presigned ? "AccessDenied" : "AuthorizationHeaderMalformed",
                 f.message);
    case AuthError::kUnknownAccessKey:
      return Err(403, "InvalidAccessKeyId",
                 "The AWS Access Key Id you provided does not exist in our records.");
    case AuthError::kSignatureMismatch:
      return Err(403, "SignatureDoesNotMatch",
                 "The request signature we calculated does not match the signature you provided. "
                 "Check your key and signing method.");
    case AuthError::kRequestExpired:
      if (presigned) return Err(403, "AccessDenied", "Request has expired");
      return Err(403, "RequestTimeTooSkewed",
                 "The difference between the request time and the current time is too large.");
    case AuthError::kInvalidSessionToken:
      return Err(400, "InvalidToken", "The provided token is malformed or otherwise invalid.");
    case AuthError::kExpiredToken:
      return Err(400, "ExpiredToken", "The provided token has expired.");
    case AuthError::kPayloadHashMismatch:
      return Err(400, "XAmzContentSHA256Mismatch",
                 "The provided 'x-amz-content-sha256' header does not match what was computed.");
    case AuthError::kWrongScope:
      return Err(400, "AuthorizationHeaderMalformed", f.message);
  }
  return Err(403, "AccessDenied", f.message);
}

// Storage errors; operation-specific codes (BucketNotEmpty, PreconditionFailed,
// InvalidPart) are chosen by the caller before this.
S3Error FromStatus(const Status& s, const Ctx& ctx) {
  const std::string& m = s.message();
  switch (s.code()) {
    case StatusCode::kNotFound:
      if (m.rfind("bucket", 0) == 0) {
        S3Error e = Err(404, "NoSuchBucket", "The specified bucket does not exist");
        e.extra.push_back({"BucketName", ctx.addr.bucket});
        return e;
      }
      if (m.rfind("upload", 0) == 0) {
        return Err(404, "NoSuchUpload",
                   "The specified upload does not exist. The upload ID may be invalid, or the "
                   "upload may have been aborted or completed.");
      }
      {
        S3Error e = Err(404, "NoSuchKey", "The specified key does not exist.");
        e.extra.push_back({"Key", ctx.addr.key});
        return e;
      }
    case StatusCode::kAlreadyExists:
      return Err(409, "BucketAlreadyOwnedByYou",
                 "Your previous request to create the named bucket succeeded and you already own "
                 "it.");
    case StatusCode::kFailedPrecondition:
      return Err(412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
    case StatusCode::kInvalidArgument:
      return Err(400, "InvalidArgument", m);
    case StatusCode::kNoSpace:
      return Err(503, "SlowDown", "The server's disk is full; retry later.");
    case StatusCode::kPermissionDenied:
      return Err(403, "AccessDenied", m.empty() ? "Access Denied" : m);
    default:
      log::error("s3: {} {}: {}", ctx.req->method, ctx.Resource(), s.ToString());
      return Err(500, "InternalError", "We encountered an internal error. Please try again.");
  }
}

http::Response ErrorResponse(const S3Error& e, const Ctx& ctx) {
  Xml x("Error");
  // S3's <Error> has no namespace.
  x.root().remove_attribute("xmlns");
  Add(x.root(), "Code", e.code);
  Add(x.root(), "Message", e.message);
  for (const auto& [k, v] : e.extra) Add(x.root(), k.c_str(), v);
  Add(x.root(), "Resource", ctx.Resource());
  Add(x.root(), "RequestId", ctx.request_id);
  http::Response r = XmlResponse(e.status, ctx.head ? std::string() : x.str());
  if (ctx.head) r.headers.clear();
  return r;
}

// A simple worker pool for blocking storage work.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

// The payload of a PUT, decoded and checked.
struct Payload {
  std::string data;
  std::map<ChecksumAlgorithm, std::string> checksums;
};

}  // namespace

struct S3Service::Impl {
  objectstore::ObjectStore* store;
  LifecycleStore* lifecycle;
  const auth::Identities* identities;
  const auth::Authorizer* authorizer;
  const Clock* clock;
  S3Options options;
  std::unique_ptr<WorkerPool> pool;

  http::Response Handle(http::Request& req);
  Reply Dispatch(Ctx& ctx);

  std::optional<S3Error> Authorize(const Ctx& ctx, std::string_view action,
                                   std::string_view bucket, std::string_view key = {},
                                   const auth::RequestKeys& keys = {}) {
    std::string arn = key.empty() ? fmt::format("arn:aws:s3:::{}", bucket)
                                  : fmt::format("arn:aws:s3:::{}/{}", bucket, key);
    Status s = keys.empty() ? authorizer->Authorize(ctx.caller, action, arn)
                            : authorizer->Authorize(ctx.caller, action, arn, keys);
    if (s.ok()) return std::nullopt;
    return Err(403, "AccessDenied", s.message().empty() ? "Access Denied" : s.message());
  }

  Result<Payload> ReadPayload(Ctx& ctx, S3Error* error);

  // Service and buckets.
  Reply ListBuckets(Ctx& ctx);
  Reply CreateBucket(Ctx& ctx);
  Reply DeleteBucket(Ctx& ctx);
  Reply HeadBucket(Ctx& ctx);
  Reply GetBucketLocation(Ctx& ctx);
  Reply ListObjects(Ctx& ctx, bool v2);
  Reply DeleteObjects(Ctx& ctx);
  Reply PutLifecycle(Ctx& ctx);
  Reply GetLifecycle(Ctx& ctx);
  Reply DeleteLifecycle(Ctx& ctx);
  Reply ListMultipartUploads(Ctx& ctx);
  // Objects.
  Reply PutObject(Ctx& ctx);
  Reply GetObject(Ctx& ctx);
  Reply DeleteObject(Ctx& ctx);
  Reply CopyObject(Ctx& ctx, bool part);
  Reply CreateMultipart(Ctx& ctx);
  Reply UploadPart(Ctx& ctx);
  Reply CompleteMultipart(Ctx& ctx);
  // The checksum headers of a CompleteMultipartUpload against the upload
  // (x-amz-checksum-type, x-amz-mp-object-size, and for a FULL_OBJECT upload
  // the whole object's x-amz-checksum-<algorithm>, combined from `listed`,
  // the parts in the client's order). The error to answer, if any.
  std::optional<S3Error> CheckCompleteChecksums(Ctx& ctx, const PutOptions& upload,
                                                const std::vector<objectstore::PartInfo>& listed);
  Reply AbortMultipart(Ctx& ctx);
  Reply ListParts(Ctx& ctx);
};

S3Service::S3Service(objectstore::ObjectStore* store, LifecycleStore* lifecycle,
                     const auth::Identities* identities, const auth::Authorizer* authorizer,
                     const Clock* clock, S3Options options)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = store;
  impl_->lifecycle = lifecycle;
  impl_->identities = identities;
  impl_->authorizer = authorizer;
  impl_->clock = clock;
  impl_->options = std::move(options);
  impl_->pool = std::make_unique<WorkerPool>(std::max(1, impl_->options.worker_threads));
}

S3Service::~S3Service() { impl_->pool.reset(); }

void S3Service::Serve(http::Request&& request, http::Responder respond) {
  auto shared = std::make_shared<std::pair<http::Request, http::Responder>>(std::move(request),
                                                                            std::move(respond));
  impl_->pool->Post([this, shared] { shared->second(impl_->Handle(shared->first)); });
}

http::Response S3Service::Handle(http::Request& request) { return impl_->Handle(request); }

http::Response S3Service::Impl::Handle(http::Request& req) {
  Ctx ctx;
  ctx.req = &req;
  ctx.request_id = NewRequestId();
  ctx.head = req.method == "HEAD";
  ctx.addr = ResolveAddress(req.Header("Host"), req.path, options.virtual_host_domains);
  ctx.query = ParseQuery(req.query);
  auto finish = [&](http::Response r) {
    r.Set("x-amz-request-id", ctx.request_id);
    r.Set("x-amz-id-2", ctx.request_id);
    r.Set("Server", "muonpipe");
    return r;
  };
  auto outcome = auth::AuthenticateHttp(
      req, *identities, *clock,
      {.service = "s3", .region = options.region, .s3_style_path = true,
       .request_id = ctx.request_id});
  if (!outcome.verified) {
    if ((ctx.Has("AWSAccessKeyId") && ctx.Has("Signature")) ||
        req.Header("Authorization").substr(0, 4) == "AWS ") {
      // Signature Version 2 (older clients' default for presigned URLs).
      return finish(ErrorResponse(
          Err(400, "InvalidRequest",
              "The authorization mechanism you have provided is not supported. Please use "
              "AWS4-HMAC-SHA256 (boto3: Config(signature_version='s3v4'); AWS CLI: "
              "aws configure set default.s3.signature_version s3v4)."),
          ctx));
    }
    bool presigned = ctx.Has("X-Amz-Signature") || ctx.Has("X-Amz-Credential");
    S3Error e = FromAuthFailure(outcome.failure, presigned);
    log::debug("s3: {} {} from {} refused: {}", req.method, req.path, req.remote_ip, e.message);
    return finish(ErrorResponse(e, ctx));
  }
  ctx.verified = std::move(*outcome.verified);
  ctx.caller = std::move(outcome.caller);
  Reply reply = Dispatch(ctx);
  if (auto* e = std::get_if<S3Error>(&reply)) return finish(ErrorResponse(*e, ctx));
  return finish(std::move(std::get<http::Response>(reply)));
}

Reply S3Service::Impl::Dispatch(Ctx& ctx) {
  const std::string& m = ctx.req->method;
  if (ctx.addr.bucket.empty()) {
    if (m == "GET") return ListBuckets(ctx);
    return Err(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
  if (ctx.addr.key.empty()) {
    if (ctx.Has("lifecycle")) {
      if (!lifecycle) return Err(501, "NotImplemented", "Lifecycle configuration is not enabled.");
      if (m == "PUT") return PutLifecycle(ctx);
      if (m == "GET") return GetLifecycle(ctx);
      if (m == "DELETE") return DeleteLifecycle(ctx);
    }
    if (m == "GET" && ctx.Has("location")) return GetBucketLocation(ctx);
    if (m == "GET" && ctx.Has("uploads")) return ListMultipartUploads(ctx);
    if (m == "POST" && ctx.Has("delete")) return DeleteObjects(ctx);
    static const std::set<std::string> kUnsupported = {
        "acl",     "policy",  "cors",       "tagging",     "versioning", "website",
        "logging", "replication", "encryption", "notification", "versions", "accelerate",
        "object-lock", "ownershipControls", "publicAccessBlock", "requestPayment", "analytics",
        "inventory", "metrics", "intelligent-tiering", "policyStatus"};
    for (const auto& [name, value] : ctx.query) {
      if (kUnsupported.count(name)) {
        return Err(501, "NotImplemented",
                   fmt::format("The '{}' bucket subresource is not implemented.", name));
      }
    }
    if (m == "PUT") return CreateBucket(ctx);
    if (m == "DELETE") return DeleteBucket(ctx);
    if (m == "HEAD") return HeadBucket(ctx);
    if (m == "GET") return ListObjects(ctx, ctx.Q("list-type") == "2");
    return Err(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
  for (const char* name : {"acl", "tagging", "retention", "legal-hold", "torrent", "restore",
                           "select", "attributes"}) {
    if (ctx.Has(name)) {
      return Err(501, "NotImplemented",
                 fmt::format("The '{}' object subresource is not implemented.", name));
    }
  }
  if (m == "PUT") {
    bool copy = ctx.req->HasHeader("x-amz-copy-source");
    if (ctx.Has("uploadId") && ctx.Has("partNumber")) return copy ? CopyObject(ctx, true) : UploadPart(ctx);
    return copy ? CopyObject(ctx, false) : PutObject(ctx);
  }
  if (m == "GET" || m == "HEAD") {
    if (m == "GET" && ctx.Has("uploadId")) return ListParts(ctx);
    return GetObject(ctx);
  }
  if (m == "DELETE") return ctx.Has("uploadId") ? AbortMultipart(ctx) : DeleteObject(ctx);
  if (m == "POST") {
    if (ctx.Has("uploads")) return CreateMultipart(ctx);
    if (ctx.Has("uploadId")) return CompleteMultipart(ctx);
  }
  return Err(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
}

// ---- service and buckets

Reply S3Service::Impl::ListBuckets(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:ListAllMyBuckets", "*")) return *e;
  auto buckets = store->ListBuckets();
  if (!buckets.ok()) return FromStatus(buckets.status(), ctx);
  Xml x("ListAllMyBucketsResult");
  auto owner = x.root().append_child("Owner");
  Add(owner, "ID", options.account_id);
  Add(owner, "DisplayName", "muonpipe");
  auto list = x.root().append_child("Buckets");
  for (const auto& b : *buckets) {
    auto n = list.append_child("Bucket");
    Add(n, "Name", b.name);
    Add(n, "CreationDate", IsoTime(b.created_ms));
    Add(n, "BucketRegion", options.region);
  }
  return XmlResponse(200, x.str());
}

Reply S3Service::Impl::CreateBucket(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:CreateBucket", ctx.addr.bucket)) return *e;
  if (!ctx.req->body.empty()) {
    pugi::xml_document doc;
    if (!doc.load_buffer(ctx.req->body.data(), ctx.req->body.size())) {
      return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
    }
    std::string where = doc.child("CreateBucketConfiguration").child_value("LocationConstraint");
    if (!where.empty() && where != options.region) {
      return Err(400, "IllegalLocationConstraintException",
                 fmt::format("The {} location constraint is incompatible for the region specific "
                             "endpoint this request was sent to ({}).",
                             where, options.region));
    }
  }
  Status s = store->CreateBucket(ctx.addr.bucket);
  if (s.code() == StatusCode::kInvalidArgument) {
    S3Error e = Err(400, "InvalidBucketName", "The specified bucket is not valid.");
    e.extra.push_back({"BucketName", ctx.addr.bucket});
    return e;
  }
  if (!s.ok()) return FromStatus(s, ctx);
  http::Response r;
  r.Set("Location", "/" + ctx.addr.bucket);
  return r;
}

Reply S3Service::Impl::DeleteBucket(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:DeleteBucket", ctx.addr.bucket)) return *e;
  Status s = store->DeleteBucket(ctx.addr.bucket);
  if (s.code() == StatusCode::kFailedPrecondition) {
    S3Error e = Err(409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    e.extra.push_back({"BucketName", ctx.addr.bucket});
    return e;
  }
  if (!s.ok()) return FromStatus(s, ctx);
  if (lifecycle) {
    if (Status ls = lifecycle->Delete(ctx.addr.bucket); !ls.ok()) {
      log::warn("s3: lifecycle configuration of deleted bucket {}: {}", ctx.addr.bucket,
                ls.ToString());
    }
  }
  http::Response r;
  r.status = 204;
  return r;
}

Reply S3Service::Impl::HeadBucket(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:ListBucket", ctx.addr.bucket)) return *e;
  auto b = store->HeadBucket(ctx.addr.bucket);
  if (!b.ok()) return FromStatus(b.status(), ctx);
  http::Response r;
  r.Set("x-amz-bucket-region", options.region);
  return r;
}

Reply S3Service::Impl::GetBucketLocation(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:GetBucketLocation", ctx.addr.bucket)) return *e;
  auto b = store->HeadBucket(ctx.addr.bucket);
  if (!b.ok()) return FromStatus(b.status(), ctx);
  Xml x("LocationConstraint");
  if (options.region != "us-east-1") x.root().text() = options.region.c_str();
  return XmlResponse(200, x.str());
}

Reply S3Service::Impl::ListObjects(Ctx& ctx, bool v2) {
  // Condition keys S3 gives ListBucket (policies may restrict listing by prefix).
  auth::RequestKeys keys;
  for (const char* name : {"prefix", "delimiter", "max-keys"}) {
    if (ctx.Has(name)) keys.emplace_back(std::string("s3:") + name, ctx.Q(name));
  }
  if (auto e = Authorize(ctx, "s3:ListBucket", ctx.addr.bucket, {}, keys)) return *e;
  std::string prefix = ctx.Q("prefix"), delimiter = ctx.Q("delimiter");
  std::string encoding = ctx.Q("encoding-type");
  if (!encoding.empty() && encoding != "url") {
    return Err(400, "InvalidArgument", "Invalid Encoding Method specified in Request");
  }
  bool url = encoding == "url";
  auto enc = [&](const std::string& s) { return url ? UrlEncode(s, true) : s; };
  size_t max_keys = 1000;
  if (ctx.Has("max-keys")) {
    std::string v = ctx.Q("max-keys");
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      return Err(400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
    }
    max_keys = std::min<size_t>(std::stoul(v), 1000);
  }
  std::string cursor;
  std::string token = ctx.Q("continuation-token"), start_after = ctx.Q("start-after"),
              marker = ctx.Q("marker");
  if (v2 && ctx.Has("continuation-token")) {
    auto raw = Base64UrlDecode(token);
    if (!raw || raw->empty() || (*raw)[0] != 'c') {
      return Err(400, "InvalidArgument", "The continuation token provided is incorrect");
    }
    cursor = raw->substr(1);
  } else {
    cursor = v2 ? start_after : marker;
    // A marker that is a common prefix continues after every key under it.
    if (!delimiter.empty() && cursor.size() > prefix.size() &&
        cursor.compare(0, prefix.size(), prefix) == 0 &&
        cursor.find(delimiter, prefix.size()) == cursor.size() - delimiter.size()) {
      cursor += '\xff';
    }
  }
  auto listing = ListWithDelimiter(store, ctx.addr.bucket, prefix, delimiter, cursor, max_keys);
  if (!listing.ok()) return FromStatus(listing.status(), ctx);
  Xml x("ListBucketResult");
  auto root = x.root();
  Add(root, "IsTruncated", listing->truncated ? "true" : "false");
  if (!v2) {
    Add(root, "Marker", enc(marker));
    if (listing->truncated) Add(root, "NextMarker", enc(listing->last_entry));
  }
  bool fetch_owner = !v2 || ctx.Q("fetch-owner") == "true";
  for (const ObjectMeta& m : listing->objects) {
    auto c = root.append_child("Contents");
    Add(c, "Key", enc(m.key));
    Add(c, "LastModified", IsoTime(m.last_modified_ms));
    Add(c, "ETag", Quoted(m.etag));
    for (const auto& [alg, v] : m.checksums) Add(c, "ChecksumAlgorithm", ChecksumName(alg));
    if (!m.checksums.empty()) {
      Add(c, "ChecksumType", ChecksumTypeName(m.checksum_type));
    }
    Add(c, "Size", m.size);
    if (fetch_owner) {
      auto o = c.append_child("Owner");
      Add(o, "ID", options.account_id);
      Add(o, "DisplayName", "muonpipe");
    }
    Add(c, "StorageClass", "STANDARD");
  }
  Add(root, "Name", ctx.addr.bucket);
  Add(root, "Prefix", enc(prefix));
  if (!delimiter.empty()) Add(root, "Delimiter", enc(delimiter));
  Add(root, "MaxKeys", max_keys);
  for (const std::string& p : listing->common_prefixes) {
    Add(root.append_child("CommonPrefixes"), "Prefix", enc(p));
  }
  if (url) Add(root, "EncodingType", "url");
  if (v2) {
    Add(root, "KeyCount", listing->objects.size() + listing->common_prefixes.size());
    if (ctx.Has("continuation-token")) Add(root, "ContinuationToken", token);
    if (listing->truncated) {
      Add(root, "NextContinuationToken", Base64UrlEncode("c" + listing->next_cursor));
    }
    if (ctx.Has("start-after")) Add(root, "StartAfter", enc(start_after));
  }
  return XmlResponse(200, x.str());
}

Reply S3Service::Impl::DeleteObjects(Ctx& ctx) {
  pugi::xml_document doc;
  if (!doc.load_buffer(ctx.req->body.data(), ctx.req->body.size())) {
    return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
  }
  pugi::xml_node del = doc.child("Delete");
  if (!del) return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
  bool quiet = std::string_view(del.child_value("Quiet")) == "true";
  std::vector<std::string> keys;
  for (pugi::xml_node o : del.children("Object")) keys.push_back(o.child_value("Key"));
  if (keys.empty() || keys.size() > 1000) {
    return Err(400, "MalformedXML", "Delete holds 1 to 1000 objects.");
  }
  if (auto b = store->HeadBucket(ctx.addr.bucket); !b.ok()) return FromStatus(b.status(), ctx);
  Xml x("DeleteResult");
  for (const std::string& key : keys) {
    std::optional<S3Error> e = Authorize(ctx, "s3:DeleteObject", ctx.addr.bucket, key);
    if (!e) {
      Status s = store->Delete(ctx.addr.bucket, key);
      if (!s.ok()) {
        Ctx inner = ctx;
        inner.addr.key = key;
        e = s.code() == StatusCode::kInvalidArgument ? Err(400, "InvalidArgument", s.message())
                                                     : FromStatus(s, inner);
      }
    }
    if (e) {
      auto n = x.root().append_child("Error");
      Add(n, "Key", key);
      Add(n, "Code", e->code);
      Add(n, "Message", e->message);
    } else if (!quiet) {
      Add(x.root().append_child("Deleted"), "Key", key);
    }
  }
  return XmlResponse(200, x.str());
}

Reply S3Service::Impl::PutLifecycle(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutLifecycleConfiguration", ctx.addr.bucket)) return *e;
  if (auto b = store->HeadBucket(ctx.addr.bucket); !b.ok()) return FromStatus(b.status(), ctx);
  auto rules = ParseLifecycleXml(ctx.req->body);
  if (!rules.ok()) {
    const std::string& m = rules.status().message();
    if (m.rfind("MalformedXML", 0) == 0) return Err(400, "MalformedXML", m);
    return Err(400, "InvalidArgument", m);
  }
  Status s = lifecycle->Put(ctx.addr.bucket, *rules);
  if (!s.ok()) return FromStatus(s, ctx);
  return http::Response{};
}

Reply S3Service::Impl::GetLifecycle(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:GetLifecycleConfiguration", ctx.addr.bucket)) return *e;
  if (auto b = store->HeadBucket(ctx.addr.bucket); !b.ok()) return FromStatus(b.status(), ctx);
  auto rules = lifecycle->Get(ctx.addr.bucket);
  if (!rules.ok()) {
    S3Error e = Err(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist");
    e.extra.push_back({"BucketName", ctx.addr.bucket});
    return e;
  }
  return XmlResponse(200, LifecycleXml(*rules));
}

Reply S3Service::Impl::DeleteLifecycle(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutLifecycleConfiguration", ctx.addr.bucket)) return *e;
  if (auto b = store->HeadBucket(ctx.addr.bucket); !b.ok()) return FromStatus(b.status(), ctx);
  Status s = lifecycle->Delete(ctx.addr.bucket);
  if (!s.ok()) return FromStatus(s, ctx);
  http::Response r;
  r.status = 204;
  return r;
}

Reply S3Service::Impl::ListMultipartUploads(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:ListBucketMultipartUploads", ctx.addr.bucket)) return *e;
  auto uploads = store->ListMultipartUploads(ctx.addr.bucket);
  if (!uploads.ok()) return FromStatus(uploads.status(), ctx);
  std::string prefix = ctx.Q("prefix"), key_marker = ctx.Q("key-marker"),
              id_marker = ctx.Q("upload-id-marker");
  bool url = ctx.Q("encoding-type") == "url";
  auto enc = [&](const std::string& s) { return url ? UrlEncode(s, true) : s; };
  size_t max = 1000;
  if (ctx.Has("max-uploads")) {
    std::string v = ctx.Q("max-uploads");
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      return Err(400, "InvalidArgument", "max-uploads must be an integer");
    }
    max = std::min<size_t>(std::stoul(v), 1000);
  }
  Xml x("ListMultipartUploadsResult");
  auto root = x.root();
  Add(root, "Bucket", ctx.addr.bucket);
  Add(root, "KeyMarker", enc(key_marker));
  Add(root, "UploadIdMarker", id_marker);
  if (!prefix.empty()) Add(root, "Prefix", enc(prefix));
  Add(root, "MaxUploads", max);
  size_t n = 0;
  bool truncated = false;
  std::string last_key, last_id;
  std::vector<const objectstore::MultipartUpload*> shown;
  for (const auto& u : *uploads) {
    if (u.key.compare(0, prefix.size(), prefix) != 0) continue;
    if (!key_marker.empty() &&
        (u.key < key_marker || (u.key == key_marker && (id_marker.empty() || u.upload_id <= id_marker)))) {
      continue;
    }
    if (n == max) {
      truncated = true;
      break;
    }
    shown.push_back(&u);
    last_key = u.key;
    last_id = u.upload_id;
    ++n;
  }
  if (truncated) {
    Add(root, "NextKeyMarker", enc(last_key));
    Add(root, "NextUploadIdMarker", last_id);
  }
  AddBool(root, "IsTruncated", truncated);
  for (const auto* u : shown) {
    auto e = root.append_child("Upload");
    Add(e, "Key", enc(u->key));
    Add(e, "UploadId", u->upload_id);
    Add(e, "Initiated", IsoTime(u->initiated_ms));
    Add(e, "StorageClass", "STANDARD");
    if (const auto& alg = u->options.checksum_algorithm) {
      Add(e, "ChecksumAlgorithm", ChecksumName(*alg));
      Add(e, "ChecksumType", ChecksumTypeName(u->options.checksum_type));
    }
  }
  if (url) Add(root, "EncodingType", "url");
  return XmlResponse(200, x.str());
}

// ---- objects

Result<Payload> S3Service::Impl::ReadPayload(Ctx& ctx, S3Error* error) {
  Payload p;
  std::vector<std::pair<std::string, std::string>> given;  // (lower header suffix, value)
  if (auth::IsAwsChunked(ctx.verified.payload_hash)) {
    std::optional<uint64_t> decoded;
    std::string_view dl = ctx.H("x-amz-decoded-content-length");
    if (!dl.empty()) {
      uint64_t v = 0;
      for (char c : dl) {
        if (c < '0' || c > '9') {
          *error = Err(400, "InvalidArgument", "x-amz-decoded-content-length is not a number");
          return Status::InvalidArgument("bad length");
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      decoded = v;
    }
    auto chunked = auth::DecodeAwsChunked(ctx.req->body, ctx.verified, decoded);
    if (!chunked.ok()) {
      if (chunked.status().code() == StatusCode::kUnauthenticated) {
        *error = Err(403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your key and signing method.");
      } else {
        *error = Err(400, "IncompleteBody", chunked.status().message());
      }
      return chunked.status();
    }
    p.data = std::move(chunked->data);
    for (auto& [name, value] : chunked->trailers) {
      if (name.rfind("x-amz-checksum-", 0) == 0) given.emplace_back(name.substr(15), value);
    }
    std::string_view trailer = ctx.H("x-amz-trailer");
    if (!trailer.empty() && Lower(trailer).rfind("x-amz-checksum-", 0) == 0) {
      bool found = false;
      for (const auto& [n, v] : given) found |= ("x-amz-checksum-" + n) == Lower(trailer);
      if (!found) {
        *error = Err(400, "InvalidRequest",
                     fmt::format("The trailer {} was declared but not sent.", trailer));
        return Status::InvalidArgument("missing trailer");
      }
    }
  } else {
    p.data = std::move(ctx.req->body);
  }
  for (const auto& [name, value] : ctx.req->headers) {
    if (name.size() > 15 && EqualsIgnoreCase(std::string_view(name).substr(0, 15), "x-amz-checksum-")) {
      std::string suffix = Lower(std::string_view(name).substr(15));
      if (suffix == "algorithm" || suffix == "type" || suffix == "mode") continue;
      given.emplace_back(suffix, value);
    }
  }
  for (const auto& [suffix, value] : given) {
    auto alg = ChecksumFromName(suffix);
    if (!alg) {
      *error = Err(400, "InvalidRequest",
                   fmt::format("The x-amz-checksum-{} checksum is not supported; use CRC32, "
                               "CRC32C, CRC64NVME, SHA1 or SHA256.",
                               suffix));
      return Status::InvalidArgument("unsupported checksum");
    }
    std::string computed = ChecksumBase64(*alg, p.data);
    if (computed != value) {
      *error = Err(400, "BadDigest",
                   fmt::format("The {} you specified did not match the calculated checksum.",
                               ChecksumName(*alg)));
      return Status::InvalidArgument("bad checksum");
    }
    p.checksums[*alg] = value;
  }
  std::string_view md5 = ctx.H("Content-MD5");
  if (!md5.empty()) {
    auto raw = Base64Decode(md5);
    if (!raw || raw->size() != 16) {
      *error = Err(400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
      return Status::InvalidArgument("bad md5");
    }
    if (*raw != Md5Raw(p.data)) {
      *error = Err(400, "BadDigest",
                   "The Content-MD5 you specified did not match what we received.");
      return Status::InvalidArgument("bad md5");
    }
  }
  return p;
}

namespace {

PutOptions OptionsFromHeaders(const http::Request& req) {
  PutOptions o;
  o.content_type = std::string(req.Header("Content-Type"));
  std::string enc;
  std::string_view ce = req.Header("Content-Encoding");
  // aws-chunked is the transfer form, not the object's encoding.
  while (!ce.empty()) {
    auto comma = ce.find(',');
    std::string_view item = ce.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && !EqualsIgnoreCase(item, "aws-chunked")) {
      if (!enc.empty()) enc += ",";
      enc += item;
    }
    if (comma == std::string_view::npos) break;
    ce.remove_prefix(comma + 1);
  }
  o.content_encoding = enc;
  o.content_disposition = std::string(req.Header("Content-Disposition"));
  o.cache_control = std::string(req.Header("Cache-Control"));
  for (const auto& [name, value] : req.headers) {
    if (name.size() > 11 && EqualsIgnoreCase(std::string_view(name).substr(0, 11), "x-amz-meta-")) {
      o.user_metadata[Lower(std::string_view(name).substr(11))] = value;
    }
  }
  return o;
}

void AddChecksumHeaders(http::Response& r, const std::map<ChecksumAlgorithm, std::string>& sums,
                        ChecksumType type) {
  for (const auto& [alg, v] : sums) {
    r.Set("x-amz-checksum-" + Lower(ChecksumName(alg)), v);
  }
  if (!sums.empty()) r.Set("x-amz-checksum-type", std::string(ChecksumTypeName(type)));
}

void AddObjectHeaders(http::Response& r, const ObjectMeta& m) {
  r.Set("Last-Modified", HttpDate(m.last_modified_ms));
  r.Set("ETag", Quoted(m.etag));
  r.Set("Accept-Ranges", "bytes");
  r.Set("Content-Type", m.content_type.empty() ? "binary/octet-stream" : m.content_type);
  if (!m.content_encoding.empty()) r.Set("Content-Encoding", m.content_encoding);
  if (!m.content_disposition.empty()) r.Set("Content-Disposition", m.content_disposition);
  if (!m.cache_control.empty()) r.Set("Cache-Control", m.cache_control);
  for (const auto& [k, v] : m.user_metadata) r.Set("x-amz-meta-" + k, v);
}

// Evaluates If-Match / If-None-Match / If-(Un)Modified-Since (RFC 7232 order).
// Returns 0 to proceed, 304 or 412.
int EvaluateConditions(const http::Request& req, const ObjectMeta& m, std::string_view prefix) {
  auto h = [&](const char* name) { return req.Header(std::string(prefix) + name); };
  const int64_t modified_s = m.last_modified_ms / 1000;
  std::string_view if_match = h("If-Match"), if_none = h("If-None-Match");
  std::string_view if_unmod = h("If-Unmodified-Since"), if_mod = h("If-Modified-Since");
  if (!if_match.empty()) {
    if (!EtagListMatches(if_match, m.etag)) return 412;
  } else if (!if_unmod.empty()) {
    auto t = ParseHttpDate(if_unmod);
    if (t && modified_s > *t) return 412;
  }
  if (!if_none.empty()) {
    if (EtagListMatches(if_none, m.etag)) return 304;
  } else if (!if_mod.empty()) {
    auto t = ParseHttpDate(if_mod);
    if (t && modified_s <= *t) return 304;
  }
  return 0;
}

S3Error PreconditionFailed(std::string condition) {
  S3Error e = Err(412, "PreconditionFailed",
                  "At least one of the pre-conditions you specified did not hold");
  e.extra.push_back({"Condition", std::move(condition)});
  return e;
}

}  // namespace

Reply S3Service::Impl::PutObject(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  if (ctx.addr.key.size() > 1024) {
    return Err(400, "KeyTooLongError", "Your key is too long");
  }
  S3Error perr;
  auto payload = ReadPayload(ctx, &perr);
  if (!payload.ok()) return perr;
  PutOptions o = OptionsFromHeaders(*ctx.req);
  o.checksums = payload->checksums;
  std::string_view if_none = ctx.H("If-None-Match");
  if (!if_none.empty()) {
    if (Unquoted(if_none) != "*") {
      return Err(501, "NotImplemented", "If-None-Match on PUT supports only '*'.");
    }
    o.if_none_match_any = true;
  }
  std::string_view if_match = ctx.H("If-Match");
  if (!if_match.empty()) {
    auto cur = store->Head(ctx.addr.bucket, ctx.addr.key);
    if (!cur.ok()) {
      if (cur.status().code() == StatusCode::kNotFound &&
          cur.status().message().rfind("key", 0) == 0) {
        return Err(404, "NoSuchKey", "The specified key does not exist.");
      }
      return FromStatus(cur.status(), ctx);
    }
    if (!EtagListMatches(if_match, cur->etag)) return PreconditionFailed("If-Match");
  }
  auto meta = store->Put(ctx.addr.bucket, ctx.addr.key, payload->data, o);
  if (!meta.ok()) {
    if (meta.status().code() == StatusCode::kFailedPrecondition) {
      return PreconditionFailed("If-None-Match");
    }
    if (meta.status().code() == StatusCode::kInvalidArgument) {
      return Err(400, "InvalidArgument", meta.status().message());
    }
    return FromStatus(meta.status(), ctx);
  }
  http::Response r;
  r.Set("ETag", Quoted(meta->etag));
  AddChecksumHeaders(r, meta->checksums, ChecksumType::kFullObject);
  return r;
}

namespace {

// GET bodies up to this size are read whole (one read, one write); larger
// ones are streamed from the object's file, so memory stays bounded.
constexpr uint64_t kWholeBodyLimit = 1 << 20;

// An object range as an HTTP body read in pieces.
class ObjectBody final : public http::BodyStream {
 public:
  explicit ObjectBody(objectstore::ObjectReader reader) : r_(std::move(reader)) {}
  uint64_t size() const override { return r_.length; }
  Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) override {
    if (offset >= r_.length) return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, r_.length - offset));
    return r_.file->Read(r_.offset + offset, n, scratch);
  }

 private:
  const objectstore::ObjectReader r_;
};

}  // namespace

Reply S3Service::Impl::GetObject(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:GetObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  auto head = store->Head(ctx.addr.bucket, ctx.addr.key);
  if (!head.ok()) return FromStatus(head.status(), ctx);
  int cond = EvaluateConditions(*ctx.req, *head, "");
  if (cond == 412) {
    return PreconditionFailed(ctx.H("If-Match").empty() ? "If-Unmodified-Since" : "If-Match");
  }
  if (cond == 304) {
    http::Response r;
    r.status = 304;
    r.Set("ETag", Quoted(head->etag));
    r.Set("Last-Modified", HttpDate(head->last_modified_ms));
    return r;
  }
  std::optional<objectstore::ByteRange> range;
  std::optional<size_t> parts_count;
  if (ctx.Has("partNumber")) {
    std::string v = ctx.Q("partNumber");
    int n = 0;
    if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
        (n = std::stoi(v)) < 1) {
      return Err(400, "InvalidArgument", "Part number must be an integer between 1 and 10000");
    }
    std::vector<uint64_t> sizes = head->part_sizes;
    if (sizes.empty()) sizes.push_back(head->size);
    if (static_cast<size_t>(n) > sizes.size()) {
      return Err(416, "InvalidPartNumber", "The requested partnumber is not satisfiable");
    }
    uint64_t first = 0;
    for (int i = 0; i < n - 1; ++i) first += sizes[i];
    if (sizes[n - 1] > 0) range = objectstore::ByteRange{first, first + sizes[n - 1] - 1};
    parts_count = sizes.size();
  } else if (std::string_view rh = ctx.H("Range"); !rh.empty()) {
    RangeSpec spec = ParseRange(rh, head->size);
    if (spec.kind == RangeSpec::kUnsatisfiable) {
      S3Error e = Err(416, "InvalidRange", "The requested range is not satisfiable");
      e.extra.push_back({"RangeRequested", std::string(rh)});
      e.extra.push_back({"ActualObjectSize", std::to_string(head->size)});
      return e;
    }
    if (spec.kind == RangeSpec::kSatisfiable) range = objectstore::ByteRange{spec.first, spec.last};
  }
  http::Response r;
  ObjectMeta meta = *head;
  const uint64_t length = range ? range->last - range->first + 1 : head->size;
  if (!ctx.head && length <= kWholeBodyLimit) {
    auto obj = store->Get(ctx.addr.bucket, ctx.addr.key, range);
    if (!obj.ok()) return FromStatus(obj.status(), ctx);
    meta = std::move(obj->meta);
    r.body = std::move(obj->data);
  } else if (!ctx.head) {
    // Larger bodies go out in pieces straight from the object's file.
    auto reader = store->Open(ctx.addr.bucket, ctx.addr.key, range);
    if (!reader.ok()) return FromStatus(reader.status(), ctx);
    meta = reader->meta;
    r.stream = std::make_shared<ObjectBody>(std::move(*reader));
  }
  AddObjectHeaders(r, meta);
  if (range) {
    r.status = 206;
    r.Set("Content-Range", fmt::format("bytes {}-{}/{}", range->first, range->last, meta.size));
  }
  if (ctx.head) {
    r.Set("Content-Length", std::to_string(range ? range->last - range->first + 1 : meta.size));
  }
  if (parts_count) r.Set("x-amz-mp-parts-count", std::to_string(*parts_count));
  if (!range && EqualsIgnoreCase(ctx.H("x-amz-checksum-mode"), "ENABLED")) {
    AddChecksumHeaders(r, meta.checksums, meta.checksum_type);
  }
  static const std::pair<const char*, const char*> kOverrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"}};
  for (const auto& [param, header] : kOverrides) {
    if (!ctx.Has(param)) continue;
    std::erase_if(r.headers, [&](const http::Header& h) { return EqualsIgnoreCase(h.first, header); });
    r.Set(header, ctx.Q(param));
  }
  return r;
}

Reply S3Service::Impl::DeleteObject(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:DeleteObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  Status s = store->Delete(ctx.addr.bucket, ctx.addr.key);
  if (s.code() == StatusCode::kInvalidArgument) return Err(400, "InvalidArgument", s.message());
  if (!s.ok()) return FromStatus(s, ctx);
  http::Response r;
  r.status = 204;
  return r;
}

Reply S3Service::Impl::CopyObject(Ctx& ctx, bool part) {
  std::string_view source = ctx.H("x-amz-copy-source");
  std::string src(source.substr(0, source.find('?')));
  src = UrlDecode(src, false);
  if (!src.empty() && src.front() == '/') src.erase(0, 1);
  auto slash = src.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == src.size()) {
    return Err(400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  }
  std::string src_bucket = src.substr(0, slash), src_key = src.substr(slash + 1);
  if (auto e = Authorize(ctx, "s3:GetObject", src_bucket, src_key)) return *e;
  if (auto e = Authorize(ctx, "s3:PutObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  Ctx src_ctx = ctx;
  src_ctx.addr.bucket = src_bucket;
  src_ctx.addr.key = src_key;
  auto head = store->Head(src_bucket, src_key);
  if (!head.ok()) return FromStatus(head.status(), src_ctx);
  int cond = EvaluateConditions(*ctx.req, *head, "x-amz-copy-source-");
  if (cond != 0) return PreconditionFailed("x-amz-copy-source-If-Match");
  std::optional<objectstore::ByteRange> range;
  if (part) {
    std::string_view rh = ctx.H("x-amz-copy-source-range");
    if (!rh.empty()) {
      RangeSpec spec = ParseRange(rh, head->size);
      if (spec.kind != RangeSpec::kSatisfiable || rh.find('-') == rh.size() - 1 ||
          rh.substr(6, 1) == "-") {
        return Err(400, "InvalidArgument",
                   "The x-amz-copy-source-range value must be of the form bytes=first-last "
                   "where first and last are the zero-based offsets of the first and last bytes "
                   "to copy");
      }
      range = objectstore::ByteRange{spec.first, spec.last};
    }
  }
  auto obj = store->Get(src_bucket, src_key, range);
  if (!obj.ok()) return FromStatus(obj.status(), src_ctx);
  if (part) {
    int n = 0;
    std::string v = ctx.Q("partNumber");
    if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
        (n = std::stoi(v)) < 1 || n > 10000) {
      return Err(400, "InvalidArgument", "Part number must be an integer between 1 and 10000");
    }
    auto p = store->PutPart(ctx.addr.bucket, ctx.Q("uploadId"), n, obj->data, {});
    if (!p.ok()) return FromStatus(p.status(), ctx);
    Xml x("CopyPartResult");
    Add(x.root(), "ETag", Quoted(p->etag));
    Add(x.root(), "LastModified", IsoTime(p->last_modified_ms));
    return XmlResponse(200, x.str());
  }
  bool replace = EqualsIgnoreCase(ctx.H("x-amz-metadata-directive"), "REPLACE");
  if (!replace && src_bucket == ctx.addr.bucket && src_key == ctx.addr.key) {
    return Err(400, "InvalidRequest",
               "This copy request is illegal because it is trying to copy an object to itself "
               "without changing the object's metadata, storage class, website redirect "
               "location or encryption attributes.");
  }
  PutOptions o;
  if (replace) {
    o = OptionsFromHeaders(*ctx.req);
  } else {
    o.content_type = obj->meta.content_type;
    o.content_encoding = obj->meta.content_encoding;
    o.content_disposition = obj->meta.content_disposition;
    o.cache_control = obj->meta.cache_control;
    o.user_metadata = obj->meta.user_metadata;
  }
  // A full-object checksum is the copy's too; a composite one is not.
  if (obj->meta.checksum_type == ChecksumType::kFullObject) o.checksums = obj->meta.checksums;
  auto meta = store->Put(ctx.addr.bucket, ctx.addr.key, obj->data, o);
  if (!meta.ok()) return FromStatus(meta.status(), ctx);
  Xml x("CopyObjectResult");
  Add(x.root(), "ETag", Quoted(meta->etag));
  Add(x.root(), "LastModified", IsoTime(meta->last_modified_ms));
  for (const auto& [alg, v] : meta->checksums) {
    Add(x.root(), ("Checksum" + std::string(ChecksumName(alg))).c_str(), v);
  }
  return XmlResponse(200, x.str());
}

Reply S3Service::Impl::CreateMultipart(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  if (ctx.addr.key.size() > 1024) return Err(400, "KeyTooLongError", "Your key is too long");
  PutOptions o = OptionsFromHeaders(*ctx.req);
  std::string_view alg_name = ctx.H("x-amz-checksum-algorithm");
  std::string_view type_name = ctx.H("x-amz-checksum-type");
  std::optional<ChecksumAlgorithm> alg;
  if (!alg_name.empty()) {
    alg = ChecksumFromName(alg_name);
    if (!alg) return Err(400, "InvalidRequest", "Checksum algorithm is not supported.");
  }
  if (!type_name.empty()) {
    auto type = objectstore::ChecksumTypeFromName(Upper(type_name));
    if (!type)
      return Err(400, "InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
    if (!alg) {
      return Err(400, "InvalidRequest",
                 "The x-amz-checksum-type header can only be used with the "
                 "x-amz-checksum-algorithm header.");
    }
    o.checksum_type = *type;
  } else if (alg) {
    // S3's defaults: CRC64NVME only combines; the others default to composite.
    o.checksum_type = *alg == ChecksumAlgorithm::kCrc64Nvme ? ChecksumType::kFullObject
                                                            : ChecksumType::kComposite;
  }
  if (alg) {
    // FULL_OBJECT needs a CRC; CRC64NVME is never composite.
    const bool allowed = o.checksum_type == ChecksumType::kFullObject
                             ? ChecksumCombines(*alg)
                             : *alg != ChecksumAlgorithm::kCrc64Nvme;
    if (!allowed) {
      return Err(400, "InvalidRequest",
                 fmt::format("The {} checksum type cannot be used with the {} checksum algorithm.",
                             ChecksumTypeName(o.checksum_type), Lower(ChecksumName(*alg))));
    }
    o.checksum_algorithm = alg;
  }
  auto u = store->CreateMultipart(ctx.addr.bucket, ctx.addr.key, o);
  if (!u.ok()) return FromStatus(u.status(), ctx);
  Xml x("InitiateMultipartUploadResult");
  Add(x.root(), "Bucket", ctx.addr.bucket);
  Add(x.root(), "Key", ctx.addr.key);
  Add(x.root(), "UploadId", u->upload_id);
  http::Response r = XmlResponse(200, x.str());
  if (alg) {
    r.Set("x-amz-checksum-algorithm", std::string(ChecksumName(*alg)));
    r.Set("x-amz-checksum-type", std::string(ChecksumTypeName(o.checksum_type)));
  }
  return r;
}

Reply S3Service::Impl::UploadPart(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  std::string v = ctx.Q("partNumber");
  int n = 0;
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
      (n = std::stoi(v)) < 1 || n > 10000) {
    return Err(400, "InvalidArgument", "Part number must be an integer between 1 and 10000");
  }
  S3Error perr;
  auto payload = ReadPayload(ctx, &perr);
  if (!payload.ok()) return perr;
  auto p = store->PutPart(ctx.addr.bucket, ctx.Q("uploadId"), n, payload->data,
                          payload->checksums);
  if (!p.ok()) return FromStatus(p.status(), ctx);
  http::Response r;
  r.Set("ETag", Quoted(p->etag));
  for (const auto& [alg, val] : p->checksums) r.Set("x-amz-checksum-" + Lower(ChecksumName(alg)), val);
  return r;
}

Reply S3Service::Impl::CompleteMultipart(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:PutObject", ctx.addr.bucket, ctx.addr.key)) return *e;
  pugi::xml_document doc;
  if (!doc.load_buffer(ctx.req->body.data(), ctx.req->body.size())) {
    return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
  }
  pugi::xml_node root = doc.child("CompleteMultipartUpload");
  std::vector<std::pair<int, std::string>> parts;
  std::vector<std::map<ChecksumAlgorithm, std::string>> part_sums;
  for (pugi::xml_node p : root.children("Part")) {
    std::string num = p.child_value("PartNumber");
    if (num.empty() || num.size() > 5 || num.find_first_not_of("0123456789") != std::string::npos) {
      return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
    }
    parts.emplace_back(std::stoi(num), Unquoted(p.child_value("ETag")));
    std::map<ChecksumAlgorithm, std::string> sums;
    for (pugi::xml_node c : p.children()) {
      std::string_view name = c.name();
      if (name.rfind("Checksum", 0) == 0) {
        if (auto alg = ChecksumFromName(name.substr(8))) sums[*alg] = c.child_value();
      }
    }
    part_sums.push_back(std::move(sums));
  }
  if (!root || parts.empty()) {
    return Err(400, "MalformedXML", "The XML you provided was not well-formed.");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].first <= parts[i - 1].first) {
      return Err(400, "InvalidPartOrder",
                 "The list of parts was not in ascending order. Parts must be ordered by part "
                 "number.");
    }
  }
  const std::string upload_id = ctx.Q("uploadId");
  auto upload = store->GetMultipart(ctx.addr.bucket, upload_id);
  if (!upload.ok()) return FromStatus(upload.status(), ctx);
  auto stored = store->ListParts(ctx.addr.bucket, upload_id);
  if (!stored.ok()) return FromStatus(stored.status(), ctx);
  std::map<int, const objectstore::PartInfo*> by_number;
  for (const auto& p : *stored) by_number[p.part_number] = &p;
  auto invalid_part = [&] {
    return Err(400, "InvalidPart",
               "One or more of the specified parts could not be found. The part may not have been "
               "uploaded, or the specified entity tag may not match the part's entity tag.");
  };
  std::vector<objectstore::PartInfo> listed;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto it = by_number.find(parts[i].first);
    if (it == by_number.end() || Lower(parts[i].second) != it->second->etag) return invalid_part();
    listed.push_back(*it->second);
    for (const auto& [alg, v] : part_sums[i]) {
      auto st = it->second->checksums.find(alg);
      if (st != it->second->checksums.end() && st->second != v) return invalid_part();
    }
    if (i + 1 < parts.size() && it->second->size < kMinPartSize) {
      S3Error e = Err(400, "EntityTooSmall",
                      "Your proposed upload is smaller than the minimum allowed object size.");
      e.extra.push_back({"ProposedSize", std::to_string(it->second->size)});
      e.extra.push_back({"MinSizeAllowed", std::to_string(kMinPartSize)});
      e.extra.push_back({"PartNumber", std::to_string(parts[i].first)});
      return e;
    }
  }
  if (auto e = CheckCompleteChecksums(ctx, upload->options, listed)) return *e;
  auto meta = store->CompleteMultipart(ctx.addr.bucket, upload_id, parts);
  if (!meta.ok()) {
    if (meta.status().code() == StatusCode::kInvalidArgument) return invalid_part();
    return FromStatus(meta.status(), ctx);
  }
  Xml x("CompleteMultipartUploadResult");
  Add(x.root(), "Location", fmt::format("/{}/{}", ctx.addr.bucket, UrlEncode(ctx.addr.key, true)));
  Add(x.root(), "Bucket", ctx.addr.bucket);
  Add(x.root(), "Key", ctx.addr.key);
  Add(x.root(), "ETag", Quoted(meta->etag));
  for (const auto& [alg, v] : meta->checksums) {
    Add(x.root(), ("Checksum" + std::string(ChecksumName(alg))).c_str(), v);
  }
  if (!meta->checksums.empty())
    Add(x.root(), "ChecksumType", ChecksumTypeName(meta->checksum_type));
  return XmlResponse(200, x.str());
}

std::optional<S3Error> S3Service::Impl::CheckCompleteChecksums(
    Ctx& ctx, const PutOptions& upload, const std::vector<objectstore::PartInfo>& listed) {
  // An upload created without an algorithm is composite of whatever its parts carry.
  const ChecksumType type =
      upload.checksum_algorithm ? upload.checksum_type : ChecksumType::kComposite;
  if (std::string_view given = ctx.H("x-amz-checksum-type"); !given.empty()) {
    auto t = objectstore::ChecksumTypeFromName(Upper(given));
    if (!t) return Err(400, "InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
    if (*t != type) {
      return Err(400, "BadDigest",
                 fmt::format("The upload was created using the {} checksum mode. The complete "
                             "request must use the same checksum mode.",
                             ChecksumTypeName(type)));
    }
  }
  if (std::string_view size = ctx.H("x-amz-mp-object-size"); !size.empty()) {
    uint64_t total = 0;
    for (const auto& p : listed) total += p.size;
    if (size.size() > 19 || size.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoull(std::string(size)) != total) {
      return Err(400, "InvalidRequest",
                 fmt::format("The provided 'x-amz-mp-object-size' header value {} does not match "
                             "what was computed: {}",
                             size, total));
    }
  }
  for (const auto& [name, value] : ctx.req->headers) {
    if (name.size() <= 15 ||
        !EqualsIgnoreCase(std::string_view(name).substr(0, 15), "x-amz-checksum-")) {
      continue;
    }
    std::string suffix = Lower(std::string_view(name).substr(15));
    if (suffix == "algorithm" || suffix == "type" || suffix == "mode") continue;
    auto alg = ChecksumFromName(suffix);
    if (!alg) {
      return Err(400, "InvalidRequest",
                 fmt::format("The x-amz-checksum-{} checksum is not supported; use CRC32, "
                             "CRC32C, CRC64NVME, SHA1 or SHA256.",
                             suffix));
    }
    // A composite checksum of the whole object is not checked (as before).
    if (type != ChecksumType::kFullObject) continue;
    if (alg != upload.checksum_algorithm) {
      return Err(400, "InvalidRequest",
                 fmt::format("The upload was created using the {} checksum algorithm; the "
                             "complete request sent x-amz-checksum-{}.",
                             Lower(ChecksumName(*upload.checksum_algorithm)), suffix));
    }
    auto expected = objectstore::FullObjectChecksum(*alg, listed);
    if (!expected) {
      return Err(400, "InvalidRequest",
                 fmt::format("A part of the upload lacks its {} checksum.", ChecksumName(*alg)));
    }
    if (*expected != value) {
      return Err(400, "BadDigest",
                 fmt::format("The {} you specified did not match the calculated checksum.",
                             ChecksumName(*alg)));
    }
  }
  return std::nullopt;
}

Reply S3Service::Impl::AbortMultipart(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:AbortMultipartUpload", ctx.addr.bucket, ctx.addr.key)) return *e;
  Status s = store->AbortMultipart(ctx.addr.bucket, ctx.Q("uploadId"));
  if (!s.ok()) return FromStatus(s, ctx);
  http::Response r;
  r.status = 204;
  return r;
}

Reply S3Service::Impl::ListParts(Ctx& ctx) {
  if (auto e = Authorize(ctx, "s3:ListMultipartUploadParts", ctx.addr.bucket, ctx.addr.key)) {
    return *e;
  }
  const std::string upload_id = ctx.Q("uploadId");
  auto upload = store->GetMultipart(ctx.addr.bucket, upload_id);
  if (!upload.ok()) return FromStatus(upload.status(), ctx);
  auto parts = store->ListParts(ctx.addr.bucket, upload_id);
  if (!parts.ok()) return FromStatus(parts.status(), ctx);
  auto num = [&](const char* name, int def, int max) -> std::optional<int> {
    if (!ctx.Has(name)) return def;
    std::string v = ctx.Q(name);
    if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    return std::min(std::stoi(v), max);
  };
  auto max_parts = num("max-parts", 1000, 1000);
  auto marker = num("part-number-marker", 0, 10000);
  if (!max_parts || !marker) return Err(400, "InvalidArgument", "bad max-parts or part-number-marker");
  Xml x("ListPartsResult");
  auto root = x.root();
  Add(root, "Bucket", ctx.addr.bucket);
  Add(root, "Key", ctx.addr.key);
  Add(root, "UploadId", upload_id);
  Add(root, "PartNumberMarker", static_cast<uint64_t>(*marker));
  std::vector<const objectstore::PartInfo*> shown;
  bool truncated = false;
  for (const auto& p : *parts) {
    if (p.part_number <= *marker) continue;
    if (static_cast<int>(shown.size()) == *max_parts) {
      truncated = true;
      break;
    }
    shown.push_back(&p);
  }
  if (!shown.empty()) Add(root, "NextPartNumberMarker", static_cast<uint64_t>(shown.back()->part_number));
  Add(root, "MaxParts", static_cast<uint64_t>(*max_parts));
  AddBool(root, "IsTruncated", truncated);
  for (const auto* p : shown) {
    auto n = root.append_child("Part");
    Add(n, "PartNumber", static_cast<uint64_t>(p->part_number));
    Add(n, "LastModified", IsoTime(p->last_modified_ms));
    Add(n, "ETag", Quoted(p->etag));
    Add(n, "Size", p->size);
    for (const auto& [alg, v] : p->checksums) {
      Add(n, ("Checksum" + std::string(ChecksumName(alg))).c_str(), v);
    }
  }
  auto init = root.append_child("Initiator");
  Add(init, "ID", ctx.caller.principal_arn);
  auto owner = root.append_child("Owner");
  Add(owner, "ID", options.account_id);
  Add(root, "StorageClass", "STANDARD");
  if (const auto& alg = upload->options.checksum_algorithm) {
    Add(root, "ChecksumAlgorithm", ChecksumName(*alg));
    Add(root, "ChecksumType", ChecksumTypeName(upload->options.checksum_type));
  }
  return XmlResponse(200, x.str());
}

Result<size_t> S3Service::SweepLifecycle() {
  Impl& s = *impl_;
  if (!s.lifecycle) return size_t{0};
  const int64_t now_ms = s.clock->NowMillis();
  size_t deleted = 0;
  for (const auto& [bucket, rules] : s.lifecycle->All()) {
    for (const LifecycleRule& rule : rules) {
      if (!rule.enabled) continue;
      if (rule.expiration_days || rule.expiration_date_ms) {
        objectstore::ListOptions o;
        o.prefix = rule.prefix;
        for (;;) {
          auto page = s.store->List(bucket, o);
          if (!page.ok()) {
            if (page.status().code() == StatusCode::kNotFound) break;  // bucket gone
            return page.status();
          }
          for (const ObjectMeta& m : page->objects) {
            if (!RuleExpires(rule, m, now_ms)) continue;
            MUON_RETURN_IF_ERROR(s.store->Delete(bucket, m.key));
            ++deleted;
          }
          if (!page->truncated || page->objects.empty()) break;
          o.start_after = page->objects.back().key;
        }
      }
      if (rule.abort_incomplete_days) {
        auto uploads = s.store->ListMultipartUploads(bucket);
        if (!uploads.ok()) continue;
        for (const auto& u : *uploads) {
          if (u.key.compare(0, rule.prefix.size(), rule.prefix) != 0) continue;
          if (now_ms >= ExpiryForDays(u.initiated_ms, *rule.abort_incomplete_days)) {
            (void)s.store->AbortMultipart(bucket, u.upload_id);
          }
        }
      }
    }
  }
  return deleted;
}

}  // namespace muon::s3api

// `muonpipe iam ...`: the administrator's local tool for users, keys, groups,
// roles, policies, passwords and MFA (docs/iam.md, "Command line"). It works
// on the identity tables in the database itself (--data-dir's registry.db, or
// --registry URL), so it needs no running server and no key: whoever can open
// the database is the administrator. A running server sees the changes within
// a second.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "auth/credentials_file.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/uuid.h"
#include "cli/commands.h"
#include "iam/totp.h"
#include "identity/identity_store.h"
#include "identity/query_protocol.h"

namespace muon::cli {
namespace {

struct IamFlags {
  std::string data_dir = "./muonpipe-data";
  std::string registry;  // database URL; default DATA_DIR/registry.db
};

// Arguments of whichever subcommand runs (one per invocation).
struct IamArgs {
  std::string name;
  std::string second;
  std::string path = "/";
  std::string user, group, role;
  std::string file;
  std::string description;
  std::string version;
  std::string device;
  int64_t max_session_duration = 3600;
  bool reset_required = false;
};

// Records a change made with this tool in DATA_DIR/audit (docs/audit.md): event source
// "cli.muonpipe", event name "iam <group> <verb>", the operator's login name as
// principal. A record that cannot be written is reported, not fatal.
void AuditLocalChange(const IamFlags& f, const CLI::App& sub, const IamArgs& a, const Status& st) {
  auto log = audit::AuditLog::Open(JoinPath(f.data_dir, "audit"), {.sync_interval_millis = 0},
                                   Env::Posix(), Clock::Real());
  if (!log.ok()) {
    fmt::print(stderr, "muonpipe iam: not audited: {}\n", log.status().message());
    return;
  }
  audit::Event e;
  e.event_time_nanos = Clock::Real()->NowNanos();
  const char* login = std::getenv("USER");
  e.user.type = "Root";
  e.user.principal_id = fmt::format("local:{}", login ? login : "unknown");
  e.user.arn = "arn:aws:iam::000000000000:root";
  e.user.account_id = "000000000000";
  e.event_source = "cli.muonpipe";
  const CLI::App* parent = sub.get_parent();
  e.event_name = fmt::format("iam {}{}", parent && parent->get_name() != "iam"
                                              ? parent->get_name() + " " : std::string(),
                             sub.get_name());
  e.source_ip = "127.0.0.1";
  e.user_agent = "muonpipe-cli";
  if (!a.name.empty()) e.request_parameters.emplace_back("name", a.name);
  if (!st.ok()) {
    e.error_code = std::string(StatusCodeName(st.code()));
    e.error_message = st.message();
  }
  e.request_id = NewUuid();
  e.event_id = NewUuid();
  (*log)->Record(e);
  if (Status s = (*log)->Close(); !s.ok()) {
    fmt::print(stderr, "muonpipe iam: not audited: {}\n", s.message());
  }
}

Result<std::unique_ptr<identity::IdentityStore>> OpenStore(const IamFlags& f) {
  Env* env = Env::Posix();
  identity::IdentityStoreOptions o;
  const std::string admin = JoinPath(f.data_dir, "admin-credentials");
  if (env->FileExists(admin)) {
    MUON_ASSIGN_OR_RETURN(o.admin_key, auth::ReadCredentialsFile(env, admin));
  }
  const std::string url = f.registry.empty() ? JoinPath(f.data_dir, "registry.db") : f.registry;
  if (f.registry.empty() && !env->FileExists(url)) {
    return Status::NotFound(fmt::format(
        "no database at {} (start `muonpipe serve --data-dir {}` once, or name one with "
        "--registry URL)",
        url, f.data_dir));
  }
  return identity::IdentityStore::Open(url, o, Clock::Real());
}

std::string Date(int64_t unix_seconds) {
  return unix_seconds > 0 ? query::Iso8601(unix_seconds) : "-";
}

// A policy named by ARN or by name (the account's own policies).
std::string PolicyArn(const identity::IdentityStore& s, const std::string& name_or_arn) {
  if (name_or_arn.rfind("arn:", 0) == 0) return name_or_arn;
  return fmt::format("arn:aws:iam::{}:policy/{}", s.account_id(), name_or_arn);
}

// One line from the terminal (echo off when `secret` and stdin is a terminal)
// or from piped stdin.
std::optional<std::string> ReadLine(const std::string& prompt, bool secret) {
  bool tty = ::isatty(STDIN_FILENO) == 1;
  if (tty) {
    fmt::print(stderr, "{}", prompt);
    std::fflush(stderr);
  }
  termios old{};
  bool restore = false;
  if (tty && secret && ::tcgetattr(STDIN_FILENO, &old) == 0) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fmt::print(stderr, "\n");
  }
  if (!ok) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

template <typename T, typename F>
Result<std::vector<T>> AllPages(F list_page) {
  std::vector<T> all;
  identity::ListOptions o;
  o.max_items = 1000;
  while (true) {
    MUON_ASSIGN_OR_RETURN(identity::Listing<T> page, list_page(o));
    for (auto& item : page.items) all.push_back(std::move(item));
    if (page.next_marker.empty()) return all;
    o.marker = page.next_marker;
  }
}

using Store = identity::IdentityStore;
using Action = std::function<Status(Store&, const IamArgs&)>;

Status UsersList(Store& s, const IamArgs&) {
  MUON_ASSIGN_OR_RETURN(auto users, AllPages<identity::User>([&](const identity::ListOptions& o) {
                          return s.ListUsers(o);
                        }));
  fmt::print("{:<24} {:<22} {:<21} {}\n", "USER", "ID", "CREATED", "ARN");
  for (const auto& u : users) {
    fmt::print("{:<24} {:<22} {:<21} {}\n", u.name, u.user_id, Date(u.create_date), u.arn);
  }
  return Status::Ok();
}

Status KeysList(Store& s, const IamArgs& a) {
  MUON_ASSIGN_OR_RETURN(auto keys, s.ListAccessKeys(a.name));
  fmt::print("{:<22} {:<9} {:<21} {}\n", "ACCESS KEY", "STATUS", "CREATED", "LAST USED");
  for (const auto& k : keys) {
    auto used = s.GetAccessKeyLastUsed(k.access_key_id);
    std::string last = "-";
    if (used.ok() && used->last_used_date) {
      last = fmt::format("{} ({}, {})", Date(*used->last_used_date), used->last_used_service,
                         used->last_used_region);
    }
    fmt::print("{:<22} {:<9} {:<21} {}\n", k.access_key_id, k.active ? "Active" : "Inactive",
               Date(k.create_date), last);
  }
  return Status::Ok();
}

Status GroupsList(Store& s, const IamArgs&) {
  MUON_ASSIGN_OR_RETURN(auto groups, AllPages<identity::Group>([&](const identity::ListOptions& o) {
                          return s.ListGroups(o);
                        }));
  fmt::print("{:<24} {:<21} {}\n", "GROUP", "CREATED", "ARN");
  for (const auto& g : groups) fmt::print("{:<24} {:<21} {}\n", g.name, Date(g.create_date), g.arn);
  return Status::Ok();
}

Status GroupsShow(Store& s, const IamArgs& a) {
  MUON_ASSIGN_OR_RETURN(auto gu, s.GetGroup(a.name));
  fmt::print("{}\nmembers:", gu.first.arn);
  for (const auto& u : gu.second) fmt::print(" {}", u.name);
  fmt::print("\npolicies:");
  MUON_ASSIGN_OR_RETURN(auto policies, s.ListAttachedPolicies(identity::AttachTarget::kGroup, a.name));
  for (const auto& p : policies) fmt::print(" {}", p.name);
  fmt::print("\n");
  return Status::Ok();
}

Result<std::pair<identity::AttachTarget, std::string>> AttachTargetOf(const IamArgs& a) {
  int n = !a.user.empty() + !a.group.empty() + !a.role.empty();
  if (n != 1) return Status::InvalidArgument("name exactly one of --user, --group, --role");
  if (!a.user.empty()) return std::make_pair(identity::AttachTarget::kUser, a.user);
  if (!a.group.empty()) return std::make_pair(identity::AttachTarget::kGroup, a.group);
  return std::make_pair(identity::AttachTarget::kRole, a.role);
}

Status RolesList(Store& s, const IamArgs&) {
  MUON_ASSIGN_OR_RETURN(auto roles, AllPages<identity::Role>([&](const identity::ListOptions& o) {
                          return s.ListRoles(o);
                        }));
  fmt::print("{:<24} {:<8} {:<21} {}\n", "ROLE", "MAX S", "CREATED", "ARN");
  for (const auto& r : roles) {
    fmt::print("{:<24} {:<8} {:<21} {}\n", r.name, r.max_session_duration, Date(r.create_date), r.arn);
  }
  return Status::Ok();
}

Status RolesCreate(Store& s, const IamArgs& a) {
  MUON_ASSIGN_OR_RETURN(std::string trust, Env::Posix()->ReadFile(a.file));
  MUON_ASSIGN_OR_RETURN(auto r, s.CreateRole(a.name, a.path, trust, a.description,
                                             a.max_session_duration, {}));
  fmt::print("{}\n", r.arn);
  return Status::Ok();
}

Status PoliciesList(Store& s, const IamArgs&) {
  MUON_ASSIGN_OR_RETURN(auto policies,
                        AllPages<identity::ManagedPolicy>([&](const identity::ListOptions& o) {
                          return s.ListPolicies(o, false);
                        }));
  fmt::print("{:<24} {:<8} {:<9} {}\n", "POLICY", "VERSION", "ATTACHED", "ARN");
  for (const auto& p : policies) {
    fmt::print("{:<24} {:<8} {:<9} {}\n", p.name, p.default_version_id, p.attachment_count, p.arn);
  }
  return Status::Ok();
}

Status PoliciesShow(Store& s, const IamArgs& a) {
  std::string arn = PolicyArn(s, a.name);
  MUON_ASSIGN_OR_RETURN(auto p, s.GetPolicy(arn));
  std::string version = a.version.empty() ? p.default_version_id : a.version;
  MUON_ASSIGN_OR_RETURN(auto v, s.GetPolicyVersion(arn, version));
  fmt::print("{} ({}{}, attached {} times){}\n{}\n", p.arn, v.version_id,
             v.is_default ? ", default" : "", p.attachment_count,
             p.description.empty() ? "" : "\n" + p.description, v.document);
  return Status::Ok();
}

Status MfaEnable(Store& s, const IamArgs& a) {
  MUON_RETURN_IF_ERROR(s.GetUser(a.name).status());
  std::string device = a.device.empty() ? a.name : a.device;
  MUON_ASSIGN_OR_RETURN(auto d, s.CreateVirtualMfaDevice(device, "/"));
  auto qr = iam::QrTerminal(d.otpauth_uri);
  fmt::print("Scan this with an authenticator app, or enter the key by hand.\n");
  if (qr.ok()) fmt::print("{}", *qr);
  fmt::print("{}\nkey: {}\n", d.otpauth_uri, d.base32_seed);
  std::fflush(stdout);
  auto code1 = ReadLine("first code: ", false);
  auto code2 = code1 ? ReadLine("next code (after it changes): ", false) : std::nullopt;
  Status st = code1 && code2 ? s.EnableMfaDevice(a.name, d.device.serial_number, *code1, *code2)
                             : Status::InvalidArgument("two codes are needed");
  if (!st.ok()) {
    // Leave no unassigned device behind.
    (void)s.DeleteVirtualMfaDevice(d.device.serial_number);
    return st;
  }
  fmt::print("MFA device {} enabled for {}\n", d.device.serial_number, a.name);
  return Status::Ok();
}

Status LoginProfileCreate(Store& s, const IamArgs& a) {
  auto password = ReadLine(fmt::format("password for {}: ", a.name), true);
  if (!password) return Status::InvalidArgument("no password given on stdin");
  if (::isatty(STDIN_FILENO) == 1) {
    auto again = ReadLine("again: ", true);
    if (!again || *again != *password) return Status::InvalidArgument("the passwords differ");
  }
  MUON_RETURN_IF_ERROR(s.CreateLoginProfile(a.name, *password, a.reset_required));
  fmt::print("console password set for {}\n", a.name);
  return Status::Ok();
}

}  // namespace

void AddIamCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<IamFlags>();
  auto args = std::make_shared<IamArgs>();
  auto* cmd = app.add_subcommand(
      "iam",
      "The administrator's local tool for identities: users, access keys, groups, roles, "
      "policies, console passwords and MFA, on the database directly");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  cmd->add_option("--data-dir", flags->data_dir,
                  "The server's data directory (its registry.db holds the identities)")
      ->capture_default_str();
  cmd->add_option("--registry", flags->registry,
                  "Use this database instead (postgresql://... or a SQLite file)");

  auto bind = [flags, exit_code, args](CLI::App* sub, Action action) {
    sub->fallthrough();
    sub->callback([flags, exit_code, args, action, sub] {
      auto store = OpenStore(*flags);
      Status st = store.ok() ? action(**store, *args) : store.status();
      // Changes made here bypass the server's API, so they are audited here.
      if (store.ok() && sub->get_name() != "list" && sub->get_name() != "show") {
        AuditLocalChange(*flags, *sub, *args, st);
      }
      if (!st.ok()) {
        fmt::print(stderr, "muonpipe iam: {}\n", st.message());
        *exit_code = 1;
        return;
      }
      *exit_code = 0;
    });
  };
  auto group_of = [cmd](const char* name, const char* help) {
    auto* g = cmd->add_subcommand(name, help);
    g->require_subcommand(1);
    g->fallthrough();
    return g;
  };
  auto name_arg = [args](CLI::App* sub, const char* what) {
    sub->add_option("name", args->name, what)->required();
  };

  // users
  auto* users = group_of("users", "IAM users");
  bind(users->add_subcommand("list", "List users"), UsersList);
  auto* uc = users->add_subcommand("create", "Create a user");
  name_arg(uc, "User name");
  uc->add_option("--path", args->path, "IAM path (/team/)");
  bind(uc, [](Store& s, const IamArgs& a) {
    MUON_ASSIGN_OR_RETURN(auto u, s.CreateUser(a.name, a.path, {}));
    fmt::print("{}\n", u.arn);
    return Status::Ok();
  });
  auto* ud = users->add_subcommand("delete", "Delete a user (after its keys, groups, policies)");
  name_arg(ud, "User name");
  bind(ud, [](Store& s, const IamArgs& a) { return s.DeleteUser(a.name); });

  // keys
  auto* keys = group_of("keys", "Access keys of a user");
  auto* kc = keys->add_subcommand("create", "Create an access key; the secret is shown once");
  name_arg(kc, "User name");
  bind(kc, [](Store& s, const IamArgs& a) {
    MUON_ASSIGN_OR_RETURN(auto k, s.CreateAccessKey(a.name));
    fmt::print("[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
               k.key.access_key_id, k.secret_access_key);
    return Status::Ok();
  });
  auto* kl = keys->add_subcommand("list", "List a user's access keys");
  name_arg(kl, "User name");
  bind(kl, KeysList);
  for (auto [verb, help] : {std::pair{"disable", "Make an access key inactive (refused at once)"},
                            std::pair{"enable", "Make an access key active again"},
                            std::pair{"delete", "Delete an access key"}}) {
    auto* k = keys->add_subcommand(verb, help);
    name_arg(k, "User name");
    k->add_option("key", args->second, "Access key id")->required();
    std::string v = verb;
    bind(k, [v](Store& s, const IamArgs& a) {
      if (v == "delete") return s.DeleteAccessKey(a.name, a.second);
      return s.UpdateAccessKey(a.name, a.second, v == "enable");
    });
  }

  // groups
  auto* groups = group_of("groups", "Groups and their members");
  bind(groups->add_subcommand("list", "List groups"), GroupsList);
  auto* gs = groups->add_subcommand("show", "A group's members and policies");
  name_arg(gs, "Group name");
  bind(gs, GroupsShow);
  auto* gc = groups->add_subcommand("create", "Create a group");
  name_arg(gc, "Group name");
  gc->add_option("--path", args->path, "IAM path");
  bind(gc, [](Store& s, const IamArgs& a) {
    MUON_ASSIGN_OR_RETURN(auto g, s.CreateGroup(a.name, a.path));
    fmt::print("{}\n", g.arn);
    return Status::Ok();
  });
  auto* gd = groups->add_subcommand("delete", "Delete an empty group");
  name_arg(gd, "Group name");
  bind(gd, [](Store& s, const IamArgs& a) { return s.DeleteGroup(a.name); });
  for (auto [verb, help] : {std::pair{"add-user", "Add a user to a group"},
                            std::pair{"remove-user", "Remove a user from a group"}}) {
    auto* g = groups->add_subcommand(verb, help);
    name_arg(g, "Group name");
    g->add_option("user", args->second, "User name")->required();
    std::string v = verb;
    bind(g, [v](Store& s, const IamArgs& a) {
      return v == "add-user" ? s.AddUserToGroup(a.name, a.second)
                             : s.RemoveUserFromGroup(a.name, a.second);
    });
  }

  // attach / detach
  for (auto [verb, help] :
       {std::pair{"attach", "Attach a managed policy (name or ARN) to a user, group or role"},
        std::pair{"detach", "Detach a managed policy (name or ARN) from a user, group or role"}}) {
    auto* sub = cmd->add_subcommand(verb, help);
    sub->add_option("policy", args->name, "Policy name (Operator, ...) or ARN")->required();
    sub->add_option("--user", args->user, "User name");
    sub->add_option("--group", args->group, "Group name");
    sub->add_option("--role", args->role, "Role name");
    std::string v = verb;
    bind(sub, [v](Store& s, const IamArgs& a) -> Status {
      MUON_ASSIGN_OR_RETURN(auto target, AttachTargetOf(a));
      std::string arn = PolicyArn(s, a.name);
      return v == "attach" ? s.AttachPolicy(target.first, target.second, arn)
                           : s.DetachPolicy(target.first, target.second, arn);
    });
  }

  // roles
  auto* roles = group_of("roles", "Roles (assumed through STS)");
  bind(roles->add_subcommand("list", "List roles"), RolesList);
  auto* rc = roles->add_subcommand("create", "Create a role with a trust policy from a file");
  name_arg(rc, "Role name");
  rc->add_option("--trust-policy", args->file, "JSON file: who may assume the role")->required();
  rc->add_option("--description", args->description, "What the role is for");
  rc->add_option("--max-session-duration", args->max_session_duration, "Seconds, 3600..43200")
      ->capture_default_str();
  rc->add_option("--path", args->path, "IAM path");
  bind(rc, RolesCreate);
  auto* rd = roles->add_subcommand("delete", "Delete a role (after detaching its policies)");
  name_arg(rd, "Role name");
  bind(rd, [](Store& s, const IamArgs& a) { return s.DeleteRole(a.name); });

  // policies
  auto* policies = group_of("policies", "Managed policies");
  bind(policies->add_subcommand("list", "List managed policies"), PoliciesList);
  auto* ps = policies->add_subcommand("show", "Show a policy's document");
  name_arg(ps, "Policy name or ARN");
  ps->add_option("--version", args->version, "A version other than the default (v2, ...)");
  bind(ps, PoliciesShow);

  // mfa
  auto* mfa = group_of("mfa", "Virtual MFA devices");
  auto* me = mfa->add_subcommand(
      "enable", "Create a virtual MFA device for a user: shows its QR code, asks two codes");
  name_arg(me, "User name");
  me->add_option("--device", args->device, "Device name (default: the user name)");
  bind(me, MfaEnable);
  auto* mr = mfa->add_subcommand(
      "reset", "Remove a user's MFA devices and recovery codes (a lost phone)");
  name_arg(mr, "User name");
  bind(mr, [](Store& s, const IamArgs& a) { return s.ResetMfa(a.name); });

  // login profile
  auto* lp = group_of("login-profile", "Console passwords");
  auto* lc = lp->add_subcommand(
      "create", "Give a user a console password (read from stdin, or asked twice on a terminal)");
  name_arg(lc, "User name");
  lc->add_flag("--password-reset-required", args->reset_required,
               "The user must choose a new password at first sign-in");
  bind(lc, LoginProfileCreate);
  auto* ld = lp->add_subcommand("delete", "Remove a user's console password");
  name_arg(ld, "User name");
  bind(ld, [](Store& s, const IamArgs& a) { return s.DeleteLoginProfile(a.name); });
}

}  // namespace muon::cli

// `muonpipe console ...`: console sign-in for IAM users, set up directly in the
// identity database (docs/console.md): a console password, a virtual MFA
// device, recovery codes. It works with the server running or stopped; a
// running server sees the change within a second.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "iam/totp.h"
#include "identity/identity_store.h"

namespace muon::cli {
namespace {

struct ConsoleFlags {
  std::string data_dir = "./muonpipe-data";
  std::string registry;  // database URL; default DATA_DIR/registry.db
  std::string user;
  std::string device;
  std::string serial;
  std::string code1, code2;
  bool reset_required = false;
};

Result<std::unique_ptr<identity::IdentityStore>> OpenStore(const ConsoleFlags& f) {
  std::string url = f.registry.empty() ? JoinPath(f.data_dir, "registry.db") : f.registry;
  if (f.registry.empty() && !Env::Posix()->FileExists(url)) {
    return Status::NotFound(fmt::format(
        "no database at {}: give the --data-dir `muonpipe serve` uses (or --registry URL)", url));
  }
  return identity::IdentityStore::Open(url, {}, Clock::Real());
}

int Fail(const Status& s, std::string_view what) {
  fmt::print(stderr, "{}: {}\n", what, s.message());
  return 1;
}

int RunPassword(const ConsoleFlags& f) {
  if (isatty(STDIN_FILENO)) fmt::print(stderr, "New console password for {}: ", f.user);
  std::string password;
  std::getline(std::cin, password);
  if (password.empty()) {
    fmt::print(stderr, "no password given on standard input\n");
    return 2;
  }
  auto store = OpenStore(f);
  if (!store.ok()) return Fail(store.status(), "identity database");
  Status s = (*store)->CreateLoginProfile(f.user, password, f.reset_required);
  if (s.code() == StatusCode::kAlreadyExists) {
    s = (*store)->UpdateLoginProfile(f.user, password, f.reset_required);
  }
  if (!s.ok()) return Fail(s, fmt::format("setting the console password of {}", f.user));
  fmt::print("{} may now sign in to the console with this password.\n", f.user);
  auto devices = (*store)->ListMfaDevices(f.user);
  if (devices.ok() && devices->empty()) {
    fmt::print("Add a second factor: muonpipe console mfa-create --user {}\n", f.user);
  }
  return 0;
}

int RunMfaCreate(const ConsoleFlags& f) {
  auto store = OpenStore(f);
  if (!store.ok()) return Fail(store.status(), "identity database");
  if (auto u = (*store)->GetUser(f.user); !u.ok()) return Fail(u.status(), "user");
  std::string name = f.device.empty() ? f.user : f.device;
  auto dev = (*store)->CreateVirtualMfaDevice(name, "/");
  if (!dev.ok()) return Fail(dev.status(), "creating the MFA device");
  if (auto qr = iam::QrTerminal(dev->otpauth_uri); qr.ok() && isatty(STDOUT_FILENO)) {
    fmt::print("{}\n", *qr);
  }
  fmt::print("serial: {}\nseed: {}\nuri: {}\n", dev->device.serial_number, dev->base32_seed,
             dev->otpauth_uri);
  fmt::print(stderr,
             "Scan the code (or type the seed) into an authenticator app, then enable the device "
             "with two consecutive codes:\n  muonpipe console mfa-enable --user {} --serial {} "
             "--code1 CODE --code2 NEXT_CODE\n",
             f.user, dev->device.serial_number);
  return 0;
}

int RunMfaEnable(const ConsoleFlags& f) {
  auto store = OpenStore(f);
  if (!store.ok()) return Fail(store.status(), "identity database");
  Status s = (*store)->EnableMfaDevice(f.user, f.serial, f.code1, f.code2);
  if (!s.ok()) {
    return Fail(s, "enabling the MFA device (give two consecutive codes, the second the newest)");
  }
  fmt::print("MFA device {} enabled for {}: console sign-in now asks for a code.\n", f.serial,
             f.user);
  return 0;
}

int RunRecoveryCodes(const ConsoleFlags& f) {
  auto store = OpenStore(f);
  if (!store.ok()) return Fail(store.status(), "identity database");
  auto codes = (*store)->NewRecoveryCodes(f.user);
  if (!codes.ok()) return Fail(codes.status(), "recovery codes");
  for (const std::string& c : *codes) fmt::print("{}\n", c);
  fmt::print(stderr,
             "Ten single-use recovery codes for {} (any earlier set no longer works); each signs "
             "in once in place of an MFA code. Keep them offline.\n",
             f.user);
  return 0;
}

}  // namespace

void AddConsoleCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ConsoleFlags>();
  auto* cmd = app.add_subcommand(
      "console", "Console sign-in for IAM users: passwords, MFA devices, recovery codes");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* sub) {
    sub->add_option("--user", f->user, "IAM user name")->required();
    sub->add_option("--data-dir", f->data_dir, "The server's data directory")
        ->capture_default_str();
    sub->add_option("--registry", f->registry,
                    "The database URL, when serve was given --registry");
  };
  auto* password = cmd->add_subcommand(
      "password", "Set the user's console password (read from standard input)");
  common(password);
  password->add_flag("--reset-required", f->reset_required,
                     "The user must choose a new password at first sign-in");
  password->callback([f, exit_code] { *exit_code = RunPassword(*f); });
  auto* create = cmd->add_subcommand("mfa-create", "Create a virtual MFA device for the user");
  common(create);
  create->add_option("--device", f->device, "Device name (default: the user name)");
  create->callback([f, exit_code] { *exit_code = RunMfaCreate(*f); });
  auto* enable =
      cmd->add_subcommand("mfa-enable", "Enable the device with two consecutive codes");
  common(enable);
  enable->add_option("--serial", f->serial, "The device's serial (ARN)")->required();
  enable->add_option("--code1", f->code1, "A code")->required();
  enable->add_option("--code2", f->code2, "The next code")->required();
  enable->callback([f, exit_code] { *exit_code = RunMfaEnable(*f); });
  auto* recovery = cmd->add_subcommand("recovery-codes", "Issue ten single-use recovery codes");
  common(recovery);
  recovery->callback([f, exit_code] { *exit_code = RunRecoveryCodes(*f); });
}

}  // namespace muon::cli

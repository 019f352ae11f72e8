// An Env keeping every file in memory. Files are shared_ptrs so that handles
// outlive RemoveFile / RenameFile, as open file descriptors do on POSIX.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "base/env.h"

namespace muon {
namespace {

struct MemFile {
  mutable std::mutex mu;
  std::string data;  // guarded by mu
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::string path, std::shared_ptr<MemFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}

  Status Append(std::string_view data) override {
    if (closed_) return Status::FailedPrecondition("append to closed file " + path_);
    std::lock_guard<std::mutex> lock(file_->mu);
    file_->data.append(data);
    return Status::Ok();
  }
  Status Sync() override {
    if (closed_) return Status::FailedPrecondition("sync of closed file " + path_);
    return Status::Ok();
  }
  Status Close() override {
    closed_ = true;
    return Status::Ok();
  }
  // The file's current length, which also reflects truncation by path.
  uint64_t Size() const override {
    std::lock_guard<std::mutex> lock(file_->mu);
    return file_->data.size();
  }

 private:
  const std::string path_;
  const std::shared_ptr<MemFile> file_;
  bool closed_ = false;
};

class MemRandomAccessFile final : public RandomAccessFile {
 public:
  explicit MemRandomAccessFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}

  Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) const override {
    std::lock_guard<std::mutex> lock(file_->mu);
    if (offset >= file_->data.size()) return std::string_view(scratch, 0);
    size_t len = std::min<uint64_t>(n, file_->data.size() - offset);
    std::memcpy(scratch, file_->data.data() + offset, len);
    return std::string_view(scratch, len);
  }
  Result<uint64_t> Size() const override {
    std::lock_guard<std::mutex> lock(file_->mu);
    return file_->data.size();
  }

 private:
  const std::shared_ptr<MemFile> file_;
};

std::string Normalize(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

class MemEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    MUON_RETURN_IF_ERROR(CheckParentLocked(path));
    if (dirs_.count(path)) return Status::IoError("open " + path + ": Is a directory");
    auto file = std::make_shared<MemFile>();
    files_[path] = file;
    return std::unique_ptr<WritableFile>(new MemWritableFile(path, std::move(file)));
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    MUON_RETURN_IF_ERROR(CheckParentLocked(path));
    if (dirs_.count(path)) return Status::IoError("open " + path + ": Is a directory");
    auto& file = files_[path];
    if (!file) file = std::make_shared<MemFile>();
    return std::unique_ptr<WritableFile>(new MemWritableFile(path, file));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("open", path);
    return std::unique_ptr<RandomAccessFile>(new MemRandomAccessFile(it->second));
  }

  bool FileExists(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    return files_.count(path) > 0 || DirExistsLocked(path);
  }

  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    if (!DirExistsLocked(dir)) return NotFound("opendir", dir);
    std::vector<std::string> names;
    auto collect = [&](const std::string& path) {
      if (path != dir && Dirname(path) == dir) names.push_back(path.substr(path.rfind('/') + 1));
    };
    for (const auto& [path, file] : files_) collect(path);
    for (const auto& path : dirs_) collect(path);
    return names;
  }

  Status CreateDir(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    if (DirExistsLocked(dir)) return Status::Ok();
    MUON_RETURN_IF_ERROR(CheckParentLocked(dir));
    if (files_.count(dir)) return Status::AlreadyExists("mkdir " + dir + ": File exists");
    dirs_.insert(dir);
    return Status::Ok();
  }

  Status CreateDirs(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    for (std::string cur = dir; !DirExistsLocked(cur); cur = std::string(Dirname(cur))) {
      if (files_.count(cur)) return Status::AlreadyExists("mkdir -p " + cur + ": File exists");
      dirs_.insert(cur);
    }
    return Status::Ok();
  }

  Status RemoveFile(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.erase(path) == 0) return NotFound("unlink", path);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirs_.count(dir)) return NotFound("rmdir", dir);
    if (HasChildrenLocked(dir)) return Status::IoError("rmdir " + dir + ": Directory not empty");
    dirs_.erase(dir);
    return Status::Ok();
  }

  Status RemoveTree(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    files_.erase(dir);
    dirs_.erase(dir);
    std::string prefix = dir == "/" ? dir : dir + "/";
    std::erase_if(files_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
    std::erase_if(dirs_, [&](const std::string& s) { return s.starts_with(prefix); });
    return Status::Ok();
  }

  Result<uint64_t> FileSize(const std::string& p) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("stat", path);
    std::lock_guard<std::mutex> file_lock(it->second->mu);
    return static_cast<uint64_t>(it->second->data.size());
  }

  Status RenameFile(const std::string& f, const std::string& t) override {
    std::string from = Normalize(f), to = Normalize(t);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return NotFound("rename", from + " to " + to);
    MUON_RETURN_IF_ERROR(CheckParentLocked(to));
    auto file = it->second;
    files_.erase(it);
    files_[to] = std::move(file);
    return Status::Ok();
  }

  Status TruncateFile(const std::string& p, uint64_t size) override {
    std::string path = Normalize(p);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("truncate", path);
    std::lock_guard<std::mutex> file_lock(it->second->mu);
    it->second->data.resize(size, '\0');
    return Status::Ok();
  }

  Status SyncDir(const std::string& d) override {
    std::string dir = Normalize(d);
    std::lock_guard<std::mutex> lock(mu_);
    if (!DirExistsLocked(dir)) return NotFound("open", dir);
    return Status::Ok();
  }

 private:
  static Status NotFound(std::string_view op, const std::string& path) {
    return Status::NotFound(std::string(op) + " " + path + ": No such file or directory");
  }
  bool DirExistsLocked(const std::string& dir) const {
    return dir == "/" || dir == "." || dirs_.count(dir) > 0;
  }
  Status CheckParentLocked(const std::string& path) const {
    std::string parent(Dirname(path));
    if (!DirExistsLocked(parent)) return NotFound("open", path);
    return Status::Ok();
  }
  bool HasChildrenLocked(const std::string& dir) const {
    std::string prefix = dir + "/";
    auto f = files_.lower_bound(prefix);
    if (f != files_.end() && f->first.starts_with(prefix)) return true;
    auto d = dirs_.lower_bound(prefix);
    return d != dirs_.end() && d->starts_with(prefix);
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemFile>> files_;  // guarded by mu_
  std::set<std::string> dirs_;                             // guarded by mu_
};

}  // namespace

std::unique_ptr<Env> NewMemEnv() { return std::make_unique<MemEnv>(); }

}  // namespace muon

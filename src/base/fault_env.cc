#include "base/fault_env.h"

#include <algorithm>

namespace muon {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::string path,
                    std::shared_ptr<FaultInjectionEnv::FileState> state,
                    std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), state_(std::move(state)), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    Status injected = env_->MaybeFail(FaultOp::kWrite, path_);
    if (!injected.ok()) {
      if (env_->active_) (void)AppendCounted(data.substr(0, data.size() / 2));
      return injected;
    }
    size_t fits = data.size();
    {
      std::lock_guard<std::mutex> lock(env_->mu_);
      uint64_t limit = env_->disk_space_;
      uint64_t free = limit > env_->used_bytes_ ? limit - env_->used_bytes_ : 0;
      fits = static_cast<size_t>(std::min<uint64_t>(fits, free));
    }
    MUON_RETURN_IF_ERROR(AppendCounted(data.substr(0, fits)));
    if (fits < data.size()) {
      return Status::NoSpace("write " + path_ + ": No space left on device (injected)");
    }
    return Status::Ok();
  }

  Status Sync() override {
    MUON_RETURN_IF_ERROR(env_->MaybeFail(FaultOp::kSync, path_));
    uint64_t covered;
    {
      std::lock_guard<std::mutex> lock(env_->mu_);
      covered = state_->size;
    }
    MUON_RETURN_IF_ERROR(base_->Sync());
    {
      std::lock_guard<std::mutex> lock(env_->mu_);
      state_->synced_size = std::max(state_->synced_size, std::min(covered, state_->size));
    }
    env_->sync_count_++;
    return Status::Ok();
  }

  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  Status AppendCounted(std::string_view data) {
    if (data.empty()) return Status::Ok();
    MUON_RETURN_IF_ERROR(base_->Append(data));
    std::lock_guard<std::mutex> lock(env_->mu_);
    state_->size += data.size();
    env_->used_bytes_ += data.size();
    env_->write_count_++;
    return Status::Ok();
  }

  FaultInjectionEnv* const env_;
  const std::string path_;
  const std::shared_ptr<FaultInjectionEnv::FileState> state_;
  const std::unique_ptr<WritableFile> base_;
};

Status FaultInjectionEnv::MaybeFail(FaultOp op, const std::string& path) {
  if (!active_) return Status::IoError(path + ": filesystem inactive (simulated crash)");
  std::atomic<int>* countdown = nullptr;
  switch (op) {
    case FaultOp::kWrite:
      countdown = &fail_write_in_;
      break;
    case FaultOp::kSync:
      countdown = &fail_sync_in_;
      break;
    case FaultOp::kRename:
      countdown = &fail_rename_in_;
      break;
    default:
      break;
  }
  FaultPredicate predicate;
  bool fail = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (countdown != nullptr && countdown->load() > 0) fail = (--*countdown == 0);
    predicate = predicate_;
  }
  if (!fail && predicate) fail = predicate(op, path);
  if (fail) return Status::IoError(path + ": injected I/O error");
  return Status::Ok();
}

void FaultInjectionEnv::SetFaultPredicate(FaultPredicate p) {
  std::lock_guard<std::mutex> lock(mu_);
  predicate_ = std::move(p);
}

uint64_t FaultInjectionEnv::UsedBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_bytes_;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::Wrap(const std::string& path,
                                                              std::unique_ptr<WritableFile> file) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& state = files_[path];
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, path, state, std::move(file)));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, path));
  bool existed = base_->FileExists(path);
  MUON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(path));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& state = files_[path];
    if (state) used_bytes_ -= std::min(used_bytes_, state->size);
    state = std::make_shared<FileState>();
    if (!existed) unsynced_entries_.insert(path);
  }
  return Wrap(path, std::move(file));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, path));
  bool existed = base_->FileExists(path);
  MUON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewAppendableFile(path));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& state = files_[path];
    if (!state) {
      state = std::make_shared<FileState>();
      state->size = state->synced_size = file->Size();
      used_bytes_ += state->size;
    }
    if (!existed) unsynced_entries_.insert(path);
  }
  return Wrap(path, std::move(file));
}

Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, dir));
  return base_->CreateDir(dir);
}

Status FaultInjectionEnv::CreateDirs(const std::string& dir) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, dir));
  return base_->CreateDirs(dir);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  MUON_RETURN_IF_ERROR(base_->RemoveFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) {
    used_bytes_ -= std::min(used_bytes_, it->second->size);
    files_.erase(it);
  }
  unsynced_entries_.erase(path);
  return Status::Ok();
}

Status FaultInjectionEnv::RemoveTree(const std::string& dir) {
  MUON_RETURN_IF_ERROR(base_->RemoveTree(dir));
  std::lock_guard<std::mutex> lock(mu_);
  const std::string prefix = dir + "/";
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first.starts_with(prefix)) {
      used_bytes_ -= std::min(used_bytes_, it->second->size);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(unsynced_entries_, [&](const std::string& p) { return p.starts_with(prefix); });
  return Status::Ok();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kRename, from));
  MUON_RETURN_IF_ERROR(base_->RenameFile(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  auto old_to = files_.find(to);
  if (old_to != files_.end()) {
    used_bytes_ -= std::min(used_bytes_, old_to->second->size);
    files_.erase(old_to);
  }
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  unsynced_entries_.erase(from);
  unsynced_entries_.insert(to);
  return Status::Ok();
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kTruncate, path));
  MUON_RETURN_IF_ERROR(base_->TruncateFile(path, size));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) {
    FileState& s = *it->second;
    used_bytes_ = used_bytes_ - std::min(used_bytes_, s.size) + size;
    s.size = size;
    s.synced_size = std::min(s.synced_size, size);
  }
  return Status::Ok();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  MUON_RETURN_IF_ERROR(MaybeFail(FaultOp::kSyncDir, dir));
  MUON_RETURN_IF_ERROR(base_->SyncDir(dir));
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(unsynced_entries_, [&](const std::string& p) { return Dirname(p) == dir; });
  return Status::Ok();
}

void FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    if (state->size > state->synced_size) {
      (void)base_->TruncateFile(path, state->synced_size);
      used_bytes_ -= std::min(used_bytes_, state->size - state->synced_size);
      state->size = state->synced_size;
    }
  }
}

void FaultInjectionEnv::DropUnsyncedDirEntries() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& path : unsynced_entries_) {
    (void)base_->RemoveFile(path);
    auto it = files_.find(path);
    if (it != files_.end()) {
      used_bytes_ -= std::min(used_bytes_, it->second->size);
      files_.erase(it);
    }
  }
  unsynced_entries_.clear();
}

void FaultInjectionEnv::SimulateCrash() {
  DropUnsyncedData();
  DropUnsyncedDirEntries();
}

}  // namespace muon

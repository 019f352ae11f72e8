// Invariants of a ShardLogImpl (all under mu_):
//  - segments_ is ordered by first seq, first seqs strictly increasing; seqs
//    are dense within a segment. Only a suffix of segments_ holds bytes that are
//    not yet committed, and commits happen in append order, so committed_end_
//    is the committed_end_seq of the last segment holding a committed record.
//  - Readers only ever see [TrimSeq, committed_end_): those bytes are synced.
//  - After a failed write or sync every uncommitted byte is abandoned: its
//    callbacks fail, next_seq_ falls back to committed_end_ (reusing seqs that
//    nobody saw), and the bytes are cut from their file. When a sync failed the
//    log also continues in a fresh segment of a higher generation, which at
//    recovery supersedes any abandoned bytes a crash might resurrect: the page
//    cache state after a failed fsync is not trusted.
#include "streamlog/shard_log.h"

#include <algorithm>
#include <cstring>

#include "base/log.h"

namespace muon::streamlog {
namespace {

// An index entry is kept for the first record at or after every this many bytes.
constexpr uint64_t kIndexInterval = 64 << 10;
// Sealed segments keep every this-th entry in memory (all are in the .idx file),
// so memory per sealed 64 MiB segment is about 1.5 KiB.
constexpr size_t kSealedIndexStride = 16;
// A batch buffer larger than this is released after use.
constexpr size_t kMaxRetainedBuffer = 8 << 20;

void PruneIndex(Segment* seg) {
  std::erase_if(seg->index, [&](const IndexEntry& e) { return e.seq >= seg->committed_end_seq; });
  seg->next_index_offset = seg->index.empty() ? 0 : seg->index.back().offset + kIndexInterval;
}

}  // namespace

ShardLogImpl::ShardLogImpl(std::string id, std::string dir, const LogStoreOptions& options,
                           Env* env, Clock* clock, Committer* committer)
    : id_(std::move(id)),
      dir_(std::move(dir)),
      options_(options),
      env_(env),
      clock_(clock),
      committer_(committer) {}

Status ShardLogImpl::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  MUON_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  std::vector<SegmentName> found;
  for (const std::string& n : names) {
    if (n.ends_with(".tmp")) {
      (void)env_->RemoveFile(JoinPath(dir_, n));
    } else if (auto parsed = ParseSegmentFileName(n)) {
      found.push_back(*parsed);
    }
  }
  // Apply supersession in generation order: a segment removes every record at
  // or after its first seq from older generations.
  std::sort(found.begin(), found.end(),
            [](const SegmentName& a, const SegmentName& b) { return a.generation < b.generation; });
  struct Kept {
    SegmentName name;
    uint64_t limit_seq = UINT64_MAX;
  };
  std::vector<Kept> kept;
  for (const SegmentName& s : found) {
    max_generation_ = std::max(max_generation_, s.generation);
    for (auto it = kept.begin(); it != kept.end();) {
      if (it->name.first_seq >= s.first_seq) {
        log::warn("streamlog {}: removing {}: superseded by {}", id_, SegmentFileName(it->name),
                  SegmentFileName(s));
        (void)env_->RemoveFile(JoinPath(dir_, SegmentFileName(it->name)));
        (void)env_->RemoveFile(JoinPath(dir_, IndexFileName(it->name)));
        it = kept.erase(it);
      } else {
        it->limit_seq = std::min(it->limit_seq, s.first_seq);
        ++it;
      }
    }
    kept.push_back({s});
  }
  std::sort(kept.begin(), kept.end(),
            [](const Kept& a, const Kept& b) { return a.name.first_seq < b.name.first_seq; });

  uint64_t min_next_seq = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    auto seg =
        std::make_shared<Segment>(kept[i].name, JoinPath(dir_, SegmentFileName(kept[i].name)));
    const bool last = i + 1 == kept.size();
    Status s = RecoverSegment(seg, kept[i].limit_seq, last);
    if (s.code() == StatusCode::kCorruption) {
      // The header is synced before a segment takes records, so a bad header
      // means the segment never held one (a crash during a roll).
      log::warn("streamlog {}: removing {}: {}", id_, seg->path, s.message());
      (void)env_->RemoveFile(seg->path);
      (void)env_->RemoveFile(JoinPath(dir_, IndexFileName(seg->name)));
      min_next_seq = std::max(min_next_seq, seg->name.first_seq);
      continue;
    }
    MUON_RETURN_IF_ERROR(s);
    segments_.push_back(std::move(seg));
  }
  // Index files of segments that are gone.
  for (const std::string& n : names) {
    if (!n.ends_with(".idx")) continue;
    std::string seg_name = n.substr(0, n.size() - 4) + ".seg";
    auto parsed = ParseSegmentFileName(seg_name);
    bool live =
        parsed && std::any_of(segments_.begin(), segments_.end(), [&](const auto& s) {
          return s->name.first_seq == parsed->first_seq && s->name.generation == parsed->generation;
        });
    if (!live) (void)env_->RemoveFile(JoinPath(dir_, n));
  }

  next_seq_ = segments_.empty() ? 0 : segments_.back()->end_seq;
  next_seq_ = std::max(next_seq_, min_next_seq);
  committed_end_ = next_seq_;
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if ((*it)->HasCommittedRecords()) {
      committed_last_arrival_ms_ = last_arrival_ms_ = (*it)->committed_last_arrival_ms;
      break;
    }
  }
  active_ok_ = !segments_.empty() && segments_.back()->writer != nullptr &&
               segments_.back()->end_seq == next_seq_;
  if (!active_ok_) MUON_RETURN_IF_ERROR(RollLocked(next_seq_));
  if (!to_index_.empty()) committer_->Notify(shared_from_this());
  return Status::Ok();
}

Status ShardLogImpl::RecoverSegment(const std::shared_ptr<Segment>& seg, uint64_t limit_seq,
                                    bool last) {
  MUON_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                        env_->NewRandomAccessFile(seg->path));
  MUON_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  char header[kSegmentHeaderSize];
  MUON_ASSIGN_OR_RETURN(std::string_view got, file->Read(0, kSegmentHeaderSize, header));
  MUON_ASSIGN_OR_RETURN(SegmentName name, DecodeSegmentHeader(got));
  if (name.first_seq != seg->name.first_seq || name.generation != seg->name.generation) {
    return Status::Corruption("segment header does not match the file name");
  }
  const std::string index_path = JoinPath(dir_, IndexFileName(seg->name));

  if (!last && env_->FileExists(index_path)) {
    auto data = env_->ReadFile(index_path);
    auto idx = data.ok() ? DecodeIndexFile(*data) : Result<IndexFile>(data.status());
    if (idx.ok() && idx->valid_bytes <= size && idx->valid_bytes >= kSegmentHeaderSize &&
        idx->end_seq <= limit_seq && idx->end_seq >= seg->name.first_seq) {
      if (size > idx->valid_bytes) {
        // Bytes past the indexed end can only be abandoned ones.
        (void)env_->TruncateFile(seg->path, idx->valid_bytes);
      }
      seg->end_seq = seg->committed_end_seq = idx->end_seq;
      seg->written_bytes = seg->committed_bytes = idx->valid_bytes;
      seg->committed_last_arrival_ms = idx->last_arrival_ms;
      seg->index = std::move(idx->entries);
      seg->sealed = true;
      seg->index_persisted = true;
      ThinIndexLocked(seg.get());
      return Status::Ok();
    }
    log::warn("streamlog {}: rebuilding index {}: {}", id_, index_path,
              idx.ok() ? "does not match its segment" : idx.status().message());
  }

  // Scan from the first record; stop at the first record that is torn,
  // corrupt or out of sequence and cut everything from there on. Records
  // after a corrupt one are not trusted even if their checksums match:
  // seqs are dense, so a later record cannot be placed without it.
  SegmentScanner scanner(file.get(), kSegmentHeaderSize, size);
  uint64_t expected = seg->name.first_seq;
  uint64_t valid_end = kSegmentHeaderSize;
  int64_t last_arrival = 0;
  SegmentRecord rec;
  for (;;) {
    MUON_ASSIGN_OR_RETURN(SegmentScanner::State st, scanner.Next(&rec));
    if (st == SegmentScanner::State::kEnd) break;
    if (st == SegmentScanner::State::kBad) {
      log::warn("streamlog {}: cutting {} at offset {} of {}: {}", id_, seg->path, scanner.offset(),
                size, scanner.bad_reason());
      break;
    }
    if (rec.seq != expected) {
      log::warn("streamlog {}: cutting {} at offset {}: seq {} where {} was expected", id_,
                seg->path, rec.offset, rec.seq, expected);
      break;
    }
    if (rec.seq >= limit_seq) break;  // superseded by a later generation
    if (rec.offset >= seg->next_index_offset) {
      seg->index.push_back({rec.seq, rec.offset, rec.arrival_ms});
      seg->next_index_offset = rec.offset + kIndexInterval;
    }
    last_arrival = rec.arrival_ms;
    ++expected;
    valid_end = scanner.offset();
  }
  if (valid_end < size) {
    MUON_RETURN_IF_ERROR(env_->TruncateFile(seg->path, valid_end));
    MUON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env_->NewAppendableFile(seg->path));
    MUON_RETURN_IF_ERROR(SyncFile(f.get()));
    MUON_RETURN_IF_ERROR(f->Close());
  }
  seg->end_seq = seg->committed_end_seq = expected;
  seg->written_bytes = seg->committed_bytes = valid_end;
  seg->committed_last_arrival_ms = last_arrival;
  if (last) {
    if (env_->FileExists(index_path)) (void)env_->RemoveFile(index_path);
    MUON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> w, env_->NewAppendableFile(seg->path));
    seg->writer = std::move(w);
  } else {
    seg->sealed = true;
    if (seg->HasCommittedRecords()) to_index_.push_back(seg);
  }
  return Status::Ok();
}

Status ShardLogImpl::RollLocked(uint64_t first_seq) {
  const SegmentName name{first_seq, max_generation_ + 1};
  max_generation_ = name.generation;
  auto seg = std::make_shared<Segment>(name, JoinPath(dir_, SegmentFileName(name)));
  std::unique_ptr<WritableFile> writer;
  Status s = [&]() -> Status {
    MUON_ASSIGN_OR_RETURN(writer, env_->NewWritableFile(seg->path));
    MUON_RETURN_IF_ERROR(writer->Append(EncodeSegmentHeader(name)));
    MUON_RETURN_IF_ERROR(SyncFile(writer.get()));
    return options_.sync ? env_->SyncDir(dir_) : Status::Ok();
  }();
  if (!s.ok()) {
    writer.reset();
    if (env_->FileExists(seg->path)) (void)env_->RemoveFile(seg->path);
    return s.WithContext("streamlog " + id_ + ": starting segment " + seg->path);
  }
  if (!segments_.empty() && !segments_.back()->sealed) SealLocked(segments_.back().get());
  seg->end_seq = seg->committed_end_seq = first_seq;
  seg->written_bytes = seg->committed_bytes = kSegmentHeaderSize;
  seg->writer = std::move(writer);
  segments_.push_back(std::move(seg));
  active_ok_ = true;
  return Status::Ok();
}

void ShardLogImpl::SealLocked(Segment* seg) {
  seg->sealed = true;
  if (seg->committed_bytes != seg->written_bytes) return;  // the committer finishes it
  seg->writer.reset();
  if (seg->HasCommittedRecords() && !seg->index_persisted) {
    for (const auto& s : segments_) {
      if (s.get() == seg) to_index_.push_back(s);
    }
    committer_->Notify(shared_from_this());
  }
}

void ShardLogImpl::HandleFailureLocked(bool sync_failed) {
  ++epoch_;
  next_seq_ = committed_end_;
  last_arrival_ms_ = std::max(last_arrival_ms_, committed_last_arrival_ms_);
  // A failed write (e.g. disk full) returned an error before anything was
  // synced past the committed end: cutting the file back is enough.
  if (!sync_failed && active_ok_ &&
      (segments_.size() == 1 || segments_[segments_.size() - 2]->committed_bytes ==
                                    segments_[segments_.size() - 2]->written_bytes)) {
    Segment* seg = segments_.back().get();
    seg->writer.reset();
    Status s = [&]() -> Status {
      MUON_RETURN_IF_ERROR(env_->TruncateFile(seg->path, seg->committed_bytes));
      MUON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> w, env_->NewAppendableFile(seg->path));
      MUON_RETURN_IF_ERROR(SyncFile(w.get()));
      if (w->Size() != seg->committed_bytes) return Status::IoError("truncation did not take");
      seg->writer = std::move(w);
      return Status::Ok();
    }();
    if (s.ok()) {
      seg->written_bytes = seg->committed_bytes;
      seg->end_seq = seg->committed_end_seq;
      PruneIndex(seg);
      return;
    }
    log::warn("streamlog {}: cannot cut {} back after a failed write: {}", id_, seg->path,
              s.ToString());
  }
  // Segments holding nothing committed go whole; the last one that holds
  // committed records is cut back and sealed; a fresh segment follows.
  while (!segments_.empty() && !segments_.back()->HasCommittedRecords() &&
         segments_.back()->name.first_seq >= committed_end_) {
    std::shared_ptr<Segment> dead = segments_.back();
    segments_.pop_back();
    dead->writer.reset();
    (void)env_->RemoveFile(dead->path);
  }
  if (!segments_.empty()) {
    Segment* seg = segments_.back().get();
    if (seg->written_bytes != seg->committed_bytes) {
      seg->writer.reset();
      Status s = env_->TruncateFile(seg->path, seg->committed_bytes);
      if (s.ok()) {
        auto f = env_->NewAppendableFile(seg->path);
        s = f.ok() ? SyncFile(f->get()) : f.status();
      }
      if (!s.ok()) {
        log::warn("streamlog {}: cannot cut {} back ({}); the next segment supersedes it", id_,
                  seg->path, s.ToString());
      }
      seg->written_bytes = seg->committed_bytes;
      seg->end_seq = seg->committed_end_seq;
      PruneIndex(seg);
    }
    SealLocked(seg);
  }
  active_ok_ = false;
  Status s = RollLocked(committed_end_);
  if (!s.ok()) log::warn("{} (appends retry it)", s.ToString());
}

void ShardLogImpl::Append(std::span<const AppendEntry> entries, AppendCallback done) {
  if (entries.empty()) {
    done(Status::InvalidArgument("streamlog " + id_ + ": empty batch"));
    return;
  }
  size_t total = 0;
  for (const AppendEntry& e : entries) {
    if (e.partition_key.size() > kMaxPartitionKey ||
        e.partition_key.size() + kHashKeySize + e.data.size() > kMaxRecordBody) {
      done(Status::InvalidArgument("streamlog " + id_ + ": record too large"));
      return;
    }
    total += EncodedRecordSize(e);
  }
  Status error;
  std::vector<Pending> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_.ok()) {
      error = shutdown_;
    } else if (!active_ok_ || (segments_.back()->written_bytes >= options_.segment_bytes &&
                               segments_.back()->end_seq > segments_.back()->name.first_seq)) {
      error = RollLocked(next_seq_);
    }
    if (error.ok()) {
      Segment* seg = segments_.back().get();
      const uint64_t first = next_seq_;
      const int64_t arrival = std::max(last_arrival_ms_, clock_->NowMillis());
      const size_t index_before = seg->index.size();
      const uint64_t next_index_before = seg->next_index_offset;
      buf_.clear();
      buf_.reserve(total);
      uint64_t offset = seg->written_bytes;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (offset >= seg->next_index_offset) {
          seg->index.push_back({first + i, offset, arrival});
          seg->next_index_offset = offset + kIndexInterval;
        }
        const size_t before = buf_.size();
        EncodeRecord(entries[i], first + i, arrival, &buf_);
        offset += buf_.size() - before;
      }
      Status s = seg->writer->Append(buf_);
      if (buf_.capacity() > kMaxRetainedBuffer) std::string().swap(buf_);
      if (s.ok()) {
        seg->written_bytes = offset;
        seg->end_seq = first + entries.size();
        next_seq_ = first + entries.size();
        last_arrival_ms_ = arrival;
        pending_.push_back({first, static_cast<uint32_t>(entries.size()), arrival, segments_.back(),
                            std::move(done)});
      } else {
        seg->index.resize(index_before);
        seg->next_index_offset = next_index_before;
        failed.swap(pending_);
        HandleFailureLocked(/*sync_failed=*/false);
        error = s.WithContext("streamlog " + id_);
      }
    }
  }
  if (!error.ok()) {
    done(error);
    for (Pending& p : failed) p.done(error);
    return;
  }
  committer_->Notify(shared_from_this());
}

std::optional<ShardLogImpl::CommitWork> ShardLogImpl::BeginCommit() {
  std::lock_guard<std::mutex> lock(mu_);
  CommitWork work;
  work.epoch = epoch_;
  work.batches.swap(pending_);
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    Segment* seg = it->get();
    if (seg->written_bytes > seg->committed_bytes && seg->writer) {
      work.files.push_back({*it, seg->writer, seg->written_bytes});
    } else if (seg->sealed) {
      break;
    }
  }
  std::reverse(work.files.begin(), work.files.end());
  if (work.batches.empty() && work.files.empty() && to_index_.empty()) return std::nullopt;
  return work;
}

void ShardLogImpl::FinishCommit(CommitWork work) {
  Status fail;
  std::vector<Pending> failed_later;
  std::vector<std::shared_ptr<Segment>> index_now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (deleted_) {
      fail = Status::NotFound("streamlog " + id_ + " was deleted");
    } else if (work.epoch != epoch_) {
      fail = Status::IoError("streamlog " + id_ + ": an earlier write or sync failed");
    } else if (!work.status.ok()) {
      fail = work.status;
      failed_later.swap(pending_);
      HandleFailureLocked(/*sync_failed=*/true);
    } else {
      for (const FileToSync& f : work.files) {
        f.segment->committed_bytes = std::max(f.segment->committed_bytes, f.bytes);
      }
      for (const Pending& b : work.batches) {
        b.segment->committed_end_seq = b.first_seq + b.count;
        b.segment->committed_last_arrival_ms = b.arrival_ms;
        committed_end_ = b.first_seq + b.count;
        committed_last_arrival_ms_ = b.arrival_ms;
      }
      for (const FileToSync& f : work.files) {
        if (f.segment->sealed) SealLocked(f.segment.get());
      }
    }
    if (!deleted_) index_now.swap(to_index_);
  }
  for (Pending& b : work.batches) {
    if (fail.ok()) {
      b.done(AppendResult{b.first_seq, b.arrival_ms});
    } else {
      b.done(fail);
    }
  }
  for (Pending& b : failed_later) b.done(fail);
  for (const auto& seg : index_now) {
    Status s = PersistIndex(seg);
    if (!s.ok())
      log::warn("streamlog {}: index not written (rebuilt at open): {}", id_, s.ToString());
  }
}

Status ShardLogImpl::PersistIndex(const std::shared_ptr<Segment>& seg) {
  IndexFile idx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seg->index_persisted || deleted_ ||
        std::find(segments_.begin(), segments_.end(), seg) == segments_.end()) {
      return Status::Ok();
    }
    idx.valid_bytes = seg->committed_bytes;
    idx.end_seq = seg->committed_end_seq;
    idx.first_arrival_ms = seg->index.empty() ? 0 : seg->index.front().arrival_ms;
    idx.last_arrival_ms = seg->committed_last_arrival_ms;
    idx.entries = seg->index;
  }
  Status s = env_->WriteFileAtomic(JoinPath(dir_, IndexFileName(seg->name)), EncodeIndexFile(idx));
  std::lock_guard<std::mutex> lock(mu_);
  if (s.ok()) seg->index_persisted = true;
  ThinIndexLocked(seg.get());
  return s;
}

void ShardLogImpl::ThinIndexLocked(Segment* seg) {
  if (seg->index.size() <= 1) return;
  std::vector<IndexEntry> thin;
  thin.reserve(seg->index.size() / kSealedIndexStride + 1);
  for (size_t i = 0; i < seg->index.size(); i += kSealedIndexStride) thin.push_back(seg->index[i]);
  seg->index = std::move(thin);
}

Result<std::shared_ptr<RandomAccessFile>> ShardLogImpl::ReaderLocked(Segment* seg) const {
  if (!seg->reader) {
    MUON_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> r,
                          env_->NewRandomAccessFile(seg->path));
    seg->reader = std::move(r);
    if (seg->sealed) {
      if (open_sealed_reader_ && open_sealed_reader_.get() != seg)
        open_sealed_reader_->reader.reset();
      for (const auto& s : segments_) {
        if (s.get() == seg) open_sealed_reader_ = s;
      }
    }
  }
  return seg->reader;
}

std::optional<ShardLogImpl::Location> ShardLogImpl::LocateLocked(uint64_t from_seq) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), from_seq,
                             [](uint64_t seq, const auto& s) { return seq < s->name.first_seq; });
  if (it != segments_.begin()) --it;
  for (; it != segments_.end(); ++it) {
    Segment* seg = it->get();
    const uint64_t from = std::max(from_seq, seg->name.first_seq);
    if (from >= seg->committed_end_seq) continue;
    Location loc;
    loc.segment = *it;
    loc.from_seq = from;
    loc.limit_bytes = seg->committed_bytes;
    loc.limit_seq = seg->committed_end_seq;
    loc.offset = kSegmentHeaderSize;
    auto e = std::upper_bound(seg->index.begin(), seg->index.end(), from,
                              [](uint64_t seq, const IndexEntry& x) { return seq < x.seq; });
    if (e != seg->index.begin()) loc.offset = std::prev(e)->offset;
    for (const ReadHint& h : hints_) {
      if (h.seq == from && h.segment.first_seq == seg->name.first_seq &&
          h.segment.generation == seg->name.generation) {
        loc.offset = h.offset;
      }
    }
    return loc;
  }
  return std::nullopt;
}

Result<ScanResult> ShardLogImpl::Scan(uint64_t from_seq, size_t max_records, size_t max_bytes,
                                      const RecordVisitor& visit) const {
  ScanResult out;
  uint64_t from;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.end_seq = committed_end_;
    out.last_arrival_ms = committed_last_arrival_ms_;
    from = std::max(from_seq, TrimSeqLocked());
  }
  out.next_seq = from;
  while (out.records < max_records && from < out.end_seq) {
    Location loc;
    std::shared_ptr<RandomAccessFile> reader;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto found = LocateLocked(from);
      if (!found) break;
      loc = std::move(*found);
      MUON_ASSIGN_OR_RETURN(reader, ReaderLocked(loc.segment.get()));
    }
    from = loc.from_seq;  // skips a gap between segments
    if (from >= out.end_seq) break;
    // Stop at the end sampled above even if more has committed since, so that
    // every record visited lies below out.end_seq.
    const uint64_t limit_seq = std::min(loc.limit_seq, out.end_seq);
    SegmentScanner scanner(reader.get(), loc.offset, loc.limit_bytes);
    uint64_t resume_offset = loc.offset;
    bool stop = false;
    const size_t before = out.records;
    SegmentRecord rec;
    for (;;) {
      MUON_ASSIGN_OR_RETURN(SegmentScanner::State st, scanner.Next(&rec));
      if (st == SegmentScanner::State::kEnd ||
          (st == SegmentScanner::State::kRecord && rec.seq >= limit_seq)) {
        break;
      }
      if (st == SegmentScanner::State::kBad) {
        return Status::Corruption(loc.segment->path + " at offset " +
                                  std::to_string(scanner.offset()) + ": " + scanner.bad_reason());
      }
      if (rec.seq < from) continue;
      if (rec.seq != from) {
        return Status::Corruption(loc.segment->path + ": seq " + std::to_string(rec.seq) +
                                  " where " + std::to_string(from) + " was expected");
      }
      if (out.records > 0 && out.bytes + rec.data.size() > max_bytes) {
        stop = true;
        break;
      }
      if (!visit(rec)) {
        out.next_seq = rec.seq;  // past a gap the refused record starts the next scan
        stop = true;
        break;
      }
      ++out.records;
      out.bytes += rec.data.size();
      from = rec.seq + 1;
      out.next_seq = from;
      resume_offset = rec.offset + rec.size;
      if (out.records >= max_records) {
        stop = true;
        break;
      }
    }
    if (out.records == before && !stop) {
      return Status::Corruption(loc.segment->path + ": committed records missing from seq " +
                                std::to_string(from));
    }
    if (out.records > before) {
      std::lock_guard<std::mutex> lock(mu_);
      hints_[next_hint_++ % hints_.size()] = {from, loc.segment->name, resume_offset};
    }
    if (stop) break;
  }
  return out;
}

Result<uint64_t> ShardLogImpl::SeqAtOrAfterTime(int64_t ms) const {
  std::shared_ptr<Segment> seg;
  std::shared_ptr<RandomAccessFile> reader;
  IndexEntry start;
  uint64_t limit_bytes = 0, limit_seq = 0, end = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = committed_end_;
    for (const auto& s : segments_) {
      if (s->HasCommittedRecords() && s->committed_last_arrival_ms >= ms) {
        seg = s;
        break;
      }
    }
    if (!seg) return end;
    auto e = std::partition_point(seg->index.begin(), seg->index.end(),
                                  [&](const IndexEntry& x) { return x.arrival_ms < ms; });
    if (e != seg->index.begin()) --e;
    start = e != seg->index.end() ? *e : IndexEntry{seg->name.first_seq, kSegmentHeaderSize, 0};
    limit_bytes = seg->committed_bytes;
    limit_seq = seg->committed_end_seq;
    MUON_ASSIGN_OR_RETURN(reader, ReaderLocked(seg.get()));
  }
  SegmentScanner scanner(reader.get(), start.offset, limit_bytes);
  SegmentRecord rec;
  for (;;) {
    MUON_ASSIGN_OR_RETURN(SegmentScanner::State st, scanner.Next(&rec));
    if (st == SegmentScanner::State::kEnd) break;
    if (st == SegmentScanner::State::kBad) {
      return Status::Corruption(seg->path + " at offset " + std::to_string(scanner.offset()) +
                                ": " + scanner.bad_reason());
    }
    if (rec.seq >= limit_seq) break;
    if (rec.arrival_ms >= ms) return rec.seq;
  }
  return end;
}

uint64_t ShardLogImpl::TrimSeqLocked() const {
  for (const auto& s : segments_) {
    if (s->HasCommittedRecords()) return s->name.first_seq;
  }
  return committed_end_;
}

uint64_t ShardLogImpl::TrimSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return TrimSeqLocked();
}

uint64_t ShardLogImpl::EndSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_end_;
}

int64_t ShardLogImpl::LastArrivalMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_last_arrival_ms_;
}

uint64_t ShardLogImpl::SizeBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (const auto& s : segments_) total += s->committed_bytes;
  return total;
}

Status ShardLogImpl::TrimBefore(int64_t cutoff_ms) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (segments_.size() > 1) {
      const auto& front = segments_.front();
      if (!front->sealed || front->committed_bytes != front->written_bytes) break;
      if (front->HasCommittedRecords() && front->committed_last_arrival_ms >= cutoff_ms) break;
      if (open_sealed_reader_ == front) open_sealed_reader_.reset();
      doomed.push_back(front);
      segments_.pop_front();
    }
  }
  if (doomed.empty()) return Status::Ok();
  Status first_error;
  for (const auto& seg : doomed) {
    Status s = env_->RemoveFile(seg->path);
    if (!s.ok() && first_error.ok()) first_error = s;
    const std::string idx = JoinPath(dir_, IndexFileName(seg->name));
    if (env_->FileExists(idx)) (void)env_->RemoveFile(idx);
  }
  if (options_.sync) {
    Status s = env_->SyncDir(dir_);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

void ShardLogImpl::Shutdown(Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_.ok()) shutdown_ = std::move(why);
}

void ShardLogImpl::MarkDeleted() {
  std::lock_guard<std::mutex> lock(mu_);
  deleted_ = true;
  shutdown_ = Status::NotFound("streamlog " + id_ + " was deleted");
}

void Committer::Start() {
  if (sync_) {
    for (int i = 0; i < helpers_wanted_; ++i) helpers_.emplace_back([this] { HelperLoop(); });
  }
  thread_ = std::thread([this] { Run(); });
}

void Committer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    helpers_stopping_ = true;
  }
  sync_cv_.notify_all();
  for (std::thread& t : helpers_) t.join();
  helpers_.clear();
}

void Committer::HelperLoop() {
  uint64_t seen = 0;
  for (;;) {
    std::shared_ptr<SyncBatch> batch;
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return helpers_stopping_ || posted_gen_ != seen; });
      if (helpers_stopping_) return;
      seen = posted_gen_;
      batch = posted_;
    }
    if (batch) DrainBatch(*batch);
  }
}

void Committer::DrainBatch(SyncBatch& batch) {
  for (;;) {
    const size_t i = batch.next.fetch_add(1);
    if (i >= batch.files.size()) return;
    batch.results[i] = batch.files[i]->Sync();
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      last = --batch.left == 0;
    }
    if (last) sync_done_cv_.notify_all();
  }
}

void Committer::SyncAll(const std::shared_ptr<SyncBatch>& batch) {
  batch->results.resize(batch->files.size());
  batch->left = batch->files.size();
  const bool share = batch->files.size() > 1 && !helpers_.empty();
  if (share) {
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      posted_ = batch;
      ++posted_gen_;
    }
    sync_cv_.notify_all();
  }
  DrainBatch(*batch);
  std::unique_lock<std::mutex> lock(sync_mu_);
  sync_done_cv_.wait(lock, [&] { return batch->left == 0; });
  if (share) posted_.reset();
}

void Committer::Notify(std::shared_ptr<ShardLogImpl> shard) {
  if (shard->queued.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(shard));
  }
  cv_.notify_one();
}

void Committer::Run() {
  for (;;) {
    std::vector<std::shared_ptr<ShardLogImpl>> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      work.swap(queue_);
    }
    RunPass(std::move(work));
  }
}

void Committer::RunPass(std::vector<std::shared_ptr<ShardLogImpl>> shards) {
  std::vector<std::pair<std::shared_ptr<ShardLogImpl>, ShardLogImpl::CommitWork>> works;
  for (auto& shard : shards) {
    shard->queued = false;  // appends from now on queue the shard again
    auto w = shard->BeginCommit();
    if (w) works.emplace_back(std::move(shard), std::move(*w));
  }
  if (sync_) {
    auto batch = std::make_shared<SyncBatch>();
    for (auto& [shard, w] : works) {
      for (const auto& f : w.files) batch->files.push_back(f.writer.get());
    }
    SyncAll(batch);
    size_t i = 0;
    for (auto& [shard, w] : works) {
      for (size_t k = 0; k < w.files.size(); ++k, ++i) {
        if (w.status.ok() && !batch->results[i].ok()) w.status = batch->results[i];
      }
    }
  }
  for (auto& [shard, w] : works) shard->FinishCommit(std::move(w));
}

}  // namespace muon::streamlog

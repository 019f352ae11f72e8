// Internal: the ShardLog implementation and the group committer that syncs it.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "streamlog/log_store.h"
#include "streamlog/segment.h"

namespace muon::streamlog {

class ShardLogImpl;

// One background thread for a whole LogStore. Each pass takes every shard
// that was appended to since the last pass, fdatasyncs each file written
// (one sync per file however many batches it holds, up to
// `sync_parallelism` files at once on helper threads), then lets each shard
// advance its committed end and run its callbacks.
class Committer {
 public:
  Committer(bool sync, int sync_parallelism)
      : sync_(sync), helpers_wanted_(std::max(0, sync_parallelism - 1)) {}
  ~Committer() { Stop(); }

  void Start();
  // Drains what was queued, then stops the thread. Idempotent.
  void Stop();
  void Notify(std::shared_ptr<ShardLogImpl> shard);
  // One pass over `shards` on the calling thread (used after Stop).
  void RunPass(std::vector<std::shared_ptr<ShardLogImpl>> shards);

 private:
  // One pass's files to sync, shared with the helpers. Each file's status
  // lands in `results`; `left` counts syncs not yet finished.
  struct SyncBatch {
    std::vector<WritableFile*> files;
    std::vector<Status> results;
    std::atomic<size_t> next{0};
    size_t left = 0;  // guarded by Committer::sync_mu_
  };

  void Run();
  void HelperLoop();
  // Syncs every file of `batch`, on this thread and idle helpers, and returns
  // when all are done.
  void SyncAll(const std::shared_ptr<SyncBatch>& batch);
  // Takes files from `batch` until none is left to take.
  void DrainBatch(SyncBatch& batch);

  const bool sync_;
  const int helpers_wanted_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<ShardLogImpl>> queue_;  // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  std::thread thread_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;       // a batch was posted, or stopping
  std::condition_variable sync_done_cv_;  // a batch's last sync finished
  std::shared_ptr<SyncBatch> posted_;     // guarded by sync_mu_
  uint64_t posted_gen_ = 0;               // guarded by sync_mu_
  bool helpers_stopping_ = false;         // guarded by sync_mu_
  std::vector<std::thread> helpers_;
};

// A segment file and what is known about it. Fields below the mutex comment
// are guarded by the owning ShardLogImpl's mu_.
struct Segment {
  Segment(SegmentName n, std::string p) : name(n), path(std::move(p)) {}
  const SegmentName name;
  const std::string path;

  uint64_t end_seq = 0;            // seq after the last record written
  uint64_t written_bytes = 0;      // file length including unsynced bytes
  uint64_t committed_end_seq = 0;  // seq after the last durable record
  uint64_t committed_bytes = 0;    // durable length (records readers may see)
  int64_t first_arrival_ms = 0;    // of the first record, if any
  int64_t committed_last_arrival_ms = 0;
  bool sealed = false;  // no more appends; the next segment exists
  bool index_persisted = false;
  // Sparse: the first record, then the first record at or after every
  // kIndexInterval bytes (thinned once the segment is sealed).
  std::vector<IndexEntry> index;
  uint64_t next_index_offset = 0;
  std::shared_ptr<WritableFile> writer;      // until sealed and fully committed
  std::shared_ptr<RandomAccessFile> reader;  // opened lazily for reads

  bool HasCommittedRecords() const { return committed_end_seq > name.first_seq; }
};

class ShardLogImpl final : public ShardLog, public std::enable_shared_from_this<ShardLogImpl> {
 public:
  ShardLogImpl(std::string id, std::string dir, const LogStoreOptions& options, Env* env,
               Clock* clock, Committer* committer);

  // Recovers the log from its directory (creating the first segment of a new
  // log). Call once, before sharing the object.
  Status Recover();

  void Append(std::span<const AppendEntry> entries, AppendCallback done) override;
  Result<ScanResult> Scan(uint64_t from_seq, size_t max_records, size_t max_bytes,
                          const RecordVisitor& visit) const override;
  Result<uint64_t> SeqAtOrAfterTime(int64_t ms) const override;
  uint64_t TrimSeq() const override;
  uint64_t EndSeq() const override;
  int64_t LastArrivalMs() const override;
  uint64_t SizeBytes() const override;
  Status TrimBefore(int64_t cutoff_ms) override;

  // Appends from now on fail with `why`; queued ones still complete.
  void Shutdown(Status why);
  // Appends fail with NotFound; queued ones fail too.
  void MarkDeleted();
  const std::string& dir() const { return dir_; }

  // What one committer pass does for this shard.
  struct Pending {
    uint64_t first_seq = 0;
    uint32_t count = 0;
    int64_t arrival_ms = 0;
    std::shared_ptr<Segment> segment;
    AppendCallback done;
  };
  struct FileToSync {
    std::shared_ptr<Segment> segment;
    std::shared_ptr<WritableFile> writer;
    uint64_t bytes = 0;  // length the sync makes durable
  };
  struct CommitWork {
    uint64_t epoch = 0;
    std::vector<Pending> batches;
    std::vector<FileToSync> files;
    Status status;
  };
  std::optional<CommitWork> BeginCommit();
  void FinishCommit(CommitWork work);
  std::atomic<bool> queued{false};  // in the committer's queue

 private:
  struct ReadHint {
    uint64_t seq = UINT64_MAX;
    SegmentName segment;
    uint64_t offset = 0;
  };
  struct Location {
    std::shared_ptr<Segment> segment;
    std::shared_ptr<RandomAccessFile> reader;
    uint64_t from_seq = 0;
    uint64_t offset = 0;
    uint64_t limit_bytes = 0;
    uint64_t limit_seq = 0;
  };

  Status SyncFile(WritableFile* f) { return options_.sync ? f->Sync() : Status::Ok(); }
  // Creates, header-syncs and dir-syncs a segment starting at first_seq and
  // makes it active; the previous active segment is sealed.
  Status RollLocked(uint64_t first_seq);
  // Abandons every uncommitted byte after a failed write or sync and leaves
  // an active segment that starts at the committed end (or none, if creating
  // it failed; the next Append retries).
  void HandleFailureLocked(bool sync_failed);
  void SealLocked(Segment* seg);
  // Finds where committed records with seq >= from_seq start; nullopt if none.
  std::optional<Location> LocateLocked(uint64_t from_seq) const;
  Result<std::shared_ptr<RandomAccessFile>> ReaderLocked(Segment* seg) const;
  Status PersistIndex(const std::shared_ptr<Segment>& seg);
  void ThinIndexLocked(Segment* seg);
  Status RecoverSegment(const std::shared_ptr<Segment>& seg, uint64_t limit_seq, bool last);
  uint64_t TrimSeqLocked() const;

  const std::string id_;
  const std::string dir_;
  const LogStoreOptions options_;
  Env* const env_;
  Clock* const clock_;
  Committer* const committer_;

  mutable std::mutex mu_;
  // Guarded by mu_. Ordered by first seq; the back one is active unless
  // active_ok_ is false. Only the last few may hold uncommitted bytes.
  std::deque<std::shared_ptr<Segment>> segments_;
  bool active_ok_ = false;
  uint64_t max_generation_ = 0;            // guarded by mu_
  uint64_t next_seq_ = 0;                  // guarded by mu_; seq the next append gets
  int64_t last_arrival_ms_ = 0;            // guarded by mu_; of the last append
  uint64_t committed_end_ = 0;             // guarded by mu_
  int64_t committed_last_arrival_ms_ = 0;  // guarded by mu_
  // Guarded by mu_. Bumped by every failure: a committer pass that began in an
  // older epoch fails its batches instead of committing them.
  uint64_t epoch_ = 0;
  std::vector<Pending> pending_;                    // guarded by mu_; appended, not yet taken
  std::vector<std::shared_ptr<Segment>> to_index_;  // guarded by mu_
  Status shutdown_;                                 // guarded by mu_; non-OK once closed/deleted
  bool deleted_ = false;                            // guarded by mu_
  std::string buf_;                                 // guarded by mu_; one batch being encoded
  mutable std::array<ReadHint, 4> hints_;           // guarded by mu_
  mutable size_t next_hint_ = 0;                    // guarded by mu_
  // The one sealed segment whose reader is kept open (bounds open files).
  mutable std::shared_ptr<Segment> open_sealed_reader_;  // guarded by mu_
};

}  // namespace muon::streamlog

// Stream.h: splits read per batch instead of held decoded in memory. An uncompressed IDX or .npy file is
// mapped read-only and its samples converted as a batch takes them; an image folder's files are decoded as a
// batch takes them; a CSV file is indexed (each record's byte offset) and its records parsed as a batch takes
// them. The labels stay in memory (one value per sample). The pipeline's element-wise steps, applied to the
// whole split at load time when it is held in memory, are replayed on each sample as it is read, so a
// streamed split's samples are bit for bit the ones the same split held in memory would give, in the same
// order (shuffling, the split, augmentation and data parallelism index samples, not bytes).
//
// When: the executable's --load (auto, memory, stream) and --data-memory SIZE (the budget of a split's decoded
// samples; default: half of what this process may use, Memory.h). Under auto a split is streamed when its
// decoded samples exceed the budget, and held otherwise. A gzip file cannot be mapped or read at an offset:
// it is decoded into memory (counted as held data), with R0264 when --load stream asks for streaming.
#ifndef DLSPEC_RUNTIME_DATA_STREAM_H
#define DLSPEC_RUNTIME_DATA_STREAM_H
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "Dataset.h"

namespace dls::csv {  // data/formats/CsvTable.h
struct Error;
}  // namespace dls::csv

namespace dls {

enum class LoadMode { Auto, Memory, Stream };
struct LoadPolicy {
  LoadMode mode = LoadMode::Auto;
  uint64_t budget = 0;  // bytes of decoded samples a split may hold (0: half of what this process may use)
  int threads = 2;      // the worker pool that prepares the next batches of a streamed split (--threads)
};
void set_load_policy(const LoadPolicy& p);
const LoadPolicy& load_policy();
// The budget in effect (the explicit one, or half of host_memory_limit()), and what sets it.
uint64_t load_budget(std::string* source = nullptr);
// Whether a split of `decoded` bytes of samples is read per batch (the policy), for split `split` from `path`.
bool stream_split(uint64_t decoded, const std::string& split, const std::string& path);

// Where a streamed split's samples come from: shared by the splits cut from one file (split_off).
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Writes record `i` of the file (sample_numel floats, as the in-memory load converts it); a problem found
  // there is the R-code the in-memory load gives, naming the file and the record.
  virtual void read(int64_t i, float* out) const = 0;
  // Before each batch: the file is still what was opened (R0265 otherwise).
  virtual void check() const {}
  // Bytes held in memory besides the samples read (an index of records or files).
  virtual uint64_t index_bytes() const = 0;
  // Bytes of the file `samples` samples occupy (the mapping's pages a batch touches).
  virtual uint64_t window_bytes(int64_t samples) const = 0;
  std::string path;
};

struct Stream {
  std::shared_ptr<const SampleSource> src;
  std::vector<int64_t> rows;  // sample k of the split is record rows[k] of the source (empty: record k)
  int32_t rank = 1;           // the sample as the source gives it, before the element-wise steps
  int64_t dims[4] = {1, 1, 1, 1};
  int64_t sample_numel = 1;
  uint64_t decoded = 0;  // bytes the split's samples would take held in memory (at load time)
  // The element-wise steps apply_pipeline recorded, per call, with its `training` flag: replayed per sample.
  std::vector<std::pair<std::vector<PipeStep>, bool>> steps;
};

// Sample `i` of `ds` as the split holds it (after the element-wise steps): ds.x's row, or read from the stream
// and converted. `out` receives ds.sample_numel floats. Thread-safe.
void read_sample(const Dataset& ds, int64_t i, float* out);
// The bytes `ds` keeps in memory: its decoded samples (or the stream's index), labels and targets.
uint64_t held_bytes(const Dataset& ds);
// The batch buffers a Loader over `ds` holds (its prefetch queue and, streamed, the mapping's window).
uint64_t prefetch_bytes(const Dataset& ds, int64_t row_numel, int64_t rows);
// Buffers in a streamed split's Loader queue: the batch the step uses and the ones being prepared.
int loader_depth(const Dataset& ds);

// Record number the element-wise steps name in their messages while a streamed sample is converted.
int64_t stream_record_base();

// A small pool: run(count, fn) calls fn(i) for i in [0, count) on `threads` threads (the caller's included)
// and returns when all are done; the exception of the lowest failing i is rethrown.
class RowPool {
 public:
  explicit RowPool(int threads);
  ~RowPool();
  RowPool(const RowPool&) = delete;
  RowPool& operator=(const RowPool&) = delete;
  void run(int64_t count, const std::function<void(int64_t)>& fn);
  int size() const { return int(helpers_.size()) + 1; }

 private:
  void work();
  void drain();
  std::vector<std::thread> helpers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  uint64_t gen_ = 0;
  int active_ = 0;
  bool stop_ = false;
  int64_t err_at_ = -1;
  std::exception_ptr err_;
};

// Reads of a mapped file that another process cuts short (truncate, a rewrite in place) between the check before a
// batch (SampleSource::check) and the batch's reads: a read of a page wholly past the file's new end raises SIGBUS,
// which would end the process. copy_mapped and find_mapped read under a SIGBUS handler (installed once, on first use)
// that leaves the read with siglongjmp when the signal comes from a read they guard on this thread; they return
// false then, and the caller reports R0265. A SIGBUS from anywhere else keeps the action it had before.
// read_mapped runs fn(ctx) so: fn must hold nothing that needs a destructor and throw nothing.
bool read_mapped(void (*fn)(void*), void* ctx);
// Installs the handler, or installs it again when something replaced it since (the sources' check() calls it before
// each batch); the action it replaces is the one a SIGBUS outside a guarded read then takes.
void guard_sigbus();
bool copy_mapped(void* dst, const void* src, size_t n);
// The first `c` in [p, p + n): its offset, or n when there is none. False: the read raised SIGBUS.
bool find_mapped(const char* p, size_t n, char c, size_t& at);

// A CSV parse error as the R-code read_csv gives (R0206, R0207, R0253, R0213), at its line.
[[noreturn]] void fail_csv(const std::string& path, const csv::Error& e, const csv::Layout& layout);
// Sources (IdxReader.cpp, ImageReader.cpp, CsvReader.cpp).
std::shared_ptr<SampleSource> image_source(const std::vector<std::string>& files, const DataDecl& decl);

}  // namespace dls
#endif

// Splits read per batch (data/Stream.h): the same batches as the split held in memory, bit for bit, for IDX,
// .npy, CSV and image folders, through the pipeline, split(), shuffling, augmentation and rank shares; the
// problems a streamed read meets end as located R-codes from Loader::next(), never a hang.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <png.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "TestUtil.h"
#include "data/Loader.h"
#include "data/Stream.h"

using namespace dls;
namespace fs = std::filesystem;

namespace {

// Sets the load policy for one scope.
struct Policy {
  explicit Policy(LoadMode m, uint64_t budget = 0, int threads = 3) { set_load_policy(LoadPolicy{m, budget, threads}); }
  ~Policy() { set_load_policy(LoadPolicy{}); }
};

void write_png(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; ++y) png_write_row(png, pixels.data() + size_t(y * w));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// Every batch of `epochs` epochs of `ds` under `steps` (training or not), over `ranks` rank shares, as bytes.
std::vector<std::vector<float>> batches(const DataDecl& decl, const std::vector<PipeStep>& steps, bool training,
                                        int64_t batch, int epochs, int ranks = 1, double split = 0) {
  Dataset ds = load_dataset(decl, "train");
  if (split > 0) {
    Dataset v = split_off(ds, split, 7);
    apply_pipeline(v, steps, false);
    Loader l(v, Augment{}, batch, false, 7);
    l.start_epoch(0);
    std::vector<std::vector<float>> out;
    for (int64_t k = 0; k < l.batches(); ++k) out.push_back(l.next().x);
    Augment a = apply_pipeline(ds, steps, training);
    Loader t(ds, a, batch, true, 7);
    t.start_epoch(1);
    for (int64_t k = 0; k < t.batches(); ++k) out.push_back(t.next().x);
    return out;
  }
  Augment a = apply_pipeline(ds, steps, training);
  std::vector<std::vector<float>> out;
  for (int r = 0; r < ranks; ++r) {
    Loader l(ds, a, batch, false, 11, ranks, r);
    for (int e = 0; e < epochs; ++e) {
      l.start_epoch(e);
      for (int64_t k = 0; k < l.batches(); ++k) {
        const Batch& b = l.next();
        std::vector<float> row = b.x;
        for (int32_t y : b.labels) row.push_back(float(y));
        row.insert(row.end(), b.targets.begin(), b.targets.end());
        row.push_back(float(b.lam));
        out.push_back(std::move(row));
      }
    }
  }
  return out;
}

// The batches held and streamed, compared bit for bit (memcmp: NaN-free data, -0 kept apart).
void same_batches(const DataDecl& decl, const std::vector<PipeStep>& steps, bool training, int64_t batch, int ranks = 1,
                  double split = 0) {
  std::vector<std::vector<float>> held, streamed;
  {
    Policy p(LoadMode::Memory);
    held = batches(decl, steps, training, batch, 2, ranks, split);
  }
  {
    Policy p(LoadMode::Stream);
    Dataset probe = load_dataset(decl, "train");
    REQUIRE(probe.stream != nullptr);
    CHECK(probe.x.empty());
    streamed = batches(decl, steps, training, batch, 2, ranks, split);
  }
  REQUIRE(held.size() == streamed.size());
  REQUIRE(!held.empty());
  for (size_t k = 0; k < held.size(); ++k) {
    REQUIRE(held[k].size() == streamed[k].size());
    CHECK(std::memcmp(held[k].data(), streamed[k].data(), held[k].size() * 4) == 0);
  }
}

DataDecl idx_decl(const std::string& a, const std::string& b) {
  DataDecl d;
  d.declared = true, d.format = DLS_DATA_IDX, d.path_a = a, d.path_b = b, d.sample_rank = 3;
  d.dims[0] = 1, d.dims[1] = 6, d.dims[2] = 6, d.classes = 10;
  return d;
}

// A Loader's next() that does not return within 20 s is a hang.
template <class F>
std::string within(F&& f, Diag code) {
  auto fut = std::async(std::launch::async, [&] { return dlt::fault_of(f, code); });
  if (fut.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    std::fprintf(stderr, "no answer within 20 s: the loader hangs\n");
    std::abort();  // the future's destructor would wait for ever
  }
  return fut.get();
}

const std::vector<PipeStep> kImageSteps = {{DLS_PIPE_SCALE, 1.0 / 255, 0, 0, 0},    {DLS_PIPE_NORMALIZE, 0.5, 0.25, 0, 0},
                                           {DLS_PIPE_SHUFFLE, 0, 0, 0, 0},          {DLS_PIPE_RANDOM_CROP, 4, 1, 4, 0},
                                           {DLS_PIPE_RANDOM_FLIP, 0.5, 0, 0, 0},    {DLS_PIPE_RANDOM_ROTATION, 15, 0, 0, 0},
                                           {DLS_PIPE_GAUSSIAN_NOISE, 0.1, 0, 0, 0}, {DLS_PIPE_MIXUP, 0.4, 0, 0, 0}};

}  // namespace

TEST_CASE("streamed IDX: the held split's batches, bit for bit (shuffle, crop, flip, rotation, noise, mixup, ranks)", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  std::vector<uint8_t> px(size_t(37 * 36)), lab(37);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37 + i / 5) & 0xff);
  for (size_t i = 0; i < lab.size(); ++i) lab[i] = uint8_t(i % 10);
  dlt::write_bytes(d + "/x.idx", dlt::idx_bytes(0x08, {37, 6, 6}, px));
  dlt::write_bytes(d + "/y.idx", dlt::idx_bytes(0x08, {37}, lab));
  const DataDecl decl = idx_decl(d + "/x.idx", d + "/y.idx");
  same_batches(decl, kImageSteps, true, 8);
  same_batches(decl, kImageSteps, false, 8);  // evaluation: the centre window, cut per sample
  same_batches(decl, kImageSteps, true, 8, 2);  // rank shares of each global batch
  same_batches(decl, kImageSteps, true, 6, 1, 0.25);  // split(valid: 0.25): both parts
  // shuffle(buffer: all) keeps its order: the held and the streamed split visit the same samples in the same order.
  same_batches(decl, {{DLS_PIPE_SHUFFLE, 0, 0, 0, 0}}, true, 5);
}

TEST_CASE("streamed .npy: f32 and i64 samples, one_hot and per-feature steps, bit for bit", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  const int64_t n = 29, f = 5;
  std::vector<float> x(size_t(n * f));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i)) * 3.7);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = i % 3;
  dlt::write_bytes(d + "/x.npy", dlt::npy_bytes("<f4", {n, f}, x.data(), x.size() * 4));
  dlt::write_bytes(d + "/y.npy", dlt::npy_bytes("<i8", {n}, y.data(), y.size() * 8));
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_NPY, decl.path_a = d + "/x.npy", decl.path_b = d + "/y.npy";
  decl.sample_rank = 1, decl.dims[0] = f, decl.classes = 3;
  PipeStep feat{DLS_PIPE_FEATURES, 0, 0, 0, 0};
  feat.offset = {0.1f, -0.2f, 0.3f, 0, 1}, feat.scale = {1, 2, 0.5f, 3, 0.25f};
  same_batches(decl, {{DLS_PIPE_SCALE, 2, 0, 0, 0}, feat, {DLS_PIPE_SHUFFLE, 7, 0, 0, 0}, {DLS_PIPE_GAUSSIAN_NOISE, 0.2, 0, 0, 0}},
               true, 4);
  // Integer samples through one_hot of one feature ([5] -> [5 - 1 + 4]).
  std::vector<int64_t> xi(size_t(n * f));
  for (size_t i = 0; i < xi.size(); ++i) xi[i] = int64_t(i % 4);
  dlt::write_bytes(d + "/xi.npy", dlt::npy_bytes("<i8", {n, f}, xi.data(), xi.size() * 8));
  DataDecl di = decl;
  di.path_a = d + "/xi.npy", di.dtype = DLS_I64;
  same_batches(di, {{DLS_PIPE_TO_I64, 0, 0, 0, 0}, {DLS_PIPE_ONE_HOT, 4, 2, 0, 0}, {DLS_PIPE_SHUFFLE, 0, 0, 0, 0}}, true, 6);
}

TEST_CASE("streamed CSV: indexed records parsed per batch, categorical column and label by name, bit for bit", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  std::ofstream o(d + "/t.csv");
  o << "# preamble\n" << "a,kind,b,label,c\n";
  for (int i = 0; i < 41; ++i) {
    o << (i * 0.25 - 3) << "," << (i % 3 == 0 ? "red" : i % 3 == 1 ? "green" : "blue") << "," << std::sin(i) << ","
      << (i % 2) << "," << (i * i % 17) << "\n";
    if (i == 20) o << "\n";  // a blank line: no record
  }
  o.close();
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_CSV, decl.path_a = d + "/t.csv", decl.path_b = "label";
  decl.label_column = -2, decl.csv_skip = 1, decl.sample_rank = 1, decl.dims[0] = 4, decl.classes = 2;
  decl.csv_categorical = {"kind"};
  decl.csv_categories = {{"blue", "green", "red"}};
  same_batches(decl, {{DLS_PIPE_NORMALIZE, 1, 2, 0, 0}, {DLS_PIPE_SHUFFLE, 0, 0, 0, 0}}, true, 8);
  same_batches(decl, {{DLS_PIPE_NORMALIZE, 1, 2, 0, 0}}, false, 8, 1, 0.2);
  // A bad cell is found when the file is indexed, with its line, as the held load reports it.
  std::ofstream(d + "/bad.csv") << "a,kind,b,label,c\n1,red,2,0,3\n1,red,x,1,3\n";
  DataDecl bad = decl;
  bad.path_a = d + "/bad.csv", bad.csv_skip = 0;
  std::string held, streamed;
  {
    Policy p(LoadMode::Memory);
    held = dlt::fault_of([&] { load_dataset(bad, "train"); }, Diag::R0207);
  }
  {
    Policy p(LoadMode::Stream);
    streamed = dlt::fault_of([&] { load_dataset(bad, "train"); }, Diag::R0207);
  }
  CHECK_THAT(streamed, Catch::StartsWith("R0207") && Catch::Contains("bad.csv:3:3"));
  CHECK(held == streamed);
}

TEST_CASE("streamed image folder: files decoded per batch by the pool, bit for bit", "[data][stream]") {
  const std::string d = dlt::temp_dir() + "/imgs";
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 7; ++i) {
      std::vector<uint8_t> px(8 * 8);
      for (size_t j = 0; j < px.size(); ++j) px[j] = uint8_t((j * (k + 3) + size_t(i) * 11) & 0xff);
      write_png(d + "/c" + std::to_string(k) + "/" + std::to_string(i) + ".png", 8, 8, px);
    }
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_IMAGES, decl.path_a = d, decl.sample_rank = 3;
  decl.dims[0] = 1, decl.dims[1] = 6, decl.dims[2] = 6, decl.classes = 3, decl.image_h = 6, decl.image_w = 6;
  same_batches(decl, kImageSteps, true, 4);
  same_batches(decl, kImageSteps, true, 4, 2);
}

TEST_CASE("streamed reads: a bad value, a damaged image, a file cut short end as R-codes from next(), no hang", "[data][stream]") {
  Policy p(LoadMode::Stream, 0, 4);
  const std::string d = dlt::temp_dir();
  // A NaN in record 13 of a .npy file: R0217 naming the record and the feature, when the batch holding it is made.
  const int64_t n = 40, f = 3;
  std::vector<float> x(size_t(n * f), 1.f);
  x[size_t(13 * f + 2)] = NAN;
  std::vector<int64_t> y(size_t(n), 1);
  dlt::write_bytes(d + "/x.npy", dlt::npy_bytes("<f4", {n, f}, x.data(), x.size() * 4));
  dlt::write_bytes(d + "/y.npy", dlt::npy_bytes("<i8", {n}, y.data(), y.size() * 8));
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_NPY, decl.path_a = d + "/x.npy", decl.path_b = d + "/y.npy";
  decl.sample_rank = 1, decl.dims[0] = f, decl.classes = 2;
  {
    Dataset ds = load_dataset(decl, "train");
    REQUIRE(ds.stream);
    Loader l(ds, Augment{}, 4, false, 1);
    l.start_epoch(0);
    const std::string msg = within([&] {
      for (int64_t k = 0; k < l.batches(); ++k) l.next();
    }, Diag::R0217);
    CHECK_THAT(msg, Catch::StartsWith("R0217") && Catch::Contains("record 13") && Catch::Contains("x.npy"));
    // The loader can start another epoch after a fault, and meets it again.
    l.start_epoch(1);
    CHECK_THAT(within([&] {
      for (int64_t k = 0; k < l.batches(); ++k) l.next();
    }, Diag::R0217), Catch::StartsWith("R0217"));
  }
  // A file cut short while it is read: R0265 before a batch touches its lost pages (no SIGBUS).
  std::fill(x.begin(), x.end(), 2.f);
  dlt::write_bytes(d + "/x.npy", dlt::npy_bytes("<f4", {n, f}, x.data(), x.size() * 4));
  {
    Dataset ds = load_dataset(decl, "train");
    REQUIRE(ds.stream);
    Loader l(ds, Augment{}, 4, false, 1);
    l.start_epoch(0);
    l.next();
    REQUIRE(::truncate((d + "/x.npy").c_str(), 200) == 0);
    CHECK_THAT(within([&] {
      for (int64_t k = 1; k < l.batches(); ++k) l.next();
    }, Diag::R0265), Catch::StartsWith("R0265") && Catch::Contains("x.npy"));
  }
  // A file already short when opened: R0203, as the held load says.
  CHECK_THAT(dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0203), Catch::StartsWith("R0203"));
  // A damaged image in a streamed folder: R0220 naming the file, from the batch that holds it.
  const std::string im = d + "/imgs";
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 6; ++i) write_png(im + "/c" + std::to_string(k) + "/" + std::to_string(i) + ".png", 4, 4, std::vector<uint8_t>(16, uint8_t(40 * i)));
  {
    std::ifstream in(im + "/c1/3.png", std::ios::binary);
    std::vector<char> b((std::istreambuf_iterator<char>(in)), {});
    b.resize(b.size() / 2);
    std::ofstream(im + "/c1/3.png", std::ios::binary).write(b.data(), std::streamsize(b.size()));
  }
  DataDecl idecl;
  idecl.declared = true, idecl.format = DLS_DATA_IMAGES, idecl.path_a = im, idecl.sample_rank = 3;
  idecl.dims[0] = 1, idecl.dims[1] = 4, idecl.dims[2] = 4, idecl.classes = 2;
  Dataset ids = load_dataset(idecl, "train");
  REQUIRE(ids.stream);
  Loader il(ids, Augment{}, 3, false, 1);
  il.start_epoch(0);
  CHECK_THAT(within([&] {
    for (int64_t k = 0; k < il.batches(); ++k) il.next();
  }, Diag::R0220), Catch::StartsWith("R0220") && Catch::Contains("c1/3.png"));
}

TEST_CASE("load policy: auto streams above the budget, and a streamed split holds its labels and index, not its samples", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  std::vector<uint8_t> px(size_t(64 * 36)), lab(64, 3);
  dlt::write_bytes(d + "/x.idx", dlt::idx_bytes(0x08, {64, 6, 6}, px));
  dlt::write_bytes(d + "/y.idx", dlt::idx_bytes(0x08, {64}, lab));
  dlt::write_bytes(d + "/x.idx.gz", dlt::idx_bytes(0x08, {64, 6, 6}, px), true);
  const DataDecl decl = idx_decl(d + "/x.idx", d + "/y.idx");
  const uint64_t decoded = 64 * 36 * 4;
  {
    Policy p(LoadMode::Auto, decoded);  // the samples fit exactly: held
    Dataset ds = load_dataset(decl, "train");
    CHECK(!ds.stream);
    CHECK(held_bytes(ds) == decoded + 64 * 4);
  }
  {
    Policy p(LoadMode::Auto, decoded - 1);  // one byte more than the budget: streamed
    Dataset ds = load_dataset(decl, "train");
    REQUIRE(ds.stream);
    CHECK(ds.stream->decoded == decoded);
    CHECK(held_bytes(ds) == 64 * 4);  // the labels; an IDX file needs no index
    // The loader's queue (3 batches of 8 rows: samples and labels), a sample per pool thread being converted
    // (read and after its steps), and the mapping's pages of 3 batches.
    CHECK(prefetch_bytes(ds, 36, 8) == 3 * 8 * (36 + 1) * 4 + 3 * (36 + 36) * 4 + 3 * 8 * (36 + 2 * 4096));
  }
  {
    // A gzip file cannot be mapped: held, whatever the budget.
    Policy p(LoadMode::Stream);
    Dataset ds = load_dataset(idx_decl(d + "/x.idx.gz", d + "/y.idx"), "train");
    CHECK(!ds.stream);
    CHECK(ds.x.size() == 64 * 36);
  }
}

TEST_CASE("a mapped file cut short between the check and a batch's reads: R0265 from the read, never SIGBUS", "[data][stream]") {
  Policy p(LoadMode::Stream, 0, 4);
  const std::string d = dlt::temp_dir();
  // 64 samples of 1024 f32 (4 KiB each): every sample past the first page lies on pages of its own.
  const int64_t n = 64, f = 1024;
  std::vector<float> x(size_t(n * f), 0.5f);
  std::vector<int64_t> y(size_t(n), 1);
  dlt::write_bytes(d + "/x.npy", dlt::npy_bytes("<f4", {n, f}, x.data(), x.size() * 4));
  dlt::write_bytes(d + "/y.npy", dlt::npy_bytes("<i8", {n}, y.data(), y.size() * 8));
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_NPY, decl.path_a = d + "/x.npy", decl.path_b = d + "/y.npy";
  decl.sample_rank = 1, decl.dims[0] = f, decl.classes = 2;
  Dataset ds = load_dataset(decl, "train");
  REQUIRE(ds.stream);
  std::vector<float> out(static_cast<size_t>(f));
  read_sample(ds, 40, out.data());
  CHECK(out[0] == 0.5f);
  ds.stream->src->check();  // the check before a batch passes: the file is whole
  // Cut short after the check: the pages of sample 40 are gone. The read itself says so, on this thread and on the
  // loader's pool threads, and says it again on the next read (the process goes on).
  REQUIRE(::truncate((d + "/x.npy").c_str(), 4096) == 0);
  for (int k = 0; k < 2; ++k)
    CHECK_THAT(within([&] { read_sample(ds, 40, out.data()); }, Diag::R0265),
               Catch::StartsWith("R0265") && Catch::Contains("x.npy:byte 4096") && Catch::Contains("it is 4096 bytes now"));
  RowPool pool(3);
  CHECK_THAT(within([&] {
    pool.run(n, [&](int64_t i) {
      std::vector<float> row(static_cast<size_t>(f));
      read_sample(ds, i, row.data());
    });
  }, Diag::R0265), Catch::StartsWith("R0265"));
  // A SIGBUS outside a guarded read takes the action the handler replaced: a child process whose SIGBUS action was
  // the default one reads the lost page unguarded and ends with it.
  const pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGBUS, SIG_DFL);
    guard_sigbus();
    const int fd = ::open((d + "/x.npy").c_str(), O_RDONLY);
    void* m = ::mmap(nullptr, size_t(n * f * 4), PROT_READ, MAP_SHARED, fd, 0);
    volatile const char* c = static_cast<const char*>(m);
    (void)c[40 * 4096];
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS));
}

TEST_CASE("a CSV file read per batch and cut short after the check: R0265 from the read", "[data][stream]") {
  Policy p(LoadMode::Stream, 0, 2);
  const std::string d = dlt::temp_dir();
  std::string text = "a,b,label\n";
  for (int i = 0; i < 4000; ++i) text += std::to_string(i % 7) + ".25," + std::to_string(i % 5) + ".5," + std::to_string(i % 2) + "\n";
  std::ofstream(d + "/t.csv") << text;
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_CSV, decl.path_a = d + "/t.csv", decl.path_b = "label";
  decl.label_column = -2, decl.sample_rank = 1, decl.dims[0] = 2, decl.classes = 2;
  Dataset ds = load_dataset(decl, "train");
  REQUIRE(ds.stream);
  std::vector<float> out(2);
  read_sample(ds, 3900, out.data());
  ds.stream->src->check();
  REQUIRE(::truncate((d + "/t.csv").c_str(), 100) == 0);
  CHECK_THAT(within([&] { read_sample(ds, 3900, out.data()); }, Diag::R0265), Catch::StartsWith("R0265") && Catch::Contains("t.csv"));
}

namespace {
// Every batch of a split with several sample fields: the first field, each further field's rows, labels and lam.
std::vector<std::vector<float>> field_batches(const DataDecl& decl, const std::vector<PipeStep>& steps, bool training,
                                              int64_t batch, int ranks = 1, double split = 0) {
  Dataset ds = load_dataset(decl, "train");
  std::vector<std::vector<float>> out;
  auto take = [&](Loader& l, int64_t epoch) {
    l.start_epoch(epoch);
    for (int64_t k = 0; k < l.batches(); ++k) {
      const Batch& b = l.next();
      std::vector<float> row = b.x;
      for (const auto& f : b.fields) row.insert(row.end(), f.begin(), f.end());
      for (int32_t y : b.labels) row.push_back(float(y));
      for (int32_t y : b.partner_labels) row.push_back(float(y));
      row.push_back(float(b.lam));
      out.push_back(std::move(row));
    }
  };
  if (split > 0) {
    Dataset v = split_off(ds, split, 7);
    apply_pipeline(v, steps, false);
    Loader l(v, Augment{}, batch, false, 7);
    take(l, 0);
  }
  Augment a = apply_pipeline(ds, steps, training);
  for (int r = 0; r < ranks; ++r) {
    Loader l(ds, a, batch, false, 11, ranks, r);
    take(l, 0);
    take(l, 1);
  }
  return out;
}

void same_field_batches(const DataDecl& decl, const std::vector<PipeStep>& steps, bool training, int64_t batch, int ranks = 1,
                        double split = 0) {
  std::vector<std::vector<float>> held, streamed;
  {
    Policy p(LoadMode::Memory);
    held = field_batches(decl, steps, training, batch, ranks, split);
  }
  {
    Policy p(LoadMode::Stream);
    streamed = field_batches(decl, steps, training, batch, ranks, split);
  }
  REQUIRE(held.size() == streamed.size());
  REQUIRE(!held.empty());
  for (size_t k = 0; k < held.size(); ++k) {
    REQUIRE(held[k].size() == streamed[k].size());
    CHECK(std::memcmp(held[k].data(), streamed[k].data(), held[k].size() * 4) == 0);
  }
}

// A CSV file of 16 image columns (a 1x4x4 image), the label, then 3 measurements: `img: columns(0, 16), kind:
// column(16), meta: columns(17, 20)`.
DataDecl grouped_csv(const std::string& d, int n = 23) {
  std::ofstream o(d + "/g.csv");
  for (int c = 0; c < 20; ++c) o << (c ? "," : "") << "c" << c;
  o << "\n";
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 16; ++c) o << ((i * 7 + c * 3) % 11) << ",";
    o << (i % 3);
    for (int c = 0; c < 3; ++c) o << "," << (i * 0.5 - c * 1.25);
    o << "\n";
  }
  o.close();
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_CSV, decl.path_a = d + "/g.csv", decl.path_b = "kind", decl.label_column = -2;
  decl.csv_label_by_index = true, decl.csv_label_index = 16;
  decl.sample_rank = 3, decl.dims[0] = 1, decl.dims[1] = 4, decl.dims[2] = 4, decl.classes = 3;
  decl.sample_name = "img";
  DataDecl::Field meta;
  meta.name = "meta", meta.rank = 1, meta.dims[0] = 3;
  decl.fields = {meta};
  decl.csv_field_columns = {{0, 16}, {17, 20}};
  return decl;
}
}  // namespace

TEST_CASE("CSV column groups: each field takes its columns, held and streamed alike, with augmentation and mixing", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  const DataDecl decl = grouped_csv(d);
  for (LoadMode m : {LoadMode::Memory, LoadMode::Stream}) {
    Policy p(m);
    Dataset ds = load_dataset(decl, "train");
    CHECK((ds.stream != nullptr) == (m == LoadMode::Stream));
    REQUIRE(ds.n == 23);
    REQUIRE(ds.sample_numel == 16);
    REQUIRE(ds.rank == 3);
    REQUIRE(ds.fields.size() == 1);
    REQUIRE(ds.fields[0].sample_numel == 3);
    CHECK(ds.fields[0].name == "meta");
    // Record 5's columns, as the file has them.
    std::vector<float> img(16), meta(3);
    read_sample(ds, 5, img.data());
    read_sample(ds.fields[0], 5, meta.data());
    for (int c = 0; c < 16; ++c) CHECK(img[size_t(c)] == float((5 * 7 + c * 3) % 11));
    for (int c = 0; c < 3; ++c) CHECK(meta[size_t(c)] == float(5 * 0.5 - c * 1.25));
    CHECK(ds.labels[5] == 2);
  }
  PipeStep metaScale{DLS_PIPE_FEATURES, 0, 0, 0, 0};
  metaScale.offset = {0.5f, -1, 2}, metaScale.scale = {2, 0.5f, 0.25f}, metaScale.field = 1;
  PipeStep metaNorm{DLS_PIPE_NORMALIZE, 0.25, 2, 0, 0};
  metaNorm.field = 1;
  const std::vector<PipeStep> steps = {{DLS_PIPE_SCALE, 1.0 / 11, 0, 0, 0}, metaScale, metaNorm, {DLS_PIPE_SHUFFLE, 0, 0, 0, 0},
                                       {DLS_PIPE_RANDOM_CROP, 4, 1, 4, 0},  {DLS_PIPE_RANDOM_FLIP, 0.5, 0, 0, 0},
                                       {DLS_PIPE_GAUSSIAN_NOISE, 0.1, 0, 0, 0}, {DLS_PIPE_MIXUP, 0.4, 0, 0, 0}};
  same_field_batches(decl, steps, true, 8);
  same_field_batches(decl, steps, false, 8);
  same_field_batches(decl, steps, true, 8, 2);       // rank shares of each global batch
  same_field_batches(decl, steps, true, 6, 1, 0.25);  // split(valid: 0.25): both parts
  std::vector<PipeStep> cut = steps;
  cut.back() = {DLS_PIPE_CUTMIX, 1, 0, 0, 0};
  same_field_batches(decl, cut, true, 8);
}

TEST_CASE("mixup and cutmix mix every sample field of a pair with the batch's lam", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  const DataDecl decl = grouped_csv(d, 16);
  for (int32_t mix : {int32_t(DLS_PIPE_MIXUP), int32_t(DLS_PIPE_CUTMIX)}) {
    Dataset ds = load_dataset(decl, "train");
    Augment a = apply_pipeline(ds, {{DLS_PIPE_SHUFFLE, 0, 0, 0, 0}, {mix, 1, 0, 0, 0}}, true);
    Loader l(ds, a, 8, true, 5);
    int mixedBatches = 0;
    for (int64_t epoch = 0; epoch < 6; ++epoch) {
      l.start_epoch(epoch);
      for (int64_t k = 0; k < l.batches(); ++k) {
        const Batch& b = l.next();
        mixedBatches += b.lam < 1;
        const double lam = b.lam;
        for (int64_t r = 0; r < 8; ++r) {
          // Row r's partner is the row before it (its label says which sample it is among those of its class).
          const int64_t pr = (r + 7) % 8;
          REQUIRE(b.partner_labels[size_t(r)] == b.labels[size_t(pr)]);
          // The meta row is lam * its own + (1 - lam) * its partner's (within float rounding: the runtime may fuse
          // the multiply-add): a sample of its class and one of its partner's give it.
          int found = 0;
          std::vector<float> own(3), other(3);
          for (int64_t i = 0; i < ds.n; ++i)
            for (int64_t j = 0; j < ds.n; ++j) {
              if (ds.labels[size_t(i)] != b.labels[size_t(r)] || ds.labels[size_t(j)] != b.labels[size_t(pr)]) continue;
              read_sample(ds.fields[0], i, own.data());
              read_sample(ds.fields[0], j, other.data());
              bool same = true;
              for (int e = 0; e < 3; ++e)
                same &= std::fabs(b.fields[0][size_t(r * 3 + e)] - (lam * own[size_t(e)] + (1 - lam) * other[size_t(e)])) < 1e-5;
              found += same;
            }
          CHECK(found >= 1);
        }
      }
    }
    CHECK(mixedBatches > 0);  // some batch mixes (a cutmix box may cover nothing: lam 1)
  }
}

TEST_CASE("CSV column groups against the file: past its columns, over the label's, a column left out (R0260)", "[data][stream]") {
  const std::string d = dlt::temp_dir();
  const DataDecl good = grouped_csv(d);
  auto refused = [&](const DataDecl& decl, const std::string& what) {
    for (LoadMode m : {LoadMode::Memory, LoadMode::Stream}) {
      Policy p(m);
      const std::string msg = dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0260);
      CHECK_THAT(msg, Catch::StartsWith("R0260") && Catch::Contains("g.csv") && Catch::Contains("20 columns") && Catch::Contains(what));
    }
  };
  DataDecl past = good;
  past.csv_field_columns = {{0, 16}, {17, 21}};
  past.fields[0].dims[0] = 4;
  refused(past, "columns [17, 21), past the last one");
  DataDecl over = good;
  over.csv_field_columns = {{0, 17}, {17, 20}};
  over.dims[0] = 17, over.sample_rank = 1, over.dims[1] = over.dims[2] = 1;
  refused(over, "column 16 is taken by sample field `img` and by the label");
  DataDecl left = good;
  left.csv_field_columns = {{0, 16}, {18, 20}};
  left.fields[0].dims[0] = 2;
  refused(left, "column 17 is neither the label nor in a sample field's columns");
}

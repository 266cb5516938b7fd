// Readers, validation diagnostics, pipeline and loader.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "TestUtil.h"
#include "CsvTable.h"
#include "data/Loader.h"

using namespace dls;

namespace {
DataDecl idx_decl(const std::string& a, const std::string& b, int64_t classes = 10) {
  DataDecl d;
  d.declared = true, d.format = DLS_DATA_IDX, d.path_a = a, d.path_b = b, d.sample_rank = 3;
  d.dims[0] = 1, d.dims[1] = 4, d.dims[2] = 4, d.classes = classes;
  return d;
}
std::vector<uint8_t> pixels(int n, int size) {
  std::vector<uint8_t> v(size_t(n * size));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i * 7);
  return v;
}
}  // namespace

TEST_CASE("IDX raw and gzipped", "[data]") {
  std::string d = dlt::temp_dir();
  auto img = dlt::idx_bytes(0x08, {5, 4, 4}, pixels(5, 16));
  auto lab = dlt::idx_bytes(0x08, {5}, {0, 1, 2, 3, 9});
  dlt::write_bytes(d + "/x.idx", img);
  dlt::write_bytes(d + "/y.idx.gz", lab, true);
  Dataset ds = load_dataset(idx_decl(d + "/x.idx", d + "/y.idx.gz"), "train");
  CHECK(ds.n == 5);
  CHECK(ds.x[17] == float(uint8_t(17 * 7)));
  CHECK(ds.labels[4] == 9);
}

TEST_CASE("data diagnostics", "[data]") {
  std::string d = dlt::temp_dir();
  auto img = dlt::idx_bytes(0x08, {5, 4, 4}, pixels(5, 16));
  auto lab = dlt::idx_bytes(0x08, {5}, {0, 1, 2, 3, 4});
  dlt::write_bytes(d + "/x.idx", img);
  dlt::write_bytes(d + "/y.idx", lab);
  // missing file
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/nope", d + "/y.idx"), "train"); }, Diag::R0201),
             Catch::StartsWith("R0201") && Catch::Contains("nope"));
  // truncated gzip
  dlt::write_bytes(d + "/x.gz", img, true);
  {
    FILE* f = std::fopen((d + "/x.gz").c_str(), "rb");
    std::vector<uint8_t> b(4096);
    b.resize(std::fread(b.data(), 1, b.size(), f));
    std::fclose(f);
    b.resize(b.size() / 2);
    dlt::write_bytes(d + "/trunc.gz", b);
  }
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/trunc.gz", d + "/y.idx"), "train"); }, Diag::R0202),
             Catch::StartsWith("R0202") && Catch::Contains("trunc.gz") && Catch::Contains("byte"));
  // corrupt gzip body
  {
    std::vector<uint8_t> b = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    dlt::write_bytes(d + "/bad.gz", b);
  }
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/bad.gz", d + "/y.idx"), "train"); }, Diag::R0202),
             Catch::StartsWith("R0202"));
  // bad magic
  dlt::write_bytes(d + "/magic.idx", {1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/magic.idx", d + "/y.idx"), "train"); }, Diag::R0204),
             Catch::StartsWith("R0204"));
  // shape disagrees with the declaration
  dlt::write_bytes(d + "/x5.idx", dlt::idx_bytes(0x08, {5, 5, 5}, pixels(5, 25)));
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/x5.idx", d + "/y.idx"), "train"); }, Diag::R0205),
             Catch::StartsWith("R0205") && Catch::Contains("[5, 5]"));
  // truncated IDX payload
  auto cut = img;
  cut.resize(cut.size() - 10);
  dlt::write_bytes(d + "/cut.idx", cut);
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/cut.idx", d + "/y.idx"), "train"); }, Diag::R0203),
             Catch::StartsWith("R0203"));
  // label out of range
  dlt::write_bytes(d + "/ybig.idx", dlt::idx_bytes(0x08, {5}, {0, 1, 12, 3, 4}));
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/x.idx", d + "/ybig.idx"), "train"); }, Diag::R0209),
             Catch::StartsWith("R0209") && Catch::Contains("record 2"));
  // count mismatch
  dlt::write_bytes(d + "/y4.idx", dlt::idx_bytes(0x08, {4}, {0, 1, 2, 3}));
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/x.idx", d + "/y4.idx"), "train"); }, Diag::R0212),
             Catch::StartsWith("R0212"));
  // f32 elements for a u8 sample: refused, both types named
  {
    std::vector<uint8_t> floats(5 * 16 * 4, 0);
    dlt::write_bytes(d + "/xf.idx", dlt::idx_bytes(0x0D, {5, 4, 4}, floats));
    DataDecl u8 = idx_decl(d + "/xf.idx", d + "/y.idx");
    u8.dtype = DLS_U8;
    CHECK_THAT(dlt::fault_of([&] { load_dataset(u8, "train"); }, Diag::R0216), Catch::Contains("f32") && Catch::Contains("u8"));
  }
  // bytes after the data the header describes, raw and after a gzip stream
  auto longer = img;
  longer.push_back(0);
  dlt::write_bytes(d + "/long.idx", longer);
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/long.idx", d + "/y.idx"), "train"); }, Diag::R0219),
             Catch::Contains("byte 96") && Catch::Contains("1 bytes after"));
  // a split without samples
  dlt::write_bytes(d + "/x0.idx", dlt::idx_bytes(0x08, {0, 4, 4}, {}));
  dlt::write_bytes(d + "/y0.idx", dlt::idx_bytes(0x08, {0}, {}));
  CHECK_THAT(dlt::fault_of([&] { load_dataset(idx_decl(d + "/x0.idx", d + "/y0.idx"), "test"); }, Diag::R0213),
             Catch::Contains("holds no samples") && Catch::Contains("'test'"));
}

TEST_CASE("CSV reader and diagnostics", "[data]") {
  std::string d = dlt::temp_dir();
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_CSV, decl.label_column = 2, decl.sample_rank = 1, decl.dims[0] = 2;
  decl.classes = 3;
  auto put = [&](const std::string& name, const std::string& text) {
    dlt::write_bytes(d + "/" + name, std::vector<uint8_t>(text.begin(), text.end()));
    decl.path_a = d + "/" + name;
  };
  put("ok.csv", "a,b,label\n1.5,2,0\n3,-4e-1,2\n");
  Dataset ds = load_dataset(decl, "train");
  CHECK(ds.n == 2);
  CHECK(ds.x[3] == Approx(-0.4));
  CHECK(ds.labels[1] == 2);
  put("ragged.csv", "a,b,label\n1,2,0\n3,1\n");
  CHECK_THAT(dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0206), Catch::Contains("line 3"));
  put("nan.csv", "a,b,label\n1,2,0\n3,abc,1\n");
  CHECK_THAT(dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0207), Catch::Contains("the cell is text, not a number") && Catch::Contains("line 3") && !Catch::Contains("abc"));
  put("nanlabel.csv", "a,b,label\n1,2,nan\n");
  CHECK_THAT(dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0208), Catch::StartsWith("R0208"));
  put("range.csv", "a,b,label\n1,2,3\n");
  CHECK_THAT(dlt::fault_of([&] { load_dataset(decl, "train"); }, Diag::R0209), Catch::StartsWith("R0209"));
}

TEST_CASE("NPY reader: versions and dtypes", "[data]") {
  std::string d = dlt::temp_dir();
  float f[6] = {1, 2, 3, 4, 5, 6};
  double g[6] = {1, 2, 3, 4, 5, 6.5};
  uint8_t u[6] = {1, 2, 3, 4, 5, 255};
  int32_t i4[3] = {0, 2, 1};
  int64_t i8[3] = {2, 1, 0};
  dlt::write_bytes(d + "/f.npy", dlt::npy_bytes("<f4", {3, 2}, f, sizeof f));
  dlt::write_bytes(d + "/g.npy", dlt::npy_bytes("<f8", {3, 2}, g, sizeof g, 2));
  dlt::write_bytes(d + "/u.npy", dlt::npy_bytes("|u1", {3, 2}, u, sizeof u));
  dlt::write_bytes(d + "/i4.npy", dlt::npy_bytes("<i4", {3}, i4, sizeof i4));
  dlt::write_bytes(d + "/i8.npy", dlt::npy_bytes("<i8", {3}, i8, sizeof i8));
  CHECK(read_npy(d + "/f.npy").values[5] == 6);
  CHECK(read_npy(d + "/g.npy").values[5] == 6.5);
  CHECK(read_npy(d + "/u.npy").values[5] == 255);
  DataDecl decl;
  decl.declared = true, decl.format = DLS_DATA_NPY, decl.sample_rank = 1, decl.dims[0] = 2, decl.classes = 3;
  decl.path_a = d + "/f.npy", decl.path_b = d + "/i4.npy";
  CHECK(load_dataset(decl, "train").labels[1] == 2);
  decl.path_b = d + "/i8.npy";
  CHECK(load_dataset(decl, "train").labels[0] == 2);
  dlt::write_bytes(d + "/c.npy", dlt::npy_bytes("<c8", {3}, f, 24));
  CHECK_THAT(dlt::fault_of([&] { read_npy(d + "/c.npy"); }, Diag::R0211), Catch::Contains("<c8"));
  dlt::write_bytes(d + "/h.npy", {0x93, 'N', 'O', 'P', 'E', 0, 0, 0, 0, 0, 0});
  CHECK_THAT(dlt::fault_of([&] { read_npy(d + "/h.npy"); }, Diag::R0210), Catch::StartsWith("R0210"));
  auto trunc = dlt::npy_bytes("<f4", {3, 2}, f, sizeof f);
  trunc.resize(trunc.size() - 4);
  dlt::write_bytes(d + "/t.npy", trunc);
  CHECK_THAT(dlt::fault_of([&] { read_npy(d + "/t.npy"); }, Diag::R0203), Catch::StartsWith("R0203"));
}

TEST_CASE("pipeline and loader: deterministic shuffle, drop last, padded last batch, augmentation", "[data]") {
  Dataset ds;
  ds.n = 10, ds.rank = 3, ds.dims[0] = 1, ds.dims[1] = 2, ds.dims[2] = 2, ds.sample_numel = 4;
  for (int i = 0; i < 40; ++i) ds.x.push_back(float(i));
  for (int i = 0; i < 10; ++i) ds.labels.push_back(i % 3);
  Dataset copy = ds;
  std::vector<PipeStep> steps = {{DLS_PIPE_SCALE, 2, 0, 0, 0}, {DLS_PIPE_NORMALIZE, 1, 2, 0, 0}, {DLS_PIPE_SHUFFLE, 0, 0, 0, 0}};
  Augment a = apply_pipeline(ds, steps, true);
  CHECK(a.shuffle);
  CHECK(ds.x[3] == Approx((3 * 2 - 1) / 2.0));
  CHECK(epoch_order(10, true, 5, 1) == epoch_order(10, true, 5, 1));
  CHECK(epoch_order(10, true, 5, 1) != epoch_order(10, true, 5, 2));
  {
    Loader l(ds, a, 4, true, 5);
    CHECK(l.batches() == 2);
    for (int e = 0; e < 2; ++e) {
      l.start_epoch(e);
      auto order = epoch_order(10, true, 5, e);
      for (int k = 0; k < 2; ++k) {
        const Batch& b = l.next();
        CHECK(b.valid == 4);
        for (int r = 0; r < 4; ++r) CHECK(b.labels[size_t(r)] == ds.labels[size_t(order[size_t(k * 4 + r)])]);
      }
    }
  }
  {
    Augment none;
    Loader l(copy, none, 4, false, 5);
    CHECK(l.batches() == 3);
    l.start_epoch(0);
    l.next(), l.next();
    const Batch& last = l.next();
    CHECK(last.valid == 2);
    CHECK(last.x[0] == 32.f);
    CHECK(last.x[15] == 0.f);
  }
  // random crop with padding and flip keep the shape and are deterministic
  std::vector<PipeStep> aug = {{DLS_PIPE_RANDOM_CROP, 2, 1, 0, 0}, {DLS_PIPE_RANDOM_FLIP, 0.5, 0, 0, 0}};
  Dataset c2 = copy;
  Augment ag = apply_pipeline(c2, aug, true);
  float o1[4], o2[4];
  augment_sample(c2, ag, 3, 9, 1, o1);
  augment_sample(c2, ag, 3, 9, 1, o2);
  CHECK(std::memcmp(o1, o2, sizeof o1) == 0);
  Augment ev = apply_pipeline(c2, aug, false);
  CHECK(ev.crop == 0);
  CHECK(ev.flip == 0);
}

TEST_CASE("pipeline: shuffle(buffer: k) shuffles through a window of k samples", "[data]") {
  Dataset ds;
  ds.n = 200, ds.rank = 1, ds.dims[0] = 1, ds.sample_numel = 1;
  ds.x.assign(200, 0.f);
  CHECK(apply_pipeline(ds, {{DLS_PIPE_SHUFFLE, 8, 0, 0, 0}}, true).shuffle_buffer == 8);
  CHECK(apply_pipeline(ds, {{DLS_PIPE_SHUFFLE, 0, 0, 0, 0}}, true).shuffle_buffer == 0);  // all
  CHECK_FALSE(apply_pipeline(ds, {{DLS_PIPE_SHUFFLE, 8, 0, 0, 0}}, false).shuffle);       // evaluation keeps the order
  std::vector<int64_t> identity(200);
  for (int64_t i = 0; i < 200; ++i) identity[size_t(i)] = i;
  for (int64_t e = 0; e < 3; ++e) {
    INFO("epoch " << e);
    CHECK(epoch_order(200, true, 5, e, 1) == identity);  // a window of one sample: the split's order
    // A window of 8: a permutation in which no sample comes more than 7 places early, not the identity;
    // the whole-split shuffle moves some sample much further.
    auto w8 = epoch_order(200, true, 5, e, 8);
    auto sorted = w8;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);
    CHECK(w8 != identity);
    CHECK(w8 == epoch_order(200, true, 5, e, 8));
    int64_t earliest = 0, all_earliest = 0;
    auto all = epoch_order(200, true, 5, e, 0);
    for (int64_t pos = 0; pos < 200; ++pos) {
      earliest = std::max(earliest, w8[size_t(pos)] - pos);
      all_earliest = std::max(all_earliest, all[size_t(pos)] - pos);
    }
    CHECK(earliest <= 7);
    CHECK(earliest >= 1);
    CHECK(all_earliest > 50);
    CHECK(epoch_order(200, true, 5, e, 200) == all);  // a window of the whole split is the uniform shuffle
  }
}

TEST_CASE("pipeline: reshape before random_crop, to_i32, steps on the targets", "[data]") {
  // Flat [16] samples reshaped to [1, 4, 4]: random_crop(4) then works on the reshaped sample.
  Dataset ds;
  ds.name = "flat";
  ds.n = 2, ds.rank = 1, ds.dims[0] = 16, ds.sample_numel = 16;
  for (int i = 0; i < 32; ++i) ds.x.push_back(float(i % 5));
  ds.targets = {100.f, 300.f}, ds.target_numel = 1;
  std::vector<PipeStep> flat_crop = {{DLS_PIPE_RANDOM_CROP, 4, 1, 0, 0}};
  Dataset no_reshape = ds;
  CHECK_THROWS_AS(apply_pipeline(no_reshape, flat_crop, true), Fault);  // R0205: a flat sample has no H, W
  std::vector<PipeStep> steps = {{DLS_PIPE_RESHAPE, 1, 4, 4, 0},
                                 {DLS_PIPE_TO_I32, 0, 0, 0, 0},
                                 {DLS_PIPE_RANDOM_CROP, 4, 1, 0, 0},
                                 {DLS_PIPE_SCALE | DLS_PIPE_LABELS, 0.01, 0, 0, 0},
                                 {DLS_PIPE_NORMALIZE | DLS_PIPE_LABELS, 2, 0.5, 0, 0}};
  Augment a = apply_pipeline(ds, steps, true);
  CHECK(ds.rank == 3);
  CHECK((ds.dims[0] == 1 && ds.dims[1] == 4 && ds.dims[2] == 4));
  CHECK(a.crop == 4);
  CHECK(ds.x[7] == 2.f);  // samples untouched by the target steps
  CHECK(ds.targets[0] == Approx((1.0 - 2) / 0.5));
  CHECK(ds.targets[1] == Approx((3.0 - 2) / 0.5));
  // A reshape to another element count, and to_i32 of a value that is no integer, are data diagnostics.
  Dataset bad = ds;
  std::vector<PipeStep> wrong = {{DLS_PIPE_RESHAPE, 1, 5, 5, 0}};
  CHECK_THROWS_AS(apply_pipeline(bad, wrong, true), Fault);
  Dataset frac = ds;
  frac.x[20] = 1.5f;
  try {
    apply_pipeline(frac, {{DLS_PIPE_TO_I32, 0, 0, 0, 0}}, false);
    FAIL("to_i32 accepted 1.5");
  } catch (const Fault& f) {
    CHECK(f.code == Diag::R0215);
  }
}

TEST_CASE("pipeline: random_flip's axis, random_crop([h, w]), repeat(count), onehot labels", "[data]") {
  // One [1, 2, 3] sample: rows {0 1 2} {3 4 5}.
  Dataset ds;
  ds.name = "train";
  ds.n = 1, ds.rank = 3, ds.dims[0] = 1, ds.dims[1] = 2, ds.dims[2] = 3, ds.sample_numel = 6;
  ds.x = {0, 1, 2, 3, 4, 5};
  ds.labels = {0};
  float out[6];
  Dataset h = ds;
  augment_sample(h, apply_pipeline(h, {{DLS_PIPE_RANDOM_FLIP, 1, 0, 0, 0}}, true), 0, 1, 0, out);
  CHECK(std::vector<float>(out, out + 6) == std::vector<float>{2, 1, 0, 5, 4, 3});  // horizontal: mirrors W
  Dataset v = ds;
  augment_sample(v, apply_pipeline(v, {{DLS_PIPE_RANDOM_FLIP, 1, 1, 0, 0}}, true), 0, 1, 0, out);
  CHECK(std::vector<float>(out, out + 6) == std::vector<float>{3, 4, 5, 0, 1, 2});  // vertical: mirrors H
  // random_crop([2, 3]) of a 2x3 sample (pad 0): the sample itself; [3, 3] does not fit it.
  Dataset c = ds;
  Augment ca = apply_pipeline(c, {{DLS_PIPE_RANDOM_CROP, 2, 0, 3, 0}}, true);
  CHECK((ca.crop == 2 && ca.crop_w == 3));
  augment_sample(c, ca, 0, 1, 0, out);
  CHECK(std::vector<float>(out, out + 6) == ds.x);
  Dataset c3 = ds;
  CHECK_THROWS_AS(apply_pipeline(c3, {{DLS_PIPE_RANDOM_CROP, 3, 0, 3, 0}}, true), Fault);
  // A smaller window, [1, 2]: in training a random one of the sample (its rows), in evaluation the centre one.
  Dataset s1 = ds;
  Augment sa = apply_pipeline(s1, {{DLS_PIPE_RANDOM_CROP, 1, 0, 2, 0}}, true);
  CHECK(sa.row_numel(s1) == 2);
  for (int64_t e = 0; e < 8; ++e) {
    float w[2];
    augment_sample(s1, sa, 0, 3, e, w);
    const bool inside = (w[0] == 0 || w[0] == 1 || w[0] == 3 || w[0] == 4) && w[1] == w[0] + 1;
    CHECK(inside);
  }
  Dataset s2 = ds;
  Augment ea = apply_pipeline(s2, {{DLS_PIPE_RANDOM_CROP, 1, 0, 2, 0}}, false);
  CHECK(ea.crop == 0);
  CHECK((s2.dims[1] == 1 && s2.dims[2] == 2 && s2.sample_numel == 2));
  CHECK(s2.x == std::vector<float>{0, 1});  // rows (2 - 1) / 2 = 0, columns (3 - 2) / 2 = 0
  // repeat(3): a training epoch of 3 passes over 4 samples (12 rows: 3 batches of 5, the last of 2), each pass
  // in its own shuffled order; evaluation reads each sample once.
  Dataset r;
  r.n = 4, r.rank = 1, r.dims[0] = 1, r.sample_numel = 1;
  r.x = {0, 1, 2, 3};
  r.labels = {0, 1, 2, 3};
  Augment ra = apply_pipeline(r, {{DLS_PIPE_SHUFFLE, 0, 0, 0, 0}, {DLS_PIPE_REPEAT, 3, 0, 0, 0}}, true);
  CHECK(ra.repeat == 3);
  CHECK(apply_pipeline(r, {{DLS_PIPE_REPEAT, 3, 0, 0, 0}}, false).repeat == 1);
  {
    Loader l(r, ra, 5, false, 7);
    REQUIRE(l.batches() == 3);
    l.start_epoch(0);
    std::vector<int> seen;
    for (int k = 0; k < 3; ++k) {
      const Batch& b = l.next();
      CHECK(b.valid == (k < 2 ? 5 : 2));
      for (int64_t i = 0; i < b.valid; ++i) seen.push_back(b.labels[size_t(i)]);
    }
    REQUIRE(seen.size() == 12);
    for (int pass = 0; pass < 3; ++pass) {
      std::vector<int> p(seen.begin() + pass * 4, seen.begin() + pass * 4 + 4);
      std::sort(p.begin(), p.end());
      CHECK(p == std::vector<int>{0, 1, 2, 3});  // every sample once per pass
    }
  }
  // onehot<3> rows as class labels; a row that is not one-hot is R0218.
  Dataset o;
  o.name = "train", o.label_path = "y.npy";
  o.n = 2, o.sample_numel = 1, o.x = {0, 0};
  o.targets = {0, 0, 1, 1, 0, 0}, o.target_numel = 3;
  apply_pipeline(o, {{DLS_PIPE_ONEHOT | DLS_PIPE_LABELS, 3, 0, 0, 0}}, true);
  CHECK(o.labels == std::vector<int32_t>{2, 0});
  CHECK(o.targets.empty());
  Dataset soft;
  soft.name = "train", soft.label_path = "y.npy";
  soft.n = 1, soft.sample_numel = 1, soft.x = {0};
  soft.targets = {0.5f, 0.5f, 0}, soft.target_numel = 3;
  CHECK_THAT(dlt::fault_of([&] { apply_pipeline(soft, {{DLS_PIPE_ONEHOT | DLS_PIPE_LABELS, 3, 0, 0, 0}}, true); }, Diag::R0218),
             Catch::Contains("y.npy") && Catch::Contains("record 0"));
}

TEST_CASE("CSV: the parser `dlspec check --data` shares (quoted cells, blank lines, empty cells)", "[data]") {
  csv::Table t;
  csv::Error e;
  REQUIRE(csv::parse("\"a\", \"b,c\" ,label\n\n 1 ,\"2.5\",0\r\n", t, e));
  CHECK(t.header == std::vector<std::string>{"a", "b,c", "label"});
  CHECK(t.values == std::vector<double>{1, 2.5, 0});
  CHECK(t.line_of == std::vector<int64_t>{3});
  CHECK(csv::column_index(t.header, "label") == 2);
  CHECK_FALSE(csv::parse("a,b\n1,\n", t, e));
  CHECK(e.kind == csv::Error::Kind::NotANumber);
  CHECK((e.line == 2 && e.column == 2));
  CHECK_FALSE(csv::parse("a,b\n1,2,3\n", t, e));
  CHECK((e.kind == csv::Error::Kind::Ragged && e.cells == 3 && e.expected == 2));
  // What a cell is, never its text.
  CHECK(csv::cell_defect("1.5e-3") == "");
  CHECK(csv::cell_defect("-Infinity") == "");
  CHECK(csv::cell_defect("") == "is empty (a missing value; `impute:` fills missing values)");
  CHECK(csv::cell_defect(std::string_view("1\0" "2", 3)) == "contains a NUL byte");
  CHECK(csv::cell_defect("0x1p3") == "is a hex float (only decimal numbers are read)");
  CHECK(csv::cell_defect("0x10") == "is a hex number (only decimal numbers are read)");
  CHECK(csv::cell_defect("4e") == "is a number followed by other characters");
  CHECK(csv::cell_defect("nan(1)") == "is text, not a number");
  CHECK(csv::cell_defect(std::string(65, '1')) == "is longer than 64 characters");
  CHECK_FALSE(csv::parse("a,b\n1,0x1p3\n", t, e));
  CHECK((e.kind == csv::Error::Kind::NotANumber && e.what.find("0x") == std::string::npos));
  CHECK_FALSE(csv::parse(" \n", t, e));
  CHECK(e.kind == csv::Error::Kind::NoHeader);
}

TEST_CASE("CSV: missing cells, several label columns, the values imputation fills with", "[data]") {
  CHECK(csv::is_missing(""));
  CHECK(csv::is_missing("NA"));
  CHECK(csv::is_missing("n/a"));
  CHECK(csv::is_missing("NaN"));
  CHECK(csv::is_missing("-nan"));
  CHECK_FALSE(csv::is_missing("nana"));
  CHECK_FALSE(csv::is_missing("0"));
  CHECK(csv::cell_defect("NA") == "is NA (a missing value; `impute:` fills missing values)");
  csv::Table t;
  csv::Error e;
  // Refused without `missing`, read as NaN with it (line 3, column 1: the empty cell).
  const std::string_view text = "a,t1,b,t2\n1,10,4,100\n,20,NA,200\n3,30,8,300\n6,40,nan,400\n";
  CHECK_FALSE(csv::parse(text, t, e));
  CHECK((e.kind == csv::Error::Kind::NotANumber && e.line == 3 && e.column == 1));
  REQUIRE(csv::parse(text, t, e, csv::Layout{.missing = true}));
  CHECK(t.rows == 4);
  CHECK(std::isnan(t.values[4]));
  // Label columns by name and by index, in the list's order; a column named twice is refused.
  std::string why;
  CHECK(csv::label_indices(t, {"t2", "#1"}, {}, why) == std::vector<int64_t>{3, 1});
  CHECK(csv::label_indices(t, {"#-1"}, {}, why) == std::vector<int64_t>{3});
  CHECK(csv::label_indices(t, {}, csv::LabelColumn{.name = "t1"}, why) == std::vector<int64_t>{1});
  CHECK(csv::label_indices(t, {"t1", "#1"}, {}, why).empty());
  CHECK(why == "has column 1 named twice among the label columns");
  CHECK(csv::label_indices(t, {"t3"}, {}, why).empty());
  // Per feature column (a, b): NumPy's nanmean [10/3, 6], nanmedian [3, 6], zero.
  int64_t missing = 0;
  const std::vector<double> mean = csv::fill_values(t, {1, 3}, csv::Impute::Mean, &missing);
  CHECK(missing == 3);
  REQUIRE(mean.size() == 2);
  CHECK(mean[0] == Approx(10.0 / 3));
  CHECK(mean[1] == Approx(6.0));
  CHECK(csv::fill_values(t, {1, 3}, csv::Impute::Median) == std::vector<double>{3, 6});
  CHECK(csv::fill_values(t, {1, 3}, csv::Impute::Zero) == std::vector<double>{0, 0});
  CHECK(csv::impute_of("median") == csv::Impute::Median);
  CHECK(csv::impute_of("max") == csv::Impute::None);
}

TEST_CASE("pipeline: add and log1p of the targets (R0230 at -1 or less)", "[data]") {
  Dataset ds;
  ds.name = "t";
  ds.n = 3;
  ds.target_numel = 1;
  ds.targets = {0.f, 1.5f, 9.f};
  ds.x = {1.f, 2.f, 3.f};
  apply_pipeline(ds, {PipeStep{.op = DLS_PIPE_ADD | DLS_PIPE_LABELS, .a = 1}, PipeStep{.op = DLS_PIPE_LOG1P | DLS_PIPE_LABELS}}, true);
  CHECK(ds.targets[0] == Approx(std::log1p(1.0)));
  CHECK(ds.targets[1] == Approx(std::log1p(2.5)));
  CHECK(ds.targets[2] == Approx(std::log1p(10.0)));
  CHECK(ds.x == std::vector<float>{1.f, 2.f, 3.f});
  apply_pipeline(ds, {PipeStep{.op = DLS_PIPE_ADD, .a = -0.5}}, true);
  CHECK(ds.x == std::vector<float>{0.5f, 1.5f, 2.5f});
  Dataset bad;
  bad.name = "b";
  bad.n = 2;
  bad.target_numel = 1;
  bad.targets = {3.f, -1.f};
  CHECK_THAT(dlt::fault_of([&] { apply_pipeline(bad, {PipeStep{.op = DLS_PIPE_LOG1P | DLS_PIPE_LABELS}}, true); }, Diag::R0230),
             Catch::Contains("record 1") && Catch::Contains("-1"));
}

namespace {
// Eight RGB samples [3, 6, 5] of values in [0, 1], labels 0..3.
Dataset rgb_images() {
  Dataset ds;
  ds.name = "images";
  ds.n = 8, ds.rank = 3, ds.dims[0] = 3, ds.dims[1] = 6, ds.dims[2] = 5, ds.sample_numel = 90;
  for (int i = 0; i < 8 * 90; ++i) ds.x.push_back(float((i * 37) % 101) / 100.f);
  for (int i = 0; i < 8; ++i) ds.labels.push_back(i % 4);
  return ds;
}
// Every batch of an epoch of `ds` under `steps`, as bytes.
std::vector<float> epoch_bytes(const Dataset& src, const std::vector<PipeStep>& steps, uint64_t seed, bool training,
                               std::vector<int32_t>* partners = nullptr, std::vector<double>* lams = nullptr) {
  Dataset ds = src;
  Augment a = apply_pipeline(ds, steps, training);
  Loader l(ds, a, 4, false, seed);
  l.start_epoch(1);
  std::vector<float> out;
  for (int64_t k = 0; k < l.batches(); ++k) {
    const Batch& b = l.next();
    out.insert(out.end(), b.x.begin(), b.x.end());
    if (partners) partners->insert(partners->end(), b.partner_labels.begin(), b.partner_labels.end());
    if (lams) lams->push_back(b.lam);
  }
  return out;
}
}  // namespace

TEST_CASE("augmentation: each step is a function of the seed, changes the batch, and is off in evaluation", "[data]") {
  const Dataset ds = rgb_images();
  const std::vector<std::pair<const char*, std::vector<PipeStep>>> steps = {
      {"random_rotation", {{DLS_PIPE_RANDOM_ROTATION, 30, 0.5, 0, 0}}},
      {"random_affine", {{DLS_PIPE_RANDOM_AFFINE, 20, 0.2, 0.1, 10}, {DLS_PIPE_PARAMS, 0.8, 1.2, 0, 0}}},
      {"color_jitter", {{DLS_PIPE_COLOR_JITTER, 0.4, 0.4, 0.4, 0.1}}},
      {"gaussian_noise", {{DLS_PIPE_GAUSSIAN_NOISE, 0.1, 0, 0, 0}}},
      {"random_erasing", {{DLS_PIPE_RANDOM_ERASING, 1, 0.1, 0.3, 0.25}, {DLS_PIPE_PARAMS, 0.3, 3.3, 0, 0}}},
      {"mixup", {{DLS_PIPE_MIXUP, 0.4, 0, 0, 0}}},
      {"cutmix", {{DLS_PIPE_CUTMIX, 1, 0, 0, 0}}},
  };
  const std::vector<float> plain = epoch_bytes(ds, {}, 3, true);
  for (const auto& [name, st] : steps) {
    INFO(name);
    const std::vector<float> a = epoch_bytes(ds, st, 3, true), b = epoch_bytes(ds, st, 3, true),
                             c = epoch_bytes(ds, st, 4, true);
    REQUIRE(a.size() == plain.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);  // same seed: the same bytes
    CHECK(std::memcmp(a.data(), c.data(), a.size() * 4) != 0);  // another seed: others
    CHECK(std::memcmp(a.data(), plain.data(), a.size() * 4) != 0);  // the step changes the batch
    // Evaluation (validation, `eval`, `predict`) reads the samples as they are.
    const std::vector<float> e = epoch_bytes(ds, st, 3, false);
    CHECK(std::memcmp(e.data(), plain.data(), e.size() * 4) == 0);
    Dataset d2 = ds;
    const Augment ea = apply_pipeline(d2, st, false);
    CHECK((ea.steps.empty() && ea.mix == 0));
  }
}

TEST_CASE("augmentation: mixup mixes each row with the row before it by one lam per batch, cutmix pastes a box", "[data]") {
  const Dataset ds = rgb_images();
  std::vector<int32_t> partners;
  std::vector<double> lams;
  const std::vector<float> plain = epoch_bytes(ds, {}, 3, true);
  const std::vector<float> mixed = epoch_bytes(ds, {{DLS_PIPE_MIXUP, 0.4, 0, 0, 0}}, 3, true, &partners, &lams);
  REQUIRE(lams.size() == 2);
  Dataset d2 = ds;
  Loader l(d2, apply_pipeline(d2, {}, true), 4, false, 3);
  l.start_epoch(1);
  std::vector<int32_t> labels;
  for (int k = 0; k < 2; ++k) {
    const Batch& b = l.next();
    labels.insert(labels.end(), b.labels.begin(), b.labels.end());
  }
  for (int k = 0; k < 2; ++k) {
    const float lam = float(lams[size_t(k)]);
    CHECK((lam > 0.f && lam < 1.f));
    for (int r = 0; r < 4; ++r) {
      const int p = k * 4 + (r + 3) % 4;  // batch.roll(1, 0): row 0 takes the last row
      CHECK(partners[size_t(k * 4 + r)] == labels[size_t(p)]);
      for (int i = 0; i < 90; ++i)
        CHECK(mixed[size_t((k * 4 + r) * 90 + i)] ==  // within rounding (the compiler may fuse the multiply-add)
              Approx(plain[size_t((k * 4 + r) * 90 + i)] * lam + plain[size_t(p * 90 + i)] * float(1.0 - lams[size_t(k)]))
                  .margin(1e-6));
    }
  }
  // cutmix: every element is the row's own or its partner's, and lam is the share of the row's own pixels.
  std::vector<double> clams;
  std::vector<int32_t> cp;
  const std::vector<float> cut = epoch_bytes(ds, {{DLS_PIPE_CUTMIX, 1, 0, 0, 0}}, 3, true, &cp, &clams);
  for (int k = 0; k < 2; ++k)
    for (int r = 0; r < 4; ++r) {
      const int p = k * 4 + (r + 3) % 4;
      int own = 0;
      for (int i = 0; i < 30; ++i) {  // one channel's pixels
        const size_t at = size_t((k * 4 + r) * 90 + i);
        const bool mine = cut[at] == plain[at];
        CHECK((mine || cut[at] == plain[size_t(p * 90 + i)]));
        own += mine || plain[at] == plain[size_t(p * 90 + i)];
      }
      CHECK(double(own) / 30.0 >= clams[size_t(k)] - 1e-9);
    }
}

TEST_CASE("augmentation: the kernels' fixed points (identity affine, unit factors, hue 0)", "[data]") {
  const Dataset ds = rgb_images();
  const float* src = ds.x.data();
  std::vector<float> out(90);
  affine_image(src, 3, 6, 5, 0, 0, 0, 1, 0, 0, 0.f, out.data());
  for (int i = 0; i < 90; ++i) CHECK(out[size_t(i)] == Approx(src[i]).margin(1e-6));
  std::vector<float> x(src, src + 90);
  adjust_brightness(x.data(), 3, 6, 5, 1.0);
  adjust_saturation(x.data(), 3, 6, 5, 1.0);
  adjust_hue(x.data(), 3, 6, 5, 0.0);
  for (int i = 0; i < 90; ++i) CHECK(x[size_t(i)] == Approx(src[i]).margin(1e-6));
  erase_image(x.data(), 3, 6, 5, 1, 2, 2, 2, 0.5f);
  CHECK(x[size_t(1 * 5 + 2)] == 0.5f);
  CHECK(x[size_t(2 * 30 + 2 * 5 + 3)] == 0.5f);
  CHECK(x[0] == src[0]);
  // rotation by 90 degrees of a square image is a transpose and a mirror (torchvision: counter-clockwise).
  std::vector<float> sq(16), rot(16);
  for (int i = 0; i < 16; ++i) sq[size_t(i)] = float(i);
  affine_image(sq.data(), 1, 4, 4, -90, 0, 0, 1, 0, 0, 0.f, rot.data());
  for (int y = 0; y < 4; ++y)
    for (int xx = 0; xx < 4; ++xx) CHECK(rot[size_t(y * 4 + xx)] == Approx(sq[size_t(xx * 4 + (3 - y))]).margin(1e-5));
}

TEST_CASE("augmentation: a scale or normalize written after an augmentation applies to the augmented sample", "[data]") {
  const Dataset ds = rgb_images();
  // Noise of std 0 changes nothing: training (normalize per sample) equals evaluation (normalize at load time).
  const std::vector<PipeStep> steps = {{DLS_PIPE_GAUSSIAN_NOISE, 0, 0, 0, 0}, {DLS_PIPE_NORMALIZE, 0.5, 0.25, 0, 0},
                                       {DLS_PIPE_SCALE, 2, 0, 0, 0}};
  const std::vector<float> train = epoch_bytes(ds, steps, 3, true), eval = epoch_bytes(ds, steps, 3, false);
  CHECK(std::memcmp(train.data(), eval.data(), train.size() * 4) == 0);
  // color_jitter before normalize sees [0, 1] values and clamps them there; the normalised result goes below 0
  // (normalised first, the clamp would leave nothing below 0).
  const std::vector<float> j =
      epoch_bytes(ds, {{DLS_PIPE_COLOR_JITTER, 0.5, 0, 0, 0}, {DLS_PIPE_NORMALIZE, 0.5, 0.25, 0, 0}}, 3, true);
  CHECK(*std::min_element(j.begin(), j.end()) < -1.f);
  CHECK(*std::max_element(j.begin(), j.end()) <= 2.f + 1e-6f);  // (1 - 0.5) / 0.25
  // So does an add: color_jitter clamps to [0, 1] first, then -0.5 moves the values to [-0.5, 0.5] (added at load
  // time instead, the clamp would leave nothing below 0).
  const std::vector<float> k =
      epoch_bytes(ds, {{DLS_PIPE_COLOR_JITTER, 0.5, 0, 0, 0}, {DLS_PIPE_ADD, -0.5, 0, 0, 0}}, 3, true);
  CHECK(*std::min_element(k.begin(), k.end()) < 0.f);
  CHECK(*std::max_element(k.begin(), k.end()) <= 0.5f + 1e-6f);
  // And per-feature statistics (standardize, min_max): noise of std 0 first, training equals evaluation; after
  // color_jitter's clamp to [0, 1], features with offset 1 and scale 1 lie in [-1, 0] with some below -0.5.
  PipeStep features{DLS_PIPE_FEATURES, 0, 0, 0, 0};
  features.offset.assign(size_t(ds.sample_numel), 0.25f);
  features.scale.assign(size_t(ds.sample_numel), 4.f);
  const std::vector<PipeStep> fs = {{DLS_PIPE_GAUSSIAN_NOISE, 0, 0, 0, 0}, features};
  const std::vector<float> ft = epoch_bytes(ds, fs, 3, true), fe = epoch_bytes(ds, fs, 3, false);
  CHECK(std::memcmp(ft.data(), fe.data(), ft.size() * 4) == 0);
  features.offset.assign(size_t(ds.sample_numel), 1.f);
  features.scale.assign(size_t(ds.sample_numel), 1.f);
  const std::vector<float> fj = epoch_bytes(ds, {{DLS_PIPE_COLOR_JITTER, 0.5, 0, 0, 0}, features}, 3, true);
  CHECK(*std::min_element(fj.begin(), fj.end()) < -0.5f);
  CHECK(*std::max_element(fj.begin(), fj.end()) <= 1e-6f);
}

TEST_CASE("pipeline: one_hot of every element and of one feature, to_i64", "[data]") {
  Dataset ds;
  ds.name = "train";
  ds.n = 2, ds.rank = 1, ds.dims[0] = 3, ds.sample_numel = 3;
  ds.x = {0.5f, 2, -1, 7, 0, 3};
  ds.labels = {0, 1};
  // Element 1 of each sample (2 and 0) becomes 3 values in its place: [F] -> [F - 1 + C].
  Dataset one = ds;
  apply_pipeline(one, {{DLS_PIPE_ONE_HOT, 3, 1, 0, 0}}, false);
  CHECK(one.sample_numel == 5);
  CHECK((one.rank == 1 && one.dims[0] == 5));
  CHECK(one.x == std::vector<float>{0.5f, 0, 0, 1, -1, 7, 1, 0, 0, 3});
  // Every element: [3] -> [3, C]; rows of torch.nn.functional.one_hot.
  Dataset all;
  all.name = "train";
  all.n = 1, all.rank = 1, all.dims[0] = 3, all.sample_numel = 3;
  all.x = {2, 0, 1};
  apply_pipeline(all, {{DLS_PIPE_TO_I64, 0, 0, 0, 0}, {DLS_PIPE_ONE_HOT, 3, -1, 0, 0}}, false);
  CHECK((all.rank == 2 && all.dims[0] == 3 && all.dims[1] == 3 && all.sample_numel == 9));
  CHECK(all.x == std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0});
  // An index out of range names its record; to_i64 of a fraction too.
  Dataset past = ds;
  CHECK(dlt::fault_of([&] { apply_pipeline(past, {{DLS_PIPE_ONE_HOT, 2, 1, 0, 0}}, false); }, Diag::R0251).find("record 0") !=
        std::string::npos);
  Dataset frac = ds;
  CHECK(dlt::fault_of([&] { apply_pipeline(frac, {{DLS_PIPE_TO_I64, 0, 0, 0, 0}}, false); }, Diag::R0254).find("record 0") !=
        std::string::npos);
}

TEST_CASE("CSV categorical columns: sorted values, indices, the program's text, unknown values", "[data]") {
  csv::Table t;
  csv::Error e;
  const std::string text = "a,color,y\n1,red,x\n2,blue,y\n3,red,x\n4,dark\\blue,y\n";
  REQUIRE(csv::parse(text, t, e, csv::Layout{.categorical = {"color", "#-1"}}));
  csv::Table u0;
  CHECK(t.text_cols == std::vector<int64_t>{1, 2});
  const auto vocab = csv::vocabularies(t);
  CHECK(vocab[0] == std::vector<std::string>{"blue", "dark\\blue", "red"});
  CHECK(vocab[1] == std::vector<std::string>{"x", "y"});
  int64_t row = -1, col = -1;
  REQUIRE(csv::encode(t, vocab, row, col));
  CHECK(t.values == std::vector<double>{1, 2, 0, 2, 0, 1, 3, 2, 0, 4, 1, 1});
  // The text the program keeps round-trips, backslash included; a tab in a cell is a control byte, refused.
  std::vector<std::string> refs;
  std::vector<std::vector<std::string>> back;
  REQUIRE(csv::parse_categories(csv::categories_text({"color", "#-1"}, vocab), refs, back));
  CHECK(refs == std::vector<std::string>{"color", "#-1"});
  CHECK(back == vocab);
  CHECK_FALSE(csv::parse_categories("color\tred\tblue", refs, back));  // not sorted
  CHECK_FALSE(csv::parse("a,color\n1,dark\tblue\n", u0, e, csv::Layout{.categorical = {"color"}}));
  // A value the vocabulary lacks: its row and column.
  csv::Table u;
  REQUIRE(csv::parse("a,color,y\n1,red,x\n2,green,y\n", u, e, csv::Layout{.categorical = {"color", "#-1"}}));
  CHECK_FALSE(csv::encode(u, vocab, row, col));
  CHECK((row == 1 && col == 1));
  // An empty categorical cell, and a column that is not there.
  CHECK_FALSE(csv::parse("a,color\n1,\n", u, e, csv::Layout{.categorical = {"color"}}));
  CHECK((e.kind == csv::Error::Kind::NotANumber && e.line == 2 && e.column == 2));
  CHECK_FALSE(csv::parse("a,color\n1,red\n", u, e, csv::Layout{.categorical = {"colour"}}));
  CHECK(e.kind == csv::Error::Kind::Column);
}

// ImageReader.cpp: image-folder splits and single images through the readers shared with `dlspec check
// --data` (data/formats/Images.h), their problems as R0220-R0222 naming the file.
#include <dirent.h>

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <thread>

#include "Dataset.h"
#include "Images.h"  // data/formats: shared with `dlspec check --data`
#include "Stream.h"

namespace dls {

namespace {

std::string size_str(int64_t h, int64_t w) { return fmt::format("[{}, {}]", h, w); }

// The declared sample as (channels, height, width): u8[C, H, W], or u8[H, W] for grey images.
void declared_chw(const DataDecl& decl, int64_t& c, int64_t& h, int64_t& w) {
  if (decl.sample_rank == 3) c = decl.dims[0], h = decl.dims[1], w = decl.dims[2];
  else c = 1, h = decl.dims[0], w = decl.dims[1];
}

// Decodes `path` into `out` (C × H × W values) as the declaration says; "" or the problem (R-code, message).
struct Outcome {
  Diag code = Diag::R0001;
  std::string message;
  std::vector<std::string> args;
  bool ok = true;
  int64_t ih = 0, iw = 0, ic = 0;
  data::Error err;
};

Outcome decode_one(const std::string& path, const DataDecl& decl, float* out) {
  Outcome o;
  int64_t C, H, W;
  declared_chw(decl, C, H, W);
  data::Image img;
  if (!data::readImage(path, img, o.err)) {
    o.ok = false, o.code = Diag::R0220;
    return o;
  }
  const bool wrongChannels = decl.image_channels == 0 && img.channels != C;
  const bool wrongSize = decl.image_h == 0 && (img.height != H || img.width != W);
  if (wrongChannels || wrongSize) {
    o.ok = false, o.code = Diag::R0221, o.ih = img.height, o.iw = img.width, o.ic = img.channels;
    return o;
  }
  data::convertChannels(img, C);
  std::vector<uint8_t> chw = data::resizeToChw(img, H, W, static_cast<data::Resize>(decl.image_resize));
  for (size_t i = 0; i < chw.size(); ++i) out[i] = chw[i];
  return o;
}

// Decodes `files` into ds.x on `threads` threads; the first failing file in order ends the load.
void decode_all(const std::vector<std::string>& files, const DataDecl& decl, Dataset& ds, int threads) {
  const size_t n = files.size();
  ds.x.assign(n * size_t(ds.sample_numel), 0.0f);
  std::vector<Outcome> bad(n);
  std::vector<char> failed(n, 0);
  const int T = std::max(1, std::min<int>(threads, int(n)));
  std::vector<std::thread> pool;
  for (int t = 0; t < T; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = size_t(t); i < n; i += size_t(T)) {
        Outcome o = decode_one(files[i], decl, ds.x.data() + i * size_t(ds.sample_numel));
        if (!o.ok) failed[i] = 1, bad[i] = std::move(o);
      }
    });
  for (auto& th : pool) th.join();
  int64_t C, H, W;
  declared_chw(decl, C, H, W);
  for (size_t i = 0; i < n; ++i) {
    if (!failed[i]) continue;
    const Outcome& o = bad[i];
    if (o.code == Diag::R0220) fail(Diag::R0220, files[i], files[i], o.err.what);
    fail(Diag::R0221, files[i], files[i], size_str(o.ih, o.iw), o.ic, size_str(H, W), C);
  }
}

// An image folder read per batch: each file decoded as a batch takes it, its problem the R-code decode_all gives.
class ImageSource final : public SampleSource {
 public:
  std::vector<std::string> files;
  DataDecl decl;
  void read(int64_t i, float* out) const override {
    const std::string& file = files[size_t(i)];
    const Outcome o = decode_one(file, decl, out);
    if (o.ok) return;
    int64_t C, H, W;
    declared_chw(decl, C, H, W);
    if (o.code == Diag::R0220) fail(Diag::R0220, file, file, o.err.what);
    fail(Diag::R0221, file, file, size_str(o.ih, o.iw), o.ic, size_str(H, W), C);
  }
  uint64_t index_bytes() const override {
    uint64_t b = 0;
    for (const auto& f : files) b += f.size() + sizeof(std::string);
    return b;
  }
  uint64_t window_bytes(int64_t) const override { return 0; }  // files are read whole, one at a time per thread
};

}  // namespace

std::shared_ptr<SampleSource> image_source(const std::vector<std::string>& files, const DataDecl& decl) {
  auto s = std::make_shared<ImageSource>();
  s->files = files;
  s->decl = decl;
  s->path = decl.path_a;
  return s;
}

Dataset load_images(const DataDecl& decl, const std::string& split_name, int threads) {
  Dataset ds;
  ds.name = split_name;
  ds.label_path = decl.path_a;
  ds.rank = decl.sample_rank;
  for (int i = 0; i < 4; ++i) ds.dims[i] = decl.dims[i];
  ds.sample_numel = 1;
  for (int i = 0; i < decl.sample_rank; ++i) ds.sample_numel *= decl.dims[i];
  data::ImageFolder f;
  data::Error e;
  if (!data::listImageFolder(decl.path_a, f, e)) fail(Diag::R0201, decl.path_a, decl.path_a, e.what);
  if (decl.classes > 0 && int64_t(f.classes.size()) != decl.classes)
    fail(Diag::R0222, decl.path_a,
         fmt::format("'{}' has {} class folders ({}), but the label has {} classes", decl.path_a, f.classes.size(),
                     fmt::join(f.classes, ", "), decl.classes));
  if (!decl.class_names.empty() && f.classes != decl.class_names)
    fail(Diag::R0222, decl.path_a,
         fmt::format("'{}' has the class folders {}, but the program was built for the classes {}", decl.path_a,
                     fmt::join(f.classes, ", "), fmt::join(decl.class_names, ", ")));
  for (size_t k = 0; k < f.classes.size(); ++k)
    if (f.perClass[k] == 0)
      fail(Diag::R0222, decl.path_a + "/" + f.classes[k],
           fmt::format("class folder '{}/{}' holds no images (.png, .jpg, .jpeg)", decl.path_a, f.classes[k]));
  ds.n = int64_t(f.files.size());
  const uint64_t decoded = uint64_t(ds.n) * uint64_t(ds.sample_numel) * 4;
  if (ds.n > 0 && stream_split(decoded, split_name, decl.path_a)) {
    // Decoded per batch by the loader's pool (Stream.h) instead of all here.
    auto st = std::make_shared<Stream>();
    st->src = image_source(f.files, decl);
    st->rank = ds.rank;
    std::copy(ds.dims, ds.dims + 4, st->dims);
    st->sample_numel = ds.sample_numel;
    st->decoded = decoded;
    ds.stream = std::move(st);
  } else {
    decode_all(f.files, decl, ds, threads);
  }
  ds.labels = f.labels;
  ds.label_numel = 1;
  if (ds.n == 0)
    fail(Diag::R0213, decl.path_a, fmt::format("'{}' holds no class folders with images, so split '{}' is empty", decl.path_a, split_name));
  return ds;
}

std::vector<std::string> image_classes(const std::string& dir) {
  data::ImageFolder f;
  data::Error e;
  if (!data::listImageFolder(dir, f, e)) return {};
  return f.classes;
}

Dataset load_image_files(const std::string& path, const DataDecl& decl, int threads) {
  Dataset ds;
  ds.name = path;
  ds.rank = decl.sample_rank;
  for (int i = 0; i < 4; ++i) ds.dims[i] = decl.dims[i];
  ds.sample_numel = 1;
  for (int i = 0; i < decl.sample_rank; ++i) ds.sample_numel *= decl.dims[i];
  std::vector<std::string> files;
  data::ImageFolder f;
  data::Error e;
  if (data::isImageFile(path)) {
    files.push_back(path);
  } else if (data::listImageFolder(path, f, e)) {
    // A folder of images (predict): its own image files, or a class-folder tree's.
    files = f.files;
    std::vector<std::string> own;
    if (auto* d = ::opendir(path.c_str())) {
      while (dirent* de = ::readdir(d))
        if (de->d_name[0] != '.' && data::isImageFile(de->d_name)) own.push_back(path + "/" + de->d_name);
      ::closedir(d);
    }
    std::sort(own.begin(), own.end());
    files.insert(files.begin(), own.begin(), own.end());
  } else {
    fail(Diag::R0201, path, path, e.what);
  }
  if (files.empty()) fail(Diag::R0213, path, fmt::format("'{}' holds no images (.png, .jpg, .jpeg)", path));
  ds.n = int64_t(files.size());
  decode_all(files, decl, ds, threads);
  ds.files = files;
  ds.labels.assign(size_t(ds.n), 0);
  return ds;
}

}  // namespace dls

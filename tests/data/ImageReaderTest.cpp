// Text files (runtime/data/formats/Text.h): UTF-8 and byte tokens, bad UTF-8 located, windows with the next
// token as the label of every step. Image folders (runtime/data/formats/Images.h): PNG and JPEG files written here by libpng and libjpeg are
// decoded to the pixels written; damaged files are refused with their kind; the resize modes and the channel
// conversion give the values their formulas give; and `dlspec check --data` (checker/data) and the runtime's
// loader read the same folders to the same samples and labels, and refuse the same damaged folders.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <png.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "Images.h"
#include "Text.h"
#include "checker/data/DataTable.h"
#include "core/Diagnostics.h"
#include "data/Dataset.h"

namespace fs = std::filesystem;
using dls::data::Error;
using dls::data::Image;

namespace {

fs::path dir() {
  static fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("dlspec-images-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void spill(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Writes an 8-bit PNG (colour: PNG_COLOR_TYPE_GRAY or _RGB) with libpng.
std::string writePng(const std::string& path, int w, int h, int colour, const std::vector<uint8_t>& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), 8, colour, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const int c = colour == PNG_COLOR_TYPE_RGB ? 3 : 1;
  for (int y = 0; y < h; ++y) png_write_row(png, pixels.data() + size_t(y * w * c));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
  return path;
}

// Writes a JPEG of quality 100 with libjpeg.
std::string writeJpeg(const std::string& path, int w, int h, int channels, const std::vector<uint8_t>& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  FILE* f = std::fopen(path.c_str(), "wb");
  jpeg_stdio_dest(&c, f);
  c.image_width = JDIMENSION(w), c.image_height = JDIMENSION(h), c.input_components = channels;
  c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) + size_t(c.next_scanline) * size_t(w * channels);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
  return path;
}

std::vector<uint8_t> ramp(size_t n, int step = 7) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * size_t(step)) % 251);
  return v;
}

dls::DataDecl imagesDecl(const std::string& folder, int64_t c, int64_t h, int64_t w, int64_t classes) {
  dls::DataDecl d;
  d.declared = true;
  d.format = DLS_DATA_IMAGES;
  d.path_a = folder;
  d.sample_rank = 3;
  d.dims[0] = c, d.dims[1] = h, d.dims[2] = w;
  d.classes = classes;
  d.dtype = DLS_U8;
  return d;
}

template <class F>
std::string faultOf(F&& f) {
  try {
    f();
  } catch (const dls::Fault& e) {
    return std::string(dls::diag_info(e.code).code) + ": " + e.message;
  }
  return "NO FAULT";
}

}  // namespace

TEST_CASE("PNG and JPEG files decode to the pixels written") {
  const auto grey = ramp(5 * 4), rgb = ramp(5 * 4 * 3, 11);
  Image img;
  Error e;
  REQUIRE(dls::data::readImage(writePng((dir() / "g.png").string(), 5, 4, PNG_COLOR_TYPE_GRAY, grey), img, e));
  CHECK((img.width == 5 && img.height == 4 && img.channels == 1));
  CHECK(img.pixels == grey);
  REQUIRE(dls::data::readImage(writePng((dir() / "c.png").string(), 5, 4, PNG_COLOR_TYPE_RGB, rgb), img, e));
  CHECK((img.channels == 3 && img.pixels == rgb));
  // JPEG is lossy: quality 100 of a smooth grey ramp stays within a few levels.
  std::vector<uint8_t> smooth(16 * 16);
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = uint8_t(40 + (i % 16) * 8);
  REQUIRE(dls::data::readImage(writeJpeg((dir() / "g.jpg").string(), 16, 16, 1, smooth), img, e));
  REQUIRE((img.width == 16 && img.height == 16 && img.channels == 1));
  int worst = 0;
  for (size_t i = 0; i < smooth.size(); ++i) worst = std::max(worst, std::abs(int(img.pixels[i]) - int(smooth[i])));
  CHECK(worst <= 3);
  REQUIRE(dls::data::readImage(writeJpeg((dir() / "c.jpg").string(), 16, 16, 3, ramp(16 * 16 * 3, 1)), img, e));
  CHECK(img.channels == 3);
}

TEST_CASE("damaged image files are refused with what is wrong") {
  Image img;
  Error e;
  const auto png = slurp(writePng((dir() / "t.png").string(), 16, 16, PNG_COLOR_TYPE_GRAY, ramp(256)));
  std::vector<uint8_t> cut(png.begin(), png.begin() + long(png.size() / 2));
  CHECK_FALSE(dls::data::decodeImage(cut, img, e));
  CHECK(e.kind == Error::Kind::Truncated);
  std::vector<uint8_t> crc = png;
  crc[40] ^= 0x55;  // inside the IDAT chunk: its CRC no longer matches
  CHECK_FALSE(dls::data::decodeImage(crc, img, e));
  CHECK(e.kind != Error::Kind::None);
  const auto jpg = slurp(writeJpeg((dir() / "t.jpg").string(), 32, 32, 1, ramp(32 * 32)));
  std::vector<uint8_t> jcut(jpg.begin(), jpg.begin() + long(jpg.size() * 2 / 3));
  CHECK_FALSE(dls::data::decodeImage(jcut, img, e));
  CHECK(e.kind == Error::Kind::Truncated);
  // A JPEG signature followed by bytes that are no marker segment: libjpeg's "extraneous bytes" warning.
  std::vector<uint8_t> junk = {0xff, 0xd8, 0xff, 0x01, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xd9};
  CHECK_FALSE(dls::data::decodeImage(junk, img, e));
  CHECK(e.kind == Error::Kind::BadHeader);
  // Cut short after its header: truncated.
  std::vector<uint8_t> shortJunk = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_FALSE(dls::data::decodeImage(shortJunk, img, e));
  CHECK(e.kind == Error::Kind::Truncated);
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  CHECK_FALSE(dls::data::decodeImage(text, img, e));
  CHECK(e.kind == Error::Kind::BadMagic);
}

TEST_CASE("resizing and channel conversion give their formulas' values") {
  using dls::data::Resize;
  // One row [0, 255] stretched to four columns: pixel centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  Image row{1, 2, 1, {0, 255}};
  CHECK(dls::data::resizeToChw(row, 1, 4, Resize::Stretch) == std::vector<uint8_t>{0, 64, 191, 255});
  // A 2x4 image cropped to 2x2 keeps its middle columns (scale 1 covers the target); padded to 4x4 it keeps
  // its rows in the middle with zero rows above and below.
  Image wide{2, 4, 1, {1, 2, 3, 4, 5, 6, 7, 8}};
  CHECK(dls::data::resizeToChw(wide, 2, 2, Resize::Crop) == std::vector<uint8_t>{2, 3, 6, 7});
  CHECK(dls::data::resizeToChw(wide, 4, 4, Resize::Pad) == std::vector<uint8_t>{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0});
  // Same size: HWC to CHW, unchanged values.
  Image rgb{1, 2, 3, {1, 2, 3, 4, 5, 6}};
  CHECK(dls::data::resizeToChw(rgb, 1, 2, Resize::Stretch) == std::vector<uint8_t>{1, 4, 2, 5, 3, 6});
  // RGB to grey: BT.601 luminance, rounded; grey to RGB repeats.
  Image c{1, 1, 3, {255, 0, 0}};
  dls::data::convertChannels(c, 1);
  CHECK(c.pixels == std::vector<uint8_t>{76});
  Image g{1, 1, 1, {9}};
  dls::data::convertChannels(g, 3);
  CHECK(g.pixels == std::vector<uint8_t>{9, 9, 9});
}

TEST_CASE("check --data and the runtime read an image folder alike") {
  const std::string root = (dir() / "good").string();
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 2; ++i)
      writePng(root + "/class" + std::to_string(k) + "/" + std::to_string(i) + ".png", 4, 3, PNG_COLOR_TYPE_GRAY, ramp(12, 3 + k + i));
  spill(root + "/class1/readme.txt", {'x'});   // not an image: skipped
  spill(root + "/.hidden/0.png", {'x'});       // hidden: not a class
  dls::checker::data::DataTable t;
  dls::checker::data::ImageFindings found;
  dls::checker::data::ImageSpec spec{.channels = 1, .height = 3, .width = 4};
  std::string why;
  REQUIRE(dls::checker::data::readImages(root, spec, t, found, why));
  CHECK(t.rows == 6);
  CHECK(t.classNames == std::vector<std::string>{"class0", "class1", "class2"});
  CHECK(t.labels == std::vector<int64_t>{0, 0, 1, 1, 2, 2});
  dls::Dataset ds = dls::load_images(imagesDecl(root, 1, 3, 4, 3), "train", 2);
  REQUIRE(ds.n == 6);
  CHECK(ds.labels == std::vector<int32_t>{0, 0, 1, 1, 2, 2});
  for (size_t i = 0; i < t.raw.size(); ++i) REQUIRE(float(t.raw[i]) == ds.x[i]);

  // Resized and converted as asked: 3 channels of 6x8.
  dls::DataDecl big = imagesDecl(root, 3, 6, 8, 3);
  big.image_h = 6, big.image_w = 8, big.image_channels = 3;
  CHECK(dls::load_images(big, "train", 2).x.size() == size_t(6 * 3 * 6 * 8));
  // Without size: the images must have the declared size.
  CHECK(faultOf([&] { dls::load_images(imagesDecl(root, 1, 6, 8, 3), "train", 2); }).rfind("R0221", 0) == 0);
  CHECK(faultOf([&] { dls::load_images(imagesDecl(root, 3, 3, 4, 3), "train", 2); }).rfind("R0221", 0) == 0);
  REQUIRE(dls::checker::data::readImages(root, {.channels = 3, .height = 3, .width = 4}, t, found, why));
  CHECK(found.misfit.size() == 6);
  // Another class count than the label's, or other names than the program's.
  CHECK(faultOf([&] { dls::load_images(imagesDecl(root, 1, 3, 4, 4), "train", 2); }).rfind("R0222", 0) == 0);
  dls::DataDecl named = imagesDecl(root, 1, 3, 4, 3);
  named.class_names = {"class0", "class1", "other"};
  CHECK(faultOf([&] { dls::load_images(named, "train", 2); }).rfind("R0222", 0) == 0);
}

TEST_CASE("check --data and the runtime refuse the same damaged folders") {
  // A truncated PNG: the checker lists it, the runtime stops at it, both naming the file.
  const std::string broken = (dir() / "broken").string();
  writePng(broken + "/a/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, ramp(16));
  const auto whole = slurp(writePng(broken + "/b/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, ramp(16, 5)));
  spill(broken + "/b/0.png", std::vector<uint8_t>(whole.begin(), whole.end() - 20));
  dls::checker::data::DataTable t;
  dls::checker::data::ImageFindings found;
  std::string why;
  dls::checker::data::ImageSpec spec{.channels = 1, .height = 4, .width = 4};
  REQUIRE(dls::checker::data::readImages(broken, spec, t, found, why));
  REQUIRE(found.undecodable.size() == 1);
  CHECK(found.undecodable[0].first == broken + "/b/0.png");
  const std::string r = faultOf([&] { dls::load_images(imagesDecl(broken, 1, 4, 4, 2), "train", 2); });
  CHECK(r.rfind("R0220", 0) == 0);
  CHECK(r.find(broken + "/b/0.png") != std::string::npos);
  // An empty class folder.
  const std::string empty = (dir() / "empty").string();
  writePng(empty + "/a/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, ramp(16));
  fs::create_directories(empty + "/b");
  REQUIRE(dls::checker::data::readImages(empty, spec, t, found, why));
  CHECK(found.emptyClasses == std::vector<std::string>{empty + "/b"});
  CHECK(faultOf([&] { dls::load_images(imagesDecl(empty, 1, 4, 4, 2), "train", 2); }).rfind("R0222", 0) == 0);
  // A constant image is found; the runtime loads it (a warning of the checker only).
  const std::string flat = (dir() / "flat").string();
  writePng(flat + "/a/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, std::vector<uint8_t>(16, 128));
  writePng(flat + "/b/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, ramp(16));
  REQUIRE(dls::checker::data::readImages(flat, spec, t, found, why));
  CHECK(found.constantRows == std::vector<int64_t>{0});
  CHECK(dls::load_images(imagesDecl(flat, 1, 4, 4, 2), "train", 2).n == 2);
  // Not a folder.
  CHECK(faultOf([&] { dls::load_images(imagesDecl(flat + "/a/0.png", 1, 4, 4, 2), "train", 2); }).rfind("R0201", 0) == 0);
  fs::remove_all(dir());
}

TEST_CASE("text: UTF-8 tokens, bad UTF-8 located, windows labelled with the next token") {
  using dls::data::decodeText;
  std::vector<uint32_t> tok;
  Error e;
  const std::string s = "ab\xc3\xa9\n\xe2\x82\xac";  // a b é \n €
  REQUIRE(decodeText(std::vector<uint8_t>(s.begin(), s.end()), true, tok, e));
  CHECK(tok == std::vector<uint32_t>{'a', 'b', 0xe9, '\n', 0x20ac});
  REQUIRE(decodeText(std::vector<uint8_t>(s.begin(), s.end()), false, tok, e));
  CHECK(tok.size() == s.size());
  // Latin-1 on line 2, a cut character at the end, an overlong '/', a surrogate.
  const std::vector<std::pair<std::string, size_t>> bad = {
      {"ok\nnaive caf\xe9", 12}, {"abc\xe2\x82", 3}, {"x\xc0\xaf", 1}, {"\xed\xa0\x80", 0}};
  for (const auto& [text, at] : bad) {
    INFO(text);
    CHECK_FALSE(decodeText(std::vector<uint8_t>(text.begin(), text.end()), true, tok, e));
    CHECK(e.offset == at);
  }
  CHECK(e.what.find("line 1") != std::string::npos);
  CHECK_FALSE(decodeText(std::vector<uint8_t>(bad[0].first.begin(), bad[0].first.end()), true, tok, e));
  CHECK(e.what.find("line 2") != std::string::npos);
  const auto vocab = dls::data::vocabularyOf({'c', 'a', 'b', 'a'});
  CHECK(vocab == std::vector<uint32_t>{'a', 'b', 'c'});
  CHECK(dls::data::tokenIds({'b', 'z', 'a'}, vocab) == std::vector<int32_t>{2, 0, 1});
  CHECK(dls::data::tokenText(0x20ac, true) == "\xe2\x82\xac");

  // The loader: "abcabca" in windows of 3: [a b c] -> [b c a], [a b c] -> [b c a]; the 7th token only labels.
  const std::string path = (dir() / "t.txt").string();
  spill(path, {'a', 'b', 'c', 'a', 'b', 'c', 'a'});
  dls::DataDecl d;
  d.declared = true, d.format = DLS_DATA_TEXT, d.path_a = path, d.sample_rank = 1, d.dims[0] = 3, d.text_seq = 3, d.classes = 4;
  dls::Dataset ds = dls::load_text(d, "train");
  CHECK(ds.n == 2);
  CHECK(ds.x == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK(ds.labels == std::vector<int32_t>{2, 3, 1, 2, 3, 1});
  CHECK(ds.label_numel == 3);
  // The program's vocabulary: a token it lacks is id 0.
  d.vocab = {'a', 'c'};
  CHECK(dls::load_text(d, "test").x == std::vector<float>{1, 0, 2, 1, 0, 2});
  d.vocab.clear();
  d.classes = 3;  // three tokens need ids 0..3
  CHECK(faultOf([&] { dls::load_text(d, "train"); }).rfind("R0224", 0) == 0);
  spill(path, {'a', 'b', 0xe9, 'c', 'd'});
  d.classes = 10;
  const std::string r = faultOf([&] { dls::load_text(d, "train"); });
  CHECK(r.rfind("R0223", 0) == 0);
  CHECK(r.find("byte 2") != std::string::npos);
  d.text_chars = 0;  // as bytes the same file is fine
  CHECK(dls::load_text(d, "train").n == 1);
  spill(path, {'a', 'b'});
  CHECK(faultOf([&] { dls::load_text(d, "train"); }).rfind("R0213", 0) == 0);
  fs::remove_all(dir());
}

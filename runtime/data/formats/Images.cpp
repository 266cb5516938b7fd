// Images.cpp: PNG (libpng) and JPEG (libjpeg) decoding, channel conversion, bilinear resizing and image
// folders (Images.h).
#include "Images.h"

#include <dirent.h>
#include <png.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>
#include <jerror.h>

namespace dls::data {

namespace {

bool fail(Error& err, Error::Kind kind, std::string what, size_t offset = 0) {
  err = Error{};
  err.kind = kind;
  err.what = std::move(what);
  err.offset = offset;
  return false;
}

// ---- PNG ----
struct PngSource {
  const std::vector<uint8_t>* file = nullptr;
  size_t pos = 0;
  bool ranOut = false;
  std::string message;
};

void pngRead(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngSource*>(png_get_io_ptr(png));
  if (s->pos + n > s->file->size()) {
    s->ranOut = true;
    png_error(png, "the file ends inside the image data");
  }
  std::memcpy(out, s->file->data() + s->pos, n);
  s->pos += n;
}

void pngError(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngSource*>(png_get_error_ptr(png));
  if (s->message.empty()) s->message = msg;
  png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}  // ancillary problems (a colour profile's name): not the pixels

bool decodePng(const std::vector<uint8_t>& file, Image& out, Error& err) {
  PngSource src;
  src.file = &file;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, pngError, pngWarning);
  if (!png) return fail(err, Error::Kind::Unreadable, "cannot start libpng");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return fail(err, Error::Kind::Unreadable, "cannot start libpng");
  }
  // Everything the rows point into lives outside the setjmp frame.
  std::vector<png_bytep> rows;
  Image img;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    if (src.ranOut)
      return fail(err, Error::Kind::Truncated, "truncated PNG: the file ends inside the image data", file.size());
    return fail(err, Error::Kind::BadHeader, "damaged PNG: " + src.message, src.pos);
  }
  png_set_read_fn(png, &src, pngRead);
  // Bounds a decompression bomb: an image of more than 2^28 pixels is refused before its rows are allocated.
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, colour = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &colour, nullptr, nullptr, nullptr);
  if (uint64_t(w) * h > (uint64_t(1) << 28)) png_error(png, "the image has more than 2^28 pixels");
  if (depth == 16) png_set_strip_16(png);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  if (channels != 1 && channels != 3) png_error(png, "unsupported colour type");
  img.height = h, img.width = w, img.channels = channels;
  img.pixels.resize(size_t(h) * w * size_t(channels));
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = img.pixels.data() + size_t(y) * w * size_t(channels);
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  out = std::move(img);
  return true;
}

// ---- JPEG ----
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  std::string message;
  bool premature = false;
};

void jpegExit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  char buf[JMSG_LENGTH_MAX];
  c->err->format_message(c, buf);
  if (e->message.empty()) e->message = buf;
  std::longjmp(e->jump, 1);
}

// A warning (level -1) is corrupt data that libjpeg would decode anyway (missing rows filled with grey):
// here it ends the decoding. Trace messages (level >= 0) are ignored.
void jpegMessage(j_common_ptr c, int level) {
  if (level >= 0) return;
  auto* e = reinterpret_cast<JpegError*>(c->err);
  if (c->err->msg_code == JWRN_JPEG_EOF) e->premature = true;
  jpegExit(c);
}

bool decodeJpeg(const std::vector<uint8_t>& file, Image& out, Error& err) {
  jpeg_decompress_struct cinfo;
  JpegError jerr;
  cinfo.err = jpeg_std_error(&jerr.mgr);
  jerr.mgr.error_exit = jpegExit;
  jerr.mgr.emit_message = jpegMessage;
  Image img;
  if (setjmp(jerr.jump)) {
    jpeg_destroy_decompress(&cinfo);
    if (jerr.premature)
      return fail(err, Error::Kind::Truncated, "truncated JPEG: the file ends inside the image data", file.size());
    return fail(err, Error::Kind::BadHeader, "damaged JPEG: " + jerr.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, file.data(), static_cast<unsigned long>(file.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (uint64_t(cinfo.image_width) * cinfo.image_height > (uint64_t(1) << 28)) {
    jerr.message = "the image has more than 2^28 pixels";
    std::longjmp(jerr.jump, 1);
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  img.height = cinfo.output_height, img.width = cinfo.output_width, img.channels = cinfo.output_components;
  img.pixels.resize(size_t(img.height * img.width * img.channels));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.pixels.data() + size_t(cinfo.output_scanline) * size_t(img.width * img.channels);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out = std::move(img);
  return true;
}

bool endsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - n + i])) != suffix[i]) return false;
  return true;
}

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The names in `dir` (hidden ones skipped), sorted bytewise.
bool listDir(const std::string& dir, std::vector<std::string>& names) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return true;
}

}  // namespace

bool decodeImage(const std::vector<uint8_t>& file, Image& out, Error& err) {
  static const uint8_t pngMagic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (file.size() >= 8 && std::memcmp(file.data(), pngMagic, 8) == 0) return decodePng(file, out, err);
  if (file.size() >= 3 && file[0] == 0xff && file[1] == 0xd8 && file[2] == 0xff) return decodeJpeg(file, out, err);
  return fail(err, Error::Kind::BadMagic, "neither a PNG nor a JPEG file (its first bytes are neither signature)");
}

bool readImage(const std::string& path, Image& out, Error& err) {
  std::vector<uint8_t> b;
  // An image file is small: 1 GiB bounds what a gzipped one may inflate to.
  return readFile(path, b, err, size_t(1) << 30) && decodeImage(b, out, err);
}

void convertChannels(Image& img, int64_t channels) {
  if (img.channels == channels) return;
  const size_t n = size_t(img.height * img.width);
  std::vector<uint8_t> p(n * size_t(channels));
  if (img.channels == 1 && channels == 3) {
    for (size_t i = 0; i < n; ++i) p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = img.pixels[i];
  } else if (img.channels == 3 && channels == 1) {
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* q = &img.pixels[3 * i];
      p[i] = static_cast<uint8_t>(std::lround(0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2]));
    }
  } else {
    return;
  }
  img.pixels = std::move(p);
  img.channels = channels;
}

std::vector<uint8_t> resizeToChw(const Image& img, int64_t height, int64_t width, Resize mode) {
  const int64_t C = img.channels, H = img.height, W = img.width;
  std::vector<uint8_t> out(size_t(C * height * width), 0);
  if (H == height && W == width) {
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t c = 0; c < C; ++c) out[size_t((c * H + y) * W + x)] = img.pixels[size_t((y * W + x) * C + c)];
    return out;
  }
  // The scaled image's size (sh, sw) and where its top-left corner lands in the target (oy, ox).
  double sy = double(height) / double(H), sx = double(width) / double(W);
  if (mode == Resize::Crop) sy = sx = std::max(sy, sx);
  if (mode == Resize::Pad) sy = sx = std::min(sy, sx);
  const int64_t sh = mode == Resize::Stretch ? height : std::max<int64_t>(1, std::llround(double(H) * sy));
  const int64_t sw = mode == Resize::Stretch ? width : std::max<int64_t>(1, std::llround(double(W) * sx));
  const int64_t oy = (height - sh) / 2, ox = (width - sw) / 2;  // negative when cropping
  const double fy = double(H) / double(sh), fx = double(W) / double(sw);
  for (int64_t ty = 0; ty < height; ++ty) {
    const int64_t y = ty - oy;  // row of the scaled image
    if (y < 0 || y >= sh) continue;
    const double py = std::clamp((double(y) + 0.5) * fy - 0.5, 0.0, double(H - 1));
    const int64_t y0 = int64_t(py), y1 = std::min(y0 + 1, H - 1);
    const double wy = py - double(y0);
    for (int64_t tx = 0; tx < width; ++tx) {
      const int64_t x = tx - ox;
      if (x < 0 || x >= sw) continue;
      const double px = std::clamp((double(x) + 0.5) * fx - 0.5, 0.0, double(W - 1));
      const int64_t x0 = int64_t(px), x1 = std::min(x0 + 1, W - 1);
      const double wx = px - double(x0);
      for (int64_t c = 0; c < C; ++c) {
        auto at = [&](int64_t yy, int64_t xx) { return double(img.pixels[size_t((yy * W + xx) * C + c)]); };
        const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out[size_t((c * height + ty) * width + tx)] = static_cast<uint8_t>(std::clamp(std::lround(v), 0l, 255l));
      }
    }
  }
  return out;
}

bool isImageFile(const std::string& path) {
  return endsWith(path, ".png") || endsWith(path, ".jpg") || endsWith(path, ".jpeg");
}

bool listImageFolder(const std::string& dir, ImageFolder& out, Error& err) {
  out = ImageFolder{};
  if (!isDir(dir)) return fail(err, Error::Kind::Unreadable, "not a directory");
  std::vector<std::string> names;
  if (!listDir(dir, names)) return fail(err, Error::Kind::Unreadable, std::strerror(errno));
  for (const std::string& n : names) {
    const std::string sub = dir + "/" + n;
    if (!isDir(sub)) continue;
    std::vector<std::string> files;
    if (!listDir(sub, files)) return fail(err, Error::Kind::Unreadable, "cannot list " + sub + ": " + std::strerror(errno));
    const int32_t label = static_cast<int32_t>(out.classes.size());
    out.classes.push_back(n);
    int64_t count = 0;
    for (const std::string& f : files) {
      if (!isImageFile(f)) continue;
      out.files.push_back(sub + "/" + f);
      out.labels.push_back(label);
      ++count;
    }
    out.perClass.push_back(count);
  }
  return true;
}

}  // namespace dls::data

// Images.h: image folders (torchvision's ImageFolder convention), read by the same code for `dlspec check
// --data` (checker/data) and for the executable's loader (runtime/data). A folder holds one sub-folder per
// class; the sub-folders' names, sorted bytewise, are the classes 0, 1, …; each class's images are its files
// named *.png, *.jpg or *.jpeg (any case), sorted bytewise; hidden entries (a leading dot) and other files
// are not images and are skipped. PNG is decoded by libpng, JPEG by libjpeg(-turbo); a warning of either
// (a truncated JPEG whose missing rows libjpeg would fill with grey, a bad CRC) is an error, so that a damaged
// file never becomes a plausible image. Like the other readers, nothing here throws or prints.
#ifndef DLSPEC_DATA_IMAGES_H
#define DLSPEC_DATA_IMAGES_H
#include <cstdint>
#include <string>
#include <vector>

#include "DataFormats.h"

namespace dls::data {

// A decoded image: height × width × channels bytes, interleaved (HWC), 8 bits per channel. 16-bit PNGs are
// reduced to 8 bits, palettes expanded, an alpha channel dropped: channels is 1 (grey) or 3 (RGB).
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// How an image of another size becomes height × width (bilinear, pixel centres as torchvision's
// antialias-free resize and OpenCV's INTER_LINEAR): Stretch scales each axis on its own; Crop scales both by
// the factor that covers the target and cuts the centre; Pad scales both by the factor that fits the image
// inside the target and fills the border with zeros.
enum class Resize { Stretch = 0, Crop = 1, Pad = 2 };

// PNG or JPEG by the file's first bytes (anything else: BadMagic). Truncated: the file ends inside the image
// data; BadHeader: libpng's or libjpeg's own message in `what`.
bool decodeImage(const std::vector<uint8_t>& file, Image& out, Error& err);
// readFile (raw or gzip) + decodeImage.
bool readImage(const std::string& path, Image& out, Error& err);
// 1 → 3 repeats the grey value; 3 → 1 is the luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as PIL's
// convert("L")), rounded.
void convertChannels(Image& img, int64_t channels);
// The image as height × width, channel-major (CHW, what a convolution reads), resized as `mode` says; an
// image already of that size is copied as it is.
std::vector<uint8_t> resizeToChw(const Image& img, int64_t height, int64_t width, Resize mode);

struct ImageFolder {
  std::vector<std::string> classes;  // the sub-folders' names, sorted
  std::vector<std::string> files;    // every image's path, class by class, each class's files sorted
  std::vector<int32_t> labels;       // the class index of each file
  std::vector<int64_t> perClass;     // images per class (0: an empty class folder)
};
// Lists `dir` (Unreadable when it is not a readable directory; an empty one has no classes).
bool listImageFolder(const std::string& dir, ImageFolder& out, Error& err);
// Whether `path` names an image file by its extension.
bool isImageFile(const std::string& path);

}  // namespace dls::data
#endif

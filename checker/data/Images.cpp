// Image folders for `dlspec check --data`: listed and decoded by the runtime's readers (Images.h), so that
// what the check accepts is what the executable loads; the images become a DataTable of u8 rows.
#include "Images.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <fmt/format.h>
#include <set>
#include <tuple>

#include "checker/data/DataTable.h"

namespace dls::checker::data {

bool readImages(const std::string& dir, const ImageSpec& spec, DataTable& out, ImageFindings& found, std::string& error) {
  out = DataTable{};
  found = ImageFindings{};
  dls::data::ImageFolder f;
  dls::data::Error e;
  if (!dls::data::listImageFolder(dir, f, e)) {
    error = e.what;
    return false;
  }
  out.file = out.labelFile = dir;
  out.classNames = f.classes;
  for (size_t k = 0; k < f.classes.size(); ++k)
    if (f.perClass[k] == 0) found.emptyClasses.push_back(dir + "/" + f.classes[k]);
  out.sampleDims = {spec.channels, spec.height, spec.width};
  out.sampleKind = 'u';
  out.elemSize = 1;
  out.rowBytes = static_cast<size_t>(spec.channels * spec.height * spec.width);
  std::set<std::tuple<int64_t, int64_t, int64_t>> shapes;
  for (size_t i = 0; i < f.files.size(); ++i) {
    dls::data::Image img;
    if (!dls::data::readImage(f.files[i], img, e)) {
      found.undecodable.emplace_back(f.files[i], e.what);
      continue;
    }
    const bool wrongChannels = spec.convertTo == 0 && img.channels != spec.channels;
    const bool wrongSize = spec.resizeH == 0 && (img.height != spec.height || img.width != spec.width);
    if (wrongChannels || wrongSize) {
      if (found.misfit.empty()) found.firstMisfit = fmt::format("[{}, {}] with {} channel(s)", img.height, img.width, img.channels);
      found.misfit.push_back(f.files[i]);
      shapes.insert({img.height, img.width, img.channels});
      continue;
    }
    dls::data::convertChannels(img, spec.channels);
    std::vector<uint8_t> chw = dls::data::resizeToChw(img, spec.height, spec.width, static_cast<dls::data::Resize>(spec.resize));
    auto [lo, hi] = std::minmax_element(chw.begin(), chw.end());
    if (!chw.empty() && *hi - *lo <= 2) {
      if (found.constantRows.empty()) found.lowConstant = *lo, found.highConstant = *hi;
      found.constantRows.push_back(out.rows);
    }
    out.raw.insert(out.raw.end(), chw.begin(), chw.end());
    out.labels.push_back(f.labels[i]);
    out.fileOf.push_back(f.files[i]);
    ++out.rows;
  }
  found.misfitShapes = static_cast<int64_t>(shapes.size());
  return true;
}

bool surveyImages(const std::string& dir, int64_t maxImages, ImageSurvey& out, std::string& error) {
  out = ImageSurvey{};
  dls::data::ImageFolder f;
  dls::data::Error e;
  if (!dls::data::listImageFolder(dir, f, e)) {
    error = e.what;
    return false;
  }
  out.classes = f.classes;
  out.perClass = f.perClass;
  out.images = static_cast<int64_t>(f.files.size());
  if (f.files.empty()) return true;
  const size_t n = f.files.size(), take = std::min<size_t>(n, static_cast<size_t>(std::max<int64_t>(maxImages, 1)));
  std::vector<dls::data::Image> seen;
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> shapes;
  for (size_t k = 0; k < take; ++k) {
    dls::data::Image img;
    if (!dls::data::readImage(f.files[k * n / take], img, e)) {
      ++out.undecodable;
      continue;
    }
    ++shapes[{img.height, img.width, img.channels}];
    seen.push_back(std::move(img));
  }
  out.decoded = static_cast<int64_t>(seen.size());
  if (seen.empty()) return true;
  auto common = std::max_element(shapes.begin(), shapes.end(), [](auto& a, auto& b) { return a.second < b.second; });
  std::tie(out.height, out.width, out.channels) = common->first;
  out.otherShapes = out.decoded - common->second;
  double sum = 0, sq = 0, count = 0;
  for (const dls::data::Image& img : seen) {
    if (img.height != out.height || img.width != out.width || img.channels != out.channels) continue;
    for (uint8_t v : img.pixels) {
      double x = v / 255.0;
      sum += x;
      sq += x * x;
    }
    count += double(img.pixels.size());
  }
  out.mean = count > 0 ? sum / count : 0;
  out.std = count > 0 ? std::sqrt(std::max(sq / count - out.mean * out.mean, 0.0)) : 1;
  if (!(out.std > 1e-8)) out.std = 1;
  return true;
}

}  // namespace dls::checker::data

#include "Metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "../core/Runtime.h"
#include "RunDir.h"

namespace dls {

namespace {
// metrics.jsonl keeps every digit (the shortest text that reads back as the same double); metrics.csv six.
std::string num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }
}  // namespace

namespace {
// Appends `record` to `path` as one write; see append_metrics.
bool append_record(const std::string& path, const std::string& header, const std::string& record) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) {
    warn(Diag::R0108, path, path, errno == ELOOP ? std::string("it is a symbolic link") : std::strerror(errno));
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    warn(Diag::R0108, path, path, "not a regular file");
    return false;
  }
  off_t size = st.st_size;
  if (size > 0) {  // cut a torn last record back to the last newline
    char last = 0;
    if (::pread(fd, &last, 1, size - 1) == 1 && last != '\n') {
      off_t keep = 0;
      std::vector<char> buf(size_t(std::min<off_t>(size, 1 << 16)));
      for (off_t end = size; end > 0 && keep == 0;) {
        off_t from = std::max<off_t>(0, end - off_t(buf.size()));
        ssize_t n = ::pread(fd, buf.data(), size_t(end - from), from);
        if (n <= 0) break;
        for (ssize_t i = n - 1; i >= 0; --i)
          if (buf[size_t(i)] == '\n') {
            keep = from + i + 1;
            break;
          }
        end = from;
      }
      if (::ftruncate(fd, keep) == 0) size = keep;
    }
  }
  const std::string text = (size == 0 ? header : std::string()) + record;
  ssize_t w = ::write(fd, text.data(), text.size());
  if (w != ssize_t(text.size())) {
    std::string why = w < 0 ? std::strerror(errno) : std::string("short write (disk full?)");
    if (::ftruncate(fd, size) != 0) why += "; the partial record could not be removed";
    ::close(fd);
    warn(Diag::R0108, path, path, why);
    return false;
  }
  ::close(fd);
  return true;
}
}  // namespace

bool append_metrics(const std::string& dir, const EpochMetrics& m) {
  if (!make_dirs(dir)) {
    warn(Diag::R0108, dir, dir, std::strerror(errno));
    return false;
  }
  std::string json_extra, csv_header_extra, csv_extra;
  auto cn = [](double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); };
  for (const auto& [name, v] : m.extra) {
    json_extra += fmt::format(",\"{}\":{}", name, num(v));
    csv_header_extra += ',';  // (not "," + name: GCC 12 -Wrestrict false positive)
    csv_header_extra += name;
    csv_extra += ',';
    csv_extra += cn(v);
  }
  bool ok = append_record(
      dir + "/metrics.jsonl", "",
      fmt::format("{{\"epoch\":{},\"train_loss\":{},\"val_loss\":{},\"val_accuracy\":{},\"img_per_s\":{},\"seconds\":{},\"lr\":{},\"train_accuracy\":{}{}}}\n",
                  m.epoch, num(m.train_loss), num(m.val_loss), num(m.val_acc), num(m.img_s), num(m.seconds), num(m.lr),
                  num(m.train_acc), json_extra));
  ok &= append_record(dir + "/metrics.csv",
                      "epoch,train_loss,val_loss,val_accuracy,img_per_s,seconds,lr,train_accuracy" + csv_header_extra + "\n",
                      fmt::format("{},{},{},{},{},{},{},{}{}\n", m.epoch, cn(m.train_loss), cn(m.val_loss), cn(m.val_acc),
                                  cn(m.img_s), cn(m.seconds), cn(m.lr), cn(m.train_acc), csv_extra));
  return ok;
}

void trim_metrics(const std::string& dir, int64_t last_epoch) {
  for (const char* name : {"metrics.csv", "metrics.jsonl"}) {
    const std::string path = dir + "/" + name;
    if (last_epoch <= 0) {
      ::unlink(path.c_str());
      continue;
    }
    std::string text, why;
    if (!read_regular(path, text, why, size_t(1) << 30, true)) continue;
    std::string out;
    std::stringstream ss(text);
    std::string line;
    bool csv = std::string(name) == "metrics.csv";
    for (bool first = true; std::getline(ss, line); first = false) {
      if (ss.eof()) break;  // a torn last record (no newline)
      if (csv && first) {
        out += line + "\n";
        continue;
      }
      const char* p = csv ? line.c_str() : std::strstr(line.c_str(), "\"epoch\":");
      if (!p) continue;
      if (!csv) p += 8;
      if (std::atoll(p) <= last_epoch) out += line + "\n";
    }
    if (out != text) write_replace(path, out, false);
  }
}

std::vector<EpochMetrics> read_metrics(const std::string& dir) {
  std::vector<EpochMetrics> out;
  std::string text, why;
  if (!read_regular(dir + "/metrics.csv", text, why, size_t(1) << 30, true)) return out;
  std::stringstream c(text);
  std::string line;
  std::getline(c, line);  // header
  while (std::getline(c, line)) {
    if (c.eof()) break;  // a torn last record (no newline)
    std::vector<double> v;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) v.push_back(cell.empty() ? NAN : std::atof(cell.c_str()));
    while (v.size() < 8) v.push_back(NAN);
    EpochMetrics m{int64_t(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7], {}};
    // A resumed run may repeat epochs after a crash: keep the latest row per epoch.
    while (!out.empty() && out.back().epoch >= m.epoch) out.pop_back();
    out.push_back(m);
  }
  return out;
}

Axis nice_axis(double lo, double hi, int target, bool unit) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    const double d = std::max(std::fabs(lo) * 0.05, 1e-3);
    lo -= d, hi += d;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  double first = std::floor(lo / step + 1e-9) * step, last = std::ceil(hi / step - 1e-9) * step;
  if (unit) first = std::max(first, 0.0), last = std::min(last, 1.0);
  if (last <= first) last = first + step;
  Axis a;
  for (int k = 0; first + k * step <= last + step * 1e-6; ++k) {
    double t = first + k * step;
    a.ticks.push_back(std::fabs(t) < step * 1e-6 ? 0.0 : t);
  }
  a.decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
  return a;
}

bool write_curves(const std::string& dir, const std::vector<EpochMetrics>& ms) {
  const int W = 940, H = 360, pw = 380, ph = 260, top = 50, left1 = 70, left2 = 520;
  std::string s = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
                              "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", W, H);
  auto panel = [&](int left, const char* title, std::vector<std::pair<std::string, std::vector<double>>> series,
                   bool percent) {
    double lo = INFINITY, hi = -INFINITY;
    for (auto& [name, v] : series)
      for (double x : v)
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    // The axis runs from tick to tick at round values; accuracies stay inside 0–100%.
    const Axis axis = nice_axis(lo, hi, 4, percent);
    lo = axis.ticks.front(), hi = axis.ticks.back();
    const int decimals = std::max(0, axis.decimals - (percent ? 2 : 0));
    const size_t n = ms.size();
    auto X = [&](size_t i) { return left + (n > 1 ? double(i) * pw / double(n - 1) : pw / 2.0); };
    auto Y = [&](double v) { return top + ph - (v - lo) / (hi - lo) * ph; };
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n", left, top - 20, title);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", left, top, pw, ph);
    for (double v : axis.ticks) {
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 5, Y(v) + 4,
                       percent ? fmt::format("{:.{}f}%", v * 100, decimals) : fmt::format("{:.{}f}", v, decimals));
      s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", left, left + pw, Y(v), Y(v));
    }
    for (size_t i = 0; i < n; ++i)
      if (n <= 20 || i % (n / 10) == 0)
        s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", X(i), top + ph + 16, ms[i].epoch);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n", left + pw / 2, top + ph + 34);
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c"};
    int ci = 0;
    for (auto& [name, v] : series) {
      std::string pts;
      for (size_t i = 0; i < v.size(); ++i)
        if (std::isfinite(v[i])) pts += fmt::format("{:.1f},{:.1f} ", X(i), Y(v[i]));
      s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", colors[ci], pts);
      for (size_t i = 0; i < v.size(); ++i)
        if (std::isfinite(v[i])) s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", X(i), Y(v[i]), colors[ci]);
      // Legend above the plot, right-aligned on the title's line, so it never covers a curve.
      int lx = left + pw - 170 + 90 * ci;
      s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n", lx, lx + 16,
                       top - 24, top - 24, colors[ci]);
      s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", lx + 20, top - 20, colors[ci], name);
      ++ci;
    }
  };
  std::vector<double> tl, vl, ta, va;
  for (const auto& m : ms)
    tl.push_back(m.train_loss), vl.push_back(m.val_loss), ta.push_back(m.train_acc), va.push_back(m.val_acc);
  panel(left1, "loss", {{"train", tl}, {"validation", vl}}, false);
  panel(left2, "accuracy", {{"train", ta}, {"validation", va}}, true);
  s += "</svg>\n";
  const std::string path = dir + "/curves.svg";
  if (std::string why = write_replace(path, s, false); !why.empty()) {
    warn(Diag::R0108, path, path, why);
    return false;
  }
  return true;
}

}  // namespace dls

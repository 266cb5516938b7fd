#include <cstdio>
#include <zlib.h>

#include "checker/data/DataTable.h"

namespace dls::checker::data {

std::string DataTable::recordName(int64_t row) const {
  if (csv && row >= 0 && static_cast<size_t>(row) < lineOf.size()) return "line " + std::to_string(lineOf[row]);
  return "record " + std::to_string(row);
}

bool readMaybeGzip(const std::string& path, std::vector<uint8_t>& out, std::string& error) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  if (!f) {
    error = "cannot open the file";
    return false;
  }
  gzbuffer(f, 1 << 17);
  out.clear();
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int code;
      const char* msg = gzerror(f, &code);
      error = "damaged gzip stream after " + std::to_string(out.size()) + " bytes: " + (msg ? msg : "unknown");
      gzclose(f);
      return false;
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
    if (out.size() > (size_t{4} << 30)) {
      error = "larger than 4 GiB";
      gzclose(f);
      return false;
    }
  }
  gzclose(f);
  return true;
}

namespace {
uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

bool header(const std::vector<uint8_t>& b, std::vector<int64_t>& dims, size_t& offset, std::string& error) {
  if (b.size() < 4 || b[0] != 0 || b[1] != 0) {
    error = "not an IDX file (bad magic at byte 0)";
    return false;
  }
  if (b[2] != 0x08) {
    error = "element type 0x" + std::to_string(b[2]) + " at byte 2 is not u8";
    return false;
  }
  size_t nd = b[3];
  if (nd == 0 || b.size() < 4 + 4 * nd) {
    error = "truncated header";
    return false;
  }
  size_t total = 1;
  for (size_t i = 0; i < nd; ++i) {
    dims.push_back(be32(&b[4 + 4 * i]));
    if (__builtin_mul_overflow(total, static_cast<size_t>(dims.back()), &total)) {
      error = "dimensions overflow";
      return false;
    }
  }
  offset = 4 + 4 * nd;
  if (b.size() - offset < total) {
    error = "truncated: " + std::to_string(b.size()) + " bytes, the header promises " + std::to_string(offset + total);
    return false;
  }
  return true;
}
}  // namespace

bool readIdx(const std::string& images, const std::string& labels, DataTable& out, std::string& error) {
  std::vector<uint8_t> ib, lb;
  std::string e;
  if (!readMaybeGzip(images, ib, e)) { error = "`" + images + "`: " + e; return false; }
  if (!readMaybeGzip(labels, lb, e)) { error = "`" + labels + "`: " + e; return false; }
  std::vector<int64_t> idims, ldims;
  size_t io = 0, lo = 0;
  if (!header(ib, idims, io, e)) { error = "`" + images + "`: " + e; return false; }
  if (!header(lb, ldims, lo, e)) { error = "`" + labels + "`: " + e; return false; }
  if (ldims[0] != idims[0]) {
    error = "`" + images + "` has " + std::to_string(idims[0]) + " samples but `" + labels + "` has " +
            std::to_string(ldims[0]) + (ldims.size() == 1 ? " labels" : " rows of labels");
    return false;
  }
  out.file = images;
  out.labelFile = labels;
  out.rows = idims[0];
  out.sampleDims.assign(idims.begin() + 1, idims.end());
  out.rowBytes = 1;
  for (auto d : out.sampleDims) out.rowBytes *= static_cast<size_t>(d);
  out.raw.assign(ib.begin() + static_cast<long>(io), ib.begin() + static_cast<long>(io + out.rowBytes * static_cast<size_t>(out.rows)));
  // Labels after the sample axis: (n,) holds one per sample, (n, T) one per step.
  out.labelDims.assign(ldims.begin() + 1, ldims.end());
  out.labelsPerRow = 1;
  for (auto d : out.labelDims) out.labelsPerRow *= d;
  size_t count = static_cast<size_t>(out.rows) * static_cast<size_t>(out.labelsPerRow);
  out.labels.resize(count);
  for (size_t i = 0; i < count; ++i) out.labels[i] = lb[lo + i];
  return true;
}

}  // namespace dls::checker::data

#include "CheckpointFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dls::data {

namespace {
std::string hex8(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}
}  // namespace

CheckpointReader::CheckpointReader(int fd_, uint64_t end_)
    : fd(fd_), end(end_), buf(size_t(1) << 20), crc(uint32_t(crc32(0L, Z_NULL, 0))) {}

bool CheckpointReader::fill() {
  if (pos >= end) return false;
  size_t want = size_t(std::min<uint64_t>(buf.size(), end - pos));
  ssize_t n;
  do n = ::pread(fd, buf.data(), want, off_t(pos));
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    if (n < 0) why = std::strerror(errno);
    return false;
  }
  at = 0, len = size_t(n), pos += uint64_t(n);
  return true;
}

bool CheckpointReader::bytes(void* p, uint64_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    if (at == len && !fill()) return ok = false;
    size_t take = size_t(std::min<uint64_t>(n, len - at));
    crc = uint32_t(crc32(crc, reinterpret_cast<const Bytef*>(buf.data() + at), uInt(take)));
    if (c) std::memcpy(c, buf.data() + at, take), c += take;
    at += take, n -= take;
  }
  return true;
}

std::string checkCheckpointCrc(int fd, uint64_t size, uint32_t& stored) {
  if (size < 4 || ::pread(fd, &stored, 4, off_t(size - 4)) != 4) return "truncated";
  CheckpointReader crc(fd, size - 4);
  crc.bytes(nullptr, size - 4);
  if (!crc.ok) return crc.why.empty() ? "truncated" : crc.why;
  if (crc.crc != stored) return "CRC mismatch (stored " + hex8(stored) + ", computed " + hex8(crc.crc) + ")";
  return "";
}

std::string readCheckpointHeader(CheckpointReader& r, CheckpointHeader& h) {
  char magic[8];
  r.bytes(magic, 8);
  if (!r.ok || std::memcmp(magic, kCheckpointMagic, 8) != 0) return "not a dlspec checkpoint (bad magic)";
  h.version = r.get<uint32_t>();
  if (h.version < 1 || h.version > kCheckpointVersion)
    return "format version " + std::to_string(h.version) + " (this dlspec reads 1 to " + std::to_string(kCheckpointVersion) + ")";
  h.layout_hash = r.get<uint64_t>();
  h.epoch = r.get<int64_t>();
  h.global_step = r.get<int64_t>();
  h.updates = r.get<int64_t>();
  h.seed = r.get<uint64_t>();
  CheckpointMade& m = h.made;
  if (h.version >= 2) {
    m.kind = r.get<int32_t>();
    m.lr = r.get<double>(), m.momentum = r.get<double>(), m.beta1 = r.get<double>();
    m.beta2 = r.get<double>(), m.eps = r.get<double>(), m.weight_decay = r.get<double>();
    m.nesterov = r.get<int32_t>();
    m.batch = r.get<int64_t>();
    m.structure = r.get<uint64_t>(), m.data = r.get<uint64_t>();
  }
  if (h.version >= 3) m.precision = r.get<int32_t>();
  if (h.version >= 4) {
    m.plateau = r.get<int32_t>();
    m.plateau_lr = r.get<double>(), m.plateau_best = r.get<double>();
    m.plateau_bad = r.get<int64_t>(), m.plateau_cooldown_left = r.get<int64_t>();
    m.val_loss = r.get<double>(), m.val_acc = r.get<double>();
  }
  if (h.version >= 5) {
    m.stop = r.get<int32_t>();
    m.stop_best = r.get<double>();
    m.stop_best_epoch = r.get<int64_t>(), m.stop_bad = r.get<int64_t>();
    m.best_metric = r.get<int32_t>();
    m.best_value = r.get<double>();
    m.best_epoch = r.get<int64_t>();
  }
  if (h.version >= 6) {
    const uint32_t n = r.get<uint32_t>();
    if (!r.ok || n > kCheckpointMaxSettings) return "truncated header (its settings)";
    auto text = [&](std::string& out) {
      const uint32_t len = r.get<uint32_t>();
      if (!r.ok || len > kCheckpointMaxSettingBytes) return false;
      out.assign(len, '\0');
      return r.bytes(out.data(), len);
    };
    for (uint32_t i = 0; i < n; ++i) {
      std::pair<std::string, std::string> kv;
      if (!text(kv.first) || !text(kv.second)) return "truncated header (its settings)";
      m.settings.push_back(std::move(kv));
    }
  }
  h.count = r.get<uint32_t>();
  if (!r.ok) return "truncated header";
  return "";
}

std::string readCheckpointEntry(CheckpointReader& r, CheckpointEntry& e) {
  const uint32_t len = r.get<uint32_t>();
  if (!r.ok || len > 4096) return "truncated entry";
  e.name.assign(len, '\0');
  r.bytes(e.name.data(), len);
  e.rank = r.get<int32_t>();
  for (auto& d : e.dims) d = r.get<int64_t>();
  e.numel = r.get<int64_t>();
  if (!r.ok) return "truncated entry";
  if (e.rank < 0 || e.rank > 4 || e.numel < 0) return "a malformed entry `" + e.name + "`";
  return "";
}

std::string readCheckpointFile(const std::string& path, CheckpointHeader& h, std::vector<CheckpointTensor>& tensors) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  const uint64_t size = uint64_t(st.st_size);
  uint32_t stored = 0;
  {
    char head[8];
    if (::pread(fd, head, 8, 0) != 8 || std::memcmp(head, kCheckpointMagic, 8) != 0) return "not a dlspec checkpoint (bad magic)";
  }
  if (std::string bad = checkCheckpointCrc(fd, size, stored); !bad.empty()) return bad;
  CheckpointReader r(fd, size - 4);
  if (std::string bad = readCheckpointHeader(r, h); !bad.empty()) return bad;
  tensors.clear();
  for (uint32_t i = 0; i < h.count; ++i) {
    CheckpointTensor t;
    if (std::string bad = readCheckpointEntry(r, t.entry); !bad.empty()) return bad;
    if (uint64_t(t.entry.numel) * 4 > size) return "the tensor `" + t.entry.name + "` runs past the end of the file";
    t.values.resize(size_t(t.entry.numel));
    if (!r.bytes(t.values.data(), uint64_t(t.entry.numel) * 4)) return "truncated tensor data";
    tensors.push_back(std::move(t));
  }
  if (!r.done()) return "trailing bytes";
  return "";
}

}  // namespace dls::data

#include "Checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dls {

namespace {

const char kMagic[8] = {'D', 'L', 'S', 'C', 'K', 'P', 'T', 0};
const uint32_t kVersion = 1;

struct Writer {
  std::string buf;
  template <class T>
  void put(const T& v) { buf.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void bytes(const void* p, size_t n) { buf.append(static_cast<const char*>(p), n); }
};

struct Reader {
  const std::string& buf;
  size_t pos = 0;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    if (pos + sizeof v > buf.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, buf.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  bool bytes(void* p, size_t n) {
    if (pos + n > buf.size()) return ok = false;
    std::memcpy(p, buf.data() + pos, n);
    pos += n;
    return true;
  }
};

struct Entry {
  std::string name;
  const Tensor* t = nullptr;  // value tensors
  float* state = nullptr;     // optimizer state
  int64_t numel = 0;
  dls_tensor_desc shape{};
};

std::vector<Entry> entries(dls_rt* rt) {
  std::vector<Entry> out;
  for (const auto& p : rt->params) {
    const Tensor& t = rt->tensors[p.value];
    out.push_back({p.name, &t, nullptr, t.d.numel, t.d});
    if (p.state0) out.push_back({p.name + "#0", nullptr, p.state0, t.d.numel, t.d});
    if (p.state1) out.push_back({p.name + "#1", nullptr, p.state1, t.d.numel, t.d});
  }
  return out;
}

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() == 16 && n.rfind("ckpt-", 0) == 0 && n.compare(11, 5, ".dlsc") == 0)
      out.push_back({std::atoll(n.substr(5, 6).c_str()), dir + "/" + n});
  }
  closedir(d);
  std::sort(out.begin(), out.end(), std::greater<>());
  return out;
}

bool write_all(int fd, const char* p, size_t n, std::string& why) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      if (errno == ENOSPC) why += " (disk full)";
      if (errno == EFBIG) why += " (file size limit reached)";
      return false;
    }
    p += w, n -= size_t(w);
  }
  return true;
}

// Temporaries of writers that died mid-write (kill -9, power loss): .tmp-ckpt-EPOCH-PID whose PID is gone.
// 50 kill -9s during training left 9 of them behind before this.
void remove_stale_temporaries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(".tmp-ckpt-", 0) != 0) continue;
    size_t dash = n.rfind('-');
    long pid = std::atol(n.c_str() + dash + 1);
    if (pid > 0 && pid != long(::getpid()) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) stale.push_back(dir + "/" + n);
  }
  closedir(d);
  for (const auto& p : stale) ::unlink(p.c_str());
}

// Parses and validates one file; on success copies everything into rt. Returns "" or the reason.
std::string try_load(dls_rt* rt, const std::string& path, CheckpointInfo& info) {
  std::string buf;
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return std::strerror(errno);
    char tmp[1 << 16];
    size_t n;
    while ((n = std::fread(tmp, 1, sizeof tmp, f)) > 0) buf.append(tmp, n);
    std::fclose(f);
  }
  if (buf.size() < 8 + 4 + 4 || std::memcmp(buf.data(), kMagic, 8) != 0) return "not a dlspec checkpoint (bad magic)";
  uint32_t stored;
  std::memcpy(&stored, buf.data() + buf.size() - 4, 4);
  uint32_t crc = (uint32_t)crc32(0L, reinterpret_cast<const Bytef*>(buf.data()), (uInt)(buf.size() - 4));
  if (crc != stored) return fmt::format("CRC mismatch (stored {:08x}, computed {:08x})", stored, crc);
  Reader r{buf, 8};
  uint32_t version = r.get<uint32_t>();
  if (version != kVersion) return fmt::format("format version {} (this runtime reads {})", version, kVersion);
  uint64_t hash = r.get<uint64_t>();
  if (hash != rt->layout_hash) fail(Diag::R0305, path, path, hash, rt->layout_hash);
  info.epoch = r.get<int64_t>();
  info.global_step = r.get<int64_t>();
  int64_t updates = r.get<int64_t>();
  uint64_t seed = r.get<uint64_t>();
  uint32_t count = r.get<uint32_t>();
  std::vector<Entry> want = entries(rt);
  if (count != want.size())
    fail(Diag::R0306, path, path, fmt::format("it holds {} tensors, this program has {} (parameters and their optimizer state: "
                                              "was it saved with another optimizer or momentum?)", count, want.size()));
  std::vector<std::vector<float>> data(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t len = r.get<uint32_t>();
    if (!r.ok || len > 4096) return "truncated entry";
    std::string name(len, 0);
    r.bytes(name.data(), len);
    int32_t rank = r.get<int32_t>();
    int64_t dims[4];
    for (auto& d : dims) d = r.get<int64_t>();
    int64_t numel = r.get<int64_t>();
    if (!r.ok) return "truncated entry";
    if (name != want[i].name)
      fail(Diag::R0306, path, path, fmt::format("tensor {} is '{}', this program expects '{}'", i, name, want[i].name));
    bool same = rank == want[i].shape.rank && numel == want[i].numel;
    for (int k = 0; k < 4 && same; ++k) same = dims[k] == want[i].shape.dims[k];
    if (!same) {
      dls_tensor_desc got{};
      got.rank = rank;
      for (int k = 0; k < 4; ++k) got.dims[k] = dims[k];
      fail(Diag::R0306, path, path, fmt::format("'{}' has shape {}, this program expects {}", name, shape_str(got), shape_str(want[i].shape)));
    }
    data[i].resize(size_t(numel));
    if (!r.bytes(data[i].data(), size_t(numel) * 4)) return "truncated tensor data";
  }
  if (r.pos != buf.size() - 4) return "trailing bytes";
  for (size_t i = 0; i < want.size(); ++i)
    to_device(rt, want[i].t ? want[i].t->d.data : want[i].state, data[i].data(), data[i].size() * 4);
  rt->updates = updates;
  (void)seed;
  info.path = path;
  return "";
}

}  // namespace

std::string save_checkpoint(dls_rt* rt, const std::string& dir, int64_t epoch, int64_t global_step) {
  ::signal(SIGXFSZ, SIG_IGN);  // exceeding RLIMIT_FSIZE then fails write() with EFBIG instead of killing us
  std::string final_path = fmt::format("{}/ckpt-{:06d}.dlsc", dir, epoch);
  if (!make_dirs(dir))
    fail(Diag::R0301, dir, final_path, fmt::format("cannot create directory: {}", std::strerror(errno)));
  Writer w;
  w.bytes(kMagic, 8);
  w.put(kVersion);
  w.put(rt->layout_hash);
  w.put(epoch);
  w.put(global_step);
  w.put(rt->updates);
  w.put(uint64_t(rt->seed));
  std::vector<Entry> es = entries(rt);
  w.put(uint32_t(es.size()));
  std::vector<float> host;
  for (const auto& e : es) {
    w.put(uint32_t(e.name.size()));
    w.bytes(e.name.data(), e.name.size());
    w.put(int32_t(e.shape.rank));
    for (int k = 0; k < 4; ++k) w.put(int64_t(e.shape.dims[k]));
    w.put(int64_t(e.numel));
    host.resize(size_t(e.numel));
    to_host(rt, host.data(), e.t ? e.t->d.data : e.state, host.size() * 4);
    w.bytes(host.data(), host.size() * 4);
  }
  uint32_t crc = (uint32_t)crc32(0L, reinterpret_cast<const Bytef*>(w.buf.data()), (uInt)w.buf.size());
  w.put(crc);

  std::string tmp = fmt::format("{}/.tmp-ckpt-{:06d}-{}", dir, epoch, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail(Diag::R0301, final_path, final_path, std::strerror(errno));
  std::string why;
  bool ok = write_all(fd, w.buf.data(), w.buf.size(), why);
  if (ok && ::fsync(fd) != 0) ok = false, why = std::strerror(errno);
  if (::close(fd) != 0 && ok) ok = false, why = std::strerror(errno);
  if (ok && ::rename(tmp.c_str(), final_path.c_str()) != 0) ok = false, why = std::strerror(errno);
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(Diag::R0301, final_path, final_path, why);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  auto all = list_checkpoints(dir);
  for (size_t i = size_t(std::max<int64_t>(rt->ckpt_keep, 1)); i < all.size(); ++i) ::unlink(all[i].second.c_str());
  remove_stale_temporaries(dir);
  return final_path;
}

CheckpointInfo load_checkpoint(dls_rt* rt, const std::string& dir) {
  auto all = list_checkpoints(dir);
  if (all.empty()) fail(Diag::R0302, dir, dir);
  std::string first_reason, first_path;
  for (size_t i = 0; i < all.size(); ++i) {
    CheckpointInfo info;
    std::string why = try_load(rt, all[i].second, info);
    if (why.empty()) {
      if (i > 0) warn(Diag::R0304, first_path, first_path, first_reason, all[i].second);
      return info;
    }
    if (i == 0) first_reason = why, first_path = all[i].second;
  }
  fail(Diag::R0303, first_path, first_path, first_reason + (all.size() > 1 ? " (and no older checkpoint is valid)" : ""));
}

}  // namespace dls

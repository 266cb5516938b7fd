// Export.cpp: `PROGRAM export`, the trained network as an ONNX model (and/or its raw weights as safetensors or
// .npz) from a checkpoint, without the compiler or the spec. `dlspec build` puts the network's ONNX model into the
// program without its weights (compiler/import/OnnxExport.h: onnxTemplate): each initialiser made of parameters
// holds, in its doc_string, the parts of the parameters it is made of (`dlspec-parts:PARAM,OFFSET,ROWS,COLS,t|n;…`,
// a [ROWS, COLS] block of PARAM's values from OFFSET, transposed or not). The export reads the weights as `predict`
// does (a checkpoint with the program's own checks, or --weights DIR), fills each such initialiser with its parts,
// and writes every file asked for atomically: nothing is written unless all of them can be made.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "Trainer.h"
#include "WeightFiles.h"

#ifdef DLSPEC_HAVE_ONNX
#include <onnx/onnx_pb.h>
#endif

// The model `dlspec build` emits into the program (compiler/codegen/LLVMEmitter.cpp): the serialised template, or
// why the network has none. Weak: a program built before the export, and the runtime's tests, define neither.
extern "C" {
extern const unsigned char dls_onnx_model[] __attribute__((weak));
extern const int64_t dls_onnx_model_size __attribute__((weak));
extern const char dls_onnx_unavailable[] __attribute__((weak));
}

namespace dls {

namespace {

constexpr const char* kPartsPrefix = "dlspec-parts:";

struct HostParam {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Every parameter's values on the host, by name, in the program's order.
std::vector<std::pair<std::string, HostParam>> host_params(dls_rt* rt) {
  std::vector<std::pair<std::string, HostParam>> out;
  for (const auto& p : rt->params) {
    const Tensor& t = rt->tensors[size_t(p.value)];
    HostParam h;
    h.shape.assign(t.d.dims, t.d.dims + t.d.rank);
    h.values.resize(size_t(t.d.numel));
    to_host(rt, h.values.data(), t.d.data, h.values.size() * 4);
    out.push_back({p.name, std::move(h)});
  }
  return out;
}

#ifdef DLSPEC_HAVE_ONNX
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    size_t k = s.find(sep, at);
    out.push_back(s.substr(at, k == std::string::npos ? std::string::npos : k - at));
    if (k == std::string::npos) return out;
    at = k + 1;
  }
}

bool parse_i64(const std::string& s, int64_t& v) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return false;
  v = std::stoll(s);
  return true;
}

// The template filled with the parameters' values; the batch symbol fixed to `batch` when it is > 0.
std::string fill_model(const std::string& where, const std::vector<std::pair<std::string, HostParam>>& params, int64_t batch) {
  onnx::ModelProto m;
  if (!m.ParseFromArray(dls_onnx_model, int(dls_onnx_model_size)))
    fail(Diag::R0522, where, "protobuf cannot read it (the program is damaged)");
  std::map<std::string, const HostParam*> by_name;
  for (const auto& [name, h] : params) by_name[name] = &h;
  onnx::GraphProto* g = m.mutable_graph();
  for (onnx::TensorProto& t : *g->mutable_initializer()) {
    const std::string& doc = t.doc_string();
    if (doc.rfind(kPartsPrefix, 0) != 0) continue;
    int64_t want = 1;
    for (int64_t d : t.dims()) want *= d;
    std::vector<float> v;
    v.reserve(size_t(want));
    for (const std::string& part : split(doc.substr(std::strlen(kPartsPrefix)), ';')) {
      const std::vector<std::string> f = split(part, ',');
      int64_t offset = 0, rows = 0, cols = 0;
      if (f.size() != 5 || !parse_i64(f[1], offset) || !parse_i64(f[2], rows) || !parse_i64(f[3], cols) || (f[4] != "t" && f[4] != "n"))
        fail(Diag::R0522, where, fmt::format("the initialiser '{}' has the parts '{}'", t.name(), part));
      auto it = by_name.find(f[0]);
      if (it == by_name.end())
        fail(Diag::R0522, where, fmt::format("the initialiser '{}' reads the parameter '{}', which the program does not have", t.name(), f[0]));
      const std::vector<float>& src = it->second->values;
      if (offset + rows * cols > int64_t(src.size()))
        fail(Diag::R0522, where, fmt::format("the initialiser '{}' reads values {} to {} of '{}', which has {}", t.name(), offset,
                                             offset + rows * cols, f[0], src.size()));
      if (f[4] == "n") {
        v.insert(v.end(), src.begin() + offset, src.begin() + offset + rows * cols);
      } else {
        for (int64_t c = 0; c < cols; ++c)
          for (int64_t r = 0; r < rows; ++r) v.push_back(src[size_t(offset + r * cols + c)]);
      }
    }
    if (int64_t(v.size()) != want)
      fail(Diag::R0522, where, fmt::format("the initialiser '{}' holds {} values, its parts give {}", t.name(), want, v.size()));
    t.clear_doc_string();
    t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  }
  if (batch > 0 && g->input_size() > 0) {
    // The batch: the symbol of the first input's first axis, fixed on every graph input and output.
    const auto& s0 = g->input(0).type().tensor_type().shape();
    const std::string sym = s0.dim_size() > 0 && s0.dim(0).has_dim_param() ? s0.dim(0).dim_param() : "";
    auto fix = [&](onnx::ValueInfoProto& vi) {
      for (auto& d : *vi.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
        if (!sym.empty() && d.has_dim_param() && d.dim_param() == sym) d.set_dim_value(batch);
    };
    for (auto& vi : *g->mutable_input()) fix(vi);
    for (auto& vi : *g->mutable_output()) fix(vi);
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes)) fail(Diag::R0522, where, "protobuf cannot write the filled model");
  return bytes;
}
#endif

// Replaces `path` with `bytes`: a temporary file beside it, synced, renamed over it (R0521).
void write_atomically(const std::string& path, const std::string& bytes) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + ".tmp-export-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) fail(Diag::R0521, "", path, fmt::format("cannot create a file in '{}': {}", dir, std::strerror(errno)));
  tmp = name.data();
  std::string why;
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0 && why.empty()) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) why = std::strerror(errno);
    else p += w, left -= size_t(w);
  }
  if (why.empty() && ::fsync(fd) != 0) why = std::strerror(errno);
  if (why.empty() && ::fchmod(fd, 0644) != 0) why = std::strerror(errno);
  ::close(fd);
  if (why.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    fail(Diag::R0521, "", path, why);
  }
}

}  // namespace

int run_export(dls_rt* rt, const Program&, const Options& o) {
  if (o.onnx_out.empty() && o.npz_out.empty() && o.safetensors_out.empty())
    fail(Diag::R0406, "", "export", "a file to write: --onnx MODEL.onnx, --npz FILE.npz and/or --safetensors FILE");
  // The model first: a program without one says so before any weights are read.
  if (!o.onnx_out.empty()) {
    if (!dls_onnx_model || !&dls_onnx_model_size || dls_onnx_model_size <= 0)
      fail(Diag::R0520, "", dls_onnx_unavailable ? std::string(dls_onnx_unavailable)
                                                 : "it was built without its ONNX model (build it again with this dlspec)");
#ifndef DLSPEC_HAVE_ONNX
    fail(Diag::R0520, "", "its runtime was built without libonnx (Debian's libonnx-dev)");
#endif
  }
  load_weights(rt, o);
  const auto params = host_params(rt);
  std::string model, npz, safetensors;
#ifdef DLSPEC_HAVE_ONNX
  if (!o.onnx_out.empty()) model = fill_model(o.onnx_out, params, o.export_batch);
#endif
  std::vector<data::NamedWeights> raw;
  for (const auto& [name, h] : params) raw.push_back({name, h.shape, h.values.data(), h.values.size()});
  if (!o.npz_out.empty()) {
    std::string why;
    auto bytes = data::npzBytes(raw, why);
    if (!bytes) fail(Diag::R0521, "", o.npz_out, why);
    npz = std::move(*bytes);
  }
  if (!o.safetensors_out.empty()) safetensors = data::safetensorsBytes(raw);
  if (!o.onnx_out.empty()) write_atomically(o.onnx_out, model);
  if (!o.npz_out.empty()) write_atomically(o.npz_out, npz);
  if (!o.safetensors_out.empty()) write_atomically(o.safetensors_out, safetensors);
  if (!o.quiet)
    for (const std::string* f : {&o.onnx_out, &o.npz_out, &o.safetensors_out})
      if (!f->empty()) std::printf("wrote %s\n", f->c_str());
  return 0;
}

}  // namespace dls

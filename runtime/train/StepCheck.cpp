// StepCheck.cpp: the developer command `step-check [--weights DIR] --batch X.npy Y.npy --out DIR`: loads every
// parameter from DIR/<name>.npy (without --weights: the program's own seeded initial values, the same on
// every backend), runs ONE training step's forward and backward on the batch (training mode, no update) and
// writes loss.npy and <name>.grad.npy for each trainable parameter to --out.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "../data/Dataset.h"
#include "../data/Pipeline.h"
#include "RunDir.h"
#include "Trainer.h"

namespace dls {

void write_npy(const std::string& path, const std::vector<float>& v, const dls_tensor_desc& d) {
  std::string shape = "(";
  for (int i = 0; i < d.rank; ++i) shape += std::to_string(d.dims[i]) + (d.rank == 1 || i + 1 < d.rank ? "," : "");
  shape += ")";
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(h.size());
  bytes.append(reinterpret_cast<const char*>(&len), 2);
  bytes += h;
  bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  // Through a temporary beside it, renamed into place: never half a file where the user named one.
  const std::string why = write_replace(path, bytes, false);
  if (!why.empty()) fail(Diag::R0407, path, path, why);
}

void load_weights_dir(dls_rt* rt, const std::string& dir) {
  for (const auto& prm : rt->params) {
    std::string path = dir + "/" + prm.name + ".npy";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(Diag::R0407, path, path, std::strerror(errno));
    Array a = read_npy(path);
    const Tensor& t = rt->tensors[prm.value];
    // The parameter's shape; a parameter of rank > 4 (local's weight) is held as rank 4 with its leading
    // dims merged, so a file of its full rank matches by its element count.
    bool same = (int64_t)a.values.size() == t.d.numel;
    if (a.shape.size() <= 4) {
      same = same && int64_t(a.shape.size()) == t.d.rank;
      for (int k = 0; same && k < t.d.rank; ++k) same = a.shape[size_t(k)] == t.d.dims[k];
    }
    if (!same) {
      std::string got = "[";
      for (size_t k = 0; k < a.shape.size(); ++k) got += (k ? ", " : "") + std::to_string(a.shape[k]);
      fail(Diag::R0205, path, path, got + "]", shape_str(t.d));
    }
    std::vector<float> v(a.values.begin(), a.values.end());
    to_device(rt, t.d.data, v.data(), t.bytes);
  }
}

int run_step_check(dls_rt* rt, const Program& p, const Options& o) {
  if (o.batch_x.empty() || o.batch_y.empty() || o.out.empty())
    fail(Diag::R0406, "", "step-check", "[--weights DIR] --batch X.npy Y.npy --out DIR");
  if (rt->io_input < 0 || rt->io_loss < 0) fail(Diag::R0504, rt->spec_path, "the program declares no io tensors");
  if (!o.weights.empty()) load_weights_dir(rt, o.weights);
  Array x = read_npy(o.batch_x), y = read_npy(o.batch_y);
  const Tensor& xt = rt->tensors[rt->io_input];
  const Tensor& yt = rt->tensors[rt->io_labels];
  for (const PipeStep& ps : rt->pipes[DLS_SPLIT_TRAIN]) {
    if (ps.op != (DLS_PIPE_ONEHOT | DLS_PIPE_LABELS) || yt.d.dtype != DLS_I32) continue;
    // onehot<C> rows, as training reads them: the class each encodes (R0218 for a row that is not one-hot).
    Dataset rows;
    rows.name = rows.label_path = o.batch_y;
    rows.n = y.shape.empty() ? 0 : y.shape[0];
    rows.target_numel = rows.n ? int64_t(y.values.size()) / rows.n : 0;
    rows.targets.assign(y.values.begin(), y.values.end());
    apply_pipeline(rows, {ps}, false);
    y.values.assign(rows.labels.begin(), rows.labels.end());
  }
  if ((int64_t)x.values.size() != xt.d.numel) fail(Diag::R0205, o.batch_x, o.batch_x, fmt::format("{} values", x.values.size()), shape_str(xt.d));
  if ((int64_t)y.values.size() != yt.d.numel) fail(Diag::R0205, o.batch_y, o.batch_y, fmt::format("{} values", y.values.size()), shape_str(yt.d));
  Batch b;
  b.x.assign(x.values.begin(), x.values.end());
  b.valid = xt.d.dims[0];
  // The further sample fields' batches: --input NAME=FILE.npy for each network input that takes one.
  const auto& fields = rt->data[DLS_SPLIT_TRAIN].fields;
  for (size_t j = 0; j < rt->io_fields.size(); ++j) {
    if (rt->io_fields[j] < 0) continue;
    const std::string name = j < fields.size() ? fields[j].name : std::to_string(j + 1);
    auto in = std::find_if(o.inputs.begin(), o.inputs.end(), [&](const auto& i) { return i.first == name; });
    if (in == o.inputs.end()) fail(Diag::R0256, "", fmt::format("step-check: give sample field `{}`'s batch with --input {}=FILE.npy", name, name));
    Array f = read_npy(in->second);
    const Tensor& ft = rt->tensors[size_t(rt->io_fields[j])];
    if (int64_t(f.values.size()) != ft.d.numel)
      fail(Diag::R0205, in->second, in->second, fmt::format("{} values", f.values.size()), shape_str(ft.d));
    if (b.fields.size() <= j) b.fields.resize(j + 1);
    b.fields[j].assign(f.values.begin(), f.values.end());
  }
  if (yt.d.dtype == DLS_I32) {
    for (size_t i = 0; i < y.values.size(); ++i) {
      double v = y.values[i];
      const Tensor& out = rt->tensors[rt->io_output];
      int64_t C = out.d.numel / yt.d.numel;  // classes per labelled row (a sequence: per step)
      if (!(v >= 0 && v < double(C))) fail(Diag::R0209, fmt::format("{}:record {}", o.batch_y, i), o.batch_y, i, v, C);
      b.labels.push_back(int32_t(v));
    }
  } else {
    b.targets.assign(y.values.begin(), y.values.end());
  }
  bind_batch(rt, b);
  rt->step.training = 1, rt->step.step = 0;
  rt->suppress_update = true;
  call(rt, p.train_step);
  rt->suppress_update = false;
  if (!make_dirs(o.out)) fail(Diag::R0407, o.out, o.out, std::strerror(errno));
  dls_tensor_desc scalar{};
  scalar.rank = 0;
  write_npy(o.out + "/loss.npy", read_tensor(rt, rt->io_loss), scalar);
  for (const auto& prm : rt->params)
    if (prm.trainable) write_npy(o.out + "/" + prm.name + ".grad.npy", read_tensor(rt, prm.grad), rt->tensors[prm.value].d);
  return 0;
}

}  // namespace dls

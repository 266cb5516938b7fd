#include "plan/Lower.h"

#include <dlspec/OpSchema.h>
#include <dlspec/runtime.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "DataFormats.h"  // the data readers (dlspec_data): vocabularies and class names
#include "Images.h"
#include "Text.h"
#include "plan/CsvCategories.h"
#include "plan/FeatureStats.h"
#include "sema/LayoutHash.h"
#include "sema/OpTable.h"

namespace dls::plan {
namespace {

using sema::Attr;
using sema::AttrValue;
using sema::Network;
using sema::Node;
using sema::Value;

double num(const AttrValue& v, double dflt = 0) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  if (auto* l = std::get_if<std::vector<int64_t>>(&v)) return l->empty() ? dflt : static_cast<double>(l->front());
  return dflt;
}
double arg(const sema::Call& c, const std::string& name, double dflt) {
  auto it = c.args.find(name);
  return it == c.args.end() ? dflt : num(it->second.value, dflt);
}
double attr(const std::map<std::string, Attr>& attrs, const std::string& name, double dflt) {
  auto it = attrs.find(name);
  return it == attrs.end() ? dflt : num(it->second.value, dflt);
}
// A two-number attribute (a range, a pair): its value, else `dflt` (sema checked the length).
std::vector<double> doubles(const std::map<std::string, Attr>& attrs, const std::string& name, std::vector<double> dflt) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return dflt;
  if (auto* l = std::get_if<std::vector<double>>(&it->second.value); l && l->size() == dflt.size()) return *l;
  return dflt;
}

int32_t dlsDtype(sema::DType d) {
  switch (d) {
    case sema::DType::F32: return DLS_F32;
    case sema::DType::I32: return DLS_I32;
    case sema::DType::I64: return DLS_I32;  // class labels travel as i32
    case sema::DType::U8: return DLS_U8;
    case sema::DType::F16: return DLS_F16;
    case sema::DType::BF16: return DLS_BF16;
    default: return DLS_F32;
  }
}

int32_t initKind(sema::InitKind k) {
  switch (k) {
    case sema::InitKind::Zeros: return DLS_INIT_ZEROS;
    case sema::InitKind::Ones: return DLS_INIT_ONES;
    case sema::InitKind::Constant: return DLS_INIT_CONSTANT;
    case sema::InitKind::Normal: return DLS_INIT_NORMAL;
    case sema::InitKind::Uniform: return DLS_INIT_UNIFORM;
    case sema::InitKind::He: return DLS_INIT_HE;
    case sema::InitKind::Glorot: return DLS_INIT_GLOROT;
    case sema::InitKind::TorchDefault: return DLS_INIT_TORCH_DEFAULT;
  }
  return DLS_INIT_TORCH_DEFAULT;
}

struct TensorDesc {
  int32_t dtype = DLS_F32;
  std::vector<int64_t> dims;
  int buffer = -1;  // memory-plan buffer, -1: runtime-owned (parameters)
  int32_t batchAxes = 0;  // bit i: dims[i] is the batch N (dls_rt_batch_axes)
};

class Lowerer {
public:
  Lowerer(const sema::Program& p, const sema::TrainConfig& tc, const SourceManager& sm, DiagnosticEngine& d,
          std::optional<sema::Device> device, bool planOffsets)
      : prog_(p), tc_(tc), net_(*tc.network), sm_(sm), diags_(d), devices_(tc.devices), planOffsets_(planOffsets) {
    if (device) devices_ = {*device};
    deviceList_ = tc.deviceList && !device;
  }

  std::optional<LowerResult> run() {
    if (!tc_.data || !tc_.data->batch) {
      diags_.report(Code::E1004, tc_.span, fmt::format("train block `{}` has no batched input pipeline (`data = …` with batch(…))", tc_.name));
      return std::nullopt;
    }
    batch_ = *tc_.data->batch;
    if (!tc_.loss) {
      diags_.report(Code::E1004, tc_.span, fmt::format("train block `{}` has no loss to train on", tc_.name));
      return std::nullopt;
    }
    size_t before = diags_.rawErrorCount();
    analyseNodes();
    if (diags_.rawErrorCount() != before) return std::nullopt;
    planBuffers();
    emitSetup();
    if (diags_.rawErrorCount() != before) return std::nullopt;
    emitSteps();
    LowerResult r;
    r.plan = std::move(plan_);
    r.memory = std::move(mem_);
    return r;
  }

private:
  // ---- analysis ------------------------------------------------------------------------------------
  struct NodeInfo {
    int opcode = -1;        // runtime opcode, -1 for a view
    bool hasBwd = false;    // needs a gradient op
    int fwdTime = 0, bwdTime = 0;
  };

  std::vector<int64_t> concreteDims(const sema::Shape& s, Span where, const std::string& what) {
    std::vector<int64_t> out;
    for (const sema::Dim& d : s.dims) {
      if (d.isConst()) out.push_back(d.value);
      else if (d.kind == sema::Dim::Kind::Sym) out.push_back(batch_);
      else {
        diags_.report(Code::E1004, where, fmt::format("the shape of `{}` is not known after type checking", what));
        out.push_back(1);
      }
    }
    if (out.size() > 4) diags_.report(Code::E1003, where, what, out.size());
    return out;
  }

  // The dims of `s` that are the batch N (the symbolic dims: concreteDims gives each the batch size).
  static int32_t batchAxesOf(const sema::Shape& s) {
    int32_t mask = 0;
    for (size_t i = 0; i < s.dims.size() && i < 4; ++i)
      if (s.dims[i].kind == sema::Dim::Kind::Sym) mask |= int32_t(1) << i;
    return mask;
  }

  void reportWithoutCuda(const Node& n) {
    if (n.op->recurrent && n.inputs.size() > 1) {  // a padded sequence's mask (sema's E0304 for a placement)
      diags_.report(Code::E0304, n.nameSpan, fmt::format("{} over a padded sequence", n.op->name), "CUDA")
          .help(fmt::format("the build places the model on {}; build it `--device cpu`, or drop `mask_token` from "
                            "the embedding",
                            devices_.front().str()));
      return;
    }
    const std::string_view setting = n.op->cuda ? sema::cudaMissing(*n.op, n) : std::string_view{};
    if (n.op->cuda && setting.empty()) return;
    const std::string what = setting.empty() ? std::string(n.op->name) : fmt::format("{}({})", n.op->name, setting);
    diags_.report(Code::E0304, n.nameSpan, what, "CUDA")
        .help(fmt::format("the build places the model on {}; build it `--device cpu`{}", devices_.front().str(),
                          setting.empty() ? std::string(", or replace the layer")
                                          : fmt::format(", or choose another `{}`", setting.substr(0, setting.find(':')))));
  }

  void analyseNodes() {
    const int F = static_cast<int>(net_.nodes.size());
    info_.resize(net_.nodes.size());
    needsGrad_.assign(net_.values.size(), false);
    consumers_.assign(net_.values.size(), {});
    for (const Node& n : net_.nodes) {
      NodeInfo& ni = info_[n.id];
      ni.opcode = n.op->opcode >= 0 ? n.op->opcode : -1;
      ni.fwdTime = n.id;
      bool trainable = false;
      for (int p : n.params) trainable |= net_.params[p].trainable;
      bool anyIn = false;
      for (int v : n.inputs) {
        anyIn |= needsGrad_[v];
        consumers_[v].push_back(n.id);
      }
      needsGrad_[n.output] = (trainable || anyIn) && n.op->differentiable;
      ni.hasBwd = needsGrad_[n.output] && ni.opcode >= 0;
      // Loss forward at F, loss backward at F + 1, then node k's backward at F + 2 + (F - 1 - k).
      ni.bwdTime = F + 2 + (F - 1 - n.id);
      // Sema reports ops without a kernel on the chosen device (E0304); one reaching here is our bug.
      if (n.op->opcode == sema::kOpcodeNone)
        diags_.report(Code::I0001, n.nameSpan, fmt::format("`{}` reached the lowering without a runtime kernel", n.op->name));
      // `--device cuda:K` overrides a placement sema checked: what has no CUDA kernel is E0304 here.
      else if (!devices_.empty() && devices_.front().kind == sema::Device::Kind::Cuda)
        reportWithoutCuda(n);
    }
    lossFwd_ = F;
    lossBwd_ = F + 1;
    stepEnd_ = 2 * F + 2;
  }

  // Root value of a chain of views (flatten/reshape of x shares x's memory).
  int rootOf(int v) const {
    while (true) {
      int p = net_.values[v].producer;
      if (p < 0 || net_.nodes[p].op->opcode != sema::kOpcodeView) return v;
      v = net_.nodes[p].inputs[0];
    }
  }

  int addBuffer(std::string name, int64_t bytes, int start, int end) {
    mem_.buffers.push_back({std::move(name), bytes, start, end, -1});
    return static_cast<int>(mem_.buffers.size() - 1);
  }

  void planBuffers() {
    const size_t V = net_.values.size();
    valueBuf_.assign(V, -1);
    gradBuf_.assign(V, -1);
    // Lifetimes per root value: from its producer's forward to the last backward that reads it.
    std::vector<int> start(V, stepEnd_), end(V, 0);
    std::vector<int> gStart(V, stepEnd_), gEnd(V, 0);
    for (const Value& v : net_.values) {
      int r = rootOf(v.id);
      int s = v.producer < 0 ? 0 : info_[v.producer].fwdTime;
      start[r] = std::min(start[r], s);
      end[r] = std::max(end[r], s);
      if (v.producer >= 0 && info_[v.producer].hasBwd) end[r] = std::max(end[r], info_[v.producer].bwdTime);
      for (int c : consumers_[v.id]) {
        end[r] = std::max(end[r], info_[c].fwdTime);
        if (info_[c].hasBwd) end[r] = std::max(end[r], info_[c].bwdTime);
      }
      // The runtime reads the output (accuracy) after the step; so it does every loss term's output.
      if (v.id == net_.output || isTermOutput(v.id)) end[r] = stepEnd_;
      if (v.producer < 0) end[r] = stepEnd_;  // the input batch lives for the whole step
      if (needsGrad_[v.id]) {
        for (int c : consumers_[v.id])
          if (info_[c].hasBwd) gStart[r] = std::min(gStart[r], info_[c].bwdTime);
        if (v.id == net_.output || isTermOutput(v.id)) gStart[r] = std::min(gStart[r], lossBwd_);
        int pb = v.producer >= 0 ? info_[v.producer].bwdTime : stepEnd_;
        gEnd[r] = std::max(gEnd[r], pb);
      }
    }
    // Every value's concrete dims, once: a shape the runtime cannot take is reported once.
    dims_.clear();
    for (const Value& v : net_.values) dims_.push_back(concreteDims(v.type.shape, v.span, v.name.empty() ? "value" : v.name));
    labelDims_ = classLabels() ? std::vector<int64_t>{batch_} : dims_[ioOutput()];
    if (general() && (labelTerm() < 0 || pairLoss()) && !classLabels() && tc_.data) {
      // No term compares with the label field: the labels travel as the data set declares them.
      labelDims_ = {batch_};
      if (!tc_.data->label.shape.unknownRank)
        for (int64_t d : concreteDims(tc_.data->label.shape, tc_.data->sourceSpan, "the label")) labelDims_.push_back(d);
    }
    // Class labels per step of a sequence (`label next: class<C>[T]`): [N, T].
    // onehot<C> targets travel as the class each row encodes: one label per sample.
    if (classLabels() && tc_.data->label.kind == sema::SemKind::Class && !tc_.data->label.shape.unknownRank)
      for (int64_t d : concreteDims(tc_.data->label.shape, tc_.data->sourceSpan, "the label")) labelDims_.push_back(d);
    for (const Value& v : net_.values) {
      if (rootOf(v.id) != v.id) continue;
      int64_t elems = 1;
      for (int64_t d : dims_[v.id]) elems *= d;
      std::string nm = v.producer >= 0 ? net_.nodes[v.producer].layer + ".out" : v.name;
      valueBuf_[v.id] = addBuffer(nm, elems * 4, start[v.id], std::max(end[v.id], start[v.id]));
      if (needsGrad_[v.id] && gStart[v.id] <= gEnd[v.id])
        gradBuf_[v.id] = addBuffer("grad(" + nm + ")", elems * 4, gStart[v.id], gEnd[v.id]);
    }
    // Labels for the whole step; the scalar loss from the loss forward to its backward.
    int64_t le = 1;
    for (int64_t d : labelDims_) le *= d;
    labelBuf_ = addBuffer("labels", le * 4, 0, stepEnd_);
    lossBuf_ = addBuffer("loss", 4, lossFwd_, stepEnd_);  // read by the runtime after the step
    if (general()) {
      // Each term's scalar (read by the runtime after an evaluation step), and for a weighted term the gradient
      // of its output before the weight scales it into the output's gradient.
      for (size_t i = 0; i < tc_.lossTerms.size(); ++i) {
        const auto& t = tc_.lossTerms[i];
        termLossBuf_.push_back(addBuffer(fmt::format("loss.{}", i), 4, lossFwd_, stepEnd_));
        int64_t elems = 1;
        for (int64_t d : dims_[t.outputValue]) elems *= d;
        const bool scaled = t.weight != 1.0 && needsGrad_[t.outputValue];
        termGradBuf_.push_back(scaled ? addBuffer(fmt::format("grad(loss.{})", i), elems * 4, lossBwd_, lossBwd_) : -1);
        // A pair loss's second output (cosine_embedding): its own buffer for the weighted term's gradient.
        const bool scaled2 = t.outputValue2 >= 0 && t.weight != 1.0 && needsGrad_[t.outputValue2];
        termGradBuf2_.push_back(scaled2 ? addBuffer(fmt::format("grad(loss.{}.b)", i), elems * 4, lossBwd_, lossBwd_) : -1);
      }
    }
    if (planOffsets_) {
      planMemory(mem_);
    } else {
      for (Buffer& b : mem_.buffers) b.offset = 0, mem_.withoutReuse += b.bytes;
      mem_.peak = mem_.withoutReuse;
    }
  }

  // Whether the loss takes class indices (i32[N], or i32[N, T] per step); the others take f32 targets shaped
  // like the output (class<2> labels of a one-output binary classifier become 0/1 targets [N, 1]).
  bool classLabels() const {
    if (general() && labelTerm() < 0) return tc_.data && tc_.data->label.kind == sema::SemKind::Class;
    const std::string& name = general() ? tc_.lossTerms[size_t(labelTerm())].call.name : tc_.loss->name;
    const sema::OpInfo* op = sema::findOp(name, {sema::OpCategory::Loss});
    return op && (op->opcode == DLS_OP_CROSS_ENTROPY || op->opcode == DLS_OP_NLL) && !softLabels();
  }
  // A loss the runtime runs as terms: several terms, a weight other than 1, a target that is the sample field, or a
  // network with several outputs. Otherwise the one loss op of `loss = LOSS(model.out, LABEL)`.
  bool general() const {
    if (!net_.outputs.empty() || tc_.lossTerms.size() > 1) return true;
    return tc_.lossTerms.size() == 1 && (tc_.lossTerms[0].weight != 1.0 || tc_.lossTerms[0].targetIsSample);
  }
  // The network input that takes sample field 0 (the io input): by the train block's binding, else the first.
  int firstFieldInput() const {
    for (size_t i = 0; i < tc_.inputFields.size() && i < net_.inputs.size(); ++i)
      if (tc_.inputFields[i] == 0) return net_.inputs[i];
    return net_.inputs.at(0);
  }
  // dls_rt_input for every further input: the sample field it takes.
  void emitFieldInputs() {
    for (size_t i = 0; i < tc_.inputFields.size() && i < net_.inputs.size(); ++i)
      if (tc_.inputFields[i] > 0) call(plan_.setup, "dls_rt_input", {int32_t{tc_.inputFields[i]}, valueTensor_[net_.inputs[i]]});
  }
  // The first term whose target is the label field (-1: none).
  int labelTerm() const {
    for (size_t i = 0; i < tc_.lossTerms.size(); ++i)
      if (!tc_.lossTerms[i].targetIsSample) return int(i);
    return -1;
  }
  // Whether a term of the loss compares two outputs (cosine_embedding): its labels are the data's own targets.
  bool pairLoss() const {
    for (const auto& t : tc_.lossTerms)
      if (t.outputValue2 >= 0) return true;
    return false;
  }
  // The output the runtime scores against the labels (accuracy, the other metrics, predict's classes).
  int ioOutput() const {
    if (!general() || labelTerm() < 0) return net_.output;
    return tc_.lossTerms[size_t(labelTerm())].outputValue;
  }
  bool isTermOutput(int v) const {
    if (!general()) return false;
    for (const auto& t : tc_.lossTerms)
      if (t.outputValue == v || t.outputValue2 == v) return true;
    return false;
  }

  // mixup / cutmix in the training pipeline: cross_entropy takes class probabilities f32[N, C], which the runtime
  // makes from the class labels (mixed in training, one-hot in evaluation).
  bool softLabels() const {
    if (!tc_.data) return false;
    for (const sema::PipeStep& s : tc_.data->steps)
      if (s.op && s.op->mixesLabels) return true;
    return false;
  }

  // ---- emission --------------------------------------------------------------------------------------
  static Arg rt() { return RtArg{}; }
  void call(std::vector<Call>& list, std::string callee, std::vector<Arg> args) {
    args.insert(args.begin(), rt());
    list.push_back({std::move(callee), std::move(args)});
  }

  int32_t tensor(const TensorDesc& t) {
    int64_t d[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < t.dims.size() && i < 4; ++i) d[i] = t.dims[i];
    int64_t off = t.buffer >= 0 ? mem_.buffers[t.buffer].offset : -1;
    call(plan_.setup, "dls_rt_tensor",
         {int32_t{t.dtype}, static_cast<int32_t>(t.dims.size()), d[0], d[1], d[2], d[3], off});
    // Which dims are the batch: over MPI ranks each holds its rank's share of them.
    if (t.batchAxes) call(plan_.setup, "dls_rt_batch_axes", {nextTensor_, t.batchAxes});
    return nextTensor_++;
  }

  // Declares the data of runtime split `split`: the data set's split `from` (by default the one `p` reads)
  // and `p`'s steps. `borrowed`: `p` is the training pipeline lent to a split no pipeline reads (the test
  // split `eval` uses): its element-wise steps apply, its `split` does not.
  void emitData(const sema::Pipeline& p, int32_t split, const std::string& from = {}, bool borrowed = false) {
    const sema::Dataset& ds = *p.dataset;
    const std::string& source = from.empty() ? p.split : from;
    const sema::DataSource* src = ds.find(source);
    if (!src) {
      diags_.report(Code::E1004, p.sourceSpan, fmt::format("data set `{}` has no split `{}`", ds.name, source));
      return;
    }
    int32_t format = src->format == sema::DataFormat::Idx ? DLS_DATA_IDX
                     : src->format == sema::DataFormat::Csv ? DLS_DATA_CSV
                     : src->format == sema::DataFormat::Images ? DLS_DATA_IMAGES
                     : src->format == sema::DataFormat::Text ? DLS_DATA_TEXT : DLS_DATA_NPY;
    // Resolved against the spec's directory, and absolute: the executable reads the same files wherever it runs.
    auto fixed = [](const std::string& p) { return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string(); };
    std::string a = src->resolved.size() > 0 ? fixed(src->resolved[0]) : "";
    std::string b = src->resolved.size() > 1 ? fixed(src->resolved[1]) : "";
    int64_t d[4] = {1, 1, 1, 1};
    const auto& sd = ds.sample.shape.dims;
    for (size_t i = 0; i < sd.size() && i < 4; ++i) d[i] = sd[i].isConst() ? sd[i].value : 1;
    int32_t labelCol = -1;
    if (src->format == sema::DataFormat::Csv) {
      // The label column by name: the runtime finds it in the file's header row.
      labelCol = -2;
      b = src->labelColumn.empty() ? ds.labelName : src->labelColumn;
    }
    // Class labels are checked against their count and travel as integers; other labels (real values,
    // multilabel and one-hot vectors) are f32 targets.
    const bool onehotClasses = ds.label.kind == sema::SemKind::OneHot && (classLabels() || softLabels());
    const bool classTargets = ds.label.kind == sema::SemKind::Class || onehotClasses;
    call(plan_.setup, "dls_rt_dataset",
         {split, format, a, b, labelCol, static_cast<int32_t>(sd.size()), d[0], d[1], d[2], d[3],
          int64_t{classTargets && !onehotClasses ? ds.label.classes : 0}});
    auto pipe = [&](int32_t op, double pa, double pb = 0, double pc = 0, double pd = 0) {
      call(plan_.setup, "dls_rt_pipe", {split, op, pa, pb, pc, pd});
    };
    call(plan_.setup, "dls_rt_sample_dtype", {split, dlsDtype(ds.sample.dtype)});
    // The further sample fields, each from a file of its own (and the first's name).
    if (!ds.moreSamples.empty())
      call(plan_.setup, "dls_rt_sample_field", {split, int32_t{0}, ds.sampleName, std::string(), int32_t{-1}, int32_t{1},
                                                int64_t{1}, int64_t{1}, int64_t{1}, int64_t{1}});
    // A CSV split's further fields are groups of its columns (dls_rt_csv_field), not files of their own.
    const bool columnGroups = src->format == sema::DataFormat::Csv && !src->columnGroups.empty();
    for (size_t k = 0; k < ds.moreSamples.size() && (columnGroups || k < src->fieldFiles.size()); ++k) {
      const sema::Dataset::Field& f = ds.moreSamples[k];
      int64_t fd[4] = {1, 1, 1, 1};
      const auto& dims = f.type.shape.dims;
      for (size_t i = 0; i < dims.size() && i < 4; ++i) fd[i] = dims[i].isConst() ? dims[i].value : 1;
      call(plan_.setup, "dls_rt_sample_field", {split, static_cast<int32_t>(k + 1), f.name,
                                                columnGroups ? std::string() : fixed(src->fieldFiles[k].resolved),
                                                dlsDtype(f.type.dtype), static_cast<int32_t>(std::max<size_t>(1, dims.size())),
                                                fd[0], fd[1], fd[2], fd[3]});
    }
    if (columnGroups)
      for (size_t k = 0; k < src->columnGroups.size(); ++k)
        call(plan_.setup, "dls_rt_csv_field", {split, static_cast<int32_t>(k), src->columnGroups[k].first, src->columnGroups[k].end});
    int32_t pipeField = 0;  // the field dls_rt_pipe's steps transform (dls_rt_pipe_field)
    if (src->format == sema::DataFormat::Csv &&
        (!src->csvHeader || src->csvSkip != 0 || src->csvSep != ',' || src->labelByIndex))
      call(plan_.setup, "dls_rt_csv", {split, int32_t{src->csvHeader}, src->csvSkip, int32_t{src->csvSep},
                                       int32_t{src->labelByIndex}, src->labelIndex});
    if (src->format == sema::DataFormat::Csv && (src->labelColumns.size() > 1 || !src->impute.empty())) {
      // Several label columns, and the values that fill missing cells: the training split's, computed now and kept
      // in the program, so that every split, `eval` and `predict` fill alike.
      std::vector<std::string> fill;
      if (!src->impute.empty()) {
        const sema::DataSource* train = nullptr;
        for (const sema::DataSource& d : ds.splits)
          if (d.split == "train") train = &d;
        sema::DataSource from = train ? *train : *src;
        from.impute = src->impute;
        std::vector<double> values;
        std::string error;
        if (!imputeValues(from, ds.labelName, values, error))
          diags_.report(Code::E1010, from.pathSpans.empty() ? from.sourceSpan : from.pathSpans[0],
                        from.paths.empty() ? ds.name : from.paths[0], error)
              .primary("the training split")
              .label(src->sourceSpan, fmt::format("`impute: {}` needs its statistics", src->impute))
              .help("the program keeps the training split's statistics: build it where the file can be read");
        for (double v : values) fill.push_back(fmt::format("{:.17g}", v));
      }
      const std::string labels = src->labelColumns.size() > 1 ? fmt::format("{}", fmt::join(src->labelColumns, "\n")) : "";
      call(plan_.setup, "dls_rt_csv_columns", {split, labels, int32_t{src->impute.empty() ? 0 : 1}, fmt::format("{}", fmt::join(fill, ","))});
    }
    if (src->format == sema::DataFormat::Csv && !src->categorical.empty()) {
      // The categorical columns' values, the training split's, read now and kept in the program (and the class
      // names, when the label column is one of them).
      const CategoryPlan cats = planCategories(ds, *src, diags_, split == DLS_SPLIT_TRAIN);
      if (!cats.text.empty()) call(plan_.setup, "dls_rt_csv_categories", {split, cats.text});
      if (split == DLS_SPLIT_TRAIN && !classNamesEmitted_ && !cats.classNames.empty()) {
        call(plan_.setup, "dls_rt_class_names", {fmt::format("{}", fmt::join(cats.classNames, "\n"))});
        classNamesEmitted_ = true;
      }
    }
    if (src->format == sema::DataFormat::Csv && !src->labelFile.empty())
      call(plan_.setup, "dls_rt_csv_label_file", {split, fixed(src->labelFile)});
    if (src->format == sema::DataFormat::Images) {
      call(plan_.setup, "dls_rt_images", {split, src->imageHeight, src->imageWidth, static_cast<int32_t>(src->imageChannels),
                                          src->imageResize});
      // The class names are the training folder's class sub-folders as they are now; the program keeps them for
      // `predict`, and the runtime refuses a folder whose classes are not these (R0222). A folder that is not
      // there yet: the program has none, and the runtime takes the folder's.
      data::ImageFolder folder;
      data::Error err;
      if (split == DLS_SPLIT_TRAIN && !classNamesEmitted_ && data::listImageFolder(a, folder, err) && !folder.classes.empty()) {
        call(plan_.setup, "dls_rt_class_names", {fmt::format("{}", fmt::join(folder.classes, "\n"))});
        classNamesEmitted_ = true;
      }
    }
    if (src->format == sema::DataFormat::Text) {
      call(plan_.setup, "dls_rt_text", {split, src->textSeq, int32_t{src->textChars ? 1 : 0}});
      // The vocabulary is the training text's, read now and kept in the program, so that every split, `eval`
      // and `predict` map tokens to the same ids.
      if (split == DLS_SPLIT_TRAIN && !vocabularyEmitted_) {
        std::vector<uint8_t> bytes;
        std::vector<uint32_t> tokens;
        data::Error err;
        if (!data::readFile(a, bytes, err) || !data::decodeText(bytes, src->textChars, tokens, err)) {
          diags_.report(Code::E1006, src->pathSpans.empty() ? src->sourceSpan : src->pathSpans[0], src->paths.empty() ? a : src->paths[0],
                        err.kind == data::Error::Kind::BadHeader ? fmt::format("byte {}: {}", err.offset, err.what) : err.what)
              .primary("the training text")
              .help("the program keeps the training text's vocabulary: build it where the file can be read");
        } else {
          const std::vector<uint32_t> vocab = data::vocabularyOf(tokens);
          if (ds.label.kind == sema::SemKind::Class && ds.label.classes > 0 && int64_t(vocab.size()) + 1 > ds.label.classes)
            diags_.report(Code::E1006, ds.labelTypeSpan, src->paths.empty() ? a : src->paths[0],
                          fmt::format("it holds {} distinct tokens (ids 1..{}, 0 for unknown ones), more than the {} classes of `{}`",
                                      vocab.size(), vocab.size(), ds.label.classes, ds.labelName))
                .primary("declared here")
                .help(fmt::format("declare `class<{}>[…]` (and the embedding's vocab) or more", vocab.size() + 1));
          call(plan_.setup, "dls_rt_vocabulary", {fmt::format("{}", fmt::join(vocab, ","))});
          vocabularyEmitted_ = true;
        }
      }
    }
    // A loss over class indices reads onehot<C> rows as the class each encodes (PyTorch's cross-entropy on
    // probability targets is that of the class for a one-hot row).
    if (onehotClasses) pipe(DLS_PIPE_ONEHOT | DLS_PIPE_LABELS, static_cast<double>(ds.label.classes));
    for (const sema::PipeStep& s : p.steps) {
      // Each step is resolved through its op table row: its runtime code, or how the lowering consumes it.
      const std::string& op = s.name;
      const int code = s.op ? s.op->opcode : sema::kOpcodeNone;
      // A step of another sample field (the data set's further fields), or of the first again.
      if (const int k = ds.sampleIndex(s.field); !ds.moreSamples.empty() && k >= 0 && k != pipeField) {
        call(plan_.setup, "dls_rt_pipe_field", {split, int32_t{k}});
        pipeField = k;
      }
      if (!ds.labelName.empty() && s.field == ds.labelName && ds.labelName != ds.sampleName) {
        // A step of the label field transforms the targets the loss compares with.
        const bool sameCount = s.before.shape.elements() == s.after.shape.elements();
        if (code == DLS_PIPE_TO_F32 || (code == DLS_PIPE_RESHAPE && sameCount)) {
          // targets are held as f32, flat per sample
        } else if ((code == DLS_PIPE_SCALE || code == DLS_PIPE_NORMALIZE) && classTargets) {
          diags_.report(Code::E1004, s.span, fmt::format("`{}` of the class labels `{}` is not supported by the runtime", op,
                                                         ds.labelName));
        } else if ((code == DLS_PIPE_ADD || code == DLS_PIPE_LOG1P || code == sema::kOpcodeStandardize) && classTargets) {
          diags_.report(Code::E1004, s.span, fmt::format("`{}` of the class labels `{}` is not supported by the runtime", op,
                                                         ds.labelName));
        } else if (code == DLS_PIPE_SCALE) {
          pipe(DLS_PIPE_SCALE | DLS_PIPE_LABELS, attr(s.attrs, "factor", 1));
        } else if (code == DLS_PIPE_NORMALIZE) {
          pipe(DLS_PIPE_NORMALIZE | DLS_PIPE_LABELS, attr(s.attrs, "mean", 0), attr(s.attrs, "std", 1));
        } else if (code == DLS_PIPE_ADD) {
          pipe(DLS_PIPE_ADD | DLS_PIPE_LABELS, attr(s.attrs, "offset", 0));
        } else if (code == DLS_PIPE_LOG1P) {
          pipe(DLS_PIPE_LOG1P | DLS_PIPE_LABELS, 0);
        } else if (code == sema::kOpcodeStandardize) {
          lowerTargetStandardize(ds, p, s, pipe);
        } else {
          diags_.report(Code::E1004, s.span,
                        fmt::format("pipeline step `{}` of the label field `{}` is not supported by the runtime yet", op,
                                    ds.labelName));
        }
        continue;
      }
      switch (code) {
        case DLS_PIPE_TO_F32:
        case DLS_PIPE_TO_I32:
        case DLS_PIPE_TO_I64: pipe(code, 0); break;
        case DLS_PIPE_ONE_HOT:
          // Every element of an integer sample, or one feature (a categorical column's index).
          if (const int64_t e = oneHotElement(ds, p, s, diags_, !borrowed); e >= -1)
            pipe(code, attr(s.attrs, "classes", 1), static_cast<double>(e));
          break;
        case DLS_PIPE_SCALE: pipe(code, attr(s.attrs, "factor", 1)); break;
        case DLS_PIPE_ADD: pipe(code, attr(s.attrs, "offset", 0)); break;
        case DLS_PIPE_NORMALIZE: pipe(code, attr(s.attrs, "mean", 0), attr(s.attrs, "std", 1)); break;
        case DLS_PIPE_SHUFFLE: pipe(code, attr(s.attrs, "buffer", 0)); break;
        case sema::kOpcodeStandardize:
        case sema::kOpcodeMinMax: lowerFeatureStep(split, ds, p, s); break;
        case DLS_PIPE_RANDOM_CROP: {
          // size: one value or [h, w] (sema checks that the window fits the padded sample).
          std::vector<int64_t> hw;
          if (auto it = s.attrs.find("size"); it != s.attrs.end()) {
            if (auto* l = std::get_if<std::vector<int64_t>>(&it->second.value)) hw = *l;
            else hw.assign(2, static_cast<int64_t>(num(it->second.value, 0)));
          }
          if (hw.size() == 1) hw.push_back(hw[0]);
          if (hw.size() == 2)
            pipe(code, static_cast<double>(hw[0]), attr(s.attrs, "pad", 0), static_cast<double>(hw[1]));
          else
            diags_.report(Code::E1004, s.span, "`random_crop` needs a size: one value or [height, width]");
          break;
        }
        case DLS_PIPE_RANDOM_FLIP: {
          auto it = s.attrs.find("axis");
          const std::string* axis = it == s.attrs.end() ? nullptr : std::get_if<std::string>(&it->second.value);
          pipe(code, attr(s.attrs, "p", 0.5), axis && *axis == "vertical" ? 1.0 : 0.0);
          break;
        }
        case DLS_PIPE_RANDOM_ROTATION: pipe(code, attr(s.attrs, "degrees", 0), attr(s.attrs, "fill", 0)); break;
        case DLS_PIPE_RANDOM_AFFINE: {
          const std::vector<double> tr = doubles(s.attrs, "translate", {0, 0}), sc = doubles(s.attrs, "scale", {1, 1});
          pipe(code, attr(s.attrs, "degrees", 0), tr[0], tr[1], attr(s.attrs, "shear", 0));
          pipe(DLS_PIPE_PARAMS, sc[0], sc[1]);
          break;
        }
        case DLS_PIPE_COLOR_JITTER:
          pipe(code, attr(s.attrs, "brightness", 0), attr(s.attrs, "contrast", 0), attr(s.attrs, "saturation", 0),
               attr(s.attrs, "hue", 0));
          break;
        case DLS_PIPE_GAUSSIAN_NOISE: pipe(code, attr(s.attrs, "std", 0)); break;
        case DLS_PIPE_RANDOM_ERASING: {
          const std::vector<double> sc = doubles(s.attrs, "scale", {0.02, 0.33}), ra = doubles(s.attrs, "ratio", {0.3, 3.3});
          pipe(code, attr(s.attrs, "p", 0.5), sc[0], sc[1], attr(s.attrs, "value", 0));
          pipe(DLS_PIPE_PARAMS, ra[0], ra[1]);
          break;
        }
        case DLS_PIPE_MIXUP:
        case DLS_PIPE_CUTMIX: pipe(code, attr(s.attrs, "alpha", 1)); break;
        case DLS_PIPE_RESHAPE: {
          // The per-sample shape from here on, which later steps (random_crop) work on.
          double dims[4] = {0, 0, 0, 0};
          const sema::Shape& to = s.after.shape;
          bool known = !to.unknownRank && to.rank() >= 1 && to.rank() <= 4;
          for (size_t i = 0; known && i < to.rank(); ++i) {
            known = to.dims[i].isConst();
            dims[i] = known ? static_cast<double>(to.dims[i].value) : 0;
          }
          if (known) pipe(code, dims[0], dims[1], dims[2], dims[3]);
          else diags_.report(Code::E1004, s.span, fmt::format("the sample shape after `reshape` ({}) is not known", to.str()));
          break;
        }
        case DLS_PIPE_REPEAT:
          // An epoch goes over the training data `count` times; evaluation reads each sample once.
          if (split == DLS_SPLIT_TRAIN && !borrowed) pipe(code, attr(s.attrs, "count", 1));
          break;
        case sema::kOpcodeSplit:
          if (borrowed) {
            // the held-out share belongs to the training split
          } else if (split == DLS_SPLIT_TRAIN) {
            // The runtime holds out this share of the training samples (seeded), validation data unless the train
            // block validates on another pipeline.
            call(plan_.setup, "dls_rt_split", {attr(s.attrs, "valid", 0)});
          } else {
            diags_.report(Code::E1004, s.span,
                          fmt::format("`split` holds out part of the training data, but pipeline `{}` is not the one "
                                      "train block `{}` trains on",
                                      p.name, tc_.name));
          }
          break;
        case sema::kOpcodeBatch:
          // batch is the train config.
          break;
        default:
          diags_.report(Code::E1004, s.span, fmt::format("pipeline step `{}` is not supported by the runtime yet", op));
      }
    }
  }

  void emitSetup() {
    auto& S = plan_.setup;
    plan_.programName = tc_.name;
    plan_.arenaBytes = mem_.peak;
    call(S, "dls_rt_program", {tc_.name, prog_.specPath, uint64_t{sema::layoutHash(net_)}});
    int32_t kind = DLS_DEVICE_CPU, first = 0, count = 1;
    if (!devices_.empty() && devices_.front().kind == sema::Device::Kind::Cuda) {
      kind = DLS_DEVICE_CUDA;
      first = devices_.front().index;
      count = static_cast<int32_t>(devices_.size());
    }
    call(S, "dls_rt_placement", {kind, first, count});
    if (deviceList_ && kind == DLS_DEVICE_CUDA) {  // one replica per device (a list of one too)
      LineCol plc = sm_.lineCol(tc_.placementSpan);
      call(S, "dls_rt_device_list", {count, static_cast<int32_t>(plc.line), static_cast<int32_t>(plc.col)});
    }
    call(S, "dls_rt_train_config", {int64_t{tc_.epochs.value_or(1)}, int64_t{batch_}, int64_t{tc_.seed.value_or(0)}});
    if (tc_.data->batchSpan.valid()) {
      LineCol blc = sm_.lineCol(tc_.data->batchSpan);
      call(S, "dls_rt_batch_origin", {static_cast<int32_t>(blc.line), static_cast<int32_t>(blc.col)});
    }
    if (tc_.precision == "bf16") call(S, "dls_rt_precision", {int32_t{DLS_BF16}});
    call(S, "dls_rt_checkpoint",
         {tc_.checkpoint.value_or(std::string()), int64_t{tc_.checkpointEvery}, int64_t{tc_.checkpointKeep}});
    if (tc_.checkpointBest) {
      // keep N best by val_METRIC: the metric row's code; higher is better for the scores, lower for loss and errors.
      const sema::OpInfo* metric = sema::findOp(*tc_.checkpointBest, {sema::OpCategory::Metric});
      if (!metric || metric->opcode <= 0) {
        diags_.report(Code::E1004, tc_.checkpointBestSpan,
                      fmt::format("keeping the best checkpoint by `val_{}` is not supported by the runtime yet", *tc_.checkpointBest));
        return;
      }
      const int32_t lowerIsBetter = DLS_METRIC_LOSS | DLS_METRIC_MAE | DLS_METRIC_RMSE;
      call(S, "dls_rt_checkpoint_best", {int32_t{metric->opcode}, int32_t{(metric->opcode & lowerIsBetter) ? 0 : 1}});
    }
    if (tc_.accumulate > 1) call(S, "dls_rt_accumulate", {int64_t{tc_.accumulate}});
    if (tc_.resume) {
      // Relative to the spec's directory, as data paths are (and as E0803 looks for it).
      std::filesystem::path r(*tc_.resume);
      std::filesystem::path full = r.is_absolute() || prog_.specDir.empty() ? r : std::filesystem::path(prog_.specDir) / r;
      call(S, "dls_rt_resume", {std::filesystem::absolute(full).lexically_normal().string()});
    }
    for (const sema::PipeStep& st : tc_.data->steps)
      if (st.op && st.op->opcode == sema::kOpcodeBatch)
        call(S, "dls_rt_batching", {static_cast<int32_t>(attr(st.attrs, "drop_last", 0))});
    if (tc_.validate) {
      int32_t mask = 0;
      for (const std::string& m : tc_.metrics) {
        // The metric's code is its op table row's; sema has rejected names without one (E0301).
        const sema::OpInfo* info = sema::findOp(m, {sema::OpCategory::Metric});
        if (!info || info->opcode <= 0) {
          diags_.report(Code::E1004, tc_.span, fmt::format("metric `{}` is not supported by the runtime yet", m));
          return;
        }
        mask |= info->opcode;
      }
      // Without a metrics clause: the loss and the accuracy, or for real targets the regression metrics.
      // A pair loss (cosine_embedding): the loss and the pairs' accuracy.
      const bool realTargets = tc_.data && !tc_.data->label.poisoned && tc_.data->label.kind == sema::SemKind::Real &&
                               !pairLoss();
      if (!mask)
        mask = realTargets ? DLS_METRIC_LOSS | DLS_METRIC_MAE | DLS_METRIC_RMSE | DLS_METRIC_R2
                           : DLS_METRIC_LOSS | DLS_METRIC_ACCURACY;
      call(S, "dls_rt_validate", {int64_t{tc_.validateEvery}, mask});
      // top_k's k and the averages of precision, recall and f1 (0 macro, 1 micro)
      int32_t k = 5, avg[3] = {0, 0, 0};
      bool options = false;
      for (const sema::Call& m : tc_.metricCalls) {
        if (m.name == "top_k") k = static_cast<int32_t>(arg(m, "k", 5)), options = true;
        const int i = m.name == "precision" ? 0 : m.name == "recall" ? 1 : m.name == "f1" ? 2 : -1;
        if (i < 0) continue;
        auto it = m.args.find("average");
        const std::string* w = it == m.args.end() ? nullptr : std::get_if<std::string>(&it->second.value);
        avg[i] = w && *w == "micro" ? 1 : 0;
        options = true;
      }
      if (options) call(S, "dls_rt_metric_options", {k, avg[0], avg[1], avg[2]});
    }
    const sema::Call& opt = *tc_.optimizer;
    // The optimizer's and the schedules' runtime codes are their op table rows'.
    const sema::OpInfo* optInfo = sema::findOp(opt.name, {sema::OpCategory::Optimizer});
    if (!optInfo || optInfo->opcode < 0) {
      diags_.report(Code::E1004, opt.span, fmt::format("optimizer `{}` is not supported by the runtime yet", opt.name));
      return;
    }
    const int32_t okind = optInfo->opcode;
    // runtime.h dls_optimizer: RMSprop's alpha and Adadelta's rho travel as beta2, NAdam's momentum_decay and
    // Adagrad's initial_accumulator_value as momentum; the flag is SGD's nesterov or Adam's and AdamW's amsgrad.
    double beta2 = okind == DLS_OPT_RMSPROP    ? arg(opt, "alpha", 0.99)
                   : okind == DLS_OPT_ADADELTA ? arg(opt, "rho", 0.9)
                                               : arg(opt, "beta2", 0.999);
    const double momentum = okind == DLS_OPT_NADAM     ? arg(opt, "momentum_decay", 4e-3)
                            : okind == DLS_OPT_ADAGRAD ? arg(opt, "initial_accumulator_value", 0)
                                                       : arg(opt, "momentum", 0);
    const int32_t flag = static_cast<int32_t>(
        okind == DLS_OPT_ADAM || okind == DLS_OPT_ADAMW ? arg(opt, "amsgrad", 0) : arg(opt, "nesterov", 0));
    call(S, "dls_rt_optimizer",
         {okind, arg(opt, "lr", 0.01), momentum, arg(opt, "beta1", 0.9), beta2, arg(opt, "eps", 1e-8),
          arg(opt, "weight_decay", okind == DLS_OPT_ADAMW ? 0.01 : 0), flag});
    // Keras' `decay` of every optimizer: lr / (1 + decay * iterations), chained with the schedules; Adagrad's
    // lr_decay is the same factor (torch's lr / (1 + (t - 1) lr_decay)).
    if (const double decay = arg(opt, "decay", 0); decay > 0)
      call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_TIME_DECAY}, decay, 0.0, 0.0, 0.0});
    if (const double decay = arg(opt, "lr_decay", 0); okind == DLS_OPT_ADAGRAD && decay > 0)
      call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_TIME_DECAY}, decay, 0.0, 0.0, 0.0});
    for (const sema::Call& s : tc_.schedules) {
      const sema::OpInfo* info = sema::findOp(s.name, {sema::OpCategory::Schedule});
      const int code = info ? info->opcode : -1;
      if (code == DLS_SCHED_CONSTANT) {
        // the optimizer's rate throughout: nothing to declare
      } else if (code == DLS_SCHED_STEP)
        call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_STEP}, arg(s, "every", 1), arg(s, "gamma", 0.1), 0.0, 0.0});
      else if (code == DLS_SCHED_COSINE)
        call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_COSINE}, arg(s, "t_max", 0), arg(s, "eta_min", 0), 0.0, 0.0});
      else if (code == DLS_SCHED_EXPONENTIAL)
        call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_EXPONENTIAL}, arg(s, "gamma", 1), 0.0, 0.0, 0.0});
      else if (code == DLS_SCHED_WARMUP)
        call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_WARMUP}, arg(s, "steps", 0), 0.0, 0.0, 0.0});
      else if (code == DLS_SCHED_ONECYCLE)
        call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_ONECYCLE}, arg(s, "max_lr", 0), arg(s, "pct_start", 0.3),
                                    arg(s, "div_factor", 25), arg(s, "final_div_factor", 1e4)});
      else if (code == DLS_SCHED_PLATEAU) {
        // `monitor` (val_NAME) is the metric row NAME's code, as early stopping's; sema required `validate` (E0113).
        auto mon = s.args.find("monitor");
        const std::string* word = mon == s.args.end() ? nullptr : std::get_if<std::string>(&mon->second.value);
        const sema::OpInfo* metric =
            word && word->rfind("val_", 0) == 0 ? sema::findOp(word->substr(4), {sema::OpCategory::Metric}) : nullptr;
        if (!metric || metric->opcode <= 0 || (!tc_.validate && !tc_.validateHeldOut)) {
          diags_.report(Code::E1004, s.span, fmt::format("schedule `{}` is not supported by the runtime yet", s.name));
          return;
        }
        // plateau(monitor: val_OUTPUT_METRIC): sema resolved it to `monitor: val_METRIC` and the argument `output`, the
        // output whose metric it is, set once the loss terms are known (dls_rt_watch_output).
        call(S, "dls_rt_plateau", {s.args.count("output") ? int32_t{DLS_METRIC_LOSS} : int32_t{metric->opcode}, arg(s, "factor", 0.1), static_cast<int64_t>(arg(s, "patience", 10)),
                                   arg(s, "min_delta", 1e-4), static_cast<int64_t>(arg(s, "cooldown", 0)), arg(s, "min_lr", 0)});
      } else if (code != DLS_SCHED_MULTISTEP) {
        diags_.report(Code::E1004, s.span, fmt::format("schedule `{}` is not supported by the runtime yet", s.name));
        return;
      } else {
        // Three milestones per call; chained schedules multiply, so further calls carry the rest.
        std::vector<int64_t> ms;
        if (auto it = s.args.find("milestones"); it != s.args.end())
          if (auto* v = std::get_if<std::vector<int64_t>>(&it->second.value)) ms = *v;
        for (size_t k = 0; k == 0 || k < ms.size(); k += 3) {
          double m[3] = {-1, -1, -1};
          for (size_t i = 0; i < 3 && k + i < ms.size(); ++i) m[i] = static_cast<double>(ms[k + i]);
          call(S, "dls_rt_schedule", {int32_t{DLS_SCHED_MULTISTEP}, m[0], m[1], m[2], arg(s, "gamma", 0.1)});
        }
      }
    }
    if (tc_.clip) {
      // The clipping's runtime code is its op table row's; its one attribute, the threshold, is required there.
      const sema::Call& cl = *tc_.clip;
      const sema::OpInfo* info = sema::findOp(cl.name, {sema::OpCategory::Clip});
      auto th = info && info->attrs.size() == 1 ? cl.args.find(std::string(info->attrs[0].name)) : cl.args.end();
      if (!info || (info->opcode != DLS_CLIP_NORM && info->opcode != DLS_CLIP_VALUE) || th == cl.args.end()) {
        diags_.report(Code::E1004, cl.span, fmt::format("gradient clipping `{}` is not supported by the runtime yet", cl.name));
        return;
      }
      call(S, "dls_rt_clip", {int32_t{info->opcode}, num(th->second.value)});
    }
    if (tc_.stop) {
      // The rule's runtime code is its op table row's; `monitor` (val_NAME) is the metric row NAME's code.
      const sema::Call& st = *tc_.stop;
      const sema::OpInfo* info = sema::findOp(st.name, {sema::OpCategory::Stop});
      auto mon = st.args.find("monitor");
      const std::string* word = mon == st.args.end() ? nullptr : std::get_if<std::string>(&mon->second.value);
      const sema::OpInfo* metric =
          word && word->rfind("val_", 0) == 0 ? sema::findOp(word->substr(4), {sema::OpCategory::Metric}) : nullptr;
      if (!info || info->opcode != DLS_STOP_EARLY || !metric || metric->opcode <= 0 || !tc_.validate) {
        diags_.report(Code::E1004, st.span, fmt::format("stopping rule `{}` is not supported by the runtime yet", st.name));
        return;
      }
      call(S, "dls_rt_stop", {int32_t{info->opcode}, tc_.stopOutput.empty() ? int32_t{metric->opcode} : int32_t{DLS_METRIC_LOSS},
                              static_cast<int64_t>(arg(st, "patience", 0)),
                              arg(st, "min_delta", 0)});
    }
    emitData(*tc_.data, DLS_SPLIT_TRAIN);
    // validate = train_input.valid: the held-out samples of the training data, which the runtime carves out.
    int32_t validateOn = -1;
    if (tc_.validate && !tc_.validateHeldOut) {
      // The runtime's test slot is the data set's `test` split, the one `eval` reads; validation on any other
      // split (a `valid` file, a split of another name, the training files themselves) fills the valid slot.
      validateOn = tc_.validate->split == "test" ? DLS_SPLIT_TEST : DLS_SPLIT_VALID;
      emitData(*tc_.validate, validateOn);
    } else if (tc_.validateHeldOut) {
      validateOn = DLS_SPLIT_VALID;
    } else {
      // No `validate`: the samples `split(valid: …)` holds out, if any, are still validated on.
      for (const sema::PipeStep& s : tc_.data->steps)
        if (s.op && s.op->opcode == sema::kOpcodeSplit) validateOn = DLS_SPLIT_VALID;
    }
    // `eval` evaluates on the data set's test split: declare it when validation does not already read it,
    // with the pipeline that reads it or, when none does, the training pipeline's element-wise steps.
    const sema::Dataset* data = tc_.data->dataset;
    if (validateOn != DLS_SPLIT_TEST && data && data->find("test")) {
      const sema::Pipeline* testPipe = nullptr;
      for (const auto& pp : prog_.pipelines)
        if (!testPipe && pp->dataset == data && pp->split == "test") testPipe = pp.get();
      if (testPipe) emitData(*testPipe, DLS_SPLIT_TEST);
      else emitData(*tc_.data, DLS_SPLIT_TEST, "test", true);
    }
    call(S, "dls_rt_validate_split", {validateOn});
    call(S, "dls_rt_arena", {int64_t{mem_.peak}});

    // Tensors: values (views share their root's buffer), their gradients, labels and loss.
    valueTensor_.assign(net_.values.size(), -1);
    gradTensor_.assign(net_.values.size(), -1);
    for (const Value& v : net_.values) {
      TensorDesc t{dlsDtype(v.type.dtype), dims_[v.id], valueBuf_[rootOf(v.id)], batchAxesOf(v.type.shape)};
      valueTensor_[v.id] = tensor(t);
    }
    for (const Value& v : net_.values) {
      if (!needsGrad_[v.id] || gradBuf_[rootOf(v.id)] < 0) continue;
      TensorDesc t{DLS_F32, dims_[v.id], gradBuf_[rootOf(v.id)], batchAxesOf(v.type.shape)};
      gradTensor_[v.id] = tensor(t);
    }
    // Class labels are [N] or [N, T]; targets are shaped like the output.
    labelTensor_ = tensor({classLabels() ? DLS_I32 : DLS_F32, labelDims_, labelBuf_,
                           classLabels() ? int32_t{1} : batchAxesOf(net_.values[ioOutput()].type.shape)});
    lossTensor_ = tensor({DLS_F32, {1}, lossBuf_});
    for (size_t i = 0; i < termLossBuf_.size(); ++i) {
      termLossTensor_.push_back(tensor({DLS_F32, {1}, termLossBuf_[i]}));
      const int v = tc_.lossTerms[i].outputValue;
      termGradTensor_.push_back(termGradBuf_[i] < 0 ? -1
                                                    : tensor({DLS_F32, dims_[v], termGradBuf_[i], batchAxesOf(net_.values[v].type.shape)}));
      const int v2 = tc_.lossTerms[i].outputValue2;
      termGradTensor2_.push_back(termGradBuf2_[i] < 0 ? -1
                                                      : tensor({DLS_F32, dims_[v2], termGradBuf2_[i], batchAxesOf(net_.values[v2].type.shape)}));
    }

    // Parameters: persistent value and gradient tensors owned by the runtime.
    paramTensor_.assign(net_.params.size(), -1);
    for (const sema::Param& p : net_.params) {
      std::vector<int64_t> dims = concreteDims(runtimeShape(p.shape), net_.nodes[p.node].span, p.name);
      int32_t value = tensor({DLS_F32, dims, -1});
      int32_t grad = p.trainable ? tensor({DLS_F32, dims, -1}) : -1;
      paramTensor_[p.id] = value;
      // torch.optim decays every parameter it is given: weights, biases and normalisation parameters alike.
      const bool decay = true;
      call(S, "dls_rt_param",
           {value, grad, p.name, initKind(p.init), p.initA, p.initB, int64_t{p.fanIn}, int64_t{p.fanOut},
            int32_t{p.trainable ? 1 : 0}, int32_t{decay ? 1 : 0}});
    }

    // Forward ops, the loss, then gradient ops in reverse order.
    opId_.assign(net_.nodes.size(), -1);
    for (const Node& n : net_.nodes) {
      if (info_[n.id].opcode < 0) continue;
      std::vector<int32_t> ts;
      std::vector<double> as;
      if (!operands(n, ts, as)) return;
      LineCol lc = sm_.lineCol(n.span);
      call(S, "dls_rt_op", {int32_t{info_[n.id].opcode}, I32Array{ts}, static_cast<int32_t>(ts.size()), F64Array{as},
                            static_cast<int32_t>(as.size()), static_cast<int32_t>(lc.line), static_cast<int32_t>(lc.col)});
      opId_[n.id] = nextOp_++;
    }
    // Gradient ops. Reverse order; a gradient buffer is written by the first op that reaches it and
    // accumulated into by the later ones (values with several consumers: residual connections).
    std::vector<bool> written(mem_.buffers.size(), false);
    auto dinFor = [&](int v, int& accumulate, int bit) -> int32_t {
      if (!needsGrad_[v] || gradTensor_[v] < 0) return -1;
      int buf = gradBuf_[rootOf(v)];
      if (written[buf]) accumulate |= 1 << bit;
      written[buf] = true;
      return gradTensor_[v];
    };
    if (general()) {
      if (!emitLossTerms(dinFor)) return;
    } else {
      const std::string& ln = tc_.loss->name;
      // The loss's runtime opcode is the op table's.
      const sema::OpInfo* lossInfo = sema::findOp(ln, {sema::OpCategory::Loss});
      const int32_t lossCode = lossInfo && lossInfo->opcode >= DLS_OP_CROSS_ENTROPY ? lossInfo->opcode : -1;
      if (lossCode < 0) {
        diags_.report(Code::E1004, tc_.loss->nameSpan, fmt::format("loss `{}` is not supported by the runtime yet", ln));
        return;
      }
      LineCol llc = sm_.lineCol(tc_.loss->span);
      std::vector<int32_t> lt = {valueTensor_[net_.output], labelTensor_, lossTensor_};
      std::vector<double> la;
      const schema::OpRow* lossRow = schema::find(lossCode);
      for (int i = 0; lossRow && i < lossRow->nattrs(); ++i) {
        const schema::AttrRow& r = lossRow->attrsBegin()[i];
        auto it = tc_.loss->args.find(std::string(r.name));
        if (r.type == schema::AttrType::FLOATS) {  // a trailing list: its values, or none (ops.def)
          if (it != tc_.loss->args.end())
            if (const auto* l = std::get_if<std::vector<double>>(&it->second.value)) la.insert(la.end(), l->begin(), l->end());
          continue;
        }
        la.push_back(schemaValue(r, it == tc_.loss->args.end() ? nullptr : &it->second.value).value_or(r.dflt));
      }
      call(S, "dls_rt_op", {lossCode, I32Array{lt}, int32_t{3}, F64Array{la}, static_cast<int32_t>(la.size()),
                            static_cast<int32_t>(llc.line), static_cast<int32_t>(llc.col)});
      lossOp_ = nextOp_++;
      call(S, "dls_rt_io", {valueTensor_[firstFieldInput()], labelTensor_, valueTensor_[net_.output], lossTensor_});
      emitFieldInputs();

      {
        int acc = 0;
        std::vector<int32_t> dins = {dinFor(net_.output, acc, 0), -1};
        call(S, "dls_rt_grad_op", {lossOp_, int32_t{-1}, I32Array{dins}, int32_t{2}, int32_t{acc}});
        lossGradOp_ = nextGradOp_++;
      }
    }
    gradOp_.assign(net_.nodes.size(), -1);
    for (auto it = net_.nodes.rbegin(); it != net_.nodes.rend(); ++it) {
      const Node& n = *it;
      if (!info_[n.id].hasBwd) continue;
      int acc = 0;
      std::vector<int32_t> dins;
      for (size_t i = 0; i < n.inputs.size(); ++i) dins.push_back(dinFor(n.inputs[i], acc, static_cast<int>(i)));
      call(S, "dls_rt_grad_op", {int32_t{opId_[n.id]}, gradTensor_[n.output], I32Array{dins},
                                  static_cast<int32_t>(dins.size()), int32_t{acc}});
      gradOp_[n.id] = nextGradOp_++;
    }
  }

  // The terms of the loss as runtime ops: each term's loss op (its output against its target: the labels, or the
  // input batch for a target that is the sample field) writing its own scalar, the step's loss as the weighted sum
  // of them (scaled_add), and each term's gradient op; a weighted term writes the gradient of its output into a
  // buffer of its own, which a scaled_add adds into the output's gradient times the weight.
  template <typename DinFor>
  bool emitLossTerms(DinFor& dinFor) {
    auto& S = plan_.setup;
    const size_t T = tc_.lossTerms.size();
    for (size_t i = 0; i < T; ++i) {
      const auto& term = tc_.lossTerms[i];
      const sema::Call& c = term.call;
      const sema::OpInfo* info = sema::findOp(c.name, {sema::OpCategory::Loss});
      const int32_t code = info && info->opcode >= DLS_OP_CROSS_ENTROPY ? info->opcode : -1;
      if (code < 0 || term.outputValue < 0) {
        diags_.report(Code::E1004, c.nameSpan, fmt::format("loss `{}` is not supported by the runtime yet", c.name));
        return false;
      }
      std::vector<double> la;
      const schema::OpRow* row = schema::find(code);
      for (int k = 0; row && k < row->nattrs(); ++k) {
        const schema::AttrRow& r = row->attrsBegin()[k];
        auto it = c.args.find(std::string(r.name));
        if (r.type == schema::AttrType::FLOATS) {
          if (it != c.args.end())
            if (const auto* l = std::get_if<std::vector<double>>(&it->second.value)) la.insert(la.end(), l->begin(), l->end());
          continue;
        }
        la.push_back(schemaValue(r, it == c.args.end() ? nullptr : &it->second.value).value_or(r.dflt));
      }
      termTarget_.push_back(term.targetIsSample ? valueTensor_[firstFieldInput()] : labelTensor_);
      std::vector<int32_t> lt = {valueTensor_[term.outputValue], termTarget_.back(), termLossTensor_[i]};
      if (term.outputValue2 >= 0)  // ops.def "xxty": both outputs, then the targets
        lt = {valueTensor_[term.outputValue], valueTensor_[term.outputValue2], termTarget_.back(), termLossTensor_[i]};
      LineCol lc = sm_.lineCol(c.span);
      call(S, "dls_rt_op", {code, I32Array{lt}, static_cast<int32_t>(lt.size()), F64Array{la}, static_cast<int32_t>(la.size()),
                            static_cast<int32_t>(lc.line), static_cast<int32_t>(lc.col)});
      termOp_.push_back(nextOp_++);
    }
    // The step's loss: sum_i weight_i * loss_i.
    for (size_t i = 0; i < T; ++i) {
      LineCol lc = sm_.lineCol(tc_.lossTerms[i].call.span);
      std::vector<double> a = {tc_.lossTerms[i].weight, i == 0 ? 0.0 : 1.0};
      call(S, "dls_rt_op", {int32_t{DLS_OP_SCALED_ADD}, I32Array{{termLossTensor_[i], lossTensor_}}, int32_t{2},
                            F64Array{a}, int32_t{2}, static_cast<int32_t>(lc.line), static_cast<int32_t>(lc.col)});
      sumOp_.push_back(nextOp_++);
    }
    // Where each term's gradient goes (the loss terms' gradients run first in the backward pass, in order).
    std::vector<int32_t> dout(T, -1), acc(T, 0);
    dout2_.assign(T, -1), acc2_.assign(T, 0);
    for (size_t i = 0; i < T; ++i) {
      int a = 0;
      dout[i] = dinFor(tc_.lossTerms[i].outputValue, a, 0);
      acc[i] = a;
      if (tc_.lossTerms[i].outputValue2 >= 0) {
        int a2 = 0;
        dout2_[i] = dinFor(tc_.lossTerms[i].outputValue2, a2, 0);
        acc2_[i] = a2;
      }
    }
    for (size_t i = 0; i < T; ++i) {
      const auto& term = tc_.lossTerms[i];
      if (termGradTensor_[i] >= 0 && dout[i] >= 0) {
        LineCol lc = sm_.lineCol(term.call.span);
        std::vector<double> a = {term.weight, acc[i] ? 1.0 : 0.0};
        call(S, "dls_rt_op", {int32_t{DLS_OP_SCALED_ADD}, I32Array{{termGradTensor_[i], dout[i]}}, int32_t{2},
                              F64Array{a}, int32_t{2}, static_cast<int32_t>(lc.line), static_cast<int32_t>(lc.col)});
        scaleOp_.push_back(nextOp_++);
      } else {
        scaleOp_.push_back(-1);
      }
      if (termGradTensor2_[i] >= 0 && dout2_[i] >= 0) {
        LineCol lc = sm_.lineCol(term.call.span);
        std::vector<double> a = {term.weight, acc2_[i] ? 1.0 : 0.0};
        call(S, "dls_rt_op", {int32_t{DLS_OP_SCALED_ADD}, I32Array{{termGradTensor2_[i], dout2_[i]}}, int32_t{2},
                              F64Array{a}, int32_t{2}, static_cast<int32_t>(lc.line), static_cast<int32_t>(lc.col)});
        scaleOp2_.push_back(nextOp_++);
      } else {
        scaleOp2_.push_back(-1);
      }
    }
    call(S, "dls_rt_io", {valueTensor_[firstFieldInput()], labelTensor_, valueTensor_[ioOutput()], lossTensor_});
    emitFieldInputs();
    for (size_t i = 0; i < T; ++i) {
      const auto& term = tc_.lossTerms[i];
      std::string name = term.output.empty() ? std::string("out") : term.output;
      for (size_t j = 0; j < i; ++j)
        if (tc_.lossTerms[j].outputValue == term.outputValue) name = fmt::format("{}_{}", name, term.call.name);
      call(S, "dls_rt_head", {valueTensor_[term.outputValue], termTarget_[i], name, term.weight, termLossTensor_[i]});
    }
    // keep N best by val_OUTPUT_METRIC, early(monitor: val_OUTPUT_METRIC): the metric of that output's term.
    auto metricCode = [](const std::string& m) {
      const sema::OpInfo* info = sema::findOp(m, {sema::OpCategory::Metric});
      return info && info->opcode > 0 ? int32_t{info->opcode} : int32_t{0};
    };
    if (tc_.checkpointBest && !tc_.checkpointBestOutput.empty())
      call(S, "dls_rt_watch_output", {int32_t{1}, tc_.checkpointBestOutput, metricCode(*tc_.checkpointBest)});
    if (tc_.stop && !tc_.stopOutput.empty()) {
      auto mon = tc_.stop->args.find("monitor");
      const std::string* word = mon == tc_.stop->args.end() ? nullptr : std::get_if<std::string>(&mon->second.value);
      call(S, "dls_rt_watch_output", {int32_t{2}, tc_.stopOutput, metricCode(word && word->size() > 4 ? word->substr(4) : "loss")});
    }
    for (const sema::Call& sch : tc_.schedules) {
      auto out = sch.args.find("output");
      const std::string* output = out == sch.args.end() ? nullptr : std::get_if<std::string>(&out->second.value);
      if (sch.name != "plateau" || !output) continue;
      auto mon = sch.args.find("monitor");
      const std::string* word = mon == sch.args.end() ? nullptr : std::get_if<std::string>(&mon->second.value);
      call(S, "dls_rt_watch_output", {int32_t{3}, *output, metricCode(word && word->size() > 4 ? word->substr(4) : "loss")});
    }
    for (size_t i = 0; i < T; ++i) {
      const bool scaled = scaleOp_[i] >= 0;
      std::vector<int32_t> dins = {scaled ? termGradTensor_[i] : dout[i], -1};
      int32_t mask = scaled ? 0 : acc[i];
      if (tc_.lossTerms[i].outputValue2 >= 0) {  // d(x1), d(x2), none for the targets
        const bool scaled2 = scaleOp2_[i] >= 0;
        dins = {dins[0], scaled2 ? termGradTensor2_[i] : dout2_[i], -1};
        mask |= (scaled2 ? 0 : acc2_[i]) << 1;
      }
      call(S, "dls_rt_grad_op", {termOp_[i], int32_t{-1}, I32Array{dins}, static_cast<int32_t>(dins.size()), mask});
      termGradOp_.push_back(nextGradOp_++);
    }
    return true;
  }

  // A parameter of rank > 4 (local's weight [L, F, C, KH, KW]) travels as rank 4 with its leading dims merged
  // ([L*F, C, KH, KW]): the same values in the same row-major order (runtime.h DLS_OP_LOCAL).
  static sema::Shape runtimeShape(const sema::Shape& s) {
    if (s.rank() <= 4) return s;
    size_t lead = s.rank() - 3;
    auto n = s.elements(0);
    auto tail = s.elements(lead);
    if (!n || !tail || *tail == 0) return s;  // not concrete: concreteDims reports it
    sema::Shape out;
    out.dims.push_back(sema::Dim::constant(*n / *tail));
    out.dims.insert(out.dims.end(), s.dims.begin() + static_cast<std::ptrdiff_t>(lead), s.dims.end());
    return out;
  }

  // The value of one schema attribute (dlspec/ops.def) from `attrs` (a node's, or a loss call's arguments):
  // integers and numbers as they are, booleans as 0/1, words as their index in the row's list; the row's
  // default when absent. nullopt: a required attribute is missing or a word is not the row's.
  static std::optional<double> schemaValue(const schema::AttrRow& r, const AttrValue* v) {
    if (!v) return r.required() ? std::nullopt : std::optional<double>(r.dflt);
    if (const auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(v)) return *d;
    if (const auto* b = std::get_if<bool>(v)) return *b ? 1.0 : 0.0;
    if (const auto* w = std::get_if<std::string>(v); w && r.type == schema::AttrType::ENUM) {
      const int k = r.wordIndex(*w);
      if (k >= 0) return static_cast<double>(k);
    }
    return std::nullopt;
  }

  // A runtime op's tensors and attributes in the order of its row in dlspec/ops.def: the tensor letters
  // take the node's inputs, parameters (in their declared order) and output; the attributes are the node's
  // attributes of the same names. False (with a diagnostic) when the node lacks one the row requires.
  bool operands(const Node& n, std::vector<int32_t>& ts, std::vector<double>& as) {
    const schema::OpRow* row = schema::find(info_[n.id].opcode);
    if (!row) {
      diags_.report(Code::E1004, n.span, fmt::format("`{}` has no runtime op", n.op->name));
      return false;
    }
    size_t in = 0, par = 0;
    for (char c : row->tensors) {
      if (c == 'x' || c == 'o') ts.push_back(in < n.inputs.size() ? valueTensor_[n.inputs[in++]] : -1);
      else if (c == 'X') while (in < n.inputs.size()) ts.push_back(valueTensor_[n.inputs[in++]]);
      else if (c == 'p' || c == 'q') ts.push_back(par < n.params.size() ? paramTensor_[n.params[par++]] : -1);
      else if (c == 'P') while (par < n.params.size()) ts.push_back(paramTensor_[n.params[par++]]);
      else if (c == 'y') ts.push_back(valueTensor_[n.output]);
      else ts.push_back(-1);  // s: runtime-owned
    }
    const schema::AttrRow* a = row->attrsBegin();
    for (int i = 0; i < row->nattrs(); ++i) {
      const schema::AttrRow& r = a[i];
      if (r.type == schema::AttrType::INTS) {
        for (int64_t v : n.intsAttr(std::string(r.name))) as.push_back(static_cast<double>(v));
        continue;
      }
      std::optional<double> v = schemaValue(r, n.attr(std::string(r.name)));
      if (!v) {
        diags_.report(Code::E1004, n.span, fmt::format("`{}`: no value for the runtime attribute `{}`", n.op->name, r.name));
        return false;
      }
      as.push_back(*v);
    }
    return true;
  }

  void emitSteps() {
    for (const Node& n : net_.nodes)
      if (opId_[n.id] >= 0) {
        call(plan_.train, "dls_rt_fwd", {int32_t{opId_[n.id]}});
        call(plan_.eval, "dls_rt_fwd", {int32_t{opId_[n.id]}});
      }
    if (general()) {
      for (auto* list : {&plan_.train, &plan_.eval}) {
        for (int32_t op : termOp_) call(*list, "dls_rt_fwd", {op});
        for (int32_t op : sumOp_) call(*list, "dls_rt_fwd", {op});
      }
      for (size_t i = 0; i < termGradOp_.size(); ++i) {
        call(plan_.train, "dls_rt_bwd", {termGradOp_[i]});
        if (scaleOp_[i] >= 0) call(plan_.train, "dls_rt_fwd", {scaleOp_[i]});
        if (i < scaleOp2_.size() && scaleOp2_[i] >= 0) call(plan_.train, "dls_rt_fwd", {scaleOp2_[i]});
      }
    } else {
      call(plan_.train, "dls_rt_fwd", {int32_t{lossOp_}});
      call(plan_.eval, "dls_rt_fwd", {int32_t{lossOp_}});
      call(plan_.train, "dls_rt_bwd", {int32_t{lossGradOp_}});
    }
    for (auto it = net_.nodes.rbegin(); it != net_.nodes.rend(); ++it)
      if (gradOp_[it->id] >= 0) call(plan_.train, "dls_rt_bwd", {int32_t{gradOp_[it->id]}});
    call(plan_.train, "dls_rt_update", {});
  }

  const sema::Program& prog_;
  const sema::TrainConfig& tc_;
  const Network& net_;
  const SourceManager& sm_;
  DiagnosticEngine& diags_;
  std::vector<sema::Device> devices_;
  bool planOffsets_ = true;
  StepPlan plan_;
  MemoryPlan mem_;
  int64_t batch_ = 1;
  bool deviceList_ = false;  // `on [cuda:N, ...]`: dls_rt_device_list
  // A label field's `standardize`: (t - mean) / std by the training split's targets, as the label steps before
  // it leave them (conversions, scale, normalize, add, log1p: sema refuses others), a normalize of the targets.
  template <class Pipe>
  void lowerTargetStandardize(const sema::Dataset& ds, const sema::Pipeline& p, const sema::PipeStep& step, Pipe& pipe) {
    const sema::DataSource* train = nullptr;
    for (const sema::DataSource& src : ds.splits)
      if (src.split == "train") train = &src;
    std::vector<std::vector<double>> targets;
    std::string error;
    if (!train) error = "the data set has no `train` split";
    if (!train || !targetValues(*train, ds.labelName, targets, error)) {
      diags_.report(Code::E1010, train && !train->pathSpans.empty() ? train->pathSpans[0] : step.span,
                    train && !train->paths.empty() ? train->paths[0] : ds.name, error)
          .primary("the training split")
          .label(step.span, "needs its statistics")
          .help("the program keeps the training split's statistics: build it where the file can be read");
      return;
    }
    if (targets.size() != 1) {
      diags_.report(Code::E1004, step.span, fmt::format("`standardize` of {} targets is not supported by the runtime yet: "
                                                        "standardize one target, or `normalize(mean, std)` all alike", targets.size()));
      return;
    }
    // The targets as the label steps before this one leave them (in double, as the runtime applies them in float).
    std::vector<double>& v = targets[0];
    for (const sema::PipeStep& b : p.steps) {
      if (&b == &step) break;
      if (!b.op || b.field != step.field) continue;
      const int c = b.op->opcode;
      for (double& t : v)
        if (c == DLS_PIPE_SCALE) t *= attr(b.attrs, "factor", 1);
        else if (c == DLS_PIPE_NORMALIZE) t = (t - attr(b.attrs, "mean", 0)) / attr(b.attrs, "std", 1);
        else if (c == DLS_PIPE_ADD) t += attr(b.attrs, "offset", 0);
        else if (c == DLS_PIPE_LOG1P) t = t > -1 ? std::log1p(t) : NAN;
    }
    double m = 0, d = 0;
    for (double t : v) m += t;
    m /= double(v.size());
    for (double t : v) d += (t - m) * (t - m);
    d = std::sqrt(d / double(v.size()));
    if (!std::isfinite(m)) {
      diags_.report(Code::E1010, !train->pathSpans.empty() ? train->pathSpans[0] : step.span,
                    !train->paths.empty() ? train->paths[0] : ds.name, "a target is -1 or less where `log1p` takes it, so its log is not a number")
          .primary("the training split")
          .label(step.span, "needs its statistics")
          .help("shift the targets above -1 first: `add(…)` before `log1p`");
      return;
    }
    pipe(DLS_PIPE_NORMALIZE | DLS_PIPE_LABELS, m, d > 0 ? d : 1.0);
  }

  // standardize / min_max: the training split's per-feature statistics (read once per data set), carried
  // through the steps before this one (scale, normalize; sema allows only those and conversions), as the
  // offsets and scales of a DLS_PIPE_FEATURES step.
  void lowerFeatureStep(int32_t split, const sema::Dataset& ds, const sema::Pipeline& p, const sema::PipeStep& step) {
    // A further sample field's statistics are those of its own training file.
    const int field = std::max(0, ds.sampleIndex(step.field));
    auto [it, fresh] = featureStats_.try_emplace(field == 0 ? ds.name : ds.name + "." + step.field);
    if (fresh) {
      const sema::DataSource* train = nullptr;
      for (const sema::DataSource& src : ds.splits)
        if (src.split == "train") train = &src;
      sema::DataSource fieldTrain;
      // A CSV split whose fields are groups of its columns: the field's columns of the training file.
      std::pair<int64_t, int64_t> columns{-1, -1};
      if (train && train->format == sema::DataFormat::Csv && !train->columnGroups.empty()) {
        for (const auto& g : train->columnGroups)
          if (g.field == step.field) columns = {g.first, g.end};
      } else if (train && field > 0) {
        fieldTrain = *train;
        fieldTrain.paths.clear(), fieldTrain.resolved.clear(), fieldTrain.pathSpans.clear();
        for (const auto& ff : train->fieldFiles)
          if (ff.field == step.field)
            fieldTrain.paths.push_back(ff.path), fieldTrain.resolved.push_back(ff.resolved), fieldTrain.pathSpans.push_back(ff.span);
        // Its file's own format: an .npy file beside IDX images (the runtime reads a field's file by its name).
        const std::string& fp = fieldTrain.resolved.empty() ? std::string() : fieldTrain.resolved[0];
        fieldTrain.format = fp.ends_with(".npy") ? sema::DataFormat::Npy : train->format;
        train = &fieldTrain;
      }
      FeatureStats st;
      std::string error;
      const sema::Type& sampleType = field == 0 ? ds.sample : ds.moreSamples[size_t(field - 1)].type;
      const int64_t features = sampleType.shape.elements().value_or(0);
      if (!train) error = "the data set has no `train` split";
      if (train && (features <= 0 || !featureStats(*train, ds.labelName, features, st, error, columns)))
        diags_.report(Code::E1010, train->pathSpans.empty() ? train->sourceSpan : train->pathSpans[0],
                      train->paths.empty() ? ds.name : train->paths[0], error.empty() ? "the sample's size is not known" : error)
            .primary("the training split")
            .label(step.span, "needs its statistics")
            .help("the program keeps the training split's statistics: build it where the file can be read");
      else if (train)
        it->second = std::move(st);
    }
    if (!it->second) return;
    const FeatureStats& st = *it->second;
    const size_t F = st.mean.size();
    std::vector<double> lo = st.min, hi = st.max, mean = st.mean, sd = st.std;
    for (const sema::PipeStep& b : p.steps) {
      if (&b == &step) break;
      if (!b.op || b.field != step.field) continue;
      double k = 1, c = 0;  // v -> v * k + c
      if (b.op->opcode == DLS_PIPE_SCALE) k = attr(b.attrs, "factor", 1);
      else if (b.op->opcode == DLS_PIPE_NORMALIZE) k = 1.0 / attr(b.attrs, "std", 1), c = -attr(b.attrs, "mean", 0) * k;
      else continue;
      for (size_t f = 0; f < F; ++f) {
        mean[f] = mean[f] * k + c, sd[f] *= std::fabs(k);
        const double a = lo[f] * k + c, z = hi[f] * k + c;
        lo[f] = std::min(a, z), hi[f] = std::max(a, z);
      }
    }
    std::vector<std::string> offsets(F), scales(F);
    const bool standardize = step.op->opcode == sema::kOpcodeStandardize;
    for (size_t f = 0; f < F; ++f) {
      // A constant feature (no spread in the training split) becomes 0: its scale stays 1.
      const double spread = standardize ? sd[f] : hi[f] - lo[f];
      offsets[f] = fmt::format("{:.9g}", standardize ? mean[f] : lo[f]);
      scales[f] = fmt::format("{:.9g}", spread > 0 ? 1.0 / spread : 1.0);
    }
    call(plan_.setup, "dls_rt_pipe_features", {split, fmt::format("{}", fmt::join(offsets, ",")), fmt::format("{}", fmt::join(scales, ","))});
  }

  std::vector<NodeInfo> info_;
  std::vector<bool> needsGrad_;
  std::vector<std::vector<int>> consumers_;
  std::vector<int> valueBuf_, gradBuf_;
  std::vector<std::vector<int64_t>> dims_;  // concrete dims per value (the batch symbol bound)
  std::vector<int64_t> labelDims_;
  std::vector<int32_t> valueTensor_, gradTensor_, paramTensor_, opId_, gradOp_;
  int labelBuf_ = -1, lossBuf_ = -1;
  int32_t labelTensor_ = -1, lossTensor_ = -1, lossOp_ = -1, lossGradOp_ = -1;
  // A loss of terms (general()): per term its scalar's and its weighted gradient's buffers and tensors, its target
  // tensor, its loss op, its gradient op, the op adding it into the step's loss and the op scaling its gradient.
  std::vector<int> termLossBuf_, termGradBuf_, termGradBuf2_;
  std::vector<int32_t> termGradTensor2_, dout2_, acc2_, scaleOp2_;
  std::vector<int32_t> termLossTensor_, termGradTensor_, termTarget_, termOp_, termGradOp_, sumOp_, scaleOp_;
  int32_t nextTensor_ = 0, nextOp_ = 0, nextGradOp_ = 0;
  bool classNamesEmitted_ = false;  // dls_rt_class_names called
  bool vocabularyEmitted_ = false;  // dls_rt_vocabulary called
  std::map<std::string, std::optional<FeatureStats>> featureStats_;  // per data set: its training split's (standardize, min_max)
  int lossFwd_ = 0, lossBwd_ = 0, stepEnd_ = 0;
};

}  // namespace

std::optional<LowerResult> lowerProgram(const sema::Program& program, const std::string& train,
                                        const SourceManager& sm, DiagnosticEngine& diags,
                                        std::optional<sema::Device> device, bool planOffsets) {
  const sema::TrainConfig* tc = nullptr;
  for (auto& t : program.trains)
    if (train.empty() || t->name == train) {
      if (tc && train.empty()) {
        diags.report(Code::E1001, t->nameSpan, "the spec has several train blocks; choose one with --train NAME");
        return std::nullopt;
      }
      tc = t.get();
    }
  if (!tc) {
    diags.report(Code::E1001, Span{}, train.empty() ? "the spec has no train block to build"
                                                     : fmt::format("the spec has no train block `{}`", train));
    return std::nullopt;
  }
  if (!tc->network) {
    diags.report(Code::E1004, tc->span, fmt::format("train block `{}` names no network (`model = …`)", tc->name));
    return std::nullopt;
  }
  if (!tc->optimizer) {
    diags.report(Code::E1004, tc->span, fmt::format("train block `{}` has no optimizer", tc->name));
    return std::nullopt;
  }
  return Lowerer(program, *tc, sm, diags, device, planOffsets).run();
}

}  // namespace dls::plan

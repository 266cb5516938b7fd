// Program: the typed form of a spec, produced by analyze() (sema/Analyze.h) and read by the checker,
// summary/graph views, the lowering (autodiff, step plan) and importers.
//
// A Network is a DAG of Nodes over Values; every Node is one op of the op table (sema/OpTable.h) with
// its attributes resolved (defaults applied, ranges checked), its parameters created, and the source
// span of the call that made it. Blocks are inlined: a node remembers the block instances it came from.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sema/Types.h"
#include "support/SourceManager.h"
#include "syntax/Ast.h"

namespace dls::sema {

struct OpInfo;  // sema/OpTable.h

// A resolved attribute value.
// std::vector<std::string>: a list of columns (csv's `label: ["a", 2]`), each a name or "#K" for index K.
using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, std::vector<double>,
                               std::vector<std::string>>;

struct Attr {
  AttrValue value;
  Span span;           // the argument's span, or the call's span for a default
  bool isDefault = true;
};

struct Value {
  int id = -1;
  Type type;
  std::string name;    // the spec's name for it (h, x) or "" for an intermediate
  int producer = -1;   // node id, or -1 for a network input
  Span span;           // the expression that produced it
};

enum class ParamRole : uint8_t { Weight, Bias, Gamma, Beta, RunningMean, RunningVar, Embedding };

enum class InitKind : uint8_t { Zeros, Ones, Constant, Normal, Uniform, He, Glorot, TorchDefault };
std::string_view initName(InitKind k);

// An initialiser as its canonical spelling reads back ("normal(0, 0.01)": kind Normal, a = 0, b = 0.01);
// nullopt for a spelling that names no initialiser.
struct InitSpec {
  InitKind kind = InitKind::TorchDefault;
  double a = 0, b = 0;
};
std::optional<InitSpec> parseInit(std::string_view canonical);

struct Param {
  int id = -1;
  std::string name;      // stable name: "conv2d_1.weight"
  Shape shape;           // constants only
  ParamRole role = ParamRole::Weight;
  bool trainable = true; // false for running statistics
  InitKind init = InitKind::TorchDefault;
  double initA = 0, initB = 0;
  int64_t fanIn = 0, fanOut = 0;
  int node = -1;
  Span initSpan;         // the init: argument, if given
};

struct Node {
  int id = -1;
  const OpInfo* op = nullptr;
  std::string layer;                 // unique layer name: "conv2d_1"
  std::vector<int> inputs;           // value ids
  int output = -1;                   // value id
  std::map<std::string, Attr> attrs; // every attribute of the op, defaults included
  std::vector<int> params;           // param ids, in the op's declared order
  Span span;                         // the call (conv2d(filters: 20, kernel: 5))
  Span nameSpan;                     // the callee's name
  std::vector<std::string> blockPath;// block instances it was inlined from, outermost first
  Device device;

  const AttrValue* attr(const std::string& n) const {
    auto it = attrs.find(n);
    return it == attrs.end() ? nullptr : &it->second.value;
  }
  int64_t intAttr(const std::string& n, int64_t dflt = 0) const;
  double floatAttr(const std::string& n, double dflt = 0) const;
  bool boolAttr(const std::string& n, bool dflt = false) const;
  std::string strAttr(const std::string& n, const std::string& dflt = "") const;
  std::vector<int64_t> intsAttr(const std::string& n) const;
};

struct Network {
  std::string name;
  Span span, nameSpan;
  const ast::Decl* decl = nullptr;
  std::vector<Value> values;
  std::vector<Node> nodes;      // in topological (source) order
  std::vector<Param> params;
  std::vector<int> inputs;      // value ids of the network's parameters (x)
  int output = -1;              // value id returned
  Type declaredOutput;          // from `-> logits[N, 10]`
  Span declaredOutputSpan;
  std::vector<Type> declaredInputs;
  std::vector<Span> declaredInputSpans;
  std::vector<std::string> symbols;  // symbolic dims used (N)
  // A network with several outputs (`-> (cls: logits[N, 10], box: real[N, 4])`): each by name, in the declared
  // order; `output` and `declaredOutput` are then the first's. Empty for a network with one output (`model.out`).
  struct Output {
    std::string name;
    int value = -1;        // value id returned under this name
    Type declared;
    Span nameSpan, declaredSpan;
  };
  std::vector<Output> outputs;
  const Output* findOutput(const std::string& n) const {
    for (auto& o : outputs)
      if (o.name == n) return &o;
    return nullptr;
  }
};

// ---- data -----------------------------------------------------------------------------------------

enum class DataFormat : uint8_t { Idx, Csv, Npy, Images, Text };

struct DataSource {
  std::string split;             // train, test, valid
  DataFormat format = DataFormat::Idx;
  std::vector<std::string> paths;       // as written in the spec
  std::vector<std::string> resolved;    // resolved relative to the spec's directory
  std::vector<Span> pathSpans;
  std::string labelColumn;       // CSV: the label column's name
  Span labelColumnSpan;          // CSV: the `label: "…"` argument, if given
  bool labelByIndex = false;     // CSV: `label: 3` (0-based; negative counts from the last column)
  int64_t labelIndex = 0;
  bool csvHeader = true;         // CSV: `header:`, whether the first line (after `skip`) names the columns
  int64_t csvSkip = 0;           // CSV: `skip:`, lines before the header (or the first record) that are not data
  char csvSep = ',';             // CSV: `sep:` comma ',', semicolon ';', tab '\t', or space ' ' (runs of blanks)
  std::vector<std::string> labelColumns;  // CSV: `label: [a, 2]`, several label columns (names, "#K" for index K)
  std::string impute;            // CSV: `impute:` mean, median or zero; empty: missing cells are refused
  std::vector<std::string> categorical;  // CSV: `categorical: [a, 2]`, columns of category names (names, "#K" for index K)
  Span categoricalSpan;          // CSV: the `categorical:` argument, if given
  std::string labelFile;         // CSV: `label_file:`, the labels' own file (resolved); empty: a label column
  Span labelFileSpan;
  int64_t imageHeight = 0, imageWidth = 0;  // images: `size:` (0: not given, images must have the sample's)
  int64_t imageChannels = 0;     // images: `channels:` (0: not given, images must have the sample's)
  int32_t imageResize = 0;       // images: `resize:` 0 stretch, 1 crop, 2 pad (data::Resize)
  int64_t textSeq = 0;           // text: `seq:`, the window length
  bool textChars = true;         // text: `tokens: chars` (UTF-8 code points) or `bytes`
  Span span;
  Span sourceSpan;               // the source call: idx("…", "…")
  // A data set with several sample fields: the file of each field after the first (`npy(img: "…", meta: "…",
  // kind: "…")`), in the order of Dataset::moreSamples.
  struct FieldFile {
    std::string field;
    std::string path, resolved;
    Span span;
  };
  std::vector<FieldFile> fieldFiles = {};
  // CSV with several sample fields: the file's columns [first, end) each sample field takes (`img: columns(0, 784)`),
  // in the order of the fields (0: the first); empty when the split does not group its columns.
  struct ColumnGroup {
    std::string field;
    int64_t first = 0, end = 0;
    Span span;
  };
  std::vector<ColumnGroup> columnGroups = {};
};

struct Dataset {
  std::string name;
  Span span, nameSpan;
  const ast::Decl* decl = nullptr;
  std::vector<DataSource> splits;
  std::string sampleName;        // image
  Type sample;                   // u8[28, 28] (no batch dim)
  Span sampleSpan;
  Span sampleTypeSpan;           // u8[28, 28] as written
  std::string labelName;         // kind
  Type label;                    // class<10>
  Span labelSpan;
  Span labelTypeSpan;            // class<10> as written
  std::optional<double> validationFraction;  // split(valid: 0.1)
  // The sample fields after the first (`sample meta: f32[4]`), in the declared order: a network with several inputs
  // takes each by its name.
  struct Field {
    std::string name;
    Type type;
    Span span, typeSpan;
  };
  std::vector<Field> moreSamples = {};
  // The index of sample field `n` (0: sampleName, k: moreSamples[k - 1]), or -1.
  int sampleIndex(const std::string& n) const {
    if (n == sampleName) return 0;
    for (size_t i = 0; i < moreSamples.size(); ++i)
      if (moreSamples[i].name == n) return static_cast<int>(i) + 1;
    return -1;
  }
  const DataSource* find(const std::string& split) const {
    for (auto& s : splits)
      if (s.split == split) return &s;
    return nullptr;
  }
};

struct PipeStep {
  const OpInfo* op = nullptr;   // a pipeline op of the op table (to_f32, scale, normalize, shuffle, batch …)
  std::string name;
  std::map<std::string, Attr> attrs;
  bool augment = false;         // declared with `augment`
  std::string field;            // the field it applies to (image, label) for `field = field |> …`
  Span span;
  Type before, after;           // sample type around the step (per sample, no batch dim)
};

struct Pipeline {
  std::string name;
  Span span, nameSpan;
  const ast::Decl* decl = nullptr;
  const Dataset* dataset = nullptr;
  std::string split;            // fashion.train → "train"
  Span sourceSpan;
  std::vector<PipeStep> steps;  // in order, including shuffle/batch/repeat/split
  std::optional<int64_t> batch; // batch(64)
  Span batchSpan;
  Type sample;                  // per-sample type after the pipeline (f32[1, 28, 28])
  Type label;                   // label type after the pipeline (class<10> or onehot<10>)
  std::vector<Type> moreSamples = {};  // the further sample fields' types after the pipeline (Dataset::moreSamples)
};

// ---- training ---------------------------------------------------------------------------------------

struct Setting {
  Span span;      // the whole `key = …` item
  Span valueSpan;
};

struct Call {
  std::string name;              // cross_entropy, sgd, step …
  std::map<std::string, Attr> args;  // named arguments resolved (defaults applied)
  std::vector<const ast::Expr*> positional; // positional argument expressions (loss inputs)
  Span span, nameSpan;
};

struct TrainConfig {
  std::string name;
  Span span, nameSpan;
  const ast::Decl* decl = nullptr;
  const Network* network = nullptr;
  Setting model;
  std::vector<Device> devices;   // `on cpu`, `on [cuda:0, cuda:1]`
  std::vector<Span> deviceSpans; // where each of `devices` is written (none for the default cpu)
  Span placementSpan;
  bool deviceList = false;       // `on [cuda:0, ...]` (a list of one too): one replica per device in one process
  std::optional<int64_t> deviceCount;  // `devices = 2`: the GPUs the spec declares
  Setting devicesSetting;
  std::vector<Device> optimizerDevices;  // `optimizer = sgd(…) on cuda:1`: where its state is placed
  std::vector<Span> optimizerDeviceSpans;
  Span optimizerPlacementSpan;
  const Pipeline* data = nullptr;
  Setting dataSetting;
  std::optional<Call> loss;      // cross_entropy(model.out, kind); with several terms, the first
  // Every term of the loss, in order: `cross_entropy(model.out, kind)` is one term of weight 1; a network with
  // several outputs sums weighted terms, `1.0 * cross_entropy(model.cls, kind) + 0.5 * mse(model.box, box)`.
  struct LossTerm {
    Call call;
    double weight = 1;
    Span weightSpan;             // the weight as written (none for an implicit 1)
    std::string output;          // the network output it reads: "" for `model.out`, else the output's name
    int outputValue = -1;        // that output's value id
    bool targetIsSample = false; // the target is the data's sample field (an autoencoder), not its label field
    std::string target;          // the target field's name
    // A loss of two outputs (cosine_embedding): the second output it reads ("" for none) and its value id.
    std::string output2 = {};
    int outputValue2 = -1;
  };
  std::vector<LossTerm> lossTerms;
  std::optional<Call> optimizer; // sgd(lr: 0.01, momentum: 0.9)
  std::vector<Call> schedules;   // step(every: 5 epochs, gamma: 0.1), warmup(…)
  std::optional<Call> clip;      // gradient clipping: norm(1.0), value(0.5)
  std::optional<Call> stop;      // a stopping rule: early(monitor: val_loss, patience: 3, min_delta: 0.001)
  std::optional<int64_t> epochs;
  Setting epochsSetting;
  const Pipeline* validate = nullptr;  // validate = test_input every 1 epoch metrics [...]
  // validate = train_input.valid: the samples the training pipeline's split(valid: f) holds out (then
  // `validate` is that training pipeline).
  bool validateHeldOut = false;
  Setting validateSetting;
  int64_t validateEvery = 1;
  std::vector<std::string> metrics;
  std::vector<Call> metricCalls;  // the same metrics with their resolved arguments: top_k(5), f1(average: micro)
  std::optional<std::string> checkpoint;  // directory
  Setting checkpointSetting;
  int64_t checkpointEvery = 1, checkpointKeep = 3;
  // `keep N best by METRIC`: the validation metric (its metric row's name, without `val_`) whose best checkpoint is kept
  std::optional<std::string> checkpointBest;
  Span checkpointBestSpan;
  // `keep N best by val_OUTPUT_METRIC` (a network with several outputs): the loss term's output; empty: the whole
  // validation's metric. The same for early stopping's monitor.
  std::string checkpointBestOutput, stopOutput;
  // The sample field each network input takes (an index for Dataset::sampleIndex), by the input's name when the data
  // set has several sample fields; empty when the binding failed.
  std::vector<int> inputFields;
  // `accumulate = K steps`: micro-batches whose gradients make one optimiser step (1: none)
  int64_t accumulate = 1;
  Span accumulateSpan;
  std::optional<std::string> resume;      // resume = "runs/lenet/ckpt-3"
  Setting resumeSetting;
  std::optional<int64_t> seed;
  Setting seedSetting;
  std::optional<std::string> precision;   // f32 (default), f16, bf16
  std::optional<int64_t> memoryLimit;     // bytes, from `memory = 16 GiB` if given
  std::map<std::string, Setting> settings;  // every key given, for rules
  std::map<std::string, int64_t> symbols;   // symbolic dims bound by the data (N -> batch size)
};

struct Program {
  const ast::Spec* spec = nullptr;
  std::string specPath;
  std::string specDir;
  std::vector<std::unique_ptr<Dataset>> datasets;
  std::vector<std::unique_ptr<Pipeline>> pipelines;
  std::vector<std::unique_ptr<Network>> networks;
  std::vector<std::unique_ptr<TrainConfig>> trains;
  const Network* findNetwork(const std::string& n) const {
    for (auto& x : networks)
      if (x->name == n) return x.get();
    return nullptr;
  }
};

}  // namespace dls::sema

// OpTable: every op a spec can name, declared once as data (in the style of ONNX op schemas): its
// category, inputs, attributes (type, default, range, position), shape rule, kind rule, parameters,
// backends, differentiability, runtime opcode, FLOPs rule and deprecation. sema/OpTable.cpp is the table.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sema/Program.h"
#include "support/Diagnostic.h"

namespace dls::sema {

enum class OpCategory : uint8_t {
  Layer, Activation, Structural, Pipeline, Loss, Optimizer, Schedule, DataSource, Metric, Initializer, Clip, Stop
};
std::string_view categoryName(OpCategory c);

enum class AttrType : uint8_t {
  Int,        // 3
  Float,      // 0.1 (an int is accepted)
  Bool,       // true, false
  String,     // "path"
  Enum,       // one of `words`
  IntOrPair,  // 3 or [3, 5]  -> stored as [a, b]
  Padding,    // int, [h, w], [top, left, bottom, right], `same` or `valid`
  IntList,    // [1, 28, 28]
  FloatList,  // [1, 0.5, 2] (integers accepted)  -> stored as std::vector<double>
  IntOrWord,  // 1000 or one of `words` (shuffle(buffer: all))
  IntOrString,  // 3 or "name" (csv(label: …): a column by index or by name), or a list of them -> std::vector<std::string>
                // of names and "#K" for index K
  Init        // an initialiser: he, glorot, normal(0, 0.01) …  -> stored as its canonical spelling
};
std::string_view attrTypeName(AttrType t);

constexpr double kNoMin = -std::numeric_limits<double>::infinity();
constexpr double kNoMax = std::numeric_limits<double>::infinity();

struct AttrSpec {
  std::string_view name;
  AttrType type = AttrType::Int;
  std::optional<AttrValue> dflt;  // nullopt: required unless `optional`
  double min = kNoMin, max = kNoMax;
  int positional = -1;            // index when given without a name, -1 = by name only
  std::string_view words = {};    // Enum / Padding / IntOrWord: the words allowed, "|"-separated
  bool minExclusive = false;      // (min, max] instead of [min, max]
  bool optional = false;          // may be absent, with no default (maxpool stride = kernel)
  std::string_view units = {};    // units accepted after the value ("epoch|epochs"), "|"-separated
  bool maxExclusive = false;      // [min, max) instead of [min, max]
};

// What a shape rule sees and produces. Network rules see the batch dim; pipeline rules see one sample.
struct ShapeCtx {
  const struct OpInfo& op;
  std::vector<const Type*> in;
  std::map<std::string, Attr>& attrs;  // resolved attributes; rules add the normalised ones
  Span span;
  Type out;
  struct Error {
    Code code;
    std::string message;
    std::string primary;            // label under the call
    std::string help;
    std::vector<int> inputs;        // inputs to label with their type and producer
  };
  std::optional<Error> error;
  // Set by a rule that reports an error but leaves a defined fallback in `out` (add: the left operand's
  // shape): the value keeps a concrete type instead of being poisoned, so later faults stay checkable.
  bool recover = false;

  void fail(Code c, std::string message, std::string primary = {}, std::string help = {},
            std::vector<int> labelInputs = {0}) {
    if (!error) error = Error{c, std::move(message), std::move(primary), std::move(help), std::move(labelInputs)};
  }
  int64_t i(const std::string& n, int64_t d = 0) const;
  double f(const std::string& n, double d = 0) const;
  bool b(const std::string& n, bool d = false) const;
  std::string s(const std::string& n) const;
  std::vector<int64_t> ints(const std::string& n) const;
  void set(const std::string& n, AttrValue v) { attrs[n] = Attr{std::move(v), span, true}; }
};

// A parameter an op creates from its input and attributes.
struct ParamDesc {
  std::string_view suffix;  // weight, bias, gamma, beta, running_mean, running_var
  Shape shape;
  ParamRole role = ParamRole::Weight;
  bool trainable = true;
  InitKind init = InitKind::TorchDefault;
  double a = 0, b = 0;
  int64_t fanIn = 0, fanOut = 0;
};

using ShapeRule = void (*)(ShapeCtx&);
using ParamRule = std::vector<ParamDesc> (*)(const Type& in, const Node& node);
// Forward FLOPs for one sample (multiply-adds count 2); nullopt on overflow or unknown dims.
using FlopsRule = std::optional<int64_t> (*)(const std::vector<const Type*>& in, const Type& out, const Node& node);

constexpr int kOpcodeView = -1;   // a pure view (flatten, reshape, squeeze, unsqueeze): the lowering aliases it
constexpr int kOpcodeNone = -2;   // no runtime kernel (check-only ops)
// Pipeline steps carry their enum dls_pipe_op code, or one of these for the steps the lowering turns into
// train settings rather than per-sample work.
constexpr int kOpcodeBatch = -3;  // the batch size and drop_last of the train block
constexpr int kOpcodeSplit = -4;  // the held-out validation share of the training split
// Per-feature rescaling by the training split's statistics, which the lowering computes when the program is
// built and gives the runtime as DLS_PIPE_FEATURES (offsets and scales per feature).
constexpr int kOpcodeStandardize = -5;  // (x - mean) / std
constexpr int kOpcodeMinMax = -6;       // (x - min) / (max - min)

struct OpInfo {
  std::string_view name;
  OpCategory category;
  int minInputs = 1, maxInputs = 1;  // maxInputs -1: variadic
  bool inputsFromArgs = false;       // add(a, b), concat(a, b), losses: positional args are the inputs
  std::vector<AttrSpec> attrs;
  ShapeRule shape = nullptr;
  std::optional<SemKind> kind;       // the kind of the output; nullopt keeps the input's
  ParamRule params = nullptr;
  bool cpu = true, cuda = true;      // backends with a kernel
  std::string_view cudaWithout = {}; // settings with no CUDA kernel although the op has one: "attr: value" or
                                     // "attr: > K" (an integer or a pair element above K), "|"-separated
  bool differentiable = true;
  int opcode = kOpcodeNone;          // enum dls_opcode / dls_optimizer / dls_pipe_op, kOpcodeView, kOpcodeNone, …
  FlopsRule flops = nullptr;
  std::string_view doc;
  std::string_view replacedBy = {};  // deprecated: the op to use instead
  int deprecatedSince = 0;           // language version of the deprecation

  // Properties the checker's rules read, one column each: a rule of a category covers every op that has the
  // property, whatever its name.
  // Layers and activations:
  bool matmul = false;         // a learned matrix product of its input (dense, conv2d, local): two in a row with
                               // nothing non-linear between them collapse into one linear map
  bool nonLinear = false;      // a non-linear map of its input (activations, maxpool, recurrent cells)
  bool outputOnly = false;     // a non-linearity that turns scores into probabilities (softmax): not one
                               // between hidden layers
  double gain = 1;             // non-linear ops: the second moment out/in at initialisation for unit-variance
                               // inputs (He et al. 2015: relu 1/2)
  bool hasWeights = false;     // learned weights that `init:` initialises
  bool normalization = false;  // rescales its input to zero mean and unit variance, with a learned shift
  bool batchStatistics = false;// normalises with statistics over the batch (needs more than one sample)
  bool pooling = false;        // a windowed pooling over the spatial axes
  bool spatial = false;        // reads the spatial axes of [N, C, H, W] (convolution, pooling)
  bool recurrent = false;      // a recurrence over the time axis of [N, T, F]
  bool attention = false;      // mixes the steps of [N, T, F] by learned attention weights (a sequence model
                               // trained, like a recurrent one, with clipped gradients)
  bool passThrough = false;    // moves, reshapes or drops elements without computing new values
  bool perStep = false;        // acts on each step of a sequence [N, T, …] on its own (never mixes steps): a
                               // padding mask (embedding's mask_token) passes through it; with an `axis` only
                               // along the last axis, with `axes` (layer_norm's trailing axes) only 1
  bool nonNegative = false;     // an activation whose outputs are never negative (relu, softplus): scores after it
                               // are no logits
  // Mixed precision, from dlspec/ops.def (DLS_OP_BF16, DLS_OP_KEEP_F32):
  bool bf16 = false;           // `precision = bf16` on the CPU runs its products in bf16 (f32 accumulation)
  bool keepF32 = false;        // unstable in low precision (exponentials, normalisation statistics, losses): f32
  // Optimizers:
  bool adaptive = false;       // per-parameter step sizes from gradient moments (an `eps` guards the division)
  std::string_view decoupledVariant = {};  // the optimizer with this update and decoupled weight decay
  // Pipeline steps:
  bool wholeDataset = false;   // acts on the data set's order or grouping (shuffle, batch, split), not a sample
  bool rescales = false;       // maps a sample's values to a smaller range (scale, normalize)
  bool augmentation = false;   // random, training only (random_crop, color_jitter, mixup, …): off in evaluation
  bool mixesLabels = false;    // mixes pairs of samples and their labels (mixup, cutmix): the loss takes soft labels

  const AttrSpec* attr(std::string_view n) const {
    for (const AttrSpec& a : attrs)
      if (a.name == n) return &a;
    return nullptr;
  }
};

// The table, in declaration order.
const std::vector<OpInfo>& opTable();
// Finds an op by name among the given categories (reshape is both a layer and a pipeline op).
const OpInfo* findOp(std::string_view name, std::initializer_list<OpCategory> cats);
// The first of op.cudaWithout's settings that the node has ("activation: leaky_relu"), or empty.
std::string_view cudaMissing(const OpInfo& op, const Node& node);
// Names of the ops of these categories, for did-you-mean.
std::vector<std::string> opNames(std::initializer_list<OpCategory> cats);

}  // namespace dls::sema

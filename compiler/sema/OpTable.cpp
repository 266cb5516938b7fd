// The op table: every op of the language, once. Read by analyze() (names, arguments, shapes, kinds,
// parameters), the checker (categories, backends), the lowering (opcodes, differentiability) and the
// summary view (FLOPs). Attribute names after resolution are listed in docs of each op's rule.
#include "sema/OpTable.h"

#include <tuple>
#include <unordered_map>

#include "dlspec/OpSchema.h"
#include "dlspec/runtime.h"
#include "sema/OpRules.h"

// Entries use designated initialisers: the fields left out take their declared defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace dls::sema {

std::string_view categoryName(OpCategory c) {
  switch (c) {
    case OpCategory::Layer: return "layer";
    case OpCategory::Activation: return "activation";
    case OpCategory::Structural: return "structural op";
    case OpCategory::Pipeline: return "pipeline step";
    case OpCategory::Loss: return "loss";
    case OpCategory::Optimizer: return "optimizer";
    case OpCategory::Schedule: return "schedule";
    case OpCategory::DataSource: return "data source";
    case OpCategory::Metric: return "metric";
    case OpCategory::Initializer: return "initialiser";
    case OpCategory::Clip: return "gradient clipping";
    case OpCategory::Stop: return "stopping rule";
  }
  return "op";
}

std::string_view attrTypeName(AttrType t) {
  switch (t) {
    case AttrType::Int: return "an integer";
    case AttrType::Float: return "a number";
    case AttrType::Bool: return "`true` or `false`";
    case AttrType::String: return "a string";
    case AttrType::Enum: return "one of the listed words";
    case AttrType::IntOrPair: return "an integer or a pair [h, w]";
    case AttrType::Padding: return "an integer, [h, w], [top, left, bottom, right], `same` or `valid`";
    case AttrType::IntList: return "a list of integers";
    case AttrType::FloatList: return "a list of numbers";
    case AttrType::IntOrWord: return "an integer or a listed word";
    case AttrType::IntOrString: return "a string or an integer";
    case AttrType::Init: return "an initialiser (zeros, ones, constant(v), normal(mean, std), uniform(a, b), he, glorot)";
  }
  return "a value";
}

namespace {
using AV = AttrValue;
constexpr int64_t kMaxI = std::numeric_limits<int64_t>::max();
AV I(int64_t v) { return AV{v}; }
AV F(double v) { return AV{v}; }
AV B(bool v) { return AV{v}; }
AV S(const char* v) { return AV{std::string(v)}; }
AV L(std::vector<int64_t> v) { return AV{std::move(v)}; }

using namespace rules;
const auto LAYER = OpCategory::Layer;
const auto ACT = OpCategory::Activation;
const auto STRUCT = OpCategory::Structural;
const auto PIPE = OpCategory::Pipeline;

AttrSpec init() { return {.name = "init", .type = AttrType::Init, .optional = true}; }

// The attributes a runtime op shares with its row in dlspec/ops.def (the same name) take that row's default
// and, where the table sets no stricter one, its range: the schema is the one copy of them.
void fromSchema(OpInfo& op) {
  const bool runtimeOp = op.category == LAYER || op.category == ACT || op.category == STRUCT || op.category == OpCategory::Loss;
  const schema::OpRow* row = runtimeOp && op.opcode >= 0 ? schema::find(op.opcode) : nullptr;
  if (!row) return;
  op.bf16 = schema::bf16Kernel(op.opcode);
  op.keepF32 = schema::keepF32(op.opcode);
  for (AttrSpec& a : op.attrs) {
    const schema::AttrRow* r = row->attr(a.name);
    if (!r || r->list()) continue;
    if (!r->required()) {
      switch (r->type) {
        case schema::AttrType::INT: a.dflt = I(static_cast<int64_t>(r->dflt)); break;
        case schema::AttrType::FLOAT: a.dflt = F(r->dflt); break;
        case schema::AttrType::BOOL: a.dflt = B(r->dflt != 0); break;
        case schema::AttrType::ENUM: {
          std::string_view w = r->words;
          for (int i = 0; i < static_cast<int>(r->dflt); ++i) w = w.substr(w.find('|') + 1);
          a.dflt = AV{std::string(w.substr(0, w.find('|')))};
          a.words = r->words;
          break;
        }
        case schema::AttrType::INTS:
        case schema::AttrType::FLOATS: break;
      }
    }
    if (r->type != schema::AttrType::INT && r->type != schema::AttrType::FLOAT) continue;  // words and booleans
    if (a.min == kNoMin && r->lo != -schema::kNoLimit) a.min = r->lo, a.minExclusive = r->flags & schema::kLoOpen;
    if (a.max == kNoMax && r->hi != schema::kNoLimit) a.max = r->hi, a.maxExclusive = r->flags & schema::kHiOpen;
  }
}

std::vector<OpInfo> build() {
  std::vector<OpInfo> t;
  // Every activation is non-linear; `gain` is its second-moment gain at initialisation (see OpInfo::gain).
  auto act = [&](std::string_view n, int opcode, std::optional<SemKind> kind, double gain,
                 std::vector<AttrSpec> attrs = {}, FlopsRule fl = elementFlops, ShapeRule sr = same) {
    t.push_back({.name = n, .category = ACT, .attrs = std::move(attrs), .shape = sr,
                 .kind = kind ? kind : std::optional<SemKind>(SemKind::Real), .opcode = opcode, .flops = fl,
                 .nonLinear = true, .outputOnly = kind == SemKind::Probs || kind == SemKind::LogProbs, .gain = gain,
                 .perStep = true});
  };
  // ---- layers ----
  t.push_back({.name = "dense", .category = LAYER,
               .attrs = {{.name = "units", .type = AttrType::Int, .min = 1, .max = double(kMaxI), .positional = 0},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         {.name = "in", .type = AttrType::Int, .dflt = I(0), .min = 0},
                         init()},
               .shape = dense, .kind = SemKind::Real, .params = denseParams, .opcode = DLS_OP_DENSE,
               .flops = denseFlops, .doc = "y = x W^T + b over [N, features], or at every step of [N, T, features]",
               .matmul = true, .hasWeights = true, .perStep = true});
  t.push_back({.name = "conv2d", .category = LAYER,
               .attrs = {{.name = "filters", .type = AttrType::Int, .min = 1, .positional = 0},
                         {.name = "kernel", .type = AttrType::IntOrPair, .min = 1, .positional = 1},
                         {.name = "stride", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1},
                         {.name = "pad", .type = AttrType::Padding, .dflt = I(0), .min = 0, .words = "same|valid"},
                         {.name = "dilation", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1},
                         {.name = "groups", .type = AttrType::Int},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         {.name = "in", .type = AttrType::Int, .dflt = I(0), .min = 0},
                         init()},
               .shape = conv, .kind = SemKind::Real, .params = convParams, .opcode = DLS_OP_CONV2D,
               .flops = convFlops, .doc = "2-D convolution over [N, C, H, W]", .matmul = true, .hasWeights = true,
               .spatial = true});
  t.push_back({.name = "conv1d", .category = LAYER,
               .attrs = {{.name = "filters", .type = AttrType::Int, .min = 1, .positional = 0},
                         {.name = "kernel", .type = AttrType::Int, .min = 1, .positional = 1},
                         {.name = "stride", .type = AttrType::Int},
                         {.name = "pad", .type = AttrType::Padding, .dflt = I(0), .min = 0, .words = "same|valid"},
                         {.name = "dilation", .type = AttrType::Int},
                         {.name = "groups", .type = AttrType::Int},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         {.name = "in", .type = AttrType::Int, .dflt = I(0), .min = 0},
                         init()},
               .shape = conv, .kind = SemKind::Real, .params = convParams, .opcode = DLS_OP_CONV1D,
               .flops = convFlops,
               .doc = "1-D convolution over [N, C, L] (torch.nn.functional.conv1d); `pad`: an integer (both ends), "
                      "[left, right], `same` or `valid`",
               .matmul = true, .hasWeights = true, .spatial = true});
  for (auto [n, opc] : {std::pair{"maxpool", int(DLS_OP_MAXPOOL)}, std::pair{"avgpool", int(DLS_OP_AVGPOOL)}}) {
    std::vector<AttrSpec> a = {{.name = "kernel", .type = AttrType::IntOrPair, .min = 1, .positional = 0},
                               {.name = "stride", .type = AttrType::IntOrPair, .min = 1, .positional = 1, .optional = true},
                               {.name = "pad", .type = AttrType::Padding, .dflt = I(0), .min = 0, .words = "same|valid"}};
    if (opc == DLS_OP_MAXPOOL) a.push_back({.name = "dilation", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1});
    t.push_back({.name = n, .category = LAYER, .attrs = a, .shape = pool2d,
                 .cudaWithout = opc == DLS_OP_MAXPOOL ? "dilation: > 1" : "", .opcode = opc, .flops = poolFlops,
                 .doc = "pooling over [N, C, H, W]; stride defaults to the kernel", .nonLinear = opc == DLS_OP_MAXPOOL,
                 .pooling = true, .spatial = true});
  }
  for (auto [n, opc] : {std::pair{"maxpool1d", int(DLS_OP_MAXPOOL1D)}, std::pair{"avgpool1d", int(DLS_OP_AVGPOOL1D)}}) {
    std::vector<AttrSpec> a = {{.name = "kernel", .type = AttrType::Int, .min = 1, .positional = 0},
                               {.name = "stride", .type = AttrType::Int, .min = 1, .positional = 1, .optional = true},
                               {.name = "pad", .type = AttrType::Padding, .dflt = I(0), .min = 0, .words = "same|valid"}};
    if (opc == DLS_OP_MAXPOOL1D) a.push_back({.name = "dilation", .type = AttrType::Int, .dflt = I(1), .min = 1});
    t.push_back({.name = n, .category = LAYER, .attrs = a, .shape = pool1d,
                 .cudaWithout = opc == DLS_OP_MAXPOOL1D ? "dilation: > 1" : "", .opcode = opc, .flops = poolFlops,
                 .doc = "pooling over [N, C, L] (torch's max_pool1d / avg_pool1d, padding excluded from the average); "
                        "stride defaults to the kernel; `pad`: an integer (both ends), [left, right], `same` or `valid`",
                 .nonLinear = opc == DLS_OP_MAXPOOL1D, .pooling = true, .spatial = true});
  }
  t.push_back({.name = "global_avgpool", .category = LAYER, .shape = globalAvgPool, .opcode = DLS_OP_GLOBAL_AVGPOOL,
               .flops = inputElemFlops, .doc = "[N, C, H, W] -> [N, C]", .spatial = true});
  t.push_back({.name = "global_maxpool", .category = LAYER, .shape = globalAvgPool, .opcode = DLS_OP_GLOBAL_MAXPOOL,
               .flops = inputElemFlops, .doc = "[N, C, H, W] -> [N, C]: the maximum of each channel", .nonLinear = true,
               .spatial = true});
  t.push_back({.name = "adaptive_avgpool", .category = LAYER,
               .attrs = {{.name = "size", .type = AttrType::IntOrPair, .min = 1, .positional = 0}},
               .shape = adaptivePool, .opcode = DLS_OP_ADAPTIVE_AVGPOOL, .flops = inputElemFlops,
               .doc = "average pooling of [N, C, H, W] to [N, C, size, size] (or `[h, w]`), in torch's "
                      "adaptive_avg_pool2d bins",
               .spatial = true});
  for (auto [n, opc, doc] :
       {std::tuple{"mean", int(DLS_OP_REDUCE_MEAN), "the mean over `axes` (non-batch axes; negative ones count from the end); "
                                                     "`keepdims: true` keeps them as size 1"},
        std::tuple{"sum", int(DLS_OP_REDUCE_SUM), "the sum over `axes`; `keepdims: true` keeps them as size 1"},
        std::tuple{"max", int(DLS_OP_REDUCE_MAX), "the maximum over `axes`; `keepdims: true` keeps them as size 1 (its "
                                                   "gradient goes to the first maximal element)"}})
    t.push_back({.name = n, .category = LAYER,
                 .attrs = {{.name = "axes", .type = AttrType::IntList, .positional = 0},
                           {.name = "keepdims", .type = AttrType::Bool}},
                 .shape = reduce, .kind = SemKind::Real, .opcode = opc, .flops = inputElemFlops, .doc = std::string_view(doc),
                 .nonLinear = opc == DLS_OP_REDUCE_MAX});
  t.push_back({.name = "batch_norm", .category = LAYER,
               .attrs = {{.name = "eps", .type = AttrType::Float}, {.name = "momentum", .type = AttrType::Float}},
               .shape = batchNorm, .kind = SemKind::Real, .params = normParams, .opcode = DLS_OP_BATCH_NORM,
               .flops = normFlops, .doc = "batch normalisation over the channel axis", .normalization = true,
               .batchStatistics = true});
  t.push_back({.name = "layer_norm", .category = LAYER,
               .attrs = {{.name = "eps", .type = AttrType::Float}, {.name = "axes", .type = AttrType::Int}},
               .shape = layerNorm, .kind = SemKind::Real, .params = layerNormParams, .opcode = DLS_OP_LAYER_NORM,
               .flops = normFlops,
               .doc = "layer normalisation over the last `axes` axes together (torch.nn.LayerNorm with normalized_shape "
                      "their sizes; weight and bias have that shape)",
               .normalization = true, .perStep = true});
  t.push_back({.name = "group_norm", .category = LAYER,
               .attrs = {{.name = "groups", .type = AttrType::Int, .min = 1, .positional = 0}, {.name = "eps", .type = AttrType::Float}},
               .shape = groupNorm, .kind = SemKind::Real, .params = groupNormParams, .opcode = DLS_OP_GROUP_NORM,
               .flops = normFlops,
               .doc = "group normalisation over [N, C, …] (torch.nn.GroupNorm): each sample's channels in `groups` groups, "
                      "each normalised over its channels and positions; learned weight and bias [C]",
               .normalization = true});
  t.push_back({.name = "instance_norm", .category = LAYER,
               .attrs = {{.name = "affine", .type = AttrType::Bool, .dflt = B(false)}, {.name = "eps", .type = AttrType::Float}},
               .shape = groupNorm, .kind = SemKind::Real, .params = groupNormParams, .opcode = DLS_OP_INSTANCE_NORM,
               .flops = normFlops,
               .doc = "instance normalisation over [N, C, L] or [N, C, H, W] (torch.nn.InstanceNorm2d, no running "
                      "statistics): each sample's channels normalised over their positions; `affine: true` adds a "
                      "learned weight and bias [C]",
               .normalization = true});
  t.push_back({.name = "dropout", .category = LAYER,
               .attrs = {{.name = "p", .type = AttrType::Float, .positional = 0}},
               .shape = same, .opcode = DLS_OP_DROPOUT, .flops = elementFlops, .doc = "identity in evaluation",
               .passThrough = true, .perStep = true});
  t.push_back({.name = "embedding", .category = LAYER,
               .attrs = {{.name = "vocab", .type = AttrType::Int, .min = 1, .positional = 0},
                         {.name = "dim", .type = AttrType::Int, .min = 1, .positional = 1},
                         {.name = "mask_token", .type = AttrType::Int, .min = 0, .max = double(kMaxI), .optional = true}},
               .shape = embedding, .kind = SemKind::Real, .params = embeddingParams, .opcode = DLS_OP_EMBEDDING,
               .flops = noFlops,
               .doc = "table lookup: integer indices -> vectors; `mask_token: k` marks the steps whose index is k as "
                      "padding: the recurrent layers after it skip them (Keras' mask_zero, torch's packed sequences)",
               .hasWeights = true});
  t.push_back({.name = "multi_head_attention", .category = LAYER,
               .attrs = {{.name = "heads", .type = AttrType::Int, .positional = 0},
                         {.name = "dim", .type = AttrType::Int, .min = 1, .max = double(kMaxI), .positional = 1},
                         {.name = "causal", .type = AttrType::Bool},
                         {.name = "dropout", .type = AttrType::Float},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         init()},
               .shape = attention, .kind = SemKind::Real, .params = attentionParams, .opcode = DLS_OP_MULTI_HEAD_ATTENTION,
               .flops = attentionFlops,
               .doc = "multi-head self-attention over [N, T, dim] as torch.nn.MultiheadAttention(dim, heads, dropout, "
                      "bias, batch_first=True): parameters in_proj_weight [3*dim, dim], out_proj.weight [dim, dim], "
                      "in_proj_bias, out_proj.bias; `causal: true` masks every later step (torch's attn_mask "
                      "triu(-inf, 1)); `dropout` on the attention weights in training",
               .matmul = true, .hasWeights = true, .attention = true});
  t.push_back({.name = "cross_attention", .category = LAYER, .minInputs = 2, .maxInputs = 2, .inputsFromArgs = true,
               .attrs = {{.name = "heads", .type = AttrType::Int},
                         {.name = "dim", .type = AttrType::Int, .min = 1, .max = double(kMaxI)},
                         {.name = "causal", .type = AttrType::Bool},
                         {.name = "dropout", .type = AttrType::Float},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         init()},
               .shape = crossAttention, .kind = SemKind::Real, .params = crossAttentionParams,
               .opcode = DLS_OP_CROSS_ATTENTION,
               .flops = crossAttentionFlops,
               .doc = "multi-head cross-attention: `cross_attention(x, memory, heads: h, dim: d)` (or `x |> "
                      "cross_attention(memory, …)`), the queries from x [N, T, dim], the keys and values from memory "
                      "[N, S, K] (S may differ from T), as torch.nn.MultiheadAttention(dim, heads, dropout, bias, "
                      "batch_first=True, kdim=K, vdim=K)(x, memory, memory): K = dim gives multi_head_attention's "
                      "parameters, another K torch's q_proj_weight [dim, dim], k_proj_weight and v_proj_weight "
                      "[dim, K], out_proj.weight, in_proj_bias, out_proj.bias; `causal: true` "
                      "lets query step i see memory steps 0..i (torch's attn_mask triu(-inf, 1) of shape [T, S])",
               .matmul = true, .hasWeights = true, .attention = true});
  t.push_back({.name = "positional_embedding", .category = LAYER,
               .attrs = {{.name = "max_len", .type = AttrType::Int, .min = 1, .max = 1 << 24, .positional = 0}},
               .shape = positional, .kind = SemKind::Real, .params = positionalParams,
               .opcode = DLS_OP_POSITIONAL_EMBEDDING, .flops = elementFlops,
               .doc = "adds a learned vector per position to [N, T, dim]: y[n, t] = x[n, t] + weight[t], weight "
                      "[max_len, dim] initialised N(0, 1) as torch.nn.Embedding; T must be at most `max_len`",
               .hasWeights = true, .perStep = true});
  // Recurrent layers over [N, time, features], torch.nn's cells and parameter layout (sema/ParamRules.cpp);
  // `layers: k` stacks k of them, `bidirectional: true` adds a reverse direction (torch.nn's num_layers and
  // bidirectional), the directions' outputs concatenated.
  auto recurrentAttrs = [](std::vector<AttrSpec> extra) {
    std::vector<AttrSpec> a = {{.name = "units", .type = AttrType::Int, .min = 1, .max = double(kMaxI), .positional = 0}};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back({.name = "bias", .type = AttrType::Bool, .dflt = B(true)});
    a.push_back({.name = "output", .type = AttrType::Enum});
    a.push_back({.name = "layers", .type = AttrType::Int, .max = 64});
    a.push_back({.name = "bidirectional", .type = AttrType::Bool});
    a.push_back(init());
    return a;
  };
  t.push_back({.name = "rnn", .category = LAYER,
               .attrs = recurrentAttrs({{.name = "activation", .type = AttrType::Enum},
                                        {.name = "alpha", .type = AttrType::Float}}),
               .shape = recurrent, .kind = SemKind::Real, .params = recurrentParams, .cpu = true, .cuda = true,
               .cudaWithout = "activation: leaky_relu", .opcode = DLS_OP_RNN, .flops = recurrentFlops,
               .doc = "Elman recurrence h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), h_0 = 0, over [N, T, F] "
                      "(`alpha`: leaky_relu's slope); `layers` and `bidirectional` as torch.nn.RNN's num_layers and "
                      "bidirectional (2 * units features)",
               .nonLinear = true, .hasWeights = true, .recurrent = true});
  t.push_back({.name = "gru", .category = LAYER,
               .attrs = recurrentAttrs({{.name = "reset_after", .type = AttrType::Bool}}),
               .shape = recurrent, .kind = SemKind::Real, .params = recurrentParams, .cpu = true, .cuda = true,
               .cudaWithout = "reset_after: false", .opcode = DLS_OP_GRU, .flops = recurrentFlops,
               .doc = "gated recurrent unit over [N, T, F], gates r, z, n as torch.nn.GRU; `reset_after: false` "
                      "applies the reset gate before the recurrent product (Keras' v1 form, Darknet's [gru]); `layers` "
                      "and `bidirectional` as torch.nn.GRU's",
               .nonLinear = true, .hasWeights = true, .recurrent = true});
  t.push_back({.name = "lstm", .category = LAYER, .attrs = recurrentAttrs({}), .shape = recurrent,
               .kind = SemKind::Real, .params = recurrentParams, .cpu = true, .cuda = true, .opcode = DLS_OP_LSTM,
               .flops = recurrentFlops, .doc = "long short-term memory over [N, T, F], gates i, f, g, o as torch.nn.LSTM; `layers` and "
               "`bidirectional` as torch.nn.LSTM's num_layers and bidirectional (2 * units features)",
               .nonLinear = true, .hasWeights = true, .recurrent = true});
  t.push_back({.name = "upsample", .category = LAYER,
               .attrs = {{.name = "factor", .type = AttrType::Int, .positional = 0}},
               .shape = upsample, .opcode = DLS_OP_UPSAMPLE, .flops = noFlops, .doc = "nearest-neighbour upsampling"});
  t.push_back({.name = "reorg", .category = LAYER,
               .attrs = {{.name = "stride", .type = AttrType::Int, .positional = 0}, {.name = "extra", .type = AttrType::Int}},
               .shape = reorg, .cpu = true, .cuda = true, .opcode = DLS_OP_REORG, .flops = noFlops,
               .doc = "darknet's reorg: [N, C, H, W] -> [N, C*s*s, H/s, W/s] in darknet's element order (not the "
                      "standard space-to-depth; C divisible by s*s); `extra: k`: each sample flat, then k zeros"});
  t.push_back({.name = "local", .category = LAYER,
               .attrs = {{.name = "filters", .type = AttrType::Int, .min = 1, .positional = 0},
                         {.name = "kernel", .type = AttrType::IntOrPair, .min = 1, .positional = 1},
                         {.name = "stride", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1},
                         {.name = "pad", .type = AttrType::Padding, .dflt = I(0), .min = 0, .words = "same|valid"},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         init()},
               .shape = conv, .kind = SemKind::Real, .params = localParams, .cpu = true, .cuda = true,
               .opcode = DLS_OP_LOCAL, .flops = convFlops,
               .doc = "locally connected 2-D layer (darknet's [local]): conv's window without weight sharing; "
                      "weight [OH*OW, filters, C, KH, KW], bias [filters, OH, OW]",
               .matmul = true, .hasWeights = true, .spatial = true});
  t.push_back({.name = "conv_transpose2d", .category = LAYER,
               .attrs = {{.name = "filters", .type = AttrType::Int, .min = 1, .positional = 0},
                         {.name = "kernel", .type = AttrType::IntOrPair, .min = 1, .positional = 1},
                         {.name = "stride", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1},
                         {.name = "pad", .type = AttrType::IntOrPair, .dflt = L({0, 0}), .min = 0},
                         {.name = "output_pad", .type = AttrType::IntOrPair, .dflt = L({0, 0}), .min = 0},
                         {.name = "groups", .type = AttrType::Int},
                         {.name = "dilation", .type = AttrType::IntOrPair, .dflt = L({1, 1}), .min = 1},
                         {.name = "bias", .type = AttrType::Bool, .dflt = B(true)},
                         init()},
               .shape = convTranspose, .kind = SemKind::Real, .params = convTransposeParams,
               .opcode = DLS_OP_CONV_TRANSPOSE2D, .flops = convTransposeFlops,
               .doc = "transposed 2-D convolution over [N, C, H, W] (torch.nn.ConvTranspose2d): weight [C, filters/groups, "
                      "KH, KW]; output (H - 1) stride - 2 pad + dilation (KH - 1) + output_pad + 1; `output_pad` below "
                      "`stride` or `dilation`",
               .matmul = true, .hasWeights = true, .spatial = true});
  // ---- activations ----
  act("relu", DLS_OP_RELU, SemKind::Real, 0.5);
  t.back().nonNegative = true;
  act("leaky_relu", DLS_OP_LEAKY_RELU, SemKind::Real, 0.5 * (1 + 0.01 * 0.01),
      {{.name = "alpha", .type = AttrType::Float, .min = 0, .positional = 0}});
  act("gelu", DLS_OP_GELU, SemKind::Real, 0.5);
  act("tanh", DLS_OP_TANH, SemKind::Real, 1.0);  // about linear near zero
  act("sigmoid", DLS_OP_SIGMOID, SemKind::SigmoidProbs, 1.0 / 16.0, {}, elementFlops, softmaxLike);
  act("softmax", DLS_OP_SOFTMAX, SemKind::Probs, 1.0, {}, softmaxFlops, softmaxLike);
  act("log_softmax", DLS_OP_LOG_SOFTMAX, SemKind::LogProbs, 1.0, {}, softmaxFlops, softmaxLike);
  t.push_back({.name = "ramp", .category = ACT, .shape = same, .kind = SemKind::Real, .cpu = true, .cuda = true,
               .opcode = DLS_OP_RAMP, .flops = elementFlops, .doc = "darknet's ramp activation, relu(x) + 0.1 x",
               .nonLinear = true, .gain = 0.5 * (1 + 0.1 * 0.1)});
  act("elu", DLS_OP_ELU, SemKind::Real, 0.65, {{.name = "alpha", .type = AttrType::Float, .positional = 0}});
  act("selu", DLS_OP_SELU, SemKind::Real, 1.0);  // self-normalising: unit variance in, unit variance out
  act("silu", DLS_OP_SILU, SemKind::Real, 0.36);
  act("mish", DLS_OP_MISH, SemKind::Real, 0.45);
  act("softplus", DLS_OP_SOFTPLUS, SemKind::Real, 0.92,
      {{.name = "beta", .type = AttrType::Float, .positional = 0}, {.name = "threshold", .type = AttrType::Float}});
  t.back().nonNegative = true;
  act("hardswish", DLS_OP_HARDSWISH, SemKind::Real, 0.33);
  act("hardsigmoid", DLS_OP_HARDSIGMOID, SemKind::Real, 0.28);
  t.back().nonNegative = true;
  act("relu6", DLS_OP_RELU6, SemKind::Real, 0.5);
  t.back().nonNegative = true;
  t.push_back({.name = "prelu", .category = ACT,
               .attrs = {{.name = "per_channel", .type = AttrType::Bool, .dflt = B(false)}},
               .shape = same, .kind = SemKind::Real, .params = preluParams, .opcode = DLS_OP_PRELU, .flops = elementFlops,
               .doc = "x if x > 0, else a x with a learned slope a (torch.nn.PReLU): one slope, or with "
                      "`per_channel: true` one per channel of axis 1; each starts at 0.25",
               .nonLinear = true, .gain = 0.53});
  t.push_back({.name = "glu", .category = ACT,
               .attrs = {{.name = "axis", .type = AttrType::Int, .dflt = I(-1), .min = -4, .max = 3, .positional = 0}},
               .shape = glu, .kind = SemKind::Real, .opcode = DLS_OP_GLU, .flops = elementFlops,
               .doc = "gated linear unit (torch's glu): a * sigmoid(b), where a and b are the halves of `axis` (the "
                      "last by default); that axis must be even and halves",
               .nonLinear = true, .gain = 0.29});
  // ---- structural ----
  t.push_back({.name = "flatten", .category = STRUCT, .shape = flatten, .opcode = kOpcodeView, .flops = noFlops,
               .passThrough = true});
  t.push_back({.name = "reshape", .category = STRUCT,
               .attrs = {{.name = "shape", .type = AttrType::IntList, .positional = 0}},
               .shape = reshape, .opcode = kOpcodeView, .flops = noFlops, .doc = "per-sample shape; the batch dim is kept",
               .passThrough = true});
  t.push_back({.name = "transpose", .category = STRUCT,
               .attrs = {{.name = "perm", .type = AttrType::IntList, .positional = 0}},
               .shape = transpose, .opcode = DLS_OP_TRANSPOSE, .flops = noFlops, .doc = "perm over all axes, batch included",
               .passThrough = true});
  t.push_back({.name = "squeeze", .category = STRUCT,
               .attrs = {{.name = "axis", .type = AttrType::Int, .positional = 0}},
               .shape = squeeze, .opcode = kOpcodeView, .flops = noFlops, .passThrough = true});
  t.push_back({.name = "unsqueeze", .category = STRUCT,
               .attrs = {{.name = "axis", .type = AttrType::Int, .positional = 0}},
               .shape = unsqueeze, .opcode = kOpcodeView, .flops = noFlops, .passThrough = true});
  t.push_back({.name = "add", .category = STRUCT, .minInputs = 2, .maxInputs = 2, .inputsFromArgs = true,
               .shape = add, .kind = SemKind::Real, .opcode = DLS_OP_ADD, .flops = elementFlops,
               .doc = "elementwise sum; also written a + b", .perStep = true});
  for (auto [n, opc, doc] : {std::tuple{"mul", int(DLS_OP_MUL), "elementwise product with NumPy broadcasting; also written a * b"},
                              std::tuple{"sub", int(DLS_OP_SUB), "elementwise difference with NumPy broadcasting; also written a - b"},
                              std::tuple{"div", int(DLS_OP_DIV), "elementwise quotient with NumPy broadcasting; also written a / b"}})
    t.push_back({.name = n, .category = STRUCT, .minInputs = 2, .maxInputs = 2, .inputsFromArgs = true,
                 .shape = broadcast, .kind = SemKind::Real, .opcode = opc, .flops = elementFlops,
                 .doc = std::string_view(doc) , .nonLinear = opc != DLS_OP_SUB, .perStep = true});  // a product of two values is not linear in them
  t.push_back({.name = "concat", .category = STRUCT, .minInputs = 2, .maxInputs = -1, .inputsFromArgs = true,
               .attrs = {{.name = "axis", .type = AttrType::Int}},
               .shape = concat, .kind = SemKind::Real, .opcode = DLS_OP_CONCAT, .flops = noFlops, .perStep = true});
  t.push_back({.name = "slice", .category = STRUCT,
               .attrs = {{.name = "axis", .type = AttrType::Int, .min = -8, .max = 7, .positional = 0},
                         {.name = "start", .type = AttrType::Int, .min = -double(kMaxI), .positional = 1},
                         {.name = "end", .type = AttrType::Int, .min = -double(kMaxI), .positional = 2, .optional = true},
                         {.name = "step", .type = AttrType::Int, .positional = 3}},
               .shape = slice, .kind = SemKind::Real, .opcode = DLS_OP_SLICE, .flops = noFlops,
               .doc = "x[..., start:end:step, ...] along `axis` (Python's slicing: negative indices count from the end, "
                      "bounds are clamped; `end` defaults to the axis' size); never the batch axis",
               .passThrough = true});
  t.push_back({.name = "pad", .category = STRUCT,
               .attrs = {{.name = "pads", .type = AttrType::IntList, .positional = 0},
                         {.name = "mode", .type = AttrType::Enum},
                         {.name = "value", .type = AttrType::Float}},
               .shape = padRule, .kind = SemKind::Real, .opcode = DLS_OP_PAD, .flops = noFlops,
               .doc = "torch.nn.functional.pad: `pads` [left, right] for the last axis, then [top, bottom] for the one "
                      "before, then [front, back] (never the batch axis); `mode` constant (`value`), reflect or replicate",
               .passThrough = true});
  t.push_back({.name = "repeat", .category = STRUCT,
               .attrs = {{.name = "counts", .type = AttrType::IntList, .positional = 0}},
               .shape = repeatRule, .kind = SemKind::Real, .opcode = DLS_OP_REPEAT, .flops = noFlops,
               .doc = "torch's Tensor.repeat: one count per axis, batch included (its count 1): each axis tiled that "
                      "many times",
               .passThrough = true});
  // ---- pipeline steps (per sample) ----
  auto pipe = [&](std::string_view n, int opcode, ShapeRule r, std::vector<AttrSpec> a, std::string_view doc = {}) {
    t.push_back({.name = n, .category = PIPE, .attrs = std::move(a), .shape = r, .differentiable = false,
                 .opcode = opcode, .doc = doc, .wholeDataset = r == datasetLevel,
                 .rescales = n == "scale" || n == "normalize" || n == "standardize" || n == "min_max",
                 .augmentation = n.starts_with("random_") || (opcode >= DLS_PIPE_RANDOM_ROTATION && opcode <= DLS_PIPE_CUTMIX),
                 .mixesLabels = opcode == DLS_PIPE_MIXUP || opcode == DLS_PIPE_CUTMIX});
  };
  auto FL = [](std::vector<double> v) { return AV{std::move(v)}; };
  pipe("to_f32", DLS_PIPE_TO_F32, toF32, {});
  pipe("to_i32", DLS_PIPE_TO_I32, toI32, {},
       "integer samples as i32, such as the token indices an `embedding` takes (every value must be an integer)");
  pipe("to_i64", DLS_PIPE_TO_I64, toI64, {},
       "integer samples as i64, such as the token indices an `embedding` takes (every value must be an integer; "
       "indices travel as i32)");
  pipe("scale", DLS_PIPE_SCALE, same, {{.name = "factor", .type = AttrType::Float, .positional = 0}});
  pipe("normalize", DLS_PIPE_NORMALIZE, same,
       {{.name = "mean", .type = AttrType::Float, .positional = 0},
        {.name = "std", .type = AttrType::Float, .min = 0, .positional = 1, .minExclusive = true}});
  pipe("standardize", kOpcodeStandardize, same, {},
       "each feature (each element of the sample) minus its mean, over its standard deviation, both of the "
       "training split, computed when the program is built");
  pipe("min_max", kOpcodeMinMax, same, {},
       "each feature (each element of the sample) mapped to [0, 1] by the training split's minimum and maximum, "
       "computed when the program is built");
  pipe("add", DLS_PIPE_ADD, same, {{.name = "offset", .type = AttrType::Float, .positional = 0}},
       "adds `offset` to every element (`add(-1)`); of the label field, undone on `predict`'s values");
  pipe("log1p", DLS_PIPE_LOG1P, same, {},
       "log(1 + x) of every real-valued target (a label field's step; every target must be above -1); undone "
       "(exp(y) - 1) on `predict`'s values");
  pipe("reshape", DLS_PIPE_RESHAPE, sampleReshape, {{.name = "shape", .type = AttrType::IntList, .positional = 0}});
  pipe("one_hot", DLS_PIPE_ONE_HOT, oneHot,
       {{.name = "classes", .type = AttrType::Int, .min = 1, .positional = 0},
        {.name = "feature", .type = AttrType::IntOrString, .min = 0, .optional = true}},
       "class indices as one-hot rows of `classes` values (torch.nn.functional.one_hot, as f32): every element of "
       "an integer sample ([...] -> [..., classes]), or the one `feature` of a rank-1 sample, an index or a CSV "
       "categorical column's name ([F] -> [F - 1 + classes])");
  pipe("random_crop", DLS_PIPE_RANDOM_CROP, randomCrop,
       {{.name = "size", .type = AttrType::IntOrPair, .min = 1, .positional = 0},
        {.name = "pad", .type = AttrType::Int, .dflt = I(0), .min = 0}});
  pipe("random_flip", DLS_PIPE_RANDOM_FLIP, same,
       {{.name = "p", .type = AttrType::Float, .dflt = F(0.5), .min = 0, .max = 1, .positional = 0},
        {.name = "axis", .type = AttrType::Enum, .dflt = S("horizontal"), .words = "horizontal|vertical"}});
  pipe("random_rotation", DLS_PIPE_RANDOM_ROTATION, imageSample,
       {{.name = "degrees", .type = AttrType::Float, .min = 0, .max = 180, .positional = 0},
        {.name = "fill", .type = AttrType::Float, .dflt = F(0), .positional = 1}},
       "augmentation: rotates [C, H, W] by an angle uniform in [-degrees, degrees] about the centre (bilinear, "
       "torchvision's rotate); the corners outside the image take `fill`");
  pipe("random_affine", DLS_PIPE_RANDOM_AFFINE, imageSample,
       {{.name = "degrees", .type = AttrType::Float, .min = 0, .max = 180, .positional = 0},
        {.name = "translate", .type = AttrType::FloatList, .dflt = FL({0, 0}), .min = 0, .max = 1},
        {.name = "scale", .type = AttrType::FloatList, .dflt = FL({1, 1}), .min = 0},
        {.name = "shear", .type = AttrType::Float, .dflt = F(0), .min = 0, .max = 60}},
       "augmentation: rotation in [-degrees, degrees], a shift of up to `translate` [x, y] of the width and height "
       "(whole pixels), a scale in the range `scale` and an x shear in [-shear, shear] degrees (torchvision's "
       "RandomAffine, bilinear, zero fill)");
  pipe("color_jitter", DLS_PIPE_COLOR_JITTER, imageSample,
       {{.name = "brightness", .type = AttrType::Float, .dflt = F(0), .min = 0, .positional = 0},
        {.name = "contrast", .type = AttrType::Float, .dflt = F(0), .min = 0, .positional = 1},
        {.name = "saturation", .type = AttrType::Float, .dflt = F(0), .min = 0, .positional = 2},
        {.name = "hue", .type = AttrType::Float, .dflt = F(0), .min = 0, .max = 0.5, .positional = 3}},
       "augmentation: brightness, contrast and saturation factors uniform in [max(0, 1 - v), 1 + v] and a hue shift "
       "in [-hue, hue], in a random order (torchvision's ColorJitter on [0, 1] values, clamped); saturation and hue "
       "need 3 channels");
  pipe("gaussian_noise", DLS_PIPE_GAUSSIAN_NOISE, same,
       {{.name = "std", .type = AttrType::Float, .min = 0, .positional = 0}},
       "augmentation: adds noise drawn from N(0, std^2) to every element");
  pipe("random_erasing", DLS_PIPE_RANDOM_ERASING, imageSample,
       {{.name = "p", .type = AttrType::Float, .dflt = F(0.5), .min = 0, .max = 1, .positional = 0},
        {.name = "scale", .type = AttrType::FloatList, .dflt = FL({0.02, 0.33}), .min = 0, .max = 1},
        {.name = "ratio", .type = AttrType::FloatList, .dflt = FL({0.3, 3.3}), .min = 0},
        {.name = "value", .type = AttrType::Float, .dflt = F(0)}},
       "augmentation (cutout): with probability p sets a box of a share `scale` of H x W and aspect ratio in `ratio` "
       "to `value` (torchvision's RandomErasing)");
  pipe("mixup", DLS_PIPE_MIXUP, same,
       {{.name = "alpha", .type = AttrType::Float, .dflt = F(1), .min = 0, .positional = 0, .minExclusive = true}},
       "augmentation over the batch: each sample becomes lam x + (1 - lam) x' with the sample before it in the "
       "batch, lam ~ Beta(alpha, alpha) per batch, and its label the same mix of the two one-hot labels (the loss "
       "takes class probabilities: cross_entropy)");
  pipe("cutmix", DLS_PIPE_CUTMIX, imageSample,
       {{.name = "alpha", .type = AttrType::Float, .dflt = F(1), .min = 0, .positional = 0, .minExclusive = true}},
       "augmentation over the batch: pastes a box of the sample before it in the batch into each [C, H, W] sample "
       "(its size from lam ~ Beta(alpha, alpha)) and mixes the labels by the box's share (cross_entropy)");
  pipe("shuffle", DLS_PIPE_SHUFFLE, datasetLevel,
       {{.name = "buffer", .type = AttrType::IntOrWord, .dflt = S("all"), .min = 1, .positional = 0, .words = "all"}});
  pipe("batch", kOpcodeBatch, datasetLevel,
       {{.name = "size", .type = AttrType::Int, .min = 1, .max = 1 << 24, .positional = 0},
        {.name = "drop_last", .type = AttrType::Bool, .dflt = B(false)}});
  pipe("split", kOpcodeSplit, datasetLevel,
       {{.name = "valid", .type = AttrType::Float, .min = 0, .max = 1, .positional = 0, .minExclusive = true}});
  pipe("repeat", DLS_PIPE_REPEAT, datasetLevel,
       {{.name = "count", .type = AttrType::Int, .dflt = I(1), .min = 1, .positional = 0}});
  // ---- data sources ----
  auto src = [&](std::string_view n, std::vector<AttrSpec> a) {
    t.push_back({.name = n, .category = OpCategory::DataSource, .minInputs = 0, .maxInputs = 0, .attrs = std::move(a),
                 .differentiable = false});
  };
  src("idx", {{.name = "images", .type = AttrType::String, .positional = 0},
              {.name = "labels", .type = AttrType::String, .positional = 1}});
  // csv's `label`: the label column, by its name in the header row or by its index (0-based, negative from the
  // last column), or a list of them (several real-valued targets); without it, the column named like the label
  // field. `impute`: missing cells (empty, NA, nan) of the feature columns take the training split's column mean,
  // median, or zero; without it they are refused. `header`: whether the first line (after
  // `skip` lines of preamble) names the columns; `sep`: what separates the cells (`space`: runs of blanks).
  src("csv", {{.name = "path", .type = AttrType::String, .positional = 0},
              {.name = "label", .type = AttrType::IntOrString, .optional = true},
              {.name = "header", .type = AttrType::Bool, .dflt = B(true)},
              {.name = "skip", .type = AttrType::Int, .dflt = I(0), .min = 0, .max = 1 << 20},
              {.name = "sep", .type = AttrType::Enum, .dflt = S("comma"), .words = "comma|semicolon|tab|space"},
              {.name = "impute", .type = AttrType::Enum, .words = "mean|median|zero", .optional = true},
              {.name = "categorical", .type = AttrType::IntOrString, .optional = true},
              {.name = "label_file", .type = AttrType::String, .optional = true}});
  src("npy", {{.name = "samples", .type = AttrType::String, .positional = 0},
              {.name = "labels", .type = AttrType::String, .positional = 1}});
  // images' `size` and `channels`: resize / convert every image to them (without them, images must already
  // have the declared sample's); `resize`: how an image of another aspect ratio is fitted.
  src("images", {{.name = "path", .type = AttrType::String, .positional = 0},
                 {.name = "size", .type = AttrType::IntOrPair, .min = 1, .max = 65536, .optional = true},
                 {.name = "channels", .type = AttrType::Int, .min = 1, .max = 3, .optional = true},
                 {.name = "resize", .type = AttrType::Enum, .dflt = S("stretch"), .words = "stretch|crop|pad"}});
  // text's `seq`: the window length (the sample's and the per-step label's); `tokens`: UTF-8 code points or bytes.
  src("text", {{.name = "path", .type = AttrType::String, .positional = 0},
               {.name = "seq", .type = AttrType::Int, .min = 1, .max = 1 << 20},
               {.name = "tokens", .type = AttrType::Enum, .dflt = S("chars"), .words = "chars|bytes"}});
  // ---- losses: loss(input, target) ----
  auto loss = [&](std::string_view n, int opcode, std::vector<AttrSpec> a = {}) {
    t.push_back({.name = n, .category = OpCategory::Loss, .minInputs = 2, .maxInputs = 2, .inputsFromArgs = true,
                 .attrs = std::move(a), .cpu = opcode >= 0, .cuda = opcode >= 0, .opcode = opcode});
  };
  // ignore_index: the steps (or samples) with that label count in neither the loss nor the accuracy.
  // weight: one weight per class (torch's weighted mean over the counted rows).
  loss("cross_entropy", DLS_OP_CROSS_ENTROPY,
       {{.name = "label_smoothing", .type = AttrType::Float, .max = 0.999999},
        {.name = "ignore_index", .type = AttrType::Int},
        {.name = "weight", .type = AttrType::FloatList, .min = 0, .optional = true}});
  loss("nll", DLS_OP_NLL,
       {{.name = "ignore_index", .type = AttrType::Int}, {.name = "weight", .type = AttrType::FloatList, .min = 0, .optional = true}});
  loss("bce_with_logits", DLS_OP_BCE_WITH_LOGITS);
  loss("bce", DLS_OP_BCE);
  loss("mse", DLS_OP_MSE);
  loss("l1", DLS_OP_L1);
  loss("huber", DLS_OP_HUBER, {{.name = "delta", .type = AttrType::Float}});
  loss("smooth_l1", DLS_OP_SMOOTH_L1, {{.name = "beta", .type = AttrType::Float}});
  loss("kl_div", DLS_OP_KL_DIV);
  loss("focal", DLS_OP_FOCAL, {{.name = "gamma", .type = AttrType::Float},
                               {.name = "alpha", .type = AttrType::Float}});
  loss("hinge", DLS_OP_HINGE);
  loss("poisson", DLS_OP_POISSON);
  // cosine_embedding(model.a, model.b, target, margin: 0.0): two outputs of the network and the ±1 targets.
  t.push_back({.name = "cosine_embedding", .category = OpCategory::Loss, .minInputs = 3, .maxInputs = 3,
               .inputsFromArgs = true, .attrs = {{.name = "margin", .type = AttrType::Float}}, .cpu = true, .cuda = true,
               .opcode = DLS_OP_COSINE_EMBEDDING});
  t.push_back({.name = "softmax_cross_entropy", .category = OpCategory::Loss, .minInputs = 2, .maxInputs = 2,
               .inputsFromArgs = true, .opcode = DLS_OP_CROSS_ENTROPY, .replacedBy = "cross_entropy",
               .deprecatedSince = 1});
  // ---- optimizers (opcode: enum dls_optimizer) ----
  // Every optimizer takes Keras' `decay`: the rate times 1 / (1 + decay * updates so far) (runtime.h
  // DLS_SCHED_TIME_DECAY), chained with the schedules.
  auto opt = [&](std::string_view n, int opcode, std::vector<AttrSpec> a, bool adaptive = false,
                 std::string_view decoupled = {}) {
    a.push_back({.name = "decay", .type = AttrType::Float, .dflt = F(0), .min = 0});
    t.push_back({.name = n, .category = OpCategory::Optimizer, .minInputs = 0, .maxInputs = 0, .attrs = std::move(a),
                 .differentiable = false, .opcode = opcode, .adaptive = adaptive, .decoupledVariant = decoupled});
  };
  AttrSpec lrReq{.name = "lr", .type = AttrType::Float, .min = 0, .max = 10, .positional = 0, .minExclusive = true};
  auto lr = [&](double d) { AttrSpec a = lrReq; a.dflt = F(d); return a; };
  AttrSpec wd0{.name = "weight_decay", .type = AttrType::Float, .dflt = F(0), .min = 0, .max = 1};
  opt("sgd", DLS_OPT_SGD, {lrReq, {.name = "momentum", .type = AttrType::Float, .dflt = F(0), .min = 0, .max = 0.999999},
                           {.name = "nesterov", .type = AttrType::Bool, .dflt = B(false)}, wd0});
  std::vector<AttrSpec> adamish = {{.name = "beta1", .type = AttrType::Float, .dflt = F(0.9), .min = 0, .max = 0.999999},
                                   {.name = "beta2", .type = AttrType::Float, .dflt = F(0.999), .min = 0, .max = 0.999999},
                                   {.name = "eps", .type = AttrType::Float, .dflt = F(1e-8), .min = 0, .minExclusive = true}};
  std::vector<AttrSpec> a1 = {lr(0.001)};
  a1.insert(a1.end(), adamish.begin(), adamish.end());
  std::vector<AttrSpec> a2 = a1;
  a1.push_back(wd0);
  a2.push_back({.name = "weight_decay", .type = AttrType::Float, .dflt = F(0.01), .min = 0, .max = 1});
  // amsgrad: torch's max_exp_avg_sq, the running maximum of exp_avg_sq, divides the step (a third state buffer).
  for (auto* a : {&a1, &a2}) a->push_back({.name = "amsgrad", .type = AttrType::Bool, .dflt = B(false)});
  opt("adam", DLS_OPT_ADAM, a1, true, "adamw");
  opt("adamw", DLS_OPT_ADAMW, a2, true);
  opt("rmsprop", DLS_OPT_RMSPROP, {lr(0.01), {.name = "alpha", .type = AttrType::Float, .dflt = F(0.99), .min = 0, .max = 1},
                                   {.name = "eps", .type = AttrType::Float, .dflt = F(1e-8), .min = 0, .minExclusive = true},
                                   {.name = "momentum", .type = AttrType::Float, .dflt = F(0), .min = 0, .max = 0.999999},
                                   wd0}, true);
  // torch.optim.Adadelta(lr=1.0, rho=0.9, eps=1e-6) and torch.optim.NAdam(lr=2e-3, betas, eps, momentum_decay=4e-3).
  opt("adadelta", DLS_OPT_ADADELTA, {lr(1.0), {.name = "rho", .type = AttrType::Float, .dflt = F(0.9), .min = 0, .max = 1},
                                     {.name = "eps", .type = AttrType::Float, .dflt = F(1e-6), .min = 0, .minExclusive = true},
                                     wd0}, true);
  std::vector<AttrSpec> a3 = {lr(0.002)};
  a3.insert(a3.end(), adamish.begin(), adamish.end());
  a3.push_back({.name = "momentum_decay", .type = AttrType::Float, .dflt = F(4e-3), .min = 0});
  a3.push_back(wd0);
  opt("nadam", DLS_OPT_NADAM, a3, true);
  // torch.optim.Adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10).
  opt("adagrad", DLS_OPT_ADAGRAD, {lr(0.01), {.name = "lr_decay", .type = AttrType::Float, .dflt = F(0), .min = 0}, wd0,
                                   {.name = "initial_accumulator_value", .type = AttrType::Float, .dflt = F(0), .min = 0},
                                   {.name = "eps", .type = AttrType::Float, .dflt = F(1e-10), .min = 0, .minExclusive = true}},
      true);
  // LAMB (You et al. 2019; runtime.h dls_optimizer): Adam's moments, a trust ratio per parameter tensor.
  std::vector<AttrSpec> a4 = {lr(0.001)};
  a4.insert(a4.end(), adamish.begin(), adamish.end());
  a4[3].dflt = F(1e-6);  // eps
  a4.push_back({.name = "weight_decay", .type = AttrType::Float, .dflt = F(0.01), .min = 0, .max = 1});
  opt("lamb", DLS_OPT_LAMB, a4, true);
  // ---- schedules ----
  auto sched = [&](std::string_view n, int code, std::vector<AttrSpec> a) {
    t.push_back({.name = n, .category = OpCategory::Schedule, .minInputs = 0, .maxInputs = 0, .attrs = std::move(a),
                 .differentiable = false, .opcode = code});
  };
  sched("constant", DLS_SCHED_CONSTANT, {});
  sched("step", DLS_SCHED_STEP, {{.name = "every", .type = AttrType::Int, .min = 1, .positional = 0, .units = "epoch|epochs"},
                 {.name = "gamma", .type = AttrType::Float, .dflt = F(0.1), .min = 0, .max = 1, .minExclusive = true}});
  sched("multistep", DLS_SCHED_MULTISTEP, {{.name = "milestones", .type = AttrType::IntList, .positional = 0},
                      {.name = "gamma", .type = AttrType::Float, .dflt = F(0.1), .min = 0, .max = 1, .minExclusive = true}});
  sched("cosine", DLS_SCHED_COSINE, {{.name = "t_max", .type = AttrType::Int, .min = 1, .positional = 0, .units = "epoch|epochs"},
                   {.name = "eta_min", .type = AttrType::Float, .dflt = F(0), .min = 0}});
  sched("exponential", DLS_SCHED_EXPONENTIAL,
        {{.name = "gamma", .type = AttrType::Float, .min = 0, .max = 1, .positional = 0, .minExclusive = true}});
  sched("warmup", DLS_SCHED_WARMUP, {{.name = "steps", .type = AttrType::Int, .min = 1, .positional = 0, .units = "step|steps"}});
  // torch.optim.lr_scheduler.OneCycleLR(max_lr, total_steps = epochs * steps per epoch, pct_start, 'cos',
  // cycle_momentum=False, div_factor, final_div_factor), stepped per update; it chains with nothing (E0130).
  sched("onecycle", DLS_SCHED_ONECYCLE,
        {{.name = "max_lr", .type = AttrType::Float, .min = 0, .max = 10, .positional = 0, .minExclusive = true},
         {.name = "pct_start", .type = AttrType::Float, .dflt = F(0.3), .min = 0, .max = 1, .minExclusive = true, .maxExclusive = true},
         {.name = "div_factor", .type = AttrType::Float, .dflt = F(25), .min = 0, .minExclusive = true},
         {.name = "final_div_factor", .type = AttrType::Float, .dflt = F(1e4), .min = 0, .minExclusive = true}});
  // torch.optim.lr_scheduler.ReduceLROnPlateau(mode = min for val_loss, max for val_accuracy, factor, patience,
  // threshold = min_delta with threshold_mode='abs', cooldown, min_lr), stepped after each validation; it needs
  // `validate` (E0113) and chains with nothing (E0130).
  sched("plateau", DLS_SCHED_PLATEAU,
        {{.name = "monitor", .type = AttrType::Enum, .dflt = S("val_loss"), .words = "val_loss|val_accuracy"},
         {.name = "factor", .type = AttrType::Float, .dflt = F(0.1), .min = 0, .max = 1, .positional = 0, .minExclusive = true,
          .maxExclusive = true},
         {.name = "patience", .type = AttrType::Int, .dflt = I(10), .min = 0, .positional = 1},
         {.name = "min_delta", .type = AttrType::Float, .dflt = F(1e-4), .min = 0},
         {.name = "cooldown", .type = AttrType::Int, .dflt = I(0), .min = 0},
         {.name = "min_lr", .type = AttrType::Float, .dflt = F(0), .min = 0}});
  // ---- gradient clipping (opcode: enum dls_clip) ----
  auto clip = [&](std::string_view n, int code, std::string_view attr, std::string_view doc) {
    t.push_back({.name = n, .category = OpCategory::Clip, .minInputs = 0, .maxInputs = 0,
                 .attrs = {{.name = attr, .type = AttrType::Float, .min = 0, .positional = 0, .minExclusive = true}},
                 .differentiable = false, .opcode = code, .doc = doc});
  };
  clip("norm", DLS_CLIP_NORM, "max_norm",
       "rescales all gradients together when their global L2 norm exceeds `max_norm` "
       "(torch.nn.utils.clip_grad_norm_), after the backward pass and before the optimizer and its weight decay");
  clip("value", DLS_CLIP_VALUE, "clip_value",
       "clamps every gradient element to [-`clip_value`, `clip_value`] (torch.nn.utils.clip_grad_value_), after "
       "the backward pass and before the optimizer and its weight decay");
  // ---- stopping rules (opcode: enum dls_stop) ----
  // `monitor` names a validation metric: `val_` and a metric row's name (the lowering maps it to that row).
  t.push_back({.name = "early", .category = OpCategory::Stop, .minInputs = 0, .maxInputs = 0,
               .attrs = {{.name = "monitor", .type = AttrType::Enum, .dflt = S("val_loss"), .positional = 0,
                          .words = "val_loss|val_accuracy"},
                         {.name = "patience", .type = AttrType::Int, .dflt = I(3), .min = 1},
                         {.name = "min_delta", .type = AttrType::Float, .dflt = F(0), .min = 0}},
               .differentiable = false, .opcode = DLS_STOP_EARLY,
               .doc = "ends training when the validation metric `monitor` has not improved by more than `min_delta` "
                      "(val_loss: fallen below the best minus it; val_accuracy: risen above the best plus it) for "
                      "`patience` validations in a row; needs `validate`"});
  // ---- initialisers ----
  auto ini = [&](std::string_view n, std::vector<AttrSpec> a) {
    t.push_back({.name = n, .category = OpCategory::Initializer, .minInputs = 0, .maxInputs = 0, .attrs = std::move(a),
                 .differentiable = false});
  };
  ini("zeros", {});
  ini("ones", {});
  ini("constant", {{.name = "value", .type = AttrType::Float, .positional = 0}});
  ini("normal", {{.name = "mean", .type = AttrType::Float, .dflt = F(0), .positional = 0},
                 {.name = "std", .type = AttrType::Float, .dflt = F(1), .min = 0, .positional = 1, .minExclusive = true}});
  ini("uniform", {{.name = "a", .type = AttrType::Float, .dflt = F(0), .positional = 0},
                  {.name = "b", .type = AttrType::Float, .dflt = F(1), .positional = 1}});
  ini("he", {});
  ini("glorot", {});
  // ---- metrics ----
  for (auto [m, code] : {std::pair{"accuracy", int(DLS_METRIC_ACCURACY)}, std::pair{"loss", int(DLS_METRIC_LOSS)},
                        std::pair{"confusion", int(DLS_METRIC_CONFUSION)}, std::pair{"mae", int(DLS_METRIC_MAE)},
                        std::pair{"rmse", int(DLS_METRIC_RMSE)}, std::pair{"r2", int(DLS_METRIC_R2)},
                        std::pair{"auc", int(DLS_METRIC_AUC)}})
    t.push_back({.name = m, .category = OpCategory::Metric, .minInputs = 0, .maxInputs = 0, .differentiable = false,
                 .opcode = code});
  t.push_back({.name = "top_k", .category = OpCategory::Metric, .minInputs = 0, .maxInputs = 0,
               .attrs = {{.name = "k", .type = AttrType::Int, .dflt = I(5), .min = 1, .max = 1 << 20, .positional = 0}},
               .differentiable = false, .opcode = DLS_METRIC_TOP_K});
  for (auto [m, code] : {std::pair{"precision", int(DLS_METRIC_PRECISION)}, std::pair{"recall", int(DLS_METRIC_RECALL)},
                         std::pair{"f1", int(DLS_METRIC_F1)}})
    t.push_back({.name = m, .category = OpCategory::Metric, .minInputs = 0, .maxInputs = 0,
                 .attrs = {{.name = "average", .type = AttrType::Enum, .dflt = AV{std::string("macro")}, .positional = 0,
                            .words = "macro|micro"}},
                 .differentiable = false, .opcode = code});
  // ---- docs of the entries whose helpers above take none (docs/ops.md and `dlspec ops` print them) ----
  struct Doc {
    OpCategory category;
    std::string_view name, doc;
  };
  static constexpr Doc docs[] = {
      {ACT, "relu", "max(x, 0), elementwise; any shape"},
      {ACT, "leaky_relu", "x if x > 0, else alpha x, elementwise; any shape"},
      {ACT, "gelu", "x * Phi(x) (the exact, erf form), elementwise; any shape"},
      {ACT, "tanh", "hyperbolic tangent, elementwise; any shape"},
      {ACT, "sigmoid", "1 / (1 + e^-x), elementwise: [N, C] -> sigmoid_probs[N, C], one probability per label"},
      {ACT, "softmax", "softmax over the last (class) axis: [N, C] -> probs[N, C]"},
      {ACT, "log_softmax", "log of softmax over the last (class) axis: [N, C] -> log_probs[N, C]"},
      {ACT, "elu", "x if x > 0, else alpha (e^x - 1), elementwise; any shape"},
      {ACT, "selu", "scale * elu(x, alpha) with the self-normalising constants (torch.nn.SELU), elementwise"},
      {ACT, "silu", "x * sigmoid(x) (swish), elementwise; any shape"},
      {ACT, "mish", "x * tanh(softplus(x)), elementwise; any shape"},
      {ACT, "softplus", "log(1 + e^(beta x)) / beta, and x where beta x > threshold (torch.nn.Softplus), elementwise"},
      {ACT, "hardswish", "x * relu6(x + 3) / 6, elementwise; any shape"},
      {ACT, "hardsigmoid", "relu6(x + 3) / 6, elementwise; any shape"},
      {ACT, "relu6", "min(max(x, 0), 6), elementwise; any shape"},
      {STRUCT, "flatten", "[N, d1, d2, …] -> [N, d1*d2*…]: every axis but the batch into one"},
      {STRUCT, "squeeze", "drops the size-1 axis `axis` (not the batch axis): [N, C, 1] -> [N, C] with axis 2"},
      {STRUCT, "unsqueeze", "inserts a size-1 axis at `axis` (not 0): [N, C] -> [N, 1, C] with axis 1"},
      {STRUCT, "concat", "joins its inputs along `axis` (not the batch axis); the other axes must agree"},
      {PIPE, "to_f32", "converts the field's elements to f32; the shape is kept"},
      {PIPE, "scale", "multiplies every element by `factor` (`scale(1/255)`); the shape is kept"},
      {PIPE, "normalize", "(x - mean) / std, elementwise; the shape is kept"},
      {PIPE, "reshape", "per-sample shape: u8[784] -> [1, 28, 28] with reshape([1, 28, 28]); the element count is kept"},
      {PIPE, "one_hot", "class indices -> one-hot rows of `classes` f32 values: every element of an integer sample "
                        "([...] -> [..., classes]), or the one `feature` of a rank-1 sample, by index or CSV categorical "
                        "column name ([F] -> [F - 1 + classes])"},
      {PIPE, "random_crop", "augmentation: pads [C, H, W] by `pad` zeros on each side, then cuts a random `size` window "
                            "(a new one per sample and epoch)"},
      {PIPE, "random_flip", "augmentation: mirrors [C, H, W] along `axis` with probability `p`"},
      {PIPE, "shuffle", "shuffles the samples every epoch, through a buffer of `buffer` samples (`all`: the whole split)"},
      {PIPE, "batch", "groups samples into batches of `size`; the networks' N is this size. `drop_last`: drop the last "
                      "partial batch"},
      {PIPE, "split", "holds out the share `valid` of the samples as the split PIPELINE.valid (never trained on)"},
      {PIPE, "repeat", "each epoch goes over the data `count` times"},
      {OpCategory::DataSource, "idx", "IDX files (MNIST's format, optionally .gz): a samples file and a labels file"},
      {OpCategory::DataSource, "csv", "a CSV file with a header row: the label column (named by `label`, else the label field's name) is the label, the other columns the sample; `label: [a, b]` takes several columns as real-valued targets, `impute` fills missing cells with the training split's mean, median or zero, `categorical` reads columns of category names as their indices in the training split's sorted values, `label_file` takes the labels from a second, row-aligned file"},
      {OpCategory::DataSource, "npy", "NumPy .npy files: a samples array [n, …] and a labels array [n] or [n, T]"},
      {OpCategory::DataSource, "images", "a folder of class sub-folders of PNG/JPEG files (ImageFolder): u8[C, H, W] or "
                                         "u8[H, W] samples, the sorted folder names the classes; `size`/`channels` resize "
                                         "and convert, `resize` stretch|crop|pad"},
      {OpCategory::DataSource, "text", "a text file as windows of `seq` token ids (i32[T]) labelled with the next token at "
                                       "every step (class<V>[T]); `tokens`: chars (UTF-8) or bytes; the vocabulary is the "
                                       "training text's"},
      {OpCategory::Loss, "cross_entropy", "softmax cross-entropy of logits[N, C] (or [N, T, C]) against class<C> or "
                                          "onehot<C> targets, mean over the batch"},
      {OpCategory::Loss, "nll", "negative log-likelihood of log_probs[N, C] against class<C> targets, mean over the batch"},
      {OpCategory::Loss, "bce_with_logits", "binary cross-entropy of logits against 0/1 targets of the same shape, computed "
                                            "stably from the logits; mean over all elements"},
      {OpCategory::Loss, "bce", "binary cross-entropy of sigmoid_probs against 0/1 targets of the same shape; mean over all "
                                "elements"},
      {OpCategory::Loss, "mse", "mean squared error between real outputs and targets of the same shape"},
      {OpCategory::Loss, "l1", "mean absolute error between real outputs and targets of the same shape"},
      {OpCategory::Loss, "huber", "Huber loss (torch.nn.HuberLoss): quadratic within `delta` of the target, linear beyond; "
                                  "mean over all elements"},
      {OpCategory::Loss, "smooth_l1", "smooth L1 loss (torch.nn.SmoothL1Loss): quadratic (divided by `beta`) within `beta` of "
                                      "the target, linear beyond; mean over all elements"},
      {OpCategory::Loss, "kl_div", "Kullback-Leibler divergence of log_probs[N, C] from target probabilities of the same shape "
                                   "(torch.nn.KLDivLoss, reduction 'batchmean'): the sum over classes, mean over the batch"},
      {OpCategory::Loss, "focal", "sigmoid focal loss of logits against 0/1 targets (torchvision.ops.sigmoid_focal_loss): "
                                  "bce_with_logits times (1 - p_t)^gamma, weighted by `alpha` (negative: unweighted); mean"},
      {OpCategory::Loss, "hinge", "binary hinge loss of scores against 0/1 targets (read as -1/+1): mean of max(0, 1 - y x)"},
      {OpCategory::Loss, "poisson", "Poisson negative log-likelihood of log rates against counts (torch.nn.PoissonNLLLoss, "
                                    "log_input): mean of exp(x) - t x"},
      {OpCategory::Loss, "cosine_embedding", "cosine embedding loss of two outputs [N, D] against 1/-1 targets "
                                             "(torch.nn.CosineEmbeddingLoss): mean of 1 - cos for 1, max(0, cos - margin) for -1"},
      {OpCategory::Loss, "softmax_cross_entropy", "the former name of cross_entropy"},
      {OpCategory::Optimizer, "sgd", "stochastic gradient descent, torch.optim.SGD: momentum, Nesterov and L2 weight decay"},
      {OpCategory::Optimizer, "adam", "Adam (torch.optim.Adam); `weight_decay` is added to the gradient (L2); `amsgrad: true` "
                                      "divides by the running maximum of the second moment (torch's max_exp_avg_sq)"},
      {OpCategory::Optimizer, "adamw", "Adam with decoupled weight decay (torch.optim.AdamW), `amsgrad` as adam's"},
      {OpCategory::Optimizer, "rmsprop", "RMSprop (torch.optim.RMSprop)"},
      {OpCategory::Optimizer, "adadelta", "Adadelta (torch.optim.Adadelta; `rho` its running-average factor)"},
      {OpCategory::Optimizer, "nadam", "Adam with Nesterov momentum (torch.optim.NAdam of PyTorch 1.13, with its `momentum_decay`)"},
      {OpCategory::Optimizer, "adagrad", "Adagrad (torch.optim.Adagrad): the sum of squared gradients, from "
                                         "`initial_accumulator_value`, divides each step; `lr_decay` gives update t the rate "
                                         "lr / (1 + (t - 1) lr_decay)"},
      {OpCategory::Optimizer, "lamb", "LAMB (You et al. 2019, Algorithm 2 with Adam's bias corrections): r = m_hat / (sqrt(v_hat) + "
                                      "eps) + weight_decay p, and p -= lr (|p| / |r|) r with the trust ratio of each parameter "
                                      "tensor (1 when either norm is 0); no gradient pre-normalisation (use `clip`)"},
      {OpCategory::Schedule, "constant", "the optimiser's learning rate throughout"},
      {OpCategory::Schedule, "step", "multiplies the learning rate by `gamma` every `every` epochs"},
      {OpCategory::Schedule, "multistep", "multiplies the learning rate by `gamma` at each epoch in `milestones`"},
      {OpCategory::Schedule, "cosine", "cosine annealing from the learning rate to `eta_min` over `t_max` epochs; past `t_max` the rate "
       "rises again along the same cosine, as PyTorch's CosineAnnealingLR"},
      {OpCategory::Schedule, "exponential", "multiplies the learning rate by `gamma` every epoch (torch's ExponentialLR)"},
      {OpCategory::Schedule, "warmup", "scales the learning rate by (step + 1) / `steps` over the first `steps` steps (a linear warm-up)"},
      {OpCategory::Schedule, "onecycle", "torch's OneCycleLR, stepped per update over epochs x updates per epoch: from max_lr / "
                                         "`div_factor` up to `max_lr` over the first `pct_start` of the updates, then down to "
                                         "max_lr / div_factor / `final_div_factor`, both along a cosine; the optimiser's lr is not "
                                         "read, momentum is not cycled (cycle_momentum=False), nothing chains with it"},
      {OpCategory::Schedule, "plateau", "torch's ReduceLROnPlateau after each validation: when `monitor` (val_loss, lower is "
                                        "better; val_accuracy, higher is) has not beaten its best by more than `min_delta` for more "
                                        "than `patience` validations, the rate becomes max(rate x `factor`, `min_lr`), then "
                                        "`cooldown` validations are not counted; kept in checkpoints; needs `validate`, nothing "
                                        "chains with it"},
      {OpCategory::Initializer, "zeros", "every element 0"},
      {OpCategory::Initializer, "ones", "every element 1"},
      {OpCategory::Initializer, "constant", "every element `value`"},
      {OpCategory::Initializer, "normal", "samples of N(mean, std^2)"},
      {OpCategory::Initializer, "uniform", "samples of U(a, b)"},
      {OpCategory::Initializer, "he", "Kaiming uniform for relu: U(-l, l) with l = sqrt(6 / fan_in)"},
      {OpCategory::Initializer, "glorot", "Xavier uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))"},
      {OpCategory::Metric, "accuracy", "share of samples whose highest-scoring class is the label"},
      {OpCategory::Metric, "top_k", "share of samples whose label is among the `k` highest-scoring classes (sklearn's "
                                    "top_k_accuracy_score)"},
      {OpCategory::Metric, "precision", "precision of the predicted classes, `average` macro (the mean over the classes) or "
                                        "micro (over all samples), as sklearn's precision_score"},
      {OpCategory::Metric, "recall", "recall of the predicted classes, `average` macro or micro, as sklearn's recall_score"},
      {OpCategory::Metric, "f1", "F1 score of the predicted classes, `average` macro or micro, as sklearn's f1_score"},
      {OpCategory::Metric, "confusion", "the confusion matrix (rows: true class, columns: predicted), written to "
                                        "confusion.csv in the run directory at each validation"},
      {OpCategory::Metric, "mae", "mean absolute error over every output of real-valued targets"},
      {OpCategory::Metric, "rmse", "root of the mean squared error over every output of real-valued targets"},
      {OpCategory::Metric, "r2", "coefficient of determination (sklearn's r2_score: the mean over the outputs)"},
      {OpCategory::Metric, "loss", "the train block's loss, averaged over the split"},
      {OpCategory::Metric, "auc", "area under the ROC curve of class labels (sklearn's roc_auc_score): binary for two "
                                  "classes, else the macro mean of one-vs-rest over the classes present"},
  };
  for (OpInfo& op : t)
    for (const Doc& d : docs)
      if (op.doc.empty() && op.category == d.category && op.name == d.name) op.doc = d.doc;
  for (OpInfo& op : t) fromSchema(op);
  return t;
}

struct Index {
  std::unordered_multimap<std::string_view, const OpInfo*> byName;
};
const Index& index() {
  static const Index idx = [] {
    Index i;
    for (const OpInfo& op : opTable()) i.byName.emplace(op.name, &op);
    return i;
  }();
  return idx;
}
}  // namespace

const std::vector<OpInfo>& opTable() {
  static const std::vector<OpInfo> table = build();
  return table;
}

const OpInfo* findOp(std::string_view name, std::initializer_list<OpCategory> cats) {
  auto [b, e] = index().byName.equal_range(name);
  for (auto it = b; it != e; ++it)
    for (OpCategory c : cats)
      if (it->second->category == c) return it->second;
  return nullptr;
}

std::string_view cudaMissing(const OpInfo& op, const Node& node) {
  std::string_view rest = op.cudaWithout;
  while (!rest.empty()) {
    const size_t bar = rest.find('|');
    const std::string_view setting = rest.substr(0, bar);
    rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
    const size_t colon = setting.find(": ");
    if (colon == std::string_view::npos) continue;
    const AttrValue* v = node.attr(std::string(setting.substr(0, colon)));
    const std::string_view want = setting.substr(colon + 2);
    if (!v) continue;
    if (const bool* b = std::get_if<bool>(v); b && want == (*b ? "true" : "false")) return setting;
    if (const std::string* w = std::get_if<std::string>(v); w && *w == want) return setting;
    if (want.rfind("> ", 0) == 0) {  // "attr: > K": an integer, or any element of a pair, above K
      const int64_t k = std::stoll(std::string(want.substr(2)));
      if (const int64_t* i = std::get_if<int64_t>(v); i && *i > k) return setting;
      if (const auto* l = std::get_if<std::vector<int64_t>>(v))
        for (int64_t e : *l)
          if (e > k) return setting;
    }
  }
  return {};
}

std::vector<std::string> opNames(std::initializer_list<OpCategory> cats) {
  std::vector<std::string> out;
  for (const OpInfo& op : opTable())
    for (OpCategory c : cats)
      if (op.category == c) out.emplace_back(op.name);
  return out;
}

}  // namespace dls::sema

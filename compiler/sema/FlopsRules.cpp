// FLOPs rules of the op table: forward FLOPs of one sample. A multiply-add counts 2 (dense, conv);
// elementwise ops count 1 per output element, pooling 1 per window element, normalisation 4 and
// softmax 3 per element. Views count 0.
#include "sema/OpRules.h"

namespace dls::sema::rules {
namespace {
std::optional<int64_t> perSample(const Type& t) {
  if (t.shape.unknownRank || t.shape.rank() == 0) return std::nullopt;
  return t.shape.elements(1);
}
std::optional<int64_t> times(std::optional<int64_t> a, int64_t b) {
  int64_t r;
  if (!a || !mulChecked(*a, b, r)) return std::nullopt;
  return r;
}
}  // namespace

std::optional<int64_t> denseFlops(const std::vector<const Type*>& in, const Type& out, const Node&) {
  const Type& x = *in[0];
  if (x.shape.unknownRank || x.shape.rank() < 2 || !x.shape.dims.back().isConst()) return std::nullopt;
  return times(times(perSample(out), x.shape.dims.back().value), 2);
}

// rnn, gru, lstm: per time step, the input and recurrent products (2 per multiply-add) and the two bias
// adds of every gate value; the gates' activations and the state update are not counted.
std::optional<int64_t> recurrentFlops(const std::vector<const Type*>& in, const Type&, const Node& n) {
  const Type& x = *in[0];
  if (x.shape.unknownRank || x.shape.rank() != 3 || !x.shape.dims[1].isConst() || !x.shape.dims[2].isConst())
    return std::nullopt;
  int64_t t = x.shape.dims[1].value, f = x.shape.dims[2].value, u = n.intAttr("units");
  int64_t g = recurrentGates(n), layers = n.intAttr("layers", 1), dirs = n.boolAttr("bidirectional", false) ? 2 : 1;
  std::optional<int64_t> total = 0;
  for (int64_t l = 0; l < layers && total; ++l) {  // each layer and direction: 2 t g u (features + u + 1)
    int64_t perGate;
    if (!addChecked(l == 0 ? f : dirs * u, u, perGate) || !addChecked(perGate, 1, perGate)) return std::nullopt;
    std::optional<int64_t> one = times(times(times(times(times(std::optional<int64_t>(t), g), u), perGate), 2), dirs);
    int64_t sum;
    if (!one || !addChecked(*total, *one, sum)) return std::nullopt;
    total = sum;
  }
  return total;
}

// multi_head_attention per sample of T steps of width D: the input and output projections (2 T D (3D + D)), the
// scores q k^T and the weighted sum P v (2 T T D each) and the softmax (3 per score, heads * T * T).
std::optional<int64_t> attentionFlops(const std::vector<const Type*>& in, const Type&, const Node& n) {
  const Type& x = *in[0];
  if (x.shape.unknownRank || x.shape.rank() != 3 || !x.shape.dims[1].isConst()) return std::nullopt;
  const int64_t t = x.shape.dims[1].value, d = n.intAttr("dim"), h = n.intAttr("heads", 1);
  std::optional<int64_t> proj = times(times(times(std::optional<int64_t>(t), d), 4 * d), 2);
  std::optional<int64_t> mix = times(times(times(std::optional<int64_t>(t), t), d), 4);
  std::optional<int64_t> soft = times(times(times(std::optional<int64_t>(t), t), h), 3);
  int64_t r;
  if (!proj || !mix || !soft || !addChecked(*proj, *mix, r) || !addChecked(r, *soft, r)) return std::nullopt;
  return r;
}

// cross_attention per sample of T query steps of width D over S memory steps of width K: the projections (2 T D (D + D)
// for the queries and the output, 2 S K 2D for the keys and values), q k^T and P v (2 T S D each) and the softmax (3 per
// score, heads * T * S).
std::optional<int64_t> crossAttentionFlops(const std::vector<const Type*>& in, const Type&, const Node& n) {
  if (in.size() < 2) return std::nullopt;
  const Type& x = *in[0];
  const Type& m = *in[1];
  if (x.shape.unknownRank || x.shape.rank() != 3 || !x.shape.dims[1].isConst()) return std::nullopt;
  if (m.shape.unknownRank || m.shape.rank() != 3 || !m.shape.dims[1].isConst()) return std::nullopt;
  const int64_t t = x.shape.dims[1].value, s = m.shape.dims[1].value, d = n.intAttr("dim"), h = n.intAttr("heads", 1);
  std::optional<int64_t> projQ = times(times(times(std::optional<int64_t>(t), d), 2 * d), 2);
  const int64_t k = m.shape.dims[2].isConst() ? m.shape.dims[2].value : d;  // the memory's width (kdim = vdim)
  std::optional<int64_t> projKV = times(times(times(std::optional<int64_t>(s), k), 2 * d), 2);
  std::optional<int64_t> mix = times(times(times(std::optional<int64_t>(t), s), d), 4);
  std::optional<int64_t> soft = times(times(times(std::optional<int64_t>(t), s), h), 3);
  int64_t r;
  if (!projQ || !projKV || !mix || !soft || !addChecked(*projQ, *projKV, r) || !addChecked(r, *mix, r) ||
      !addChecked(r, *soft, r))
    return std::nullopt;
  return r;
}

std::optional<int64_t> convFlops(const std::vector<const Type*>& in, const Type& out, const Node& n) {
  const Type& x = *in[0];
  if (x.shape.unknownRank || x.shape.rank() < 3 || !x.shape.dims[1].isConst()) return std::nullopt;
  // conv1d: kernel_h is 1 (its window rule's view)
  int64_t perOut = x.shape.dims[1].value / n.intAttr("groups", 1) * n.intAttr("kernel_h") * n.intAttr("kernel_w");
  return times(times(perSample(out), perOut), 2);
}

// conv_transpose2d: every input element times filters/groups * KH * KW multiply-adds.
std::optional<int64_t> convTransposeFlops(const std::vector<const Type*>& in, const Type&, const Node& n) {
  int64_t perIn = n.intAttr("filters") / n.intAttr("groups", 1) * n.intAttr("kernel_h") * n.intAttr("kernel_w");
  return times(times(perSample(*in[0]), perIn), 2);
}

std::optional<int64_t> poolFlops(const std::vector<const Type*>&, const Type& out, const Node& n) {
  return times(perSample(out), n.intAttr("kernel_h") * n.intAttr("kernel_w"));
}

std::optional<int64_t> elementFlops(const std::vector<const Type*>&, const Type& out, const Node&) {
  return perSample(out);
}
std::optional<int64_t> inputElemFlops(const std::vector<const Type*>& in, const Type&, const Node&) {
  return perSample(*in[0]);
}
std::optional<int64_t> normFlops(const std::vector<const Type*>&, const Type& out, const Node&) {
  return times(perSample(out), 4);
}
std::optional<int64_t> softmaxFlops(const std::vector<const Type*>&, const Type& out, const Node&) {
  return times(perSample(out), 3);
}
std::optional<int64_t> noFlops(const std::vector<const Type*>&, const Type&, const Node&) { return 0; }

}  // namespace dls::sema::rules

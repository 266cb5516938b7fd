// E0602: samples decoded channels-last (u8[28, 28, 3], u8[32, 32, 3]) fed to a network that expects
// channels-first ([3, 28, 28]): no pipeline step reorders axes, and reshaping does not.
#include <fmt/format.h>

#include "checker/Flow.h"

namespace dls::checker {

namespace {
std::optional<int64_t> dimAt(const sema::Shape& s, size_t i) {
  return s.dims[i].isConst() ? std::optional<int64_t>(s.dims[i].value) : std::nullopt;
}
std::string dimsStr(const std::vector<std::optional<int64_t>>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + (d[i] ? std::to_string(*d[i]) : std::string("?"));
  return s + "]";
}
}  // namespace

void checkDecodeLayout(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Network* n = t->network;
    const sema::Dataset* d = t->data ? t->data->dataset : nullptr;
    if (!n || !d || d->sample.poisoned || n->declaredInputs.empty() || n->declaredInputs[0].poisoned) continue;
    if (!t->inputFields.empty() && t->inputFields[0] != 0) continue;  // the first input takes another sample field
    const sema::Shape& ns = n->declaredInputs[0].shape;
    const sema::Shape& ds = d->sample.shape;
    if (ns.unknownRank || ds.unknownRank || ns.rank() != 4 || ds.rank() != 3) continue;
    std::vector<std::optional<int64_t>> sd = {dimAt(ds, 0), dimAt(ds, 1), dimAt(ds, 2)};
    std::vector<std::optional<int64_t>> in = {dimAt(ns, 1), dimAt(ns, 2), dimAt(ns, 3)};
    // One channel: [H, W, 1] and [1, H, W] hold the pixels in the same order, so a reshape is harmless.
    if (sd[2] && *sd[2] == 1) continue;
    // channels-last [H, W, C] vs channels-first [C, H, W], C in {1, 3, 4}, H, W larger.
    if (sd[2] && in[0] && *sd[2] == *in[0] && sd[0] == in[1] && sd[1] == in[2] && sd[0] != sd[2] && *sd[2] <= 4) {
      c.diags.report(Code::E0602, d->sampleTypeSpan, "channels-last " + dimsStr(sd), n->name,
                     "channels-first " + dimsStr(in), "reshaping does not reorder axes")
          .primary("height, width, channels")
          .label(n->declaredInputSpans[0], "channels, height, width")
          .help("declare the network input channels-last, as the data is, and reorder inside the network: `x |> transpose([0, 3, 1, 2])`");
    }
  }
}

}  // namespace dls::checker

// E0602: samples decoded channels-last (u8[28, 28, 1], u8[32, 32, 3]) fed to a network that expects
// channels-first ([1, 28, 28]) with no transpose in the pipeline.
#include <algorithm>
#include <fmt/format.h>

#include "checker/RuleSupport.h"

namespace dls::checker {

namespace {
std::string dimsStr(const std::vector<std::optional<int64_t>>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + (d[i] ? std::to_string(*d[i]) : std::string("?"));
  return s + "]";
}
}  // namespace

void checkDecodeLayout(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const NetView* n = modelOf(c, t);
    const PipeView* p = pipelineOf(c, t, "data");
    const DataView* d = p ? datasetOf(c, *p) : nullptr;
    if (!n || !d || !d->sample || !d->sample->type || n->inputDims.size() != 3) continue;
    auto sd = typeDims(*d->sample->type);
    // One channel: [H, W, 1] and [1, H, W] hold the pixels in the same order, so a reshape is harmless.
    if (sd.size() != 3 || (sd[2] && *sd[2] == 1)) continue;
    bool reordered = false;
    for (const OpUse& s : p->steps)
      if (s.field == d->sample->key.name && (s.op == "transpose" || s.op == "permute" || s.op == "to_channels_first"))
        reordered = true;
    if (reordered) continue;
    auto& in = n->inputDims;
    // channels-last [H, W, C] vs channels-first [C, H, W], C in {1, 3, 4}, H, W larger.
    if (sd[2] && in[0] && *sd[2] == *in[0] && sd[0] == in[1] && sd[1] == in[2] && sd[0] != sd[2] && *sd[2] <= 4) {
      c.diags.report(Code::E0602, d->sample->type->span, "channels-last " + dimsStr(sd), n->decl->name.name,
                     "channels-first " + dimsStr(in), "reshaping does not reorder axes")
          .primary("height, width, channels")
          .label(n->decl->params[0].type.span, "channels, height, width")
          .help("declare the network input channels-last, as the data is, and reorder inside the network: `x |> transpose([0, 3, 1, 2])`");
    }
  }
}

}  // namespace dls::checker

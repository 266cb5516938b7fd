// M0111: `bias: false` with no normalisation layer after it (whose shift would replace the bias). "After" is
// along the data flow: every reader of the layer's output, through ops that only move elements
// (OpInfo::passThrough), must be a normalisation.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

namespace {
bool normalisedAfter(const sema::Network& net, const std::vector<std::vector<int>>& users, int value) {
  const auto& readers = users[static_cast<size_t>(value)];
  if (readers.empty()) return false;
  for (int id : readers) {
    const sema::Node& r = net.nodes[static_cast<size_t>(id)];
    if (r.op->normalization) continue;
    if (!r.op->passThrough || !normalisedAfter(net, users, r.output)) return false;
  }
  return true;
}
}  // namespace

void checkMissingBias(const RuleContext& c) {
  for (const auto& net : c.program.networks) {
    std::vector<std::vector<int>> users;
    for (const sema::Node& n : net->nodes) {
      const sema::Attr* bias = givenAttr(n.attrs, "bias");
      const bool* on = bias ? std::get_if<bool>(&bias->value) : nullptr;
      if (!on || *on || !n.op->hasWeights) continue;
      if (users.empty()) users = consumers(*net);
      if (normalisedAfter(*net, users, n.output)) continue;
      c.diags.report(Code::M0111, bias->span, n.op->name)
          .primary("no bias")
          .help("remove `bias: false`, or follow the layer with `batch_norm`/`layer_norm`");
    }
  }
}

}  // namespace dls::checker

// W0703: the epsilon of an adaptive optimizer (OpInfo::adaptive: Adam and its kin) below 1e-10, where the
// update divides by (almost) zero where the gradient's second moment is small.
// W0720: an epsilon that rounds to zero in the precision the update computes in: the update divides 0 by 0 (NaN)
// for every parameter whose gradient is zero. The update's precision is that of the optimizer state, which the
// runtime keeps in f32 in every `precision` (`precision = bf16` keeps f32 master weights and state): so f32's
// smallest positive value (its subnormals included) is the bound, whatever the train block's precision.
#include <limits>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

namespace {
// The precision the optimizer's update computes in (its state's), and whether `eps` rounds to zero in it.
constexpr std::string_view kUpdatePrecision = "f32";
bool roundsToZero(double eps) { return eps > 0 && static_cast<float>(eps) == 0.0f; }
}  // namespace

void checkAdamEpsilon(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->optimizer) continue;
    const sema::OpInfo* op = sema::findOp(t->optimizer->name, {sema::OpCategory::Optimizer});
    auto it = t->optimizer->args.find("eps");
    if (!op || !op->adaptive || it == t->optimizer->args.end()) continue;
    const sema::Attr& a = it->second;
    const double* eps = std::get_if<double>(&a.value);
    if (!eps || *eps >= 1e-10) continue;
    std::string text = a.isDefault ? numberText(*eps) + " (the default)" : argValueText(c, a, "eps");
    if (roundsToZero(*eps)) {
      auto& d = c.diags.report(Code::W0720, a.span, t->optimizer->name, text, kUpdatePrecision);
      d.primary(fmt::format("0 in {}", kUpdatePrecision))
          .note(fmt::format("the smallest positive {} is {:.3g}: where a gradient is zero the update computes 0 / 0 = NaN",
                            kUpdatePrecision, static_cast<double>(std::numeric_limits<float>::denorm_min())));
      if (t->precision && *t->precision != "f32")
        d.note(fmt::format("`precision = {}` computes the products in {}, but the optimizer state and its update stay {}",
                           *t->precision, *t->precision, kUpdatePrecision));
      d.help("use the default `eps: 1e-8`");
      continue;
    }
    c.diags.report(Code::W0703, a.span, t->optimizer->name, text, "1e-10").primary("epsilon").help("use the default `eps: 1e-8`");
  }
}

// W0721: `precision = bf16` on a network none of whose ops has bf16 products (OpInfo::bf16): the setting would
// change nothing, which the project's rule forbids accepting silently.
void checkPrecisionEffect(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->precision || *t->precision == "f32" || !t->network) continue;
    bool any = false;
    for (const sema::Node& nd : t->network->nodes) any = any || nd.op->bf16;
    if (any) continue;
    auto s = t->settings.find("precision");
    Span at = s != t->settings.end() ? s->second.valueSpan : t->model.span;
    c.diags.report(Code::W0721, at, *t->precision, t->name, t->network->name, *t->precision)
        .primary("no effect here")
        .note("the ops with bf16 products are listed in `dlspec ops` (dense, conv2d, conv1d); every other op computes in f32")
        .help("remove the setting, or write `precision = f32`");
  }
}

}  // namespace dls::checker

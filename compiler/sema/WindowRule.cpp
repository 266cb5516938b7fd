// The one window rule of conv2d, maxpool and avgpool (as ONNX's conv and pooling share one shape rule).
#include <fmt/format.h>

#include "sema/OpRules.h"

namespace dls::sema::rules {

std::optional<int64_t> windowOut(int64_t in, int64_t kernel, int64_t stride, int64_t padBefore, int64_t padAfter,
                                 int64_t dilation) {
  int64_t padded, span, eff;
  if (!addChecked(in, padBefore, padded) || !addChecked(padded, padAfter, padded)) return std::nullopt;
  if (!mulChecked(dilation, kernel - 1, span) || !addChecked(span, 1, eff)) return std::nullopt;
  if (eff > padded || stride <= 0) return std::nullopt;
  return (padded - eff) / stride + 1;
}

void samePadding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t& before, int64_t& after) {
  int64_t out = (in + stride - 1) / stride;
  int64_t eff = dilation * (kernel - 1) + 1;
  int64_t total = (out - 1) * stride + eff - in;
  if (total < 0) total = 0;
  before = total / 2;
  after = total - before;
}

namespace {
std::string pair(int64_t a, int64_t b) { return a == b ? fmt::format("{}", a) : fmt::format("{}x{}", a, b); }
}  // namespace

bool window(ShapeCtx& c, bool isConv, Dim& outH, Dim& outW, const char* widthName) {
  const Type& x = *c.in[0];
  std::vector<int64_t> k = c.ints("kernel");
  if (k.size() != 2) return false;
  std::vector<int64_t> s = c.attrs.count("stride") ? c.ints("stride") : k;
  std::vector<int64_t> d = c.attrs.count("dilation") ? c.ints("dilation") : std::vector<int64_t>{1, 1};
  if (s.size() != 2 || d.size() != 2) return false;
  const Dim& H = x.shape.dims[2];
  const Dim& W = x.shape.dims[3];
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  const AttrValue* pad = c.attrs.count("pad") ? &c.attrs.at("pad").value : nullptr;
  if (pad && std::holds_alternative<std::string>(*pad)) {
    if (std::get<std::string>(*pad) == "same") {
      if (!H.isConst() || !W.isConst()) {
        outH = Dim::unknown(), outW = Dim::unknown();
      } else {
        samePadding(H.value, k[0], s[0], d[0], pt, pb);
        samePadding(W.value, k[1], s[1], d[1], pl, pr);
      }
    }
  } else if (pad && std::holds_alternative<std::vector<int64_t>>(*pad)) {
    auto& p = std::get<std::vector<int64_t>>(*pad);
    if (p.size() == 2) pt = pb = p[0], pl = pr = p[1];
    else if (p.size() == 4) pt = p[0], pl = p[1], pb = p[2], pr = p[3];
  } else if (pad && std::holds_alternative<int64_t>(*pad)) {
    pt = pl = pb = pr = std::get<int64_t>(*pad);
  }
  if (!isConv && (pt * 2 > k[0] || pb * 2 > k[0] || pl * 2 > k[1] || pr * 2 > k[1]))
    c.fail(Code::E0212, fmt::format("argument `pad` of `{}` must be at most half the kernel ({}), found {}", c.op.name,
                                    pair(k[0], k[1]), pair(std::max(pt, pb), std::max(pl, pr))),
           "padding larger than half the window", "", {});
  c.set("kernel_h", k[0]), c.set("kernel_w", k[1]);
  c.set("stride_h", s[0]), c.set("stride_w", s[1]);
  c.set("pad_top", pt), c.set("pad_left", pl), c.set("pad_bottom", pb), c.set("pad_right", pr);
  c.set("dilation_h", d[0]), c.set("dilation_w", d[1]);
  auto one = [&](const Dim& in, int64_t kk, int64_t ss, int64_t before, int64_t after, int64_t dd, const char* axis,
                 Dim& out) {
    if (!in.isConst()) {
      out = Dim::unknown();
      return true;
    }
    if (auto o = windowOut(in.value, kk, ss, before, after, dd)) {
      out = Dim::constant(*o);
      return true;
    }
    int64_t eff = dd * (kk - 1) + 1;
    std::string win = dd > 1 ? fmt::format("{} with dilation {} spans {}", kk, dd, eff) : fmt::format("{}", kk);
    std::string padded = before + after ? fmt::format("{} + {} padding = {}", in.value, before + after,
                                                      in.value + before + after)
                                        : fmt::format("{}", in.value);
    std::string help = isConv ? fmt::format("use a kernel of at most {} or pad the input (`pad: same`)",
                                            in.value + before + after)
                          : "pool less often or with a smaller window, or remove this pooling layer";
    // [N, 32, 32, 1] or [N, 28, 28, 3]: an image laid out channels-last (height, width, channels), as Keras and
    // NumPy image arrays are, read as 32 channels of 32 x 1. The fix is the layout, not the kernel.
    if (const Dim& C = x.shape.dims[1]; isConv && axis == std::string_view(widthName) && W.isConst() && H.isConst() &&
                                        C.isConst() && (W.value == 1 || W.value == 3 || W.value == 4) &&
                                        H.value == C.value && H.value >= 4 * W.value)
      help = W.value == 1 ? fmt::format("the input {} looks channels-last (height, width, channels); dlspec is channels-first: "
                                        "reshape the samples to [1, {}, {}] in the pipeline", x.brief(), C.value, H.value)
                          : fmt::format("the input {} looks channels-last (height, width, channels); dlspec is channels-first: "
                                        "transpose the samples to [{}, {}, {}] when they are written", x.brief(), W.value,
                                        C.value, H.value);
    // conv1d over [N, C, 1]: C channels of one step, a sequence laid out (steps, features) as Keras' Conv1D
    // reads it, where dlspec's conv1d reads [N, channels, length]. The fix is the layout: one channel of C steps.
    if (const Dim& C = x.shape.dims[1]; isConv && axis == std::string_view("length") && W.isConst() && W.value == 1 &&
                                        C.isConst() && C.value >= eff)
      help = fmt::format("the input is {} channels of one step ([N, {}, 1]); conv1d reads [N, channels, length]: for one "
                         "channel of {} steps, reshape the samples to [1, {}] and declare the network's input f32[N, 1, {}]",
                         C.value, C.value, C.value, C.value, C.value);
    if (isConv)
      c.fail(Code::E0203, fmt::format("the {} window ({}) is larger than its padded input ({})", axis, win, padded),
             fmt::format("kernel {} does not fit", kk), help);
    else
      c.fail(Code::E0204, fmt::format("pooling reduces the {} to zero: the window ({}) is larger than the padded input ({})",
                                      axis, win, padded),
             fmt::format("the {} would be 0", axis), help);
    return false;
  };
  bool okH = pad && std::holds_alternative<std::string>(*pad) && std::get<std::string>(*pad) == "same" && !H.isConst()
                 ? true
                 : one(H, k[0], s[0], pt, pb, d[0], "height", outH);
  bool okW = pad && std::holds_alternative<std::string>(*pad) && std::get<std::string>(*pad) == "same" && !W.isConst()
                 ? true
                 : one(W, k[1], s[1], pl, pr, d[1], widthName, outW);
  return okH && okW;
}

}  // namespace dls::sema::rules

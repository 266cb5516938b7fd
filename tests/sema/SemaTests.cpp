#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "Compilation.h"
#include "sema/OpRules.h"
#include "sema/Program.h"
#include "sema/Summary.h"
#include "dlspec/OpSchema.h"
#include <set>

using namespace dls;
using namespace dls::sema;

namespace {
std::string readSpec(const std::string& rel) {
  std::ifstream f(std::string(DLSPEC_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
struct Analyzed {
  Compilation c;
  bool ok = false;
  std::vector<Diagnostic> diags;
};
std::unique_ptr<Analyzed> analyzeText(const std::string& text) {
  auto a = std::make_unique<Analyzed>();
  a->c.loadText("test.dls", text);
  a->c.diags.setLintLevel(LintGroup::Pedantic);  // every finding, whatever its lint group
  a->ok = a->c.parse() && a->c.analyze();
  a->diags = a->c.diags.finish();
  return a;
}
bool hasCode(const Analyzed& a, std::string_view id) {
  for (auto& d : a.diags)
    if (codeInfo(d.code).id == id) return true;
  return false;
}
const std::string kNet = "network Net(x: f32[N, 784]) -> f32[N, 10] {\n";
const std::string kNetHead = "dlspec 1\n" + kNet;
}  // namespace

TEST_CASE("checked dimension arithmetic") {
  int64_t r;
  CHECK(mulChecked(int64_t{1} << 31, int64_t{1} << 31, r));
  CHECK(r == int64_t{1} << 62);
  CHECK_FALSE(mulChecked(int64_t{1} << 62, 4, r));
  CHECK_FALSE(addChecked(INT64_MAX, 1, r));
  CHECK_FALSE(subChecked(INT64_MIN, 1, r));
  Shape s{{Dim::constant(int64_t{1} << 62), Dim::constant(784)}};
  CHECK_FALSE(s.elements().has_value());
  Shape t{{Dim::symbol("N"), Dim::constant(3), Dim::constant(4)}};
  CHECK(t.elements(1) == 12);
  CHECK_FALSE(t.elements(0).has_value());
  CHECK(t.bind({{"N", 64}}).elements() == 768);
}

TEST_CASE("a 2^62-unit dense layer is a diagnostic, not a wrap") {
  auto a = analyzeText(kNetHead + "  return x |> dense(4611686018427387904)\n}\n");
  CHECK_FALSE(a->ok);
  CHECK(hasCode(*a, "E0210"));
  auto b = analyzeText(kNetHead + "  return x |> dense(9223372036854775807) |> dense(2)\n}\n");
  CHECK(hasCode(*b, "E0210"));
  auto c = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4611686018427387904, 4]) -> f32[N, 1] {\n  return x |> flatten |> dense(1)\n}\n");
  CHECK(hasCode(*c, "E0210"));
}

TEST_CASE("the window rule") {
  using rules::windowOut;
  CHECK(windowOut(28, 5, 1, 0, 0, 1) == 24);
  CHECK(windowOut(24, 2, 2, 0, 0, 1) == 12);
  CHECK(windowOut(32, 3, 1, 1, 1, 1) == 32);
  CHECK(windowOut(7, 3, 2, 1, 1, 1) == 4);
  CHECK(windowOut(10, 3, 1, 0, 0, 2) == 6);   // dilated window spans 5
  CHECK_FALSE(windowOut(4, 5, 1, 0, 0, 1));   // larger than the input
  CHECK(windowOut(4, 5, 1, 1, 0, 1) == 1);    // fits once padded
  CHECK_FALSE(windowOut(1, 2, 2, 0, 0, 1));   // pooling to zero
  CHECK_FALSE(windowOut(INT64_MAX, 3, 1, 1, 1, 1));  // overflow is refused
  int64_t b, e;
  rules::samePadding(28, 5, 1, 1, b, e);
  CHECK((b == 2 && e == 2));
  rules::samePadding(7, 2, 2, 1, b, e);
  CHECK(b + e == 1);
  auto k = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 1, 4, 4]) -> f32[N, 1] {\n  return x |> conv2d(1, 5) |> flatten\n}\n");
  CHECK(hasCode(*k, "E0203"));
  auto p = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 1, 3, 3]) -> f32[N, 1] {\n  return x |> maxpool(2) |> maxpool(2) |> flatten\n}\n");
  CHECK(hasCode(*p, "E0204"));
  auto s = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 3, 32, 32]) -> f32[N, 8, 16, 16] {\n  return x |> conv2d(8, 3, stride: 2, pad: same)\n}\n");
  REQUIRE(s->ok);
  const Node& n = s->c.program->networks[0]->nodes[0];
  CHECK(n.intAttr("kernel_h") == 3);
  CHECK(n.intAttr("stride_w") == 2);
  CHECK(n.intAttr("pad_top") + n.intAttr("pad_bottom") == 1);
  CHECK(n.intAttr("dilation_h") == 1);
  CHECK(n.intAttr("groups") == 1);
  CHECK(n.boolAttr("bias"));
}

TEST_CASE("parameter counts match PyTorch") {
  for (auto [file, want] : {std::pair{"specs/mlp.dls", 535818}, std::pair{"specs/lenet.dls", 431080},
                            std::pair{"specs/vgg.dls", 1188170}}) {
    auto a = analyzeText(readSpec(file));
    INFO(file);
    REQUIRE(a->ok);
    NetworkSummary s = summarize(*a->c.program, *a->c.program->networks[0]);
    CHECK(s.params == want);
  }
}

TEST_CASE("LeNet forward FLOPs") {
  auto a = analyzeText(readSpec("specs/lenet.dls"));
  REQUIRE(a->ok);
  NetworkSummary s = summarize(*a->c.program, *a->c.program->networks[0]);
  // conv/dense multiply-adds: 288,000 + 1,600,000 + 400,000 + 5,000 = 2,293,000 MACs = 4,586,000 FLOPs.
  CHECK(s.macFlops == 4586000);
  // Everything (pooling, ReLU): 4,601,220; x3 for forward + backward ~ 13.8 MFLOP (anchors: ~14).
  CHECK(s.flops == 4601220);
  CHECK(*s.flops * 3 > 13'500'000);
  CHECK(*s.flops * 3 < 14'500'000);
  CHECK(s.batch == 64);
}

TEST_CASE("block cycles are diagnostics with the chain") {
  auto a = analyzeText(
      "dlspec 1\nblock a() (x) {\n  return x |> b\n}\nblock b() (x) {\n  return x |> a\n}\n" + kNet +
      "  return x |> a |> dense(10)\n}\n");
  CHECK(hasCode(*a, "E0106"));
  bool chain = false;
  for (auto& d : a->diags)
    if (d.message.find("`a` -> `b` -> `a`") != std::string::npos) chain = true;
  CHECK(chain);
  auto self = analyzeText("dlspec 1\nblock a() (x) {\n  return x |> a\n}\n" + kNet + "  return x |> a\n}\n");
  CHECK(hasCode(*self, "E0106"));
}

TEST_CASE("blocks inline with typed parameters and defaults") {
  auto a = analyzeText("dlspec 1\nblock cbr(c: int, k: int = 3) (x) {\n  return x |> conv2d(filters: c, kernel: k, pad: same) |> relu\n}\n"
                       "network Net(x: f32[N, 3, 8, 8]) -> f32[N, 16, 8, 8] {\n  return x |> cbr(16)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  REQUIRE(n.nodes.size() == 2);
  CHECK(n.nodes[0].intAttr("kernel_w") == 3);
  CHECK(n.nodes[0].blockPath == std::vector<std::string>{"cbr_1"});
  auto bad = analyzeText("dlspec 1\nblock cbr(c: int) (x) {\n  return x |> dense(c)\n}\n" + kNet + "  return x |> cbr(1.5)\n}\n");
  CHECK(hasCode(*bad, "E0211"));
}

TEST_CASE("residual add shows both operands") {
  auto a = analyzeText(kNetHead + "  a = x |> dense(10)\n  b = x |> dense(20)\n  return a + b\n}\n");
  REQUIRE(hasCode(*a, "E0205"));
  for (auto& d : a->diags)
    if (codeInfo(d.code).id == "E0205") {
      REQUIRE(d.labels.size() == 2);
      CHECK(d.labels[0].message.find("dense_1") != std::string::npos);
      CHECK(d.labels[1].message.find("dense_2") != std::string::npos);
    }
}

TEST_CASE("one root cause, one error") {
  auto a = analyzeText(kNetHead + "  h = x |> dense(10) |> reshape([3, 7])\n  h = h |> dense(10) |> relu\n  return h\n}\n");
  int errors = 0;
  for (auto& d : a->diags) errors += d.severity == Severity::Error;
  CHECK(errors == 1);
}

TEST_CASE("summary JSON") {
  auto a = analyzeText(readSpec("specs/mlp.dls"));
  REQUIRE(a->ok);
  std::string j = summaryJson({summarize(*a->c.program, *a->c.program->networks[0])});
  CHECK(j.find("\"total_params\":535818") != std::string::npos);
  CHECK(j.find("\"batch\":128") != std::string::npos);
  CHECK(j.find("\"output\":\"[N, 512]\"") != std::string::npos);
  CHECK(j.front() == '{');
}

TEST_CASE("an initialiser's arguments are read by position or by name") {
  auto byName = analyzeText(kNetHead + "  return x |> dense(10, init: normal(std: 0.01))\n}\n");
  REQUIRE(byName->ok);
  const Param& w = byName->c.program->networks[0]->params[0];
  CHECK(w.init == InitKind::Normal);
  CHECK(w.initA == 0);
  CHECK(w.initB == 0.01);
  auto byPos = analyzeText(kNetHead + "  return x |> dense(10, init: uniform(-0.5, 0.5))\n}\n");
  REQUIRE(byPos->ok);
  CHECK(byPos->c.program->networks[0]->params[0].initA == -0.5);
  CHECK(byPos->c.program->networks[0]->params[0].initB == 0.5);
  CHECK(hasCode(*analyzeText(kNetHead + "  return x |> dense(10, init: normal(sd: 0.01))\n}\n"), "E0103"));
  CHECK(hasCode(*analyzeText(kNetHead + "  return x |> dense(10, init: normal(0, 1, 2))\n}\n"), "E0110"));
  CHECK(hasCode(*analyzeText(kNetHead + "  return x |> dense(10, init: normal(0, mean: 1))\n}\n"), "E0105"));
}

TEST_CASE("after a type error the network keeps its nodes, poisoned, with their arguments") {
  auto a = analyzeText(kNetHead + "  h = x |> conv2d(filters: 8, kernel: 3)\n  return h |> relu |> dense(10, init: zeros)\n}\n");
  REQUIRE_FALSE(a->ok);
  CHECK(hasCode(*a, "E0207"));
  const Network& n = *a->c.program->networks[0];
  REQUIRE(n.nodes.size() == 3);
  CHECK(n.nodes[2].op->name == "dense");
  CHECK(n.nodes[2].strAttr("init") == "zeros");
  CHECK(n.nodes[2].inputs == std::vector<int>{n.nodes[1].output});
  CHECK(n.values[static_cast<size_t>(n.nodes[2].output)].type.poisoned);
  CHECK(n.nodes[2].params.empty());
}

TEST_CASE("the op table and dlspec/ops.def agree") {
  // Every runtime op of the table is its ops.def row (same name; deprecated spellings excepted), every row
  // but copy is reachable from the table, and every attribute the two share takes the row's default.
  std::set<int> reached;
  for (const OpInfo& op : opTable()) {
    const bool runtimeCat = op.category == OpCategory::Layer || op.category == OpCategory::Activation ||
                            op.category == OpCategory::Structural || op.category == OpCategory::Loss;
    if (!runtimeCat || op.opcode < 0) continue;
    INFO(op.name);
    const schema::OpRow* row = schema::find(op.opcode);
    REQUIRE(row);
    if (op.replacedBy.empty()) CHECK(row->name == op.name);
    reached.insert(op.opcode);
    for (const AttrSpec& a : op.attrs) {
      const schema::AttrRow* r = row->attr(a.name);
      if (!r || r->required() || r->list()) continue;
      INFO(a.name);
      REQUIRE(a.dflt);
      if (const auto* i = std::get_if<int64_t>(&*a.dflt)) CHECK(double(*i) == r->dflt);
      else if (const auto* d = std::get_if<double>(&*a.dflt)) CHECK(*d == r->dflt);
      else if (const auto* b = std::get_if<bool>(&*a.dflt)) CHECK(double(*b) == r->dflt);
      else if (const auto* w = std::get_if<std::string>(&*a.dflt)) CHECK(r->wordIndex(*w) == int(r->dflt));
    }
  }
  // copy is an ABI op no table row lowers to (flatten and reshape are views): hand-written plans use it; scaled_add
  // is the lowering's weighted sum of a loss's terms, no layer of the language.
  for (const schema::OpRow& row : schema::kOps) {
    INFO(row.name);
    CHECK(reached.count(row.code) == (row.code == DLS_OP_COPY || row.code == DLS_OP_SCALED_ADD ? 0u : 1u));
  }
}

TEST_CASE("multi_head_attention and positional_embedding: shapes, parameters and FLOPs as torch.nn") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 16]) -> f32[N, 16, 32] {\n"
                       "  h = x |> embedding(50, 32) |> positional_embedding(20)\n"
                       "  return h |> multi_head_attention(4, 32, causal: true)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  REQUIRE(n.params.size() == 6);
  CHECK(n.params[1].name == "positional_embedding_1.weight");
  CHECK(n.params[1].shape.str() == "[20, 32]");
  CHECK(n.params[2].name == "multi_head_attention_1.in_proj_weight");
  CHECK(n.params[2].shape.str() == "[96, 32]");
  CHECK(n.params[3].name == "multi_head_attention_1.out_proj.weight");
  CHECK(n.params[3].shape.str() == "[32, 32]");
  CHECK(n.params[4].name == "multi_head_attention_1.in_proj_bias");
  CHECK(n.params[5].name == "multi_head_attention_1.out_proj.bias");
  NetworkSummary s = summarize(*a->c.program, n);
  CHECK(s.params == 50 * 32 + 20 * 32 + 4 * 32 * 32 + 4 * 32);  // torch.nn.MultiheadAttention(32, 4): 4224
  REQUIRE(s.rows.size() == 3);
  // projections 2 T D 4D, scores and weighted sums 4 T T D, softmax 3 H T T
  CHECK(s.rows[2].flops == std::optional<int64_t>(2 * 16 * 32 * 128 + 4 * 16 * 16 * 32 + 3 * 4 * 16 * 16));
  auto noBias = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                            "  return x |> multi_head_attention(heads: 2, dim: 6, bias: false)\n}\n");
  REQUIRE(noBias->ok);
  CHECK(noBias->c.program->networks[0]->params.size() == 2);
  auto heads = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                           "  return x |> multi_head_attention(heads: 4, dim: 6)\n}\n");
  CHECK(hasCode(*heads, "E0212"));
  auto dim = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 8] {\n"
                         "  return x |> multi_head_attention(heads: 2, dim: 8)\n}\n");
  CHECK(hasCode(*dim, "E0208"));
  auto rank = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 6]) -> f32[N, 6] {\n"
                          "  return x |> multi_head_attention(heads: 2, dim: 6)\n}\n");
  CHECK(hasCode(*rank, "E0207"));
  auto longer = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 9, 6]) -> f32[N, 9, 6] {\n"
                            "  return x |> positional_embedding(8)\n}\n");
  CHECK(hasCode(*longer, "E0207"));
  auto drop = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                          "  return x |> multi_head_attention(heads: 2, dim: 6, dropout: 1.0)\n}\n");
  CHECK(hasCode(*drop, "E0212"));
}

TEST_CASE("layer_norm over the last axes: torch.nn.LayerNorm's normalized_shape, never the batch axis") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 3, 4, 5]) -> f32[N, 3, 4, 5] {\n"
                       "  return x |> layer_norm(axes: 2)\n}\n");
  REQUIRE(a->ok);
  CHECK(a->c.program->networks[0]->params[0].shape.str() == "[4, 5]");
  auto batch = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 3, 4]) -> f32[N, 3, 4] {\n"
                           "  return x |> layer_norm(axes: 3)\n}\n");
  CHECK(hasCode(*batch, "E0212"));
}

TEST_CASE("mul, sub, div broadcast as NumPy; a shape that does not broadcast is E0205") {
  auto ok = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5, 5]) -> f32[N, 4, 5, 5] {\n"
                        "  g = x |> mean(axes: [2, 3], keepdims: true)\n  h = x * g\n  d = h - x / g\n  return d\n}\n");
  REQUIRE(ok->ok);
  const Network& n = *ok->c.program->networks[0];
  CHECK(n.values[n.nodes[0].output].type.shape.str() == "[N, 4, 1, 1]");
  CHECK(n.nodes[1].op->name == "mul");
  CHECK(n.nodes[2].op->name == "div");
  CHECK(n.nodes[3].op->name == "sub");
  // [N, 4, 5] * [N, 5]: aligned at the last axis, 4 meets N.
  auto bad = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5]) -> f32[N, 4, 5] {\n"
                         "  g = x |> mean(axes: [1])\n  return x * g\n}\n");
  CHECK(hasCode(*bad, "E0205"));
  // A trailing size-1 axis broadcasts either way: [N, 4, 1] * [N, 1, 5] is [N, 4, 5].
  auto both = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5]) -> f32[N, 4, 5] {\n"
                          "  a = x |> max(axes: [2], keepdims: true)\n  b = x |> sum(axes: [-2], keepdims: true)\n"
                          "  return a * b\n}\n");
  CHECK(both->ok);
}

TEST_CASE("reductions, glu, prelu and the pooling ops: shapes, arguments and parameters") {
  auto red = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5, 6]) -> f32[N, 5] {\n  return x |> sum(axes: [1, 3])\n}\n");
  REQUIRE(red->ok);
  CHECK(red->c.program->networks[0]->nodes[0].attr("axes") != nullptr);
  auto batch = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4]) -> f32[N] {\n  return x |> mean(axes: [0])\n}\n");
  CHECK(hasCode(*batch, "E0212"));
  auto twice = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5]) -> f32[N, 4] {\n  return x |> mean(axes: [2, -1])\n}\n");
  CHECK(hasCode(*twice, "E0212"));
  auto glu = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 6, 3]) -> f32[N, 3, 3] {\n  return x |> glu(axis: 1)\n}\n");
  CHECK(glu->ok);
  auto odd = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 5]) -> f32[N, 2] {\n  return x |> glu\n}\n");
  CHECK(hasCode(*odd, "E0207"));
  auto pr = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5, 5]) -> f32[N, 4, 5, 5] {\n"
                        "  return x |> prelu(per_channel: true) |> prelu\n}\n");
  REQUIRE(pr->ok);
  const Network& n = *pr->c.program->networks[0];
  REQUIRE(n.params.size() == 2);
  CHECK(n.params[0].shape.str() == "[4]");
  CHECK(n.params[1].shape.str() == "[1]");
  CHECK(n.params[0].init == InitKind::Constant);
  CHECK(n.params[0].initA == 0.25);
  auto pools = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 7, 7]) -> f32[N, 4] {\n"
                           "  h = x |> adaptive_avgpool([3, 2])\n  return h |> global_maxpool\n}\n");
  REQUIRE(pools->ok);
  CHECK(pools->c.program->networks[0]->values[pools->c.program->networks[0]->nodes[0].output].type.shape.str() ==
        "[N, 4, 3, 2]");
  auto small = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 2, 2]) -> f32[N, 4, 3, 3] {\n  return x |> adaptive_avgpool(3)\n}\n");
  CHECK(hasCode(*small, "E0207"));
  // 1-D pooling: the window rule on [N, C, 1, L]; the stride defaults to the kernel.
  auto p1 = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 11]) -> f32[N, 4, 2] {\n"
                        "  h = x |> maxpool1d(3, stride: 2, pad: 1, dilation: 2)\n  return h |> avgpool1d(2)\n}\n");
  REQUIRE(p1->ok);
  const Network& q = *p1->c.program->networks[0];
  CHECK(q.values[q.nodes[0].output].type.shape.str() == "[N, 4, 5]");
  CHECK(q.nodes[1].intAttr("stride_w") == 2);
  auto p2 = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 1] {\n  return x |> maxpool1d(5)\n}\n");
  CHECK(!p2->ok);
  // group_norm: groups divide the channels; weight and bias [C]. instance_norm has none unless `affine`.
  auto gn = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 6, 5, 5]) -> f32[N, 6, 5, 5] {\n"
                        "  return x |> group_norm(3) |> instance_norm |> instance_norm(affine: true)\n}\n");
  REQUIRE(gn->ok);
  CHECK(gn->c.program->networks[0]->params.size() == 4);
  auto gbad = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 6, 5, 5]) -> f32[N, 6, 5, 5] {\n  return x |> group_norm(4)\n}\n");
  CHECK(hasCode(*gbad, "E0212"));
}

TEST_CASE("conv1d: shapes, parameters and FLOPs as torch.nn.Conv1d") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 20]) -> f32[N, 6, 10] {\n"
                       "  return x |> conv1d(6, 3, stride: 2, pad: same, groups: 2)\n}\n");
  REQUIRE(a->ok);
  NetworkSummary s = summarize(*a->c.program, *a->c.program->networks[0]);
  CHECK(s.params == 6 * 2 * 3 + 6);  // weight [6, 4/2, 3], bias [6]
  REQUIRE(s.rows.size() == 1);
  CHECK(s.rows[0].flops == std::optional<int64_t>(6 * 10 * 2 * 3 * 2));
  CHECK(s.macFlops == s.rows[0].flops);
  const Network& n = *a->c.program->networks[0];
  CHECK(n.params[0].shape.str() == "[6, 2, 3]");
  // The user's arguments stay as written; the window rule adds the runtime's pad_left/pad_right.
  CHECK(n.nodes[0].intAttr("stride") == 2);
  CHECK(n.nodes[0].intAttr("pad_left") == 0);
  CHECK(n.nodes[0].intAttr("pad_right") == 1);
  auto big = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5]) -> f32[N, 6, 1] {\n  return x |> conv1d(6, 7)\n}\n");
  CHECK(hasCode(*big, "E0203"));
  auto rank = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5, 5]) -> f32[N, 6, 3] {\n  return x |> conv1d(6, 3)\n}\n");
  CHECK(!rank->ok);
  auto pad4 = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 5]) -> f32[N, 6, 5] {\n  return x |> conv1d(6, 3, pad: [1, 1, 1, 1])\n}\n");
  CHECK(hasCode(*pad4, "E0212"));
}

namespace {
// The help texts of the first diagnostic with code `id`, joined.
std::string helpOf(const Analyzed& a, std::string_view id) {
  std::string out;
  for (auto& d : a.diags)
    if (codeInfo(d.code).id == id) {
      for (auto& h : d.helps) out += h + "\n";
      break;
    }
  return out;
}
const std::string kData = R"(dlspec 1
dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[SAMPLE]
  label y: LABEL
}
pipeline p from d.train {
  batch(8)
}
)";
std::string spec(const std::string& sample, const std::string& label, const std::string& net, const std::string& loss) {
  std::string s = kData;
  s.replace(s.find("SAMPLE"), 6, sample);
  s.replace(s.find("LABEL"), 5, label);
  return s + net + "train t {\n  model = Net on cpu\n  data = p\n  loss = " + loss +
         "\n  optimizer = sgd(lr: 0.01)\n  epochs = 1\n}\n";
}
}  // namespace

TEST_CASE("E0403 on logits of too high a rank says the rank, not the unit count") {
  // [N, 2, 24, 24] against one class of 2 per sample: the classes are on axis 1.
  auto a = analyzeText(spec("1, 28, 28", "class<2>",
                            "network Net(x: f32[N, 1, 28, 28]) -> logits[N, 2, 24, 24] {\n  return x |> conv2d(2, kernel: 5)\n}\n",
                            "cross_entropy(model.out, y)"));
  REQUIRE(hasCode(*a, "E0403"));
  CHECK(helpOf(*a, "E0403").find("pool away the others") != std::string::npos);
  CHECK(helpOf(*a, "E0403").find("dense(2)") == std::string::npos);
  // [N, 3, 24, 24] against class<2>: flatten, then dense(2).
  auto b = analyzeText(spec("1, 28, 28", "class<2>",
                            "network Net(x: f32[N, 1, 28, 28]) -> logits[N, 3, 24, 24] {\n  return x |> conv2d(3, kernel: 5)\n}\n",
                            "cross_entropy(model.out, y)"));
  REQUIRE(hasCode(*b, "E0403"));
  CHECK(helpOf(*b, "E0403").find("flatten |> dense(2)") != std::string::npos);
  // A [N, 5] output against class<2>: the unit count is the fix.
  auto c = analyzeText(spec("4", "class<2>", "network Net(x: f32[N, 4]) -> logits[N, 5] {\n  return x |> dense(5)\n}\n",
                            "cross_entropy(model.out, y)"));
  REQUIRE(hasCode(*c, "E0403"));
  CHECK(helpOf(*c, "E0403").find("`dense(2)`") != std::string::npos);
}

TEST_CASE("E0405 after a recurrent layer that returns every step suggests output: last") {
  auto a = analyzeText(spec("20, 3", "f32[1]",
                            "network Net(x: f32[N, 20, 3]) -> f32[N, 20, 1] {\n  return x |> lstm(16) |> dense(1)\n}\n",
                            "mse(model.out, y)"));
  REQUIRE(hasCode(*a, "E0405"));
  CHECK(helpOf(*a, "E0405").find("lstm(…, output: last)") != std::string::npos);
  auto b = analyzeText(spec("20, 3", "f32[1]",
                            "network Net(x: f32[N, 20, 3]) -> f32[N, 1] {\n  return x |> lstm(16, output: last) |> dense(1)\n}\n",
                            "mse(model.out, y)"));
  CHECK_FALSE(hasCode(*b, "E0405"));
}

TEST_CASE("E0203 on images laid out channels-last says the layout") {
  auto a = analyzeText(spec("32, 32, 1", "class<10>",
                            "network Net(x: f32[N, 32, 32, 1]) -> logits[N, 10] {\n"
                            "  return x |> conv2d(16, kernel: 3) |> flatten |> dense(10)\n}\n",
                            "cross_entropy(model.out, y)"));
  REQUIRE(hasCode(*a, "E0203"));
  CHECK(helpOf(*a, "E0203").find("looks channels-last") != std::string::npos);
  CHECK(helpOf(*a, "E0203").find("[1, 32, 32]") != std::string::npos);
  auto b = analyzeText(spec("32, 32, 3", "class<10>",
                            "network Net(x: f32[N, 32, 32, 3]) -> logits[N, 10] {\n"
                            "  return x |> conv2d(16, kernel: 5) |> flatten |> dense(10)\n}\n",
                            "cross_entropy(model.out, y)"));
  REQUIRE(hasCode(*b, "E0203"));
  CHECK(helpOf(*b, "E0203").find("transpose the samples to [3, 32, 32]") != std::string::npos);
}

TEST_CASE("recurrent layers: layers and bidirectional as torch.nn (shapes, parameter names and counts, FLOPs)") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 7, 4]) -> f32[N, 6] {\n"
                       "  return x |> lstm(3, layers: 2, bidirectional: true, output: last)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  CHECK(n.values[n.nodes[0].output].type.shape.str() == "[N, 6]");
  // torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True): 16 tensors, layer 1 reads 2 * 3 features.
  REQUIRE(n.params.size() == 16);
  CHECK(n.params[0].name == "lstm_1.weight_ih_l0");
  CHECK(n.params[4].name == "lstm_1.weight_ih_l0_reverse");
  CHECK(n.params[8].name == "lstm_1.weight_ih_l1");
  CHECK(n.params[8].shape.str() == "[12, 6]");
  CHECK(n.params[15].name == "lstm_1.bias_hh_l1_reverse");
  NetworkSummary s = summarize(*a->c.program, n);
  CHECK(s.params == 2 * (12 * 4 + 12 * 3 + 24) + 2 * (12 * 6 + 12 * 3 + 24));
  // Per layer and direction 2 T G U (features + U + 1).
  CHECK(s.rows[0].flops == std::optional<int64_t>(2 * 7 * 12 * (4 + 3 + 1) * 2 + 2 * 7 * 12 * (6 + 3 + 1) * 2));
  // One layer in one direction keeps the short names.
  auto one = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 7, 4]) -> f32[N, 7, 3] {\n  return x |> gru(3)\n}\n");
  REQUIRE(one->ok);
  CHECK(one->c.program->networks[0]->params[0].name == "gru_1.weight_ih");
  // A head sized for one direction: E0208 (specs/faults/types/bidirectional_features.dls).
  auto head = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 7, 4]) -> f32[N, 2] {\n"
                          "  return x |> rnn(3, bidirectional: true, output: last) |> dense(2, in: 3)\n}\n");
  CHECK(hasCode(*head, "E0208"));
}

TEST_CASE("padded sequences: embedding(mask_token) masks the steps for the recurrent layers after it") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 7]) -> f32[N, 7, 5] {\n"
                       "  h = x |> embedding(vocab: 9, dim: 4, mask_token: 0) |> dense(4) |> relu |> gru(3)\n"
                       "  return h |> dense(5)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  // embedding, dense, relu, gru, dense: the gru reads the tokens as its second input, with the mask token.
  REQUIRE(n.nodes.size() == 5);
  REQUIRE(n.nodes[3].inputs.size() == 2);
  CHECK(n.nodes[3].inputs[1] == n.nodes[0].inputs[0]);
  CHECK(n.nodes[3].intAttr("mask_token") == 0);
  CHECK(n.values[n.output].type.maskValue == n.nodes[0].inputs[0]);
  // output: last ends the mask; an op that mixes the steps after it is E0216.
  auto last = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 7]) -> f32[N, 3] {\n"
                          "  return x |> embedding(vocab: 9, dim: 4, mask_token: 2) |> lstm(3, output: last)\n}\n");
  REQUIRE(last->ok);
  CHECK(last->c.program->networks[0]->values[last->c.program->networks[0]->output].type.maskValue == -1);
  CHECK(last->c.program->networks[0]->nodes[1].intAttr("mask_token") == 2);
  auto mean = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 7]) -> f32[N, 4] {\n"
                          "  return x |> embedding(vocab: 9, dim: 4, mask_token: 0) |> mean(axes: [1])\n}\n");
  CHECK(hasCode(*mean, "E0216"));
  auto attn = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 7]) -> f32[N, 7, 4] {\n"
                          "  return x |> embedding(vocab: 9, dim: 4, mask_token: 0) |> multi_head_attention(1, 4)\n}\n");
  CHECK(hasCode(*attn, "E0216"));
  // Without mask_token nothing is masked.
  auto plain = analyzeText("dlspec 1\nnetwork Net(x: i32[N, 7]) -> f32[N, 4] {\n"
                           "  return x |> embedding(vocab: 9, dim: 4) |> mean(axes: [1])\n}\n");
  CHECK(plain->ok);
}

TEST_CASE("the losses' input and target kinds: huber, smooth_l1, poisson, kl_div, focal, hinge") {
  const std::string real = "network Net(x: f32[N, 4]) -> f32[N, 3] {\n  return x |> dense(3)\n}\n";
  const std::string logits = "network Net(x: f32[N, 4]) -> logits[N, 3] {\n  return x |> dense(3)\n}\n";
  const std::string sigmoid = "network Net(x: f32[N, 4]) -> sigmoid_probs[N, 3] {\n  return x |> dense(3) |> sigmoid\n}\n";
  const std::string logp = "network Net(x: f32[N, 4]) -> log_probs[N, 3] {\n  return x |> dense(3) |> log_softmax\n}\n";
  const std::string probs = "network Net(x: f32[N, 4]) -> probs[N, 3] {\n  return x |> dense(3) |> softmax\n}\n";
  const std::string one = "network Net(x: f32[N, 4]) -> logits[N, 1] {\n  return x |> dense(1)\n}\n";
  struct Case {
    std::string label, net, loss, code;  // code: "" when clean
  };
  const std::vector<Case> cases = {
      {"f32[3]", real, "huber(model.out, y, delta: 0.5)", ""},
      {"f32[3]", real, "smooth_l1(model.out, y, beta: 0)", ""},
      {"f32[3]", real, "poisson(model.out, y)", ""},
      {"f32[3]", logp, "kl_div(model.out, y)", ""},
      {"onehot<3>", logp, "kl_div(model.out, y)", ""},
      {"multilabel<3>", logits, "focal(model.out, y, gamma: 1, alpha: -1)", ""},
      {"class<2>", one, "focal(model.out, y)", ""},
      {"multilabel<3>", logits, "hinge(model.out, y)", ""},
      {"class<2>", one, "hinge(model.out, y)", ""},
      {"class<3>", logits, "huber(model.out, y)", "E0402"},
      {"f32[3]", real, "huber(model.out, y, delta: 0)", "E0212"},
      {"f32[2]", real, "huber(model.out, y)", "E0405"},
      {"f32[3]", probs, "kl_div(model.out, y)", "E0401"},
      {"f32[3]", logits, "kl_div(model.out, y)", "E0401"},
      {"multilabel<3>", sigmoid, "focal(model.out, y)", "E0401"},
      {"multilabel<3>", sigmoid, "hinge(model.out, y)", "E0401"},
      {"class<3>", logits, "hinge(model.out, y)", "E0402"},
      {"class<3>", logits, "focal(model.out, y)", "E0402"},
      {"multilabel<3>", logits, "focal(model.out, y, alpha: 2)", "E0212"},
      {"class<3>", logits, "cross_entropy(model.out, y, weight: [1, 2, 0.5])", ""},
      {"class<3>", logp, "nll(model.out, y, weight: [1, 2])", "E0420"},
      {"class<3>", logits, "cross_entropy(model.out, y, weight: [1, -2, 0.5])", "E0212"},
      {"class<3>", logits, "cross_entropy(model.out, y, weight: [0, 0, 0])", "E0212"},
  };
  for (const Case& c : cases) {
    INFO(c.label << " " << c.loss);
    auto a = analyzeText(spec("4", c.label, c.net, c.loss));
    if (c.code.empty()) {
      for (auto& d : a->diags) {
        INFO(codeInfo(d.code).id << ": " << d.message);
        CHECK(d.severity != Severity::Error);
      }
    } else {
      CHECK(hasCode(*a, c.code));
    }
  }
}

TEST_CASE("metrics fit the targets: classification metrics on class labels, regression metrics on real targets") {
  const std::string logits = "network Net(x: f32[N, 4]) -> logits[N, 3] {\n  return x |> dense(3)\n}\n";
  const std::string real = "network Net(x: f32[N, 4]) -> f32[N, 3] {\n  return x |> dense(3)\n}\n";
  auto with = [](const std::string& loss, const std::string& metrics) {
    return loss + "\n  validate = p every 1 epoch metrics [" + metrics + "]";
  };
  struct Case {
    std::string label, net, loss, metrics, code;
  };
  const std::vector<Case> cases = {
      {"class<3>", logits, "cross_entropy(model.out, y)", "loss, accuracy, top_k(2), precision, recall(average: micro), f1(average: macro), confusion", ""},
      {"f32[3]", real, "mse(model.out, y)", "loss, mae, rmse, r2", ""},
      {"class<3>", logits, "cross_entropy(model.out, y)", "mae", "E0421"},
      {"class<3>", logits, "cross_entropy(model.out, y)", "r2", "E0421"},
      {"f32[3]", real, "mse(model.out, y)", "f1", "E0421"},
      {"f32[3]", real, "mse(model.out, y)", "confusion", "E0421"},
      {"class<3>", logits, "cross_entropy(model.out, y)", "top_k(3)", "E0422"},
      {"class<3>", logits, "cross_entropy(model.out, y)", "f1(average: weighted)", "E0211"},
      {"class<3>", logits, "cross_entropy(model.out, y)", "top_k(0)", "E0212"},
  };
  for (const Case& c : cases) {
    INFO(c.label << " " << c.metrics);
    auto a = analyzeText(spec("4", c.label, c.net, with(c.loss, c.metrics)));
    if (c.code.empty()) {
      for (auto& d : a->diags) {
        INFO(codeInfo(d.code).id << ": " << d.message);
        CHECK(d.severity != Severity::Error);
      }
    } else {
      CHECK(hasCode(*a, c.code));
    }
  }
}

TEST_CASE("conv_transpose2d: shapes, parameters and FLOPs as torch.nn.ConvTranspose2d; output_pad below the stride") {
  // H = 7: (7 - 1) * 2 - 2 * 1 + 1 * (3 - 1) + 1 + 1 = 14; groups 2: weight [4, 6/2, 3, 3]
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 7, 5]) -> f32[N, 6, 14, 10] {\n"
                       "  return x |> conv_transpose2d(6, 3, stride: 2, pad: 1, output_pad: 1, groups: 2)\n}\n");
  REQUIRE(a->ok);
  NetworkSummary s = summarize(*a->c.program, *a->c.program->networks[0]);
  CHECK(s.params == 4 * 3 * 3 * 3 + 6);
  REQUIRE(s.rows.size() == 1);
  CHECK(s.rows[0].flops == std::optional<int64_t>(4 * 7 * 5 * 3 * 3 * 3 * 2));  // every input element times 3*3*3 MACs
  const Network& n = *a->c.program->networks[0];
  CHECK(n.params[0].shape.str() == "[4, 3, 3, 3]");
  CHECK(n.nodes[0].intAttr("output_pad_h") == 1);
  CHECK(n.nodes[0].intAttr("pad_w") == 1);
  // [h, w] arguments and dilation: OH = (3 - 1) * 1 + 2 * (2 - 1) + 1 = 5, OW = (4 - 1) * 3 - 0 + 1 * (3 - 1) + 2 + 1 = 14
  auto b = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 2, 3, 4]) -> f32[N, 5, 5, 14] {\n"
                       "  return x |> conv_transpose2d(5, [2, 3], stride: [1, 3], output_pad: [0, 2], dilation: [2, 1])\n}\n");
  CHECK(b->ok);
  auto op = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 7, 7]) -> f32[N, 6, 16, 16] {\n"
                        "  return x |> conv_transpose2d(6, 3, stride: 2, output_pad: 2)\n}\n");
  CHECK(hasCode(*op, "E0217"));
  auto dil = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 7, 7]) -> f32[N, 6, 12, 12] {\n"
                         "  return x |> conv_transpose2d(6, 3, output_pad: 1, dilation: 2)\n}\n");
  CHECK(hasCode(*dil, "E0217"));  // torch accepts output_pad below the dilation; not supported yet
  auto g = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 3, 7, 7]) -> f32[N, 6, 9, 9] {\n"
                       "  return x |> conv_transpose2d(6, 3, groups: 2)\n}\n");
  CHECK(hasCode(*g, "E0212"));
  auto gone = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 3, 1, 1]) -> f32[N, 6, 1, 1] {\n"
                          "  return x |> conv_transpose2d(6, 1, pad: 1)\n}\n");
  CHECK(hasCode(*gone, "E0212"));
}

TEST_CASE("slice, pad and repeat: Python's slicing, torch's pad and Tensor.repeat; the batch axis is E0218") {
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 7, 5]) -> f32[N, 2, 10, 6] {\n"
                       "  return x |> slice(1, -3, -1) |> slice(-1, 0, step: 2) |> pad([1, 2, 2, 1], mode: reflect)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  CHECK(n.nodes[0].intAttr("start") == 1);
  CHECK(n.nodes[0].intAttr("end") == 3);
  CHECK(n.nodes[1].intAttr("axis") == 3);
  CHECK(n.nodes[1].intAttr("end") == 5);
  CHECK(n.nodes[2].intAttr("pad_top") == 2);
  auto r = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 8, 9] {\n  return x |> repeat([1, 2, 3])\n}\n");
  CHECK(r->ok);
  auto clamp = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 3, 3] {\n  return x |> slice(1, 1, 100)\n}\n");
  CHECK(clamp->ok);
  for (const char* bad : {"slice(0, 0, 2)", "pad([1, 1, 1, 1, 1, 1])", "repeat([2, 1, 1])"}) {
    auto b = analyzeText(std::string("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 3] {\n  return x |> ") + bad +
                         "\n}\n");
    INFO(bad);
    CHECK(hasCode(*b, "E0218"));
  }
  auto empty = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 3] {\n  return x |> slice(1, 3, 1)\n}\n");
  CHECK(hasCode(*empty, "E0219"));
  auto refl = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 9] {\n  return x |> pad([3, 3], mode: reflect)\n}\n");
  CHECK(hasCode(*refl, "E0220"));
  auto odd = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 4] {\n  return x |> pad([1])\n}\n");
  CHECK(hasCode(*odd, "E0212"));
  auto counts = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 4, 3]) -> f32[N, 4, 6] {\n  return x |> repeat([1, 2])\n}\n");
  CHECK(hasCode(*counts, "E0212"));
}

namespace {
// Applies a finding's help to a spec as a user would, edit by edit: `remove (the final) `X``, `replace the final
// `A` with `B``, `declare the output `T``, `use `LOSS(model.out, …)``, `declare one label per sample (`label
// NAME: T`)`, `take the last step: `OP(…, output: last)``, `|> flatten |> dense(K)`. Only the first alternative
// of the help (before ", or" / "; or") is applied.
std::string applyHelp(std::string s, std::string help) {
  for (const char* alt : {", or ", "; or "})
    if (auto k = help.find(alt); k != std::string::npos) help = help.substr(0, k);
  std::smatch m;
  auto lineWith = [&](const std::string& needle) -> std::pair<size_t, size_t> {
    size_t at = s.find(needle);
    if (at == std::string::npos) return {std::string::npos, 0};
    size_t b = s.rfind('\n', at) + 1, e = s.find('\n', at);
    return {b, e - b};
  };
  if (std::regex_search(help, m, std::regex("replace the final `([^`]+)` with `([^`]+)`"))) {
    size_t at = s.rfind(m[1].str());
    if (at != std::string::npos) s.replace(at, m[1].length(), m[2].str());
  } else if (std::regex_search(help, m, std::regex("remove (?:the final )?`([^`]+)`"))) {
    size_t at = s.rfind(" " + m[1].str());
    if (at != std::string::npos) s.erase(at, m[1].length() + 1);
  }
  if (std::regex_search(help, m, std::regex("declare the output `([^`]+)`"))) {
    auto [b, n] = lineWith("network Net(");
    std::string line = s.substr(b, n);
    size_t arrow = line.find("-> "), brace = line.rfind(" {");
    line.replace(arrow + 3, brace - arrow - 3, m[1].str());
    s.replace(b, n, line);
  }
  if (std::regex_search(help, m, std::regex("use `([a-z_]+\\(model\\.out, [a-z]+\\))`"))) {
    auto [b, n] = lineWith("  loss = ");
    s.replace(b, n, "  loss = " + m[1].str());
  }
  if (std::regex_search(help, m, std::regex("declare one label per sample \\(`label ([a-z]+): ([^`]+)`\\)"))) {
    auto [b, n] = lineWith("  label " + m[1].str() + ":");
    s.replace(b, n, "  label " + m[1].str() + ": " + m[2].str());
  }
  if (std::regex_search(help, m, std::regex("`([a-z]+)\\(…, output: last\\)`"))) {
    size_t at = s.find(m[1].str() + "(");
    size_t close = s.find(')', at);
    s.insert(close, ", output: last");
  }
  if (std::regex_search(help, m, std::regex("`\\|> flatten \\|> (dense\\([0-9]+\\))`"))) {
    size_t at = s.find(m[1].str());
    s.insert(at, "flatten |> ");
  }
  return s;
}

size_t lineOfPrimary(const Analyzed& a, std::string_view id) {
  for (auto& d : a.diags)
    if (codeInfo(d.code).id == id) return a.c.sources.lineCol(d.span).line;
  return 0;
}
}  // namespace

TEST_CASE("a loss or output finding is on the line at fault, and its help applied verbatim makes it go away") {
  struct Case {
    std::string sample, label, net, loss, code;
    std::string faultLine;  // a piece of the line the primary span must be on
  };
  const std::vector<Case> cases = {
      // A softmax into cross_entropy: the softmax is the fault.
      {"4", "class<3>", "network Net(x: f32[N, 4]) -> probs[N, 3] {\n  return x |> dense(3) |> softmax\n}\n",
       "cross_entropy(model.out, y)", "E0412", "|> softmax"},
      // A softmax into nll: the softmax (log_softmax is meant).
      {"4", "class<3>", "network Net(x: f32[N, 4]) -> probs[N, 3] {\n  return x |> dense(3) |> softmax\n}\n",
       "nll(model.out, y)", "E0401", "|> softmax"},
      // A sigmoid into cross_entropy over one class of 3, and into bce_with_logits: the sigmoid.
      {"4", "class<3>", "network Net(x: f32[N, 4]) -> sigmoid_probs[N, 3] {\n  return x |> dense(3) |> sigmoid\n}\n",
       "cross_entropy(model.out, y)", "E0401", "|> sigmoid"},
      {"4", "multilabel<3>", "network Net(x: f32[N, 4]) -> sigmoid_probs[N, 3] {\n  return x |> dense(3) |> sigmoid\n}\n",
       "bce_with_logits(model.out, y)", "E0401", "|> sigmoid"},
      // A softmax over one unit into bce on class<2>: the softmax (a sigmoid is meant).
      {"4", "class<2>", "network Net(x: f32[N, 4]) -> probs[N, 1] {\n  return x |> dense(1) |> softmax\n}\n",
       "bce(model.out, y)", "E0401", "|> softmax"},
      // mse on a classifier against class labels: the loss is the fault.
      {"4", "class<3>", "network Net(x: f32[N, 4]) -> probs[N, 3] {\n  return x |> dense(3) |> softmax\n}\n",
       "mse(model.out, y)", "E0401", "loss ="},
      // bce on a softmax over one-hot rows: the loss suits neither, so it is the fault.
      {"4", "onehot<3>", "network Net(x: f32[N, 4]) -> probs[N, 3] {\n  return x |> dense(3) |> softmax\n}\n",
       "bce(model.out, y)", "E0401", "loss ="},
      // bce on one-hot rows: one class per sample is a softmax classifier.
      {"4", "onehot<3>", "network Net(x: f32[N, 4]) -> sigmoid_probs[N, 3] {\n  return x |> dense(3) |> sigmoid\n}\n",
       "bce(model.out, y)", "E0402", "loss ="},
      // Per-step labels against a per-sample classifier: the label's declaration.
      {"4", "onehot<3>[5]", "network Net(x: f32[N, 4]) -> logits[N, 3] {\n  return x |> dense(3)\n}\n",
       "cross_entropy(model.out, y)", "E0405", "label y:"},
      // An LSTM that returns every step before a per-sample head: the LSTM.
      {"5, 4", "class<3>", "network Net(x: f32[N, 5, 4]) -> logits[N, 3] {\n  h = x |> lstm(8)\n  return h |> dense(3)\n}\n",
       "cross_entropy(model.out, y)", "E0202", "lstm(8)"},
      // A dense on unflattened samples: the first dense.
      {"5, 4", "class<3>", "network Net(x: f32[N, 5, 4]) -> logits[N, 3] {\n  h = x |> dense(8) |> relu\n  return h |> dense(3)\n}\n",
       "cross_entropy(model.out, y)", "E0202", "dense(8)"},
  };
  for (const Case& c : cases) {
    const std::string text = spec(c.sample, c.label, c.net, c.loss);
    INFO(c.code << "\n" << text);
    auto a = analyzeText(text);
    REQUIRE(hasCode(*a, c.code));
    size_t want = 0, line = 1;
    for (size_t k = 0, at = text.find(c.faultLine); k < at; ++k) line += text[k] == '\n';
    want = line;
    CHECK(lineOfPrimary(*a, c.code) == want);
    const std::string help = helpOf(*a, c.code);
    const std::string fixed = applyHelp(text, help);
    INFO("help: " << help << "\nfixed:\n" << fixed);
    CHECK(fixed != text);
    auto b = analyzeText(fixed);
    for (auto& d : b->diags) {
      INFO(codeInfo(d.code).id << ": " << d.message);
      CHECK(d.severity != Severity::Error);
    }
  }
}

TEST_CASE("cross_attention: queries and memory of different lengths, torch.nn's parameters, FLOPs and E0221") {
  // Both spellings: the queries and the memory as the call's two inputs, or the queries piped in.
  for (const char* call : {"cross_attention(q, m, heads: 4, dim: 32)", "q |> cross_attention(m, heads: 4, dim: 32)"}) {
    auto a = analyzeText(std::string("dlspec 1\nnetwork Net(x: f32[N, 16, 32]) -> f32[N, 16, 32] {\n"
                                     "  m = x |> slice(1, 0, 10) |> dense(32)\n  q = x |> layer_norm\n  return ") +
                         call + "\n}\n");
    REQUIRE(a->ok);
    const Network& n = *a->c.program->networks[0];
    REQUIRE(n.params.size() == 8);
    CHECK(n.params[4].name == "cross_attention_1.in_proj_weight");
    CHECK(n.params[4].shape.str() == "[96, 32]");
    CHECK(n.params[5].name == "cross_attention_1.out_proj.weight");
    CHECK(n.params[6].name == "cross_attention_1.in_proj_bias");
    CHECK(n.params[7].name == "cross_attention_1.out_proj.bias");
    const Node& att = n.nodes.back();
    REQUIRE(att.inputs.size() == 2);
    CHECK(n.values[size_t(att.output)].type.shape.str() == "[N, 16, 32]");
    NetworkSummary s = summarize(*a->c.program, n);
    CHECK(s.params == 32 * 32 + 32 + 2 * 32 + 4 * 32 * 32 + 4 * 32);
    // q and output projections 2 T D 2D, k|v projection 2 S D 2D, scores and weighted sums 4 T S D, softmax 3 H T S
    CHECK(s.rows.back().flops ==
          std::optional<int64_t>(2 * 16 * 32 * 64 + 2 * 10 * 32 * 64 + 4 * 16 * 10 * 32 + 3 * 4 * 16 * 10));
  }
  auto noBias = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                            "  return cross_attention(x, x, heads: 2, dim: 6, bias: false, causal: true)\n}\n");
  REQUIRE(noBias->ok);
  CHECK(noBias->c.program->networks[0]->params.size() == 2);
  // The memory's width differs from the queries' (torch's kdim/vdim): accepted, with torch's separate projections.
  auto width = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                           "  m = x |> dense(4)\n  return cross_attention(x, m, heads: 2, dim: 6)\n}\n");
  CHECK(!hasCode(*width, "E0221"));
  auto memRank = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                             "  m = x |> flatten |> dense(6)\n  return cross_attention(x, m, heads: 2, dim: 6)\n}\n");
  CHECK(hasCode(*memRank, "E0221"));
  auto heads = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                           "  return cross_attention(x, x, heads: 4, dim: 6)\n}\n");
  CHECK(hasCode(*heads, "E0212"));
  auto dim = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 8] {\n"
                         "  return cross_attention(x, x, heads: 2, dim: 8)\n}\n");
  CHECK(hasCode(*dim, "E0208"));
  auto one = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6]) -> f32[N, 8, 6] {\n"
                         "  return x |> cross_attention(heads: 2, dim: 6)\n}\n");
  CHECK(hasCode(*one, "E0108"));
}

TEST_CASE("cross_attention over a memory of another width: torch's q_proj_weight, k_proj_weight, v_proj_weight") {
  // torch.nn.MultiheadAttention(32, 4, kdim=12, vdim=12): q_proj_weight [32, 32], k_proj_weight and v_proj_weight
  // [32, 12], out_proj.weight [32, 32], in_proj_bias [96], out_proj.bias [32].
  auto a = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 16, 32]) -> f32[N, 16, 32] {\n"
                       "  m = x |> slice(1, 0, 10) |> dense(12)\n  return cross_attention(x, m, heads: 4, dim: 32)\n}\n");
  REQUIRE(a->ok);
  const Network& n = *a->c.program->networks[0];
  REQUIRE(n.params.size() == 8);
  CHECK(n.params[2].name == "cross_attention_1.q_proj_weight");
  CHECK(n.params[2].shape.str() == "[32, 32]");
  CHECK(n.params[3].name == "cross_attention_1.k_proj_weight");
  CHECK(n.params[3].shape.str() == "[32, 12]");
  CHECK(n.params[4].name == "cross_attention_1.v_proj_weight");
  CHECK(n.params[4].shape.str() == "[32, 12]");
  CHECK(n.params[5].name == "cross_attention_1.out_proj.weight");
  CHECK(n.params[6].name == "cross_attention_1.in_proj_bias");
  CHECK(n.params[6].shape.str() == "[96]");
  CHECK(n.params[7].name == "cross_attention_1.out_proj.bias");
  // xavier_uniform over each projection's own fans, as torch's _reset_parameters
  CHECK(n.params[3].init == InitKind::Uniform);
  CHECK(std::abs(n.params[3].initB - std::sqrt(6.0 / (32 + 12))) < 1e-12);
  NetworkSummary s = summarize(*a->c.program, n);
  CHECK(s.params == 32 * 12 + 12 + 32 * 32 + 2 * 32 * 12 + 32 * 32 + 3 * 32 + 32);
  // q and output projections 2 T D 2D, k and v projections 2 S K 2D, scores and weighted sums 4 T S D, softmax 3 H T S
  CHECK(s.rows.back().flops ==
        std::optional<int64_t>(2 * 16 * 32 * 64 + 2 * 10 * 12 * 64 + 4 * 16 * 10 * 32 + 3 * 4 * 16 * 10));
  auto noBias = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6], m: f32[N, 3, 5]) -> f32[N, 8, 6] {\n"
                            "  return cross_attention(x, m, heads: 2, dim: 6, bias: false)\n}\n");
  REQUIRE(noBias->ok);
  CHECK(noBias->c.program->networks[0]->params.size() == 4);
  // What stays invalid: a memory without a time axis is E0221, whatever its width.
  auto flat = analyzeText("dlspec 1\nnetwork Net(x: f32[N, 8, 6], m: f32[N, 5]) -> f32[N, 8, 6] {\n"
                          "  return cross_attention(x, m, heads: 2, dim: 6)\n}\n");
  CHECK(hasCode(*flat, "E0221"));
}

TEST_CASE("cosine_embedding: two outputs of one shape [N, D] against one real target of 1 or -1 per sample") {
  const std::string two = "network Net(x: f32[N, 4]) -> (a: real[N, 3], b: real[N, 3]) {\n"
                          "  return (a: x |> dense(3), b: x |> dense(3))\n}\n";
  const std::string wide = "network Net(x: f32[N, 4]) -> (a: real[N, 3], b: real[N, 5]) {\n"
                           "  return (a: x |> dense(3), b: x |> dense(5))\n}\n";
  const std::string seq = "network Net(x: f32[N, 4]) -> (a: real[N, 4, 3], b: real[N, 4, 3]) {\n"
                          "  return (a: x |> reshape([4, 1]) |> dense(3), b: x |> reshape([4, 1]) |> dense(3))\n}\n";
  const std::string one = "network Net(x: f32[N, 4]) -> f32[N, 3] {\n  return x |> dense(3)\n}\n";
  struct Case {
    std::string label, net, loss, code;  // code: "" when clean
  };
  const std::vector<Case> cases = {
      {"f32[1]", two, "cosine_embedding(model.a, model.b, y)", ""},
      {"f32", two, "cosine_embedding(model.a, model.b, y, margin: -0.5)", ""},
      {"real", two, "cosine_embedding(model.a, model.b, y)", ""},
      {"f32[1]", two, "0.5 * cosine_embedding(model.a, model.b, y, margin: 0.5)", ""},
      {"f32[1]", two, "cosine_embedding(model.a, model.a, y)", "E0144"},
      {"f32[1]", one, "cosine_embedding(model.out, model.out, y)", "E0144"},
      {"f32[1]", two, "cosine_embedding(x, model.b, y)", "E0144"},
      {"f32[1]", two, "cosine_embedding(model.a, model.c, y)", "E0135"},
      {"f32[1]", two, "cosine_embedding(model.a, model.b)", "E0108"},
      {"f32[1]", wide, "cosine_embedding(model.a, model.b, y)", "E0145"},
      {"f32[1]", seq, "cosine_embedding(model.a, model.b, y)", "E0145"},
      {"class<2>", two, "cosine_embedding(model.a, model.b, y)", "E0146"},
      {"f32[3]", two, "cosine_embedding(model.a, model.b, y)", "E0146"},
      {"f32[1]", two, "cosine_embedding(model.a, model.b, z)", "E0101"},
      {"f32[1]", two, "cosine_embedding(model.a, model.b, y, margin: 1.5)", "E0212"},
  };
  for (const Case& c : cases) {
    INFO(c.label << " " << c.loss);
    auto a = analyzeText(spec("4", c.label, c.net, c.loss));
    if (c.code.empty()) {
      for (auto& d : a->diags) {
        INFO(codeInfo(d.code).id << ": " << d.message);
        CHECK(d.severity != Severity::Error);
      }
    } else {
      CHECK(hasCode(*a, c.code));
    }
  }
  // Its metrics: the loss and the pairs' accuracy; a regression or classification metric is E0421.
  auto withMetrics = [&](const std::string& m) {
    std::string s = spec("4", "f32[1]", two, "cosine_embedding(model.a, model.b, y)");
    s.replace(s.find("\n  epochs = 1"), 0, "\n  validate = p every 1 epoch metrics [" + m + "]");
    return analyzeText(s);
  };
  CHECK_FALSE(hasCode(*withMetrics("loss, accuracy"), "E0421"));
  CHECK(hasCode(*withMetrics("loss, mae"), "E0421"));
  CHECK(hasCode(*withMetrics("f1"), "E0421"));
}

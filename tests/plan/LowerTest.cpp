// Step plans of the example specs: every id is declared before use, the plan matches the typed network,
// and the arena plan is valid.
#include <catch2/catch.hpp>
#include <dlspec/runtime.h>

#include <map>

#include "Compilation.h"
#include "plan/Lower.h"
#include "sema/Program.h"

using namespace dls;

namespace {

struct Lowered {
  Compilation c;
  std::optional<plan::LowerResult> r;
};

std::unique_ptr<Lowered> lower(const std::string& spec) {
  auto l = std::make_unique<Lowered>();
  REQUIRE(l->c.load(std::string(DLSPEC_SOURCE_DIR) + "/" + spec));
  REQUIRE(l->c.parse());
  REQUIRE(l->c.analyze());
  l->r = plan::lowerProgram(*l->c.program, "", l->c.sources, l->c.diags);
  REQUIRE(l->r);
  return l;
}

int32_t i32(const plan::Arg& a) { return std::get<int32_t>(a); }
int64_t i64(const plan::Arg& a) { return std::get<int64_t>(a); }

}  // namespace

TEST_CASE("step plans of the example specs are well formed", "[lower]") {
  for (auto [spec, params] : std::vector<std::pair<std::string, int64_t>>{
           {"specs/mlp.dls", 535818}, {"specs/lenet.dls", 431080}, {"specs/vgg.dls", 1188170}}) {
    INFO(spec);
    auto l = lower(spec);
    const plan::StepPlan& p = l->r->plan;
    int32_t tensors = 0, ops = 0, gradOps = 0;
    int64_t trainable = 0;
    std::map<int32_t, int64_t> elems;
    bool arenaSeen = false;
    for (const plan::Call& c : p.setup) {
      if (c.callee == "dls_rt_arena") {
        arenaSeen = true;
        REQUIRE(i64(c.args[1]) == l->r->memory.peak);
      } else if (c.callee == "dls_rt_tensor") {
        REQUIRE(arenaSeen);  // the arena comes first
        int64_t n = 1;
        for (int k = 3; k < 7; ++k) n *= i64(c.args[k]);
        elems[tensors] = n;
        int64_t off = i64(c.args[7]);
        REQUIRE((off == -1 || (off >= 0 && off + n * 4 <= l->r->memory.peak)));
        ++tensors;
      } else if (c.callee == "dls_rt_param") {
        int32_t value = i32(c.args[1]), grad = i32(c.args[2]);
        REQUIRE(value < tensors);
        REQUIRE(grad < tensors);
        if (i32(c.args[9]) == 1) trainable += elems[value];
      } else if (c.callee == "dls_rt_op") {
        for (int32_t t : std::get<plan::I32Array>(c.args[2]).values) REQUIRE(t < tensors);
        ++ops;
      } else if (c.callee == "dls_rt_grad_op") {
        REQUIRE(i32(c.args[1]) < ops);
        REQUIRE(i32(c.args[2]) < tensors);
        ++gradOps;
      }
    }
    REQUIRE(trainable == params);
    // Train step: forwards in order, the loss, backwards in reverse, one update at the end.
    int fwd = 0, bwd = 0;
    int32_t lastFwd = -1, lastBwd = -1;
    for (const plan::Call& c : p.train) {
      if (c.callee == "dls_rt_fwd") {
        REQUIRE(i32(c.args[1]) > lastFwd);
        lastFwd = i32(c.args[1]);
        ++fwd;
      } else if (c.callee == "dls_rt_bwd") {
        if (bwd > 0) REQUIRE(i32(c.args[1]) > lastBwd);
        lastBwd = i32(c.args[1]);
        ++bwd;
      }
    }
    REQUIRE(fwd == ops);
    REQUIRE(bwd == gradOps);
    REQUIRE(p.train.back().callee == "dls_rt_update");
    // Reuse pays: the arena is smaller than the sum of its buffers.
    REQUIRE(l->r->memory.peak < l->r->memory.withoutReuse);
  }
}

TEST_CASE("the first layer computes no input gradient", "[lower]") {
  auto l = lower("specs/lenet.dls");
  for (const plan::Call& c : l->r->plan.setup)
    if (c.callee == "dls_rt_grad_op" && i32(c.args[1]) == 0) {
      REQUIRE(std::get<plan::I32Array>(c.args[3]).values == std::vector<int32_t>{-1});
      return;
    }
  FAIL("no gradient op for the first conv");
}

TEST_CASE("lowering for a cuda device override reports recurrent settings without a CUDA kernel (E0304)", "[lower]") {
  const sema::Device cuda0{sema::Device::Kind::Cuda, 0};
  {  // gru(reset_after: false) and rnn(activation: leaky_relu), placed on cpu in the spec
    Compilation c;
    REQUIRE(c.load(std::string(DLSPEC_SOURCE_DIR) + "/tests/plan/specs/gru_reset_before.dls"));
    REQUIRE(c.parse());
    REQUIRE(c.analyze());
    REQUIRE(plan::lowerProgram(*c.program, "", c.sources, c.diags));  // on its own placement (cpu): fine
  }
  Compilation c;
  REQUIRE(c.load(std::string(DLSPEC_SOURCE_DIR) + "/tests/plan/specs/gru_reset_before.dls"));
  REQUIRE(c.parse());
  REQUIRE(c.analyze());
  CHECK_FALSE(plan::lowerProgram(*c.program, "", c.sources, c.diags, cuda0));
  std::vector<std::string> messages;
  for (const Diagnostic& d : c.diags.finish())
    if (d.code == Code::E0304) messages.push_back(d.message);
  CHECK(messages == std::vector<std::string>{"`gru(reset_after: false)` has no CUDA kernel",
                                             "`rnn(activation: leaky_relu)` has no CUDA kernel"});
  // torch.nn's cells (lstm without biases, gru, relu rnn) lower for cuda:0.
  Compilation s;
  REQUIRE(s.load(std::string(DLSPEC_SOURCE_DIR) + "/tests/plan/specs/sequence.dls"));
  REQUIRE(s.parse());
  REQUIRE(s.analyze());
  CHECK(plan::lowerProgram(*s.program, "", s.sources, s.diags, cuda0));
  CHECK_FALSE(s.diags.hasErrors());
}

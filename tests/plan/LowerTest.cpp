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

namespace {
// Lowers spec text (data files need not exist); the setup calls named `callee`, or nullopt with the errors.
struct TextLowering {
  Compilation c;
  std::optional<plan::LowerResult> r;
  explicit TextLowering(std::string text) {
    c.loadText("inline.dls", std::move(text));
    REQUIRE(c.parse());
    REQUIRE(c.analyze());
    r = plan::lowerProgram(*c.program, "", c.sources, c.diags);
  }
  std::vector<const plan::Call*> calls(const std::string& callee) const {
    std::vector<const plan::Call*> out;
    for (const plan::Call& k : r->plan.setup)
      if (k.callee == callee) out.push_back(&k);
    return out;
  }
  std::vector<const plan::Call*> pipes(int32_t op) const {
    std::vector<const plan::Call*> out;
    for (const plan::Call* k : calls("dls_rt_pipe"))
      if (i32(k->args[2]) == op) out.push_back(k);
    return out;
  }
};
double f64(const plan::Arg& a) { return std::get<double>(a); }

std::string settingsSpec(const std::string& label, const std::string& steps, const std::string& train) {
  return R"(dlspec 1
dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[1, 4, 6]
  label  y: )" + label + R"(
}
pipeline input from d.train {
)" + steps + R"(
  batch(4)
}
network Net(x: f32[N, 1, 4, 6]) -> logits[N, 3] {
  return x |> flatten |> dense(3)
}
train run {
  model     = Net on cpu
  data      = input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1, weight_decay: 0.01)
)" + train + R"(
  epochs    = 2
}
)";
}
}  // namespace

TEST_CASE("lowering honours the pipeline's and the train block's settings", "[lower]") {
  SECTION("multistep with five milestones: two chained schedules, three milestones and two") {
    TextLowering t(settingsSpec("class<3>", "", "  schedule  = multistep(milestones: [1, 2, 3, 5, 8], gamma: 0.5)"));
    REQUIRE(t.r);
    auto s = t.calls("dls_rt_schedule");
    REQUIRE(s.size() == 2);
    CHECK((f64(s[0]->args[2]) == 1 && f64(s[0]->args[3]) == 2 && f64(s[0]->args[4]) == 3 && f64(s[0]->args[5]) == 0.5));
    CHECK((f64(s[1]->args[2]) == 5 && f64(s[1]->args[3]) == 8 && f64(s[1]->args[4]) < 0 && f64(s[1]->args[5]) == 0.5));
  }
  SECTION("exponential(gamma): the runtime's exponential schedule with that gamma") {
    TextLowering t(settingsSpec("class<3>", "", "  schedule  = exponential(0.9)"));
    REQUIRE(t.r);
    auto s = t.calls("dls_rt_schedule");
    REQUIRE(s.size() == 1);
    CHECK((i32(s[0]->args[1]) == DLS_SCHED_EXPONENTIAL && f64(s[0]->args[2]) == 0.9));
  }
  SECTION("early stopping: its rule, the monitored metric's code, patience and min_delta") {
    TextLowering t(settingsSpec("class<3>", "  split(valid: 0.2)",
                                "  validate  = input.valid\n  stop      = early(monitor: val_accuracy, patience: 4, min_delta: 0.01)"));
    REQUIRE(t.r);
    auto s = t.calls("dls_rt_stop");
    REQUIRE(s.size() == 1);
    CHECK((i32(s[0]->args[1]) == DLS_STOP_EARLY && i32(s[0]->args[2]) == DLS_METRIC_ACCURACY));
    CHECK((std::get<int64_t>(s[0]->args[3]) == 4 && f64(s[0]->args[4]) == 0.01));
  }
  SECTION("gradient clipping: its op table code and threshold, once; none without `clip`") {
    TextLowering n(settingsSpec("class<3>", "", "  clip      = norm(0.25)"));
    REQUIRE(n.r);
    auto c = n.calls("dls_rt_clip");
    REQUIRE(c.size() == 1);
    CHECK((i32(c[0]->args[1]) == DLS_CLIP_NORM && f64(c[0]->args[2]) == 0.25));
    TextLowering v(settingsSpec("class<3>", "", "  clip      = value(clip_value: 2)"));
    REQUIRE(v.r);
    c = v.calls("dls_rt_clip");
    REQUIRE(c.size() == 1);
    CHECK((i32(c[0]->args[1]) == DLS_CLIP_VALUE && f64(c[0]->args[2]) == 2));
    TextLowering none(settingsSpec("class<3>", "", ""));
    REQUIRE(none.r);
    CHECK(none.calls("dls_rt_clip").empty());
  }
  SECTION("weight decay applies to every parameter, biases included, as torch.optim") {
    TextLowering t(settingsSpec("class<3>", "", ""));
    REQUIRE(t.r);
    auto ps = t.calls("dls_rt_param");
    REQUIRE(ps.size() == 2);  // dense.weight, dense.bias
    for (const plan::Call* p : ps) CHECK(i32(p->args[10]) == 1);
  }
  SECTION("repeat(count), random_flip's axis, random_crop([h, w])") {
    TextLowering t(settingsSpec("class<3>",
                                "  repeat(3)\n  augment random_flip(p: 0.3, axis: vertical)\n  augment random_crop([4, 6], pad: 1)",
                                ""));
    REQUIRE(t.r);
    auto rep = t.pipes(DLS_PIPE_REPEAT);
    REQUIRE(rep.size() == 1);
    CHECK(f64(rep[0]->args[3]) == 3);
    auto flip = t.pipes(DLS_PIPE_RANDOM_FLIP);
    REQUIRE(flip.size() == 1);
    CHECK((f64(flip[0]->args[3]) == 0.3 && f64(flip[0]->args[4]) == 1));
    auto crop = t.pipes(DLS_PIPE_RANDOM_CROP);
    REQUIRE(crop.size() == 1);
    CHECK((f64(crop[0]->args[3]) == 4 && f64(crop[0]->args[4]) == 1 && f64(crop[0]->args[5]) == 6));
  }
  SECTION("random_crop to a smaller window than the sample: its height and width") {
    std::string text = settingsSpec("class<3>", "  augment random_crop([3, 5], pad: 1)", "");
    text.replace(text.find("x: f32[N, 1, 4, 6]"), 18, "x: f32[N, 1, 3, 5]");  // the network takes the window
    TextLowering t(text);
    REQUIRE(t.r);
    auto crop = t.pipes(DLS_PIPE_RANDOM_CROP);
    REQUIRE(crop.size() == 1);
    CHECK((f64(crop[0]->args[3]) == 3 && f64(crop[0]->args[4]) == 1 && f64(crop[0]->args[5]) == 5));
  }
  SECTION("validation on a split of another name fills the valid slot; eval still reads the test split") {
    std::string text = settingsSpec("class<3>", "", "  validate  = held");
    text.replace(text.find("}\npipeline input"), 2,
                 "  holdout = npy(\"hx.npy\", \"hy.npy\")\n  test = npy(\"tx.npy\", \"ty.npy\")\n}\n");
    text.replace(text.find("network Net"), 0, "pipeline held from d.holdout {\n  batch(4)\n}\n");
    TextLowering t(text);
    REQUIRE(t.r);
    std::map<int32_t, std::string> files;  // runtime split -> its sample file
    for (const plan::Call* d : t.calls("dls_rt_dataset")) files[i32(d->args[1])] = std::get<std::string>(d->args[3]);
    REQUIRE(files.count(DLS_SPLIT_VALID));
    REQUIRE(files.count(DLS_SPLIT_TEST));
    CHECK(files[DLS_SPLIT_VALID].ends_with("hx.npy"));
    CHECK(files[DLS_SPLIT_TEST].ends_with("tx.npy"));
  }
  SECTION("onehot<C> targets of cross_entropy: f32 rows read as their classes, one i32 label per sample") {
    TextLowering t(settingsSpec("onehot<3>", "", ""));
    REQUIRE(t.r);
    auto ds = t.calls("dls_rt_dataset");
    REQUIRE(!ds.empty());
    CHECK(i64(ds[0]->args[11]) == 0);  // no class range: the rows are checked as one-hot (R0218)
    auto oh = t.pipes(DLS_PIPE_ONEHOT | DLS_PIPE_LABELS);
    REQUIRE(!oh.empty());
    CHECK(f64(oh[0]->args[3]) == 3);
  }
}

TEST_CASE("lowering of adagrad, lamb, amsgrad, onecycle and plateau", "[lower]") {
  auto withOptimizer = [](const std::string& opt, const std::string& train) {
    std::string text = settingsSpec("class<3>", "  split(valid: 0.2)", train);
    text.replace(text.find("sgd(lr: 0.1, weight_decay: 0.01)"), 32, opt);
    return text;
  };
  SECTION("adam(amsgrad: true): the optimizer's flag; sgd's nesterov stays the flag of sgd") {
    TextLowering t(withOptimizer("adam(lr: 0.01, amsgrad: true)", ""));
    REQUIRE(t.r);
    auto o = t.calls("dls_rt_optimizer");
    REQUIRE(o.size() == 1);
    CHECK((i32(o[0]->args[1]) == DLS_OPT_ADAM && i32(o[0]->args[8]) == 1));
    TextLowering n(withOptimizer("adamw(lr: 0.01)", ""));
    REQUIRE(n.r);
    CHECK(i32(n.calls("dls_rt_optimizer")[0]->args[8]) == 0);
  }
  SECTION("adagrad: initial_accumulator_value as momentum, lr_decay as a time-based decay") {
    TextLowering t(withOptimizer("adagrad(lr: 0.05, lr_decay: 0.1, initial_accumulator_value: 0.2, eps: 1e-9)", ""));
    REQUIRE(t.r);
    auto o = t.calls("dls_rt_optimizer");
    REQUIRE(o.size() == 1);
    CHECK((i32(o[0]->args[1]) == DLS_OPT_ADAGRAD && f64(o[0]->args[2]) == 0.05 && f64(o[0]->args[3]) == 0.2 &&
           f64(o[0]->args[6]) == 1e-9));
    auto s = t.calls("dls_rt_schedule");
    REQUIRE(s.size() == 1);
    CHECK((i32(s[0]->args[1]) == DLS_SCHED_TIME_DECAY && f64(s[0]->args[2]) == 0.1));
  }
  SECTION("lamb: its defaults, eps 1e-6 and weight_decay 0.01") {
    TextLowering t(withOptimizer("lamb()", ""));
    REQUIRE(t.r);
    auto o = t.calls("dls_rt_optimizer");
    REQUIRE(o.size() == 1);
    CHECK((i32(o[0]->args[1]) == DLS_OPT_LAMB && f64(o[0]->args[2]) == 0.001 && f64(o[0]->args[6]) == 1e-6 &&
           f64(o[0]->args[7]) == 0.01));
  }
  SECTION("onecycle: max_lr, pct_start, div_factor, final_div_factor") {
    TextLowering t(withOptimizer("sgd(lr: 0.1, momentum: 0.9)", "  schedule  = onecycle(max_lr: 0.4, pct_start: 0.2)"));
    REQUIRE(t.r);
    auto s = t.calls("dls_rt_schedule");
    REQUIRE(s.size() == 1);
    CHECK((i32(s[0]->args[1]) == DLS_SCHED_ONECYCLE && f64(s[0]->args[2]) == 0.4 && f64(s[0]->args[3]) == 0.2 &&
           f64(s[0]->args[4]) == 25 && f64(s[0]->args[5]) == 1e4));
  }
  SECTION("plateau: the monitored metric's code and every setting, after the optimizer") {
    TextLowering t(withOptimizer("sgd(lr: 0.1)", "  validate  = input.valid\n  schedule  = plateau(0.5, 2, monitor: val_accuracy, "
                                                 "min_delta: 0.01, cooldown: 1, min_lr: 0.001)"));
    REQUIRE(t.r);
    auto p = t.calls("dls_rt_plateau");
    REQUIRE(p.size() == 1);
    CHECK((i32(p[0]->args[1]) == DLS_METRIC_ACCURACY && f64(p[0]->args[2]) == 0.5 && std::get<int64_t>(p[0]->args[3]) == 2 &&
           f64(p[0]->args[4]) == 0.01 && std::get<int64_t>(p[0]->args[5]) == 1 && f64(p[0]->args[6]) == 0.001));
    CHECK(t.calls("dls_rt_schedule").empty());
  }
  SECTION("plateau without validate is E0113; onecycle or plateau with another schedule or a decay is E0130") {
    auto codes = [&](const std::string& opt, const std::string& train) {
      Compilation c;
      c.loadText("inline.dls", withOptimizer(opt, train));
      std::vector<Code> out;
      if (c.parse()) c.analyze();
      for (const Diagnostic& d : c.diags.finish())
        if (d.severity == Severity::Error) out.push_back(d.code);
      return out;
    };
    CHECK(codes("sgd(lr: 0.1)", "  schedule  = plateau(0.5, 2)") == std::vector<Code>{Code::E0113});
    CHECK(codes("sgd(lr: 0.1)", "  schedule  = [warmup(steps: 10), onecycle(max_lr: 0.5)]") == std::vector<Code>{Code::E0130});
    CHECK(codes("sgd(lr: 0.1, decay: 0.01)", "  schedule  = onecycle(max_lr: 0.5)") == std::vector<Code>{Code::E0130});
    CHECK(codes("adagrad(lr_decay: 0.01)", "  validate  = input.valid\n  schedule  = plateau(0.5, 2)") ==
          std::vector<Code>{Code::E0130});
    CHECK(codes("sgd(lr: 0.1)", "  schedule  = [onecycle(max_lr: 0.5), constant]").empty());
  }
}

TEST_CASE("lowering: accumulate = K steps and keep N best by a validation metric", "[lower]") {
  SECTION("accumulate = 4 steps: dls_rt_accumulate(4); none without it") {
    TextLowering t(settingsSpec("class<3>", "", "  accumulate = 4 steps"));
    REQUIRE(t.r);
    auto a = t.calls("dls_rt_accumulate");
    REQUIRE(a.size() == 1);
    CHECK(std::get<int64_t>(a[0]->args[1]) == 4);
    TextLowering none(settingsSpec("class<3>", "", ""));
    REQUIRE(none.r);
    CHECK(none.calls("dls_rt_accumulate").empty());
  }
  SECTION("keep 3 best by val_loss (lower is better) and by val_f1 (higher is better)") {
    TextLowering l(settingsSpec("class<3>", "  split(valid: 0.2)",
                                "  validate  = input.valid\n  checkpoint = \"ck\" every 1 epoch keep 3 best by val_loss"));
    REQUIRE(l.r);
    auto b = l.calls("dls_rt_checkpoint_best");
    REQUIRE(b.size() == 1);
    CHECK((i32(b[0]->args[1]) == DLS_METRIC_LOSS && i32(b[0]->args[2]) == 0));
    TextLowering f(settingsSpec("class<3>", "  split(valid: 0.2)",
                                "  validate  = input.valid metrics [loss, f1]\n  checkpoint = \"ck\" every 1 epoch keep 3 best by val_f1"));
    REQUIRE(f.r);
    b = f.calls("dls_rt_checkpoint_best");
    REQUIRE(b.size() == 1);
    CHECK((i32(b[0]->args[1]) == DLS_METRIC_F1 && i32(b[0]->args[2]) == 1));
  }
}

TEST_CASE("lowering of the augmentations, and what sema refuses about them", "[lower]") {
  SECTION("each step's parameters, ranges as a DLS_PIPE_PARAMS step right after the step") {
    TextLowering t(settingsSpec("class<3>",
                                "  augment random_rotation(15, fill: 0.5)\n"
                                "  augment random_affine(10, translate: [0.1, 0.2], scale: [0.8, 1.2], shear: 5)\n"
                                "  augment color_jitter(brightness: 0.3, contrast: 0.2)\n"
                                "  augment gaussian_noise(0.05)\n"
                                "  augment random_erasing(0.4, scale: [0.1, 0.2], ratio: [0.5, 2], value: 0.25)",
                                ""));
    REQUIRE(t.r);
    auto rot = t.pipes(DLS_PIPE_RANDOM_ROTATION);
    REQUIRE(rot.size() == 1);
    CHECK((f64(rot[0]->args[3]) == 15 && f64(rot[0]->args[4]) == 0.5));
    auto aff = t.pipes(DLS_PIPE_RANDOM_AFFINE);
    REQUIRE(aff.size() == 1);
    CHECK((f64(aff[0]->args[3]) == 10 && f64(aff[0]->args[4]) == 0.1 && f64(aff[0]->args[5]) == 0.2 &&
           f64(aff[0]->args[6]) == 5));
    auto jit = t.pipes(DLS_PIPE_COLOR_JITTER);
    REQUIRE(jit.size() == 1);
    CHECK((f64(jit[0]->args[3]) == 0.3 && f64(jit[0]->args[4]) == 0.2 && f64(jit[0]->args[5]) == 0 &&
           f64(jit[0]->args[6]) == 0));
    auto noise = t.pipes(DLS_PIPE_GAUSSIAN_NOISE);
    REQUIRE(noise.size() == 1);
    CHECK(f64(noise[0]->args[3]) == 0.05);
    auto er = t.pipes(DLS_PIPE_RANDOM_ERASING);
    REQUIRE(er.size() == 1);
    CHECK((f64(er[0]->args[3]) == 0.4 && f64(er[0]->args[4]) == 0.1 && f64(er[0]->args[5]) == 0.2 &&
           f64(er[0]->args[6]) == 0.25));
    // The ranges follow their step: affine's scale, erasing's ratio.
    std::vector<std::pair<int32_t, std::pair<double, double>>> seq;
    for (const plan::Call* k : t.calls("dls_rt_pipe")) seq.push_back({i32(k->args[2]), {f64(k->args[3]), f64(k->args[4])}});
    for (size_t i = 0; i < seq.size(); ++i) {
      if (seq[i].first == DLS_PIPE_RANDOM_AFFINE) {
        REQUIRE(i + 1 < seq.size());
        CHECK((seq[i + 1].first == DLS_PIPE_PARAMS && seq[i + 1].second == std::pair<double, double>{0.8, 1.2}));
      }
      if (seq[i].first == DLS_PIPE_RANDOM_ERASING) {
        REQUIRE(i + 1 < seq.size());
        CHECK((seq[i + 1].first == DLS_PIPE_PARAMS && seq[i + 1].second == std::pair<double, double>{0.5, 2}));
      }
    }
  }
  SECTION("mixup and cutmix: their alpha, and a labels tensor of class probabilities f32[N, C]") {
    for (const char* step : {"mixup(0.4)", "cutmix(0.4)"}) {
      TextLowering t(settingsSpec("class<3>", std::string("  augment ") + step, ""));
      REQUIRE(t.r);
      auto m = t.pipes(std::string(step).starts_with("mixup") ? DLS_PIPE_MIXUP : DLS_PIPE_CUTMIX);
      REQUIRE(m.size() == 1);
      CHECK(f64(m[0]->args[3]) == 0.4);
      // dls_rt_io's second tensor: the labels, f32 [4, 3]
      auto io = t.calls("dls_rt_io");
      REQUIRE(io.size() == 1);
      const int32_t labels = i32(io[0]->args[2]);
      auto ts = t.calls("dls_rt_tensor");
      REQUIRE(size_t(labels) < ts.size());
      CHECK(i32(ts[size_t(labels)]->args[1]) == DLS_F32);
      CHECK((i32(ts[size_t(labels)]->args[2]) == 2 && std::get<int64_t>(ts[size_t(labels)]->args[3]) == 4 &&
             std::get<int64_t>(ts[size_t(labels)]->args[4]) == 3));
    }
  }
  SECTION("located codes for what cannot work") {
    auto codes = [](std::string text, bool warnings = false) {
      Compilation c;
      c.loadText("inline.dls", std::move(text));
      std::vector<Code> out;
      if (c.parse()) c.analyze();
      for (const Diagnostic& d : c.diags.finish())
        if (d.severity == Severity::Error || (warnings && d.code == Code::W0610)) {
          CHECK(d.span.valid());
          out.push_back(d.code);
        }
      return out;
    };
    auto spec = [](const std::string& steps, const std::string& loss = "cross_entropy(model.out, y)") {
      std::string t = settingsSpec("class<3>", steps, "");
      t.replace(t.find("cross_entropy(model.out, y)"), 27, loss);
      return t;
    };
    CHECK(codes(spec("  augment color_jitter(saturation: 0.2)")) == std::vector<Code>{Code::E0620});  // 1 channel
    CHECK(codes(spec("  augment color_jitter(hue: 0.1)")) == std::vector<Code>{Code::E0620});
    CHECK(codes(spec("  augment color_jitter(0.2, 0.2)")).empty());
    CHECK(codes(spec("  augment color_jitter(hue: 0.6)")) == std::vector<Code>{Code::E0212});
    CHECK(codes(spec("  augment random_affine(10, scale: [1.2, 0.8])")) == std::vector<Code>{Code::E0622});
    CHECK(codes(spec("  augment random_erasing(0.5, scale: [0.1, 1.5])")) == std::vector<Code>{Code::E0212});
    CHECK(codes(spec("  augment random_erasing(0.5, ratio: [3, 0.3])")) == std::vector<Code>{Code::E0622});
    CHECK(codes(spec("  augment random_erasing(1.5)")) == std::vector<Code>{Code::E0212});
    CHECK(codes(spec("  augment gaussian_noise(-0.1)")) == std::vector<Code>{Code::E0212});
    CHECK(codes(spec("  augment mixup(0)")) == std::vector<Code>{Code::E0212});
    CHECK(codes(spec("  x = x |> reshape([24])\n  augment random_rotation(10)")) == std::vector<Code>{Code::E0207});
    const std::vector<Code> nll = codes(spec("  augment mixup(0.2)", "nll(model.out, y)"));  // also: nll wants log-probabilities
    CHECK(std::find(nll.begin(), nll.end(), Code::E0621) != nll.end());
    CHECK(codes(spec("  augment cutmix(0.2)", "cross_entropy(model.out, y, weight: [1, 2, 1])")) ==
          std::vector<Code>{Code::E0621});
    CHECK(codes(spec("  augment mixup(0.2)", "cross_entropy(model.out, y, ignore_index: 0)")) ==
          std::vector<Code>{Code::E0621});
    CHECK(codes(spec("  augment mixup(0.2)", "cross_entropy(model.out, y, label_smoothing: 0.1)")).empty());
    std::string cuda = spec("  augment mixup(0.2)");
    cuda.replace(cuda.find("Net on cpu"), 10, "Net on cuda:0");
    CHECK(codes(cuda) == std::vector<Code>{Code::E0304});
    CHECK(codes(spec("  x = x |> normalize(0.5, 0.25)\n  augment color_jitter(0.2)"), true) == std::vector<Code>{Code::W0610});
    CHECK(codes(spec("  augment color_jitter(0.2)\n  x = x |> normalize(0.5, 0.25)"), true).empty());
  }
}

TEST_CASE("a loss of weighted terms over several outputs lowers to one loss op per term and their weighted sum", "[lower]") {
  const std::string base = R"(dlspec 1
dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[6]
  label  y: class<3>
}
pipeline input from d.train {
  batch(4)
}
network Net(x: f32[N, 6]) -> (cls: logits[N, 3], recon: f32[N, 6]) {
  h = x |> dense(5) |> tanh
  return (cls: h |> dense(3), recon: h |> dense(6))
}
train run {
  model     = Net on cpu
  data      = input
  loss      = LOSS
  optimizer = sgd(lr: 0.1)
  epochs    = 1
}
)";
  auto with = [&](const std::string& loss) {
    std::string t = base;
    t.replace(t.find("LOSS"), 4, loss);
    return t;
  };
  SECTION("two terms: two loss ops, the step's loss their weighted sum, the weighted term's gradient scaled") {
    TextLowering t(with("1.0 * cross_entropy(model.cls, y) + 0.5 * mse(model.recon, x)"));
    REQUIRE(t.r);
    std::vector<const plan::Call*> losses, sums;
    for (const plan::Call* k : t.calls("dls_rt_op")) {
      const int32_t code = i32(k->args[1]);
      if (code == DLS_OP_CROSS_ENTROPY || code == DLS_OP_MSE) losses.push_back(k);
      if (code == DLS_OP_SCALED_ADD) sums.push_back(k);
    }
    REQUIRE(losses.size() == 2);
    // the step's loss: 1.0 * ce, then += 0.5 * mse; and the mse term's gradient times 0.5 into d(recon)
    REQUIRE(sums.size() == 3);
    auto attrs = [](const plan::Call* k) { return std::get<plan::F64Array>(k->args[4]).values; };
    CHECK(attrs(sums[0]) == std::vector<double>{1.0, 0.0});
    CHECK(attrs(sums[1]) == std::vector<double>{0.5, 1.0});
    CHECK(attrs(sums[2]) == std::vector<double>{0.5, 0.0});
    // the mse term's target is the input batch (dls_rt_io's first tensor)
    auto io = t.calls("dls_rt_io");
    REQUIRE(io.size() == 1);
    CHECK(std::get<plan::I32Array>(losses[1]->args[2]).values[1] == i32(io[0]->args[1]));
    CHECK(std::get<plan::I32Array>(losses[0]->args[2]).values[1] == i32(io[0]->args[2]));
    auto heads = t.calls("dls_rt_head");
    REQUIRE(heads.size() == 2);
    CHECK(std::get<std::string>(heads[0]->args[3]) == "cls");
    CHECK(std::get<std::string>(heads[1]->args[3]) == "recon");
    CHECK(f64(heads[1]->args[4]) == 0.5);
    CHECK(t.r->plan.train.size() > t.r->plan.eval.size());
  }
  SECTION("a network with one output keeps its one loss op") {
    TextLowering t(R"(dlspec 1
dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[6]
  label  y: class<3>
}
pipeline input from d.train {
  batch(4)
}
network Net(x: f32[N, 6]) -> logits[N, 3] {
  return x |> dense(3)
}
train run {
  model     = Net on cpu
  data      = input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
  epochs    = 1
}
)");
    REQUIRE(t.r);
    CHECK(t.calls("dls_rt_head").empty());
    for (const plan::Call* k : t.calls("dls_rt_op")) CHECK(i32(k->args[1]) != DLS_OP_SCALED_ADD);
  }
  SECTION("located codes: an unknown output, an unknown field, a subtracted term, a missing output, two inputs") {
    auto codes = [](std::string text) {
      Compilation c;
      c.loadText("inline.dls", std::move(text));
      std::vector<Code> out;
      if (c.parse()) c.analyze();
      for (const Diagnostic& d : c.diags.finish())
        if (d.severity == Severity::Error) {
          CHECK(d.span.valid());
          out.push_back(d.code);
        }
      return out;
    };
    CHECK(codes(with("cross_entropy(model.cls, y) + mse(model.recon, x)")).empty());
    CHECK(codes(with("1.0 * cross_entropy(model.cls, y) + 0.5 * mse(model.box, x)")) == std::vector<Code>{Code::E0135});
    CHECK(codes(with("1.0 * cross_entropy(model.out, y)")) == std::vector<Code>{Code::E0135});
    CHECK(codes(with("1.0 * cross_entropy(model.cls, y) + 0.5 * mse(model.recon, z)")) == std::vector<Code>{Code::E0136});
    CHECK(codes(with("1.0 * cross_entropy(model.cls, y) - 0.5 * mse(model.recon, x)")) == std::vector<Code>{Code::E0137});
    CHECK(codes(with("0 * cross_entropy(model.cls, y) + mse(model.recon, x)")) == std::vector<Code>{Code::E0137});
    CHECK(codes(with("cross_entropy(model.cls, y) + x")) == std::vector<Code>{Code::E0137});
    CHECK(codes(with("1.0 * mse(model.cls, y) + mse(model.recon, x)")) == std::vector<Code>{Code::E0402});
    CHECK(codes(with("1.0 * cross_entropy(model.recon, y) + mse(model.recon, x)")) == std::vector<Code>{Code::E0403});
    std::string missing = with("cross_entropy(model.cls, y) + mse(model.recon, x)");
    missing.replace(missing.find("(cls: h |> dense(3), recon: h |> dense(6))"), 42, "(cls: h |> dense(3))");
    CHECK(codes(missing) == std::vector<Code>{Code::E0138});
    std::string two = with("cross_entropy(model.cls, y) + mse(model.recon, x)");
    two.replace(two.find("Net(x: f32[N, 6])"), 17, "Net(x: f32[N, 6], m: f32[N, 2])");
    const std::vector<Code> c2 = codes(two);
    CHECK(std::find(c2.begin(), c2.end(), Code::E0139) != c2.end());
    // No term compares with the labels (an autoencoder): the labels' metrics have no output to score (E0421).
    auto validated = [&](const std::string& metrics) {
      std::string t = with("mse(model.recon, x)");
      t.replace(t.find("  epochs    = 1\n"), 16, "  epochs    = 1\n  validate  = input every 1 epoch metrics [" + metrics + "]\n");
      return t;
    };
    CHECK(codes(validated("accuracy")) == std::vector<Code>{Code::E0421});
    CHECK(codes(validated("loss")).empty());
  }
}

TEST_CASE("several sample fields: each file, each field's steps and each input by name; one output's metric watched",
          "[lower]") {
  const std::string data = R"(dlspec 1
dataset d {
  train = npy(img: "img.npy", meta: "meta.npy", y: "y.npy")
  sample img:  u8[8, 8]
  sample meta: f32[3]
  label  y:    class<4>
}
pipeline input from d.train {
  img  = img |> to_f32 |> scale(0.5) |> reshape([64])
  meta = meta |> scale(2)
  shuffle(buffer: all)
  batch(4)
}
)";
  // The inputs declared in another order than the fields: bound by name.
  TextLowering l(data + R"(
network Net(meta: f32[N, 3], img: f32[N, 64]) -> (cls: logits[N, 4], recon: f32[N, 64]) {
  h = concat(img |> dense(5), meta |> dense(2), axis: 1)
  return (cls: h |> dense(4), recon: h |> dense(64))
}
train run {
  model      = Net on cpu
  data       = input
  loss       = 1.0*cross_entropy(model.cls, y) + 0.5*mse(model.recon, img)
  optimizer  = sgd(lr: 0.1)
  epochs     = 3
  validate   = input every 1 epoch metrics [accuracy, loss]
  checkpoint = "runs/x" every 1 epoch keep 1 best by val_cls_acc
  stop       = early(monitor: val_recon_loss, patience: 2)
}
)");
  REQUIRE(l.r);
  // The training split's calls (validation reads the same pipeline into the valid split, with the same calls).
  auto train = [&](const std::string& callee) {
    std::vector<const plan::Call*> out;
    for (const plan::Call* k : l.calls(callee))
      if (i32(k->args[1]) == DLS_SPLIT_TRAIN) out.push_back(k);
    return out;
  };
  const auto fields = train("dls_rt_sample_field");
  REQUIRE(fields.size() == 2);  // the first field's name, then meta's file
  CHECK(l.calls("dls_rt_sample_field").size() == 4);  // and the same for the valid split
  CHECK(i32(fields[0]->args[2]) == 0);
  CHECK(std::get<std::string>(fields[0]->args[3]) == "img");
  CHECK(i32(fields[1]->args[2]) == 1);
  CHECK(std::get<std::string>(fields[1]->args[3]) == "meta");
  CHECK(std::get<std::string>(fields[1]->args[4]).ends_with("meta.npy"));
  CHECK(i32(fields[1]->args[6]) == 1);  // rank 1: [3]
  // meta's step after a switch to field 1; shuffle after the switch back to field 0.
  const auto switches = train("dls_rt_pipe_field");
  REQUIRE(switches.size() == 2);
  CHECK(i32(switches[0]->args[2]) == 1);
  CHECK(i32(switches[1]->args[2]) == 0);
  std::vector<std::string> order;
  for (const plan::Call& k : l.r->plan.setup)
    if (k.callee == "dls_rt_pipe_field" && i32(k.args[1]) == DLS_SPLIT_TRAIN) order.push_back("field" + std::to_string(i32(k.args[2])));
    else if (k.callee == "dls_rt_pipe" && i32(k.args[1]) == DLS_SPLIT_TRAIN) order.push_back(std::to_string(i32(k.args[2])));
  CHECK(order == std::vector<std::string>{std::to_string(DLS_PIPE_TO_F32), std::to_string(DLS_PIPE_SCALE),
                                          std::to_string(DLS_PIPE_RESHAPE), "field1", std::to_string(DLS_PIPE_SCALE), "field0",
                                          std::to_string(DLS_PIPE_SHUFFLE)});
  // io's input is `img` (field 0), the second input `meta` takes field 1.
  const auto io = l.calls("dls_rt_io");
  const auto inputs = l.calls("dls_rt_input");
  REQUIRE(io.size() == 1);
  REQUIRE(inputs.size() == 1);
  CHECK(i32(inputs[0]->args[1]) == 1);
  CHECK(i32(inputs[0]->args[2]) != i32(io[0]->args[1]));
  // keep best by val_cls_acc and early stopping on val_recon_loss watch those outputs' metrics.
  const auto watch = l.calls("dls_rt_watch_output");
  REQUIRE(watch.size() == 2);
  CHECK(i32(watch[0]->args[1]) == 1);
  CHECK(std::get<std::string>(watch[0]->args[2]) == "cls");
  CHECK(i32(watch[0]->args[3]) == DLS_METRIC_ACCURACY);
  CHECK(i32(watch[1]->args[1]) == 2);
  CHECK(std::get<std::string>(watch[1]->args[2]) == "recon");
  CHECK(i32(watch[1]->args[3]) == DLS_METRIC_LOSS);
  const auto best = l.calls("dls_rt_checkpoint_best");
  REQUIRE(best.size() == 1);
  CHECK(i32(best[0]->args[1]) == DLS_METRIC_ACCURACY);
  CHECK(i32(best[0]->args[2]) == 1);

  auto codes = [](std::string text) {
    Compilation c;
    c.loadText("inline.dls", std::move(text));
    std::vector<Code> out;
    if (c.parse()) c.analyze();
    for (const Diagnostic& d : c.diags.finish())
      if (d.severity == Severity::Error) {
        CHECK(d.span.valid());
        out.push_back(d.code);
      }
    return out;
  };
  const std::string net = R"(
network Net(img: f32[N, 64], meta: f32[N, 3]) -> logits[N, 4] {
  return concat(img |> dense(5), meta |> dense(2), axis: 1) |> dense(4)
}
train run {
  model     = Net on cpu
  data      = input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
}
)";
  CHECK(codes(data + net).empty());
  std::string misnamed = data + net;
  misnamed.replace(misnamed.find("meta: f32[N, 3]"), 4, "info");
  misnamed.replace(misnamed.find("meta |> dense(2)"), 4, "info");
  CHECK(codes(misnamed) == std::vector<Code>{Code::E0140});
  std::string shaped = data + net;
  shaped.replace(shaped.find("meta: f32[N, 3]"), 15, "meta: f32[N, 5]");
  CHECK(codes(shaped) == std::vector<Code>{Code::E0141});
  std::string nofile = data + net;
  nofile.replace(nofile.find("meta: \"meta.npy\", "), 18, "");
  CHECK(codes(nofile) == std::vector<Code>{Code::E0142});
  std::string augmented = data + net;
  augmented.replace(augmented.find("  shuffle(buffer: all)"), 0, "  augment random_flip(0.5)\n");
  // No sample field of image shape (both rank 1 here): which field it augments is not said.
  CHECK(codes(augmented) == std::vector<Code>{Code::E0636});
}

TEST_CASE("several sample fields from one CSV file: column groups lower to dls_rt_csv_field; mistakes are located", "[lower]") {
  auto spec = [](const std::string& split, const std::string& meta = "f32[3]", const std::string& extra = "") {
    return R"(dlspec 1
dataset d {
  train = )" + split + R"(
  sample img:  f32[2, 2]
  sample meta: )" + meta + R"(
  label  kind: class<3>
}
pipeline input from d.train {
  img  = img |> reshape([4])
  meta = meta |> standardize
)" + extra + R"(  batch(4)
}
network Net(img: f32[N, 4], meta: f32[N, 3]) -> logits[N, 3] {
  return concat(img |> dense(4), meta |> dense(2), axis: 1) |> dense(3)
}
train run {
  model     = Net on cpu
  data      = input
  loss      = cross_entropy(model.out, kind)
  optimizer = sgd(lr: 0.1)
}
)";
  };
  auto codes = [](std::string text) {
    Compilation c;
    c.loadText("inline.dls", std::move(text));
    std::vector<Code> out;
    if (c.parse()) c.analyze();
    for (const Diagnostic& d : c.diags.finish())
      if (d.severity == Severity::Error) {
        CHECK(d.span.valid());
        out.push_back(d.code);
      }
    return out;
  };
  const std::string good = R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: columns(5, 8)))";
  CHECK(codes(spec(good)).empty());
  {
    Compilation c;
    c.loadText("inline.dls", spec(good));
    REQUIRE(c.parse());
    REQUIRE(c.analyze());
    const sema::DataSource* src = c.program->datasets[0]->find("train");
    REQUIRE(src);
    REQUIRE(src->columnGroups.size() == 2);
    CHECK(src->columnGroups[0].field == "img");
    CHECK(src->columnGroups[0].first == 0);
    CHECK(src->columnGroups[0].end == 4);
    CHECK(src->columnGroups[1].field == "meta");
    CHECK(src->columnGroups[1].first == 5);
    CHECK(src->columnGroups[1].end == 8);
    CHECK(src->labelByIndex);
    CHECK(src->labelIndex == 4);
  }
  // A headerless file with the label by `label:` and one column for a field of one element.
  CHECK(codes(spec(R"(csv("t.csv", header: false, label: 0, img: columns(1, 5), meta: columns(5, 8)))")).empty());
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), meta: columns(4, 7), label_file: "y.csv"))")).empty());
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), meta: column(4), kind: column(5)))", "f32[1]")) == std::vector<Code>{Code::E0141});  // Net takes meta f32[N, 3]
  // Mistakes: a field without columns, a group that is no group, an empty one, an overlap (with a field, with the
  // label), a gap, a shape of another size, a label by name or given twice, several label columns, categorical.
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: "m.csv"))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: columns(5)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: columns(8, 5)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(7), meta: columns(3, 6)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(5), meta: columns(4, 7)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: columns(6, 9)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: column(4), meta: columns(5, 9)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), meta: columns(5, 8)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", label: "kind", img: columns(0, 4), meta: columns(5, 8)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", label: 4, img: columns(0, 4), kind: column(4), meta: columns(5, 8)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", img: columns(0, 4), kind: columns(4, 6), meta: columns(6, 9)))")) == std::vector<Code>{Code::E0638});
  CHECK(codes(spec(R"(csv("t.csv", categorical: [5], img: columns(0, 4), kind: column(4), meta: columns(5, 8)))")) ==
        std::vector<Code>{Code::E0143});
  // The lowering: the further field without a file, each field's columns, the label's index (standardize would
  // read the training file's statistics: a step that reads no file here).
  std::string lowered = spec(good);
  lowered.replace(lowered.find("meta |> standardize"), 19, "meta |> scale(2)");
  TextLowering l(lowered);
  REQUIRE(l.r);
  std::vector<const plan::Call*> fields, groups;
  for (const plan::Call* k : l.calls("dls_rt_sample_field"))
    if (i32(k->args[1]) == DLS_SPLIT_TRAIN) fields.push_back(k);
  for (const plan::Call* k : l.calls("dls_rt_csv_field"))
    if (i32(k->args[1]) == DLS_SPLIT_TRAIN) groups.push_back(k);
  REQUIRE(fields.size() == 2);
  CHECK(std::get<std::string>(fields[1]->args[3]) == "meta");
  CHECK(std::get<std::string>(fields[1]->args[4]).empty());
  REQUIRE(groups.size() == 2);
  CHECK(i32(groups[0]->args[2]) == 0);
  CHECK(i64(groups[0]->args[3]) == 0);
  CHECK(i64(groups[0]->args[4]) == 4);
  CHECK(i32(groups[1]->args[2]) == 1);
  CHECK(i64(groups[1]->args[3]) == 5);
  CHECK(i64(groups[1]->args[4]) == 8);
  const auto csv = l.calls("dls_rt_csv");
  REQUIRE(!csv.empty());
  CHECK(i32(csv[0]->args[5]) == 1);  // the label by index
  CHECK(i64(csv[0]->args[6]) == 4);
}

TEST_CASE("augmentations of a data set with several sample fields: the field named or of image shape", "[lower]") {
  auto spec = [](const std::string& steps, const std::string& meta = "f32[3]", const std::string& metaSteps = "") {
    return R"(dlspec 1
dataset d {
  train = npy(img: "img.npy", meta: "meta.npy", y: "y.npy")
  sample img:  u8[8, 8]
  sample meta: )" + meta + R"(
  label  y:    class<4>
}
pipeline input from d.train {
  img  = img |> to_f32 |> scale(0.5) |> reshape([1, 8, 8])
)" + metaSteps + steps + R"(
  batch(4)
}
)";
  };
  auto codes = [](std::string text) {
    Compilation c;
    c.loadText("inline.dls", std::move(text));
    std::vector<Code> out;
    if (c.parse()) c.analyze();
    for (const Diagnostic& d : c.diags.finish())
      if (d.severity == Severity::Error) {
        CHECK(d.span.valid());
        out.push_back(d.code);
      }
    return out;
  };
  // The one field of image shape, inferred or named; mixup and cutmix mix every field.
  CHECK(codes(spec("  augment random_flip(0.5)")).empty());
  CHECK(codes(spec("  augment random_flip(0.5) on img")).empty());
  CHECK(codes(spec("  augment random_crop(8, pad: 1) on img\n  augment random_erasing(0.5)")).empty());
  CHECK(codes(spec("  augment mixup(0.2)")).empty());
  CHECK(codes(spec("  augment cutmix(1)")).empty());
  // A field that is not one, `on` with mixup, several fields of image shape, a further field.
  CHECK(codes(spec("  augment random_flip(0.5) on imgs")) == std::vector<Code>{Code::E0636});
  CHECK(codes(spec("  augment mixup(0.2) on img")) == std::vector<Code>{Code::E0636});
  CHECK(codes(spec("  augment random_flip(0.5)", "f32[1, 8, 8]")) == std::vector<Code>{Code::E0636});
  CHECK(codes(spec("  augment random_flip(0.5) on img", "f32[1, 8, 8]")).empty());
  CHECK(codes(spec("  augment random_flip(0.5) on meta", "f32[1, 8, 8]")) == std::vector<Code>{Code::E0637});
  CHECK(codes(spec("  augment gaussian_noise(0.1) on meta")) == std::vector<Code>{Code::E0637});
  // On a data set of one sample field, `on` names it.
  const std::string one = R"(dlspec 1
dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[1, 8, 8]
  label  y: class<4>
}
pipeline input from d.train {
  augment random_flip(0.5) on )";
  CHECK(codes(one + "x\n  batch(4)\n}\n").empty());
  CHECK(codes(one + "y\n  batch(4)\n}\n") == std::vector<Code>{Code::E0636});
  // The lowering: the image field's flip as the first field's step, mixup's after it.
  TextLowering l(spec("  augment random_flip(0.5) on img\n  augment mixup(0.2)", "f32[3]", "  meta = meta |> scale(2)\n") + R"(
network Net(img: f32[N, 1, 8, 8], meta: f32[N, 3]) -> logits[N, 4] {
  return concat(img |> flatten |> dense(5), meta |> dense(2), axis: 1) |> dense(4)
}
train run {
  model     = Net on cpu
  data      = input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
}
)");
  REQUIRE(l.r);
  CHECK(l.pipes(DLS_PIPE_RANDOM_FLIP).size() == 1);
  CHECK(l.pipes(DLS_PIPE_MIXUP).size() == 1);
}


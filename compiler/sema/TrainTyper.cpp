// Train configs: the model and its placement (propagated to every node), the data and its fit with the
// network's input, the loss with its typed signature, optimizer, schedules, epochs, validation,
// checkpoints, resume, seed and precision.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {
namespace {

const std::vector<std::string>& trainKeys() {
  static const std::vector<std::string> k = {"model", "data", "loss", "optimizer", "schedule", "clip", "stop", "epochs", "validate",
                                             "checkpoint", "resume", "seed", "precision", "memory", "devices", "accumulate"};
  return k;
}

// What each loss accepts: the input kinds and the target kinds.
struct LossSig {
  std::string_view name;
  std::vector<SemKind> inputs;
  std::vector<SemKind> targets;
  std::string_view inputText, targetText;
};
const LossSig* lossSig(std::string_view n) {
  static const std::vector<LossSig> sigs = {
      {"cross_entropy", {SemKind::Logits, SemKind::Real}, {SemKind::Class, SemKind::OneHot}, "logits", "class<C> or onehot<C>"},
      {"nll", {SemKind::LogProbs}, {SemKind::Class}, "log_probs (a log_softmax output)", "class<C>"},
      {"bce_with_logits", {SemKind::Logits, SemKind::Real}, {SemKind::MultiLabel}, "logits",
       "multilabel<K> (or class<2> for one logit)"},
      {"bce", {SemKind::SigmoidProbs}, {SemKind::MultiLabel}, "sigmoid_probs (a sigmoid output)",
       "multilabel<K> (or class<2> for one output)"},
      {"mse", {SemKind::Real, SemKind::Logits}, {SemKind::Real}, "real values", "real"},
      {"l1", {SemKind::Real, SemKind::Logits}, {SemKind::Real}, "real values", "real"},
      {"huber", {SemKind::Real, SemKind::Logits}, {SemKind::Real}, "real values", "real"},
      {"smooth_l1", {SemKind::Real, SemKind::Logits}, {SemKind::Real}, "real values", "real"},
      {"poisson", {SemKind::Real, SemKind::Logits}, {SemKind::Real}, "log rates (real values)", "real (counts)"},
      {"kl_div", {SemKind::LogProbs}, {SemKind::Real, SemKind::OneHot}, "log_probs (a log_softmax output)",
       "real (a probability per class) or onehot<C>"},
      {"focal", {SemKind::Logits, SemKind::Real}, {SemKind::MultiLabel}, "logits",
       "multilabel<K> (or class<2> for one logit)"},
      {"hinge", {SemKind::Logits, SemKind::Real}, {SemKind::MultiLabel}, "scores (logits)",
       "multilabel<K> (or class<2> for one score): 0/1 targets"},
  };
  for (auto& s : sigs)
    if (s.name == n) return &s;
  return nullptr;
}

bool has(const std::vector<SemKind>& v, SemKind k) {
  for (SemKind x : v)
    if (x == k) return true;
  return false;
}

}  // namespace

void Analyzer::typeTrain(const ast::Decl& d) {
  auto tc = std::make_unique<TrainConfig>();
  tc->name = d.name.name;
  tc->span = d.span;
  tc->nameSpan = d.name.span;
  tc->decl = &d;
  Network* net = nullptr;
  std::string stopMonitor;  // early(monitor: val_OUTPUT_METRIC), resolved once the loss terms are known
  Span stopMonitorSpan;
  std::string plateauMonitor;  // plateau(monitor: val_OUTPUT_METRIC), likewise; the schedule's index in tc->schedules
  Span plateauMonitorSpan;
  size_t plateauIndex = 0;
  const ast::Item* lossItem = nullptr;
  const ast::Item* halfPrecision = nullptr;
  auto intSetting = [&](const ast::Item& it, const char* what, int64_t min) -> std::optional<int64_t> {
    auto c = evalConst(*it.value, nullptr);
    if (!c) return std::nullopt;
    if (c->kind != Const::Kind::Int || c->i < min) {
      diags.report(Code::E0211, it.value->span, what, "train", fmt::format("an integer of at least {}", min), c->describe());
      return std::nullopt;
    }
    return c->i;
  };
  auto clauseCount = [&](const ast::Clause& cl, const char* what) -> int64_t {
    if (!cl.value) return 1;
    auto c = evalConst(*cl.value, nullptr);
    if (!c) return 1;
    if (c->kind != Const::Kind::Int || c->i < 1) {
      diags.report(Code::E0212, cl.value->span, what, "train", "a positive integer", c->describe());
      return 1;
    }
    return c->i;
  };
  for (const ast::Item& it : d.items) {
    if (it.kind != ast::ItemKind::Assign || !it.value) continue;
    const std::string& key = it.key.name;
    if (tc->settings.count(key)) {
      diags.report(Code::E0104, it.key.span, key).label(tc->settings[key].span, "first set here");
      continue;
    }
    Setting st{it.span, it.value->span};
    tc->settings[key] = st;
    const ast::Expr& v = *it.value;
    // A unit after the value belongs to `accumulate = K steps` only.
    if (it.unit && key != "accumulate")
      diags.report(Code::E0132, it.unit->span, key, it.unit->name)
          .primary("no unit here")
          .help(key == "epochs" ? "write `epochs = 10`" : fmt::format("remove `{}`", it.unit->name));
    if (key == "model") {
      tc->model = st;
      if (v.kind == ast::ExprKind::Name && v.path.size() == 1) {
        if (lookupDecl(v.path[0], ast::DeclKind::Network, "network"))
          if (auto f = networks.find(v.path[0].name); f != networks.end()) net = f->second;
      } else {
        diags.report(Code::E0215, v.span, "`model` names a network: `model = LeNet on cpu`");
      }
      for (const ast::Clause& cl : it.clauses) {
        if (cl.kind != ast::ClauseKind::On) continue;
        tc->placementSpan = cl.span;
        std::unordered_map<std::string, Span> seen;
        bool anyCpu = false, anyCuda = false;
        for (const ast::Device& dv : cl.devices) {
          Device dev;
          if (dv.name.name == "cpu") {
            dev.kind = Device::Kind::Cpu;
            anyCpu = true;
            if (dv.index) diags.report(Code::E0301, dv.span, fmt::format("cpu:{}", *dv.index)).help("write `cpu`");
          } else if (dv.name.name == "cuda" || dv.name.name == "gpu") {
            if (dv.name.name == "gpu")
              diags.report(Code::E0301, dv.name.span, "gpu").help("did you mean `cuda`?").fixit(dv.name.span, "cuda", Applicability::MachineApplicable);
            dev.kind = Device::Kind::Cuda;
            anyCuda = true;
            if (!dv.index) {
              diags.report(Code::W0301, dv.span).fixit(dv.span, "cuda:0", Applicability::MachineApplicable).help("write `cuda:0` to say which GPU");
            } else if (*dv.index > 1023) {
              diags.report(Code::E0301, dv.span, fmt::format("cuda:{}", *dv.index)).primary("no such GPU index");
            }
            dev.index = static_cast<int>(dv.index.value_or(0) > 1023 ? 0 : dv.index.value_or(0));
          } else {
            auto& e = diags.report(Code::E0301, dv.name.span, dv.name.name);
            if (auto near = closest(dv.name.name, {"cpu", "cuda"})) e.help(fmt::format("did you mean `{}`?", *near));
            continue;
          }
          std::string k = dev.str();
          if (seen.count(k)) {
            diags.report(Code::E0302, dv.span, k).label(seen[k], "first listed here")
                .help(fmt::format("each replica needs its own device: list `{}` once", k));
            continue;
          }
          seen[k] = dv.span;
          tc->devices.push_back(dev);
          tc->deviceSpans.push_back(dv.span);
        }
        bool listFault = seen.size() != cl.devices.size();
        if (anyCpu && anyCuda && cl.devices.size() > 1) {
          listFault = true;
          diags.report(Code::E0303, cl.span, "cpu", "cuda")
              .help("place the model on one GPU (`on cuda:0`) or on several GPUs (`on [cuda:0, cuda:1]`)");
        } else if (anyCpu && cl.devices.size() > 1) {
          listFault = true;
          diags.report(Code::E0303, cl.span, "cpu", "cpu").help("data parallelism needs several CUDA devices; use `on cpu`");
        }
        // A device list: one replica per device in this process. The runtime drives consecutive devices
        // (dls_rt_placement's first device and count).
        tc->deviceList = cl.deviceList && anyCuda && !anyCpu;
        if (!listFault && tc->devices.size() > 1) {
          for (size_t d = 1; d < tc->devices.size(); ++d)
            if (tc->devices[d].index != tc->devices[0].index + int(d)) {
              std::string names;
              for (const Device& dv : tc->devices) names += (names.empty() ? "" : ", ") + dv.str();
              diags.report(Code::E0306, tc->deviceSpans[d], tc->name, tc->devices.size(), names)
                  .primary(fmt::format("expected `cuda:{}` here", tc->devices[0].index + int(d)))
                  .help(fmt::format("list consecutive devices: `on [cuda:{}, ..., cuda:{}]`; `CUDA_VISIBLE_DEVICES` "
                                    "renumbers the machine's GPUs", tc->devices[0].index,
                                    tc->devices[0].index + int(tc->devices.size()) - 1));
              break;
            }
        }
      }
    } else if (key == "data" || key == "validate") {
      if (key == "data") tc->dataSetting = st;
      else tc->validateSetting = st;
      const Pipeline* p = nullptr;
      if (v.kind == ast::ExprKind::Name && v.path.size() == 1) {
        if (lookupDecl(v.path[0], ast::DeclKind::Pipeline, "pipeline"))
          if (auto f = pipelines.find(v.path[0].name); f != pipelines.end()) p = f->second;
      } else if (v.kind == ast::ExprKind::Name && v.path.size() == 2 && key == "validate" &&
                 pipelines.count(v.path[0].name)) {
        // pipeline.valid: the samples that pipeline's split(valid: f) holds out of its training data
        const Pipeline* src = pipelines.at(v.path[0].name);
        bool splits = false;
        for (const PipeStep& s : src->steps) splits |= s.name == "split";
        if (v.path[1].name != "valid") {
          diags.report(Code::E0101, v.path[1].span, fmt::format("part of pipeline `{}`", src->name), v.path[1].name)
              .help(fmt::format("the samples a pipeline holds out with `split(valid: …)` are `{}.valid`", src->name))
              .fixit(v.path[1].span, "valid", Applicability::MachineApplicable);
        } else if (!splits) {
          diags.report(Code::E0101, v.span, "held-out split", v.dotted())
              .primary(fmt::format("`{}` holds nothing out", src->name))
              .help(fmt::format("add `split(valid: 0.1)` to pipeline `{}`, or validate on another pipeline", src->name));
        } else {
          p = src;
          tc->validateHeldOut = true;
        }
      } else if (v.kind == ast::ExprKind::Name && v.path.size() == 2) {
        // dataset.split: the pipeline that reads it
        if (lookupDecl(v.path[0], ast::DeclKind::Dataset, "dataset")) {
          for (auto& pp : prog.pipelines)
            if (pp->dataset && pp->dataset->name == v.path[0].name && pp->split == v.path[1].name) p = pp.get();
          if (!p)
            diags.report(Code::E0101, v.span, "pipeline reading", v.dotted())
                .help(fmt::format("declare one: `pipeline {}_input from {} {{ … batch(64) }}`", v.path[1].name, v.dotted()));
        }
      } else {
        diags.report(Code::E0215, v.span, fmt::format("`{}` names a pipeline", key));
      }
      if (key == "data") tc->data = p;
      else tc->validate = p;
      for (const ast::Clause& cl : it.clauses) {
        if (cl.kind == ast::ClauseKind::Every && key == "validate") tc->validateEvery = clauseCount(cl, "every");
        if (cl.kind == ast::ClauseKind::Metrics && cl.value) {
          for (auto& m : cl.value->items) {
            if ((m->kind != ast::ExprKind::Name && m->kind != ast::ExprKind::Call) || m->path.size() != 1) {
              diags.report(Code::E0215, m->span, "a metric is a name or a call: `accuracy`, `loss`, `top_k(5)`, `f1(average: micro)`");
              continue;
            }
            const OpInfo* mop = lookupOp(m->path[0], {OpCategory::Metric}, "metric");
            if (!mop) continue;
            Call mc;
            mc.name = std::string(mop->name);
            mc.span = m->span;
            mc.nameSpan = m->path[0].span;
            std::vector<const ast::Arg*> margs;
            for (auto& a : m->args) margs.push_back(&a);
            if (!resolveArgs(*mop, margs, nullptr, m->span, mc.args)) continue;
            tc->metrics.push_back(mc.name);
            tc->metricCalls.push_back(std::move(mc));
          }
        }
      }
    } else if (key == "loss") {
      lossItem = &it;
    } else if (key == "optimizer" || key == "schedule" || key == "clip" || key == "stop") {
      std::vector<const ast::Expr*> calls;
      if (v.kind == ast::ExprKind::List && key == "schedule")
        for (auto& x : v.items) calls.push_back(x.get());
      else
        calls.push_back(&v);
      for (const ast::Expr* e : calls) {
        if (e->kind != ast::ExprKind::Call && e->kind != ast::ExprKind::Name) {
          diags.report(Code::E0215, e->span, fmt::format("`{}` is a call such as `{}`", key,
                                                         key == "optimizer" ? "sgd(lr: 0.01)"
                                                         : key == "clip"    ? "norm(1.0)"
                                                         : key == "stop"    ? "early(monitor: val_loss, patience: 3)"
                                                                            : "step(every: 5 epochs)"));
          continue;
        }
        OpCategory cat = key == "optimizer" ? OpCategory::Optimizer
                         : key == "clip"    ? OpCategory::Clip
                         : key == "stop"    ? OpCategory::Stop
                                            : OpCategory::Schedule;
        const OpInfo* op = lookupOp(e->path.back(), {cat}, key);
        if (!op) continue;
        Call c;
        c.name = std::string(op->name);
        c.span = e->span;
        c.nameSpan = e->path.back().span;
        std::vector<const ast::Arg*> args;
        for (auto& a : e->args) {
          // early(monitor: val_OUTPUT_METRIC), plateau(monitor: val_OUTPUT_METRIC): a metric of one output of a
          // network with several outputs, resolved once the loss is known (below).
          const bool plateau = key == "schedule" && op->name == "plateau";
          const bool monitorArg = a.name ? a.name->name == "monitor" : key == "stop" && &a == &e->args.front();
          if ((key == "stop" || plateau) && monitorArg && a.value && a.value->kind == ast::ExprKind::Name && a.value->path.size() == 1) {
            const std::string w = a.value->path[0].name;
            if (w.rfind("val_", 0) == 0 && w != "val_loss" && w != "val_accuracy" && w.find('_', 4) != std::string::npos) {
              if (plateau) plateauMonitor = w, plateauMonitorSpan = a.value->span, plateauIndex = tc->schedules.size();
              else stopMonitor = w, stopMonitorSpan = a.value->span;
              continue;
            }
          }
          args.push_back(&a);
        }
        if (!resolveArgs(*op, args, nullptr, e->span, c.args)) continue;
        if (key == "optimizer")
          for (const ast::Clause& cl : it.clauses)
            if (cl.kind == ast::ClauseKind::On) {
              // Where the optimizer's state is placed; the checker compares it with the model's (E0501, E0502).
              tc->optimizerPlacementSpan = cl.span;
              for (const ast::Device& dv : cl.devices) {
                Device dev;
                dev.kind = dv.name.name == "cpu" ? Device::Kind::Cpu : Device::Kind::Cuda;
                dev.index = static_cast<int>(dv.index.value_or(0) > 1023 ? 0 : dv.index.value_or(0));
                tc->optimizerDevices.push_back(dev);
                tc->optimizerDeviceSpans.push_back(dv.span);
              }
            }
        if (key == "optimizer") tc->optimizer = std::move(c);
        else if (key == "clip") tc->clip = std::move(c);
        else if (key == "stop") tc->stop = std::move(c);
        else tc->schedules.push_back(std::move(c));
      }
    } else if (key == "accumulate") {
      // accumulate = K steps: K micro-batches' gradients make one optimiser step.
      tc->accumulateSpan = it.span;
      auto c = evalConst(v, nullptr);
      const bool unitOk = !it.unit || it.unit->name == "steps" || it.unit->name == "step";
      if (c && (c->kind != Const::Kind::Int || c->i < 1 || !unitOk)) {
        diags.report(Code::E0131, unitOk ? v.span : it.unit->span,
                     unitOk ? c->describe() : fmt::format("{} {}", c->describe(), it.unit->name))
            .primary(unitOk ? "not a count of batches" : "not a unit of batches")
            .help("write `accumulate = 4 steps`: the gradients of 4 batches make one optimiser step");
      } else if (c) {
        tc->accumulate = c->i;
      }
    } else if (key == "epochs") {
      tc->epochsSetting = st;
      tc->epochs = intSetting(it, "epochs", 1);
    } else if (key == "seed") {
      tc->seedSetting = st;
      tc->seed = intSetting(it, "seed", 0);
    } else if (key == "checkpoint" || key == "resume") {
      auto c = evalConst(v, nullptr);
      if (c && c->kind != Const::Kind::String) {
        diags.report(Code::E0211, v.span, key, "train", "a path string", c->describe());
        c.reset();
      }
      if (key == "checkpoint") {
        tc->checkpointSetting = st;
        if (c) tc->checkpoint = c->s;
        for (const ast::Clause& cl : it.clauses) {
          if (cl.kind == ast::ClauseKind::Every) tc->checkpointEvery = clauseCount(cl, "every");
          if (cl.kind == ast::ClauseKind::Keep) {
            tc->checkpointKeep = clauseCount(cl, "keep");
            if (!cl.bestMetric) continue;
            if (cl.bestWord->name != "best" || cl.byWord->name != "by") {
              diags.report(Code::E0134, Span::join(cl.bestWord->span, cl.bestMetric->span), tc->checkpointKeep,
                           cl.bestWord->name, cl.byWord->name)
                  .help(fmt::format("write `keep {} best by {}`", tc->checkpointKeep, cl.bestMetric->name));
              continue;
            }
            tc->checkpointBest = cl.bestMetric->name;
            tc->checkpointBestSpan = cl.bestMetric->span;
          }
        }
      } else {
        tc->resumeSetting = st;
        if (c) tc->resume = c->s;
      }
    } else if (key == "precision") {
      auto c = evalConst(v, nullptr);
      std::string p = c ? c->s : "";
      if (c && p == "f32") tc->precision = p;
      else if (c && (p == "f16" || p == "bf16")) halfPrecision = &it;  // reported once the placement is known
      else if (c)
        diags.report(Code::E0211, v.span, "precision", "train", "`f32`, `f16` or `bf16`", c->describe());
    } else if (key == "devices") {
      tc->devicesSetting = st;
      tc->deviceCount = intSetting(it, "devices", 0);  // the GPU count; the checker compares placements with it (E0501, W0509)
    } else if (key == "memory") {
      // bytes, or `N * KiB|MiB|GiB|TiB`
      int64_t mult = 1;
      const ast::Expr* num = &v;
      if (v.kind == ast::ExprKind::Binary && v.op == '*' && v.items.size() == 2 && v.items[1]->kind == ast::ExprKind::Name) {
        const std::string u = v.items[1]->dotted();
        int shift = u == "KiB" ? 10 : u == "MiB" ? 20 : u == "GiB" ? 30 : u == "TiB" ? 40 : 0;
        if (shift) mult = int64_t{1} << shift, num = v.items[0].get();
      }
      auto c = evalConst(*num, nullptr);
      if (c && c->kind == Const::Kind::Int && c->i > 0 && c->i <= (INT64_MAX / mult)) {
        tc->memoryLimit = c->i * mult;
      } else if (c) {
        diags.report(Code::E0211, v.span, "memory", "train", "a byte count", c->describe());
      }
    } else {
      auto& e = diags.report(Code::E0112, it.key.span, "train", key);
      if (auto near = closest(key, trainKeys())) e.help(fmt::format("did you mean `{}`?", *near)).fixit(it.key.span, *near);
    }
  }
  tc->network = net;
  if (!tc->settings.count("model")) diags.report(Code::E0113, d.name.span, "train", d.name.name, "model");
  if (!tc->settings.count("data")) diags.report(Code::E0113, d.name.span, "train", d.name.name, "data");
  if (!tc->settings.count("optimizer")) diags.report(Code::E0113, d.name.span, "train", d.name.name, "optimizer")
      .help("add `optimizer = sgd(lr: 0.01)`");
  if (tc->stop && !tc->settings.count("validate"))
    diags.report(Code::E0113, tc->stop->span, "train", d.name.name, "validate")
        .primary(fmt::format("`{}` watches a validation metric", tc->stop->name))
        .help("add `validate = test_input every 1 epoch` (or validate on `PIPELINE.valid`), or remove `stop`");
  // `keep … best by val_OUTPUT_METRIC`: a metric of one output, resolved once the loss terms are known (below).
  auto namesOutput = [&](const std::string& m) {
    if (!net || m.rfind("val_", 0) != 0) return false;
    for (const Network::Output& o : net->outputs)
      if (m.compare(4, o.name.size() + 1, o.name + "_") == 0) return true;
    return false;
  };
  // keep N best by METRIC: a validation metric the validate clause reports (val_loss: computed at every validation).
  if (tc->checkpointBest && !namesOutput(*tc->checkpointBest)) {
    const std::string& m = *tc->checkpointBest;
    const std::string bare = m.rfind("val_", 0) == 0 ? m.substr(4) : std::string();
    const OpInfo* mop = bare.empty() ? nullptr : findOp(bare == "acc" ? "accuracy" : bare, {OpCategory::Metric});
    std::string why;
    if (!mop || mop->name == "confusion")
      why = "it is not `val_` and a metric's name (val_loss, val_accuracy, val_f1, val_mae, …)";
    else if (!tc->settings.count("validate"))
      why = "the train block has no `validate`";
    else {
      // What the validation reports: its `metrics [...]`, or without one the loss and accuracy, or for real
      // targets the loss and the regression metrics (as the lowering's dls_rt_validate mask).
      std::vector<std::string> reported = tc->metrics;
      const bool realTargets = tc->data && !tc->data->label.poisoned && tc->data->label.kind == SemKind::Real;
      if (reported.empty())
        reported = realTargets ? std::vector<std::string>{"loss", "mae", "rmse", "r2"} : std::vector<std::string>{"loss", "accuracy"};
      if (mop->name != "loss" && std::find(reported.begin(), reported.end(), std::string(mop->name)) == reported.end())
        why = tc->metrics.empty() ? fmt::format("the validation reports {} (no `metrics [...]`), not `{}`",
                                                realTargets ? "loss, mae, rmse and r2" : "loss and accuracy", mop->name)
                                  : fmt::format("`{}` is not in the validate clause's `metrics [...]`", mop->name);
    }
    if (!why.empty()) {
      diags.report(Code::E0133, tc->checkpointBestSpan, m, why)
          .primary("no such validation metric")
          .help(mop && mop->name != "confusion" ? fmt::format("add `{}` to `metrics [...]` of `validate`", mop->name)
                                                : std::string("watch `val_loss` or a metric the validation reports"));
      tc->checkpointBest.reset();
    } else {
      tc->checkpointBest = std::string(mop->name);
    }
  }
  // onecycle and plateau set the rate themselves: no other schedule, nor a decay of the optimizer's, multiplies it.
  for (const Call& s : tc->schedules) {
    if (s.name != "onecycle" && s.name != "plateau") continue;
    if (s.name == "plateau" && !tc->settings.count("validate"))
      diags.report(Code::E0113, s.span, "train", d.name.name, "validate")
          .primary("`plateau` watches a validation metric")
          .help("add `validate = test_input every 1 epoch` (or validate on `PIPELINE.valid`), or use another schedule");
    for (const Call& o : tc->schedules)
      if (&o != &s && o.name != "constant" && !((o.name == "onecycle" || o.name == "plateau") && &o < &s))
        diags.report(Code::E0130, o.span, s.name, fmt::format("schedule `{}`", o.name))
            .primary(fmt::format("chained with `{}`", s.name))
            .help(fmt::format("keep one of the two: `{}` alone, or the others without it", s.name));
    if (tc->optimizer)
      for (const char* a : {"decay", "lr_decay"})
        if (auto it = tc->optimizer->args.find(a); it != tc->optimizer->args.end())
          if (auto* v = std::get_if<double>(&it->second.value); v && *v > 0)
            diags.report(Code::E0130, it->second.span.valid() ? it->second.span : tc->optimizer->span, s.name,
                         fmt::format("`{}`'s `{}`", tc->optimizer->name, a))
                .primary(fmt::format("a decay of the rate that `{}` sets", s.name))
                .help(fmt::format("remove `{}: {}`", a, *v));
  }
  if (tc->devices.empty()) tc->devices.push_back(Device{});
  if (halfPrecision) {
    // bf16 trains on the CPU (oneDNN's bf16 primitives, f32 masters); f16, and any reduced precision on a GPU,
    // has no backend yet: accepting it would train in f32 regardless.
    const Device& dev = tc->devices.front();
    const std::string p = halfPrecision->value->dotted();
    if (p == "bf16" && dev.kind == Device::Kind::Cpu) {
      tc->precision = p;
    } else {
      auto& dg = diags.report(Code::E0305, halfPrecision->value->span, p,
                              dev.kind == Device::Kind::Cpu ? std::string("CPU") : dev.str());
      dg.primary("not implemented yet");
      if (tc->placementSpan.valid()) dg.label(tc->placementSpan, fmt::format("the model is placed on {}", dev.str()));
      dg.help(dev.kind == Device::Kind::Cpu ? "write `precision = bf16` (the CPU trains in bf16 with f32 master weights) or `precision = f32`"
                                            : "remove the setting (or write `precision = f32`): only the CPU trains in reduced precision (bf16) for now");
    }
  }
  // Placement: every node and value of the model lives on the first device (replicas mirror it).
  if (net) {
    Device dev = tc->devices.front();
    for (Value& v : net->values) v.type.device = dev;
    for (Node& nd : net->nodes) {
      nd.device = dev;
      bool supported = dev.kind == Device::Kind::Cpu ? nd.op->cpu : nd.op->cuda;
      const Span placed = tc->placementSpan.valid() ? tc->placementSpan : tc->model.span;
      if (!supported) {
        diags.report(Code::E0304, nd.nameSpan, nd.op->name, dev.kind == Device::Kind::Cpu ? "CPU" : "CUDA")
            .label(placed, fmt::format("the model is placed on {}", dev.str()))
            .help("replace it with a supported layer");
      } else if (dev.kind != Device::Kind::Cpu && nd.op->recurrent && nd.inputs.size() > 1) {
        // A recurrent layer over a padded sequence (its second input: the mask's tokens): cuDNN takes lengths,
        // not a per-step mask, so only the CPU kernel skips the padded steps for now.
        diags.report(Code::E0304, nd.nameSpan, fmt::format("{} over a padded sequence", nd.op->name), "CUDA")
            .label(placed, fmt::format("the model is placed on {}", dev.str()))
            .help("place the model `on cpu`, or drop `mask_token` from the embedding");
      } else if (dev.kind != Device::Kind::Cpu) {
        // The op has a CUDA kernel, but not for every setting of its attributes (op table: cudaWithout).
        const std::string_view setting = sema::cudaMissing(*nd.op, nd);
        if (!setting.empty()) {
          const std::string attr(setting.substr(0, setting.find(':')));
          auto& dg = diags.report(Code::E0304, nd.nameSpan, fmt::format("{}({})", nd.op->name, setting), "CUDA");
          auto it = nd.attrs.find(attr);
          if (it != nd.attrs.end() && !it->second.isDefault && it->second.span.valid())
            dg.label(it->second.span, "this setting has no CUDA kernel");
          dg.label(placed, fmt::format("the model is placed on {}", dev.str()))
              .help(fmt::format("choose another `{}`, or place the model `on cpu`", attr));
        }
      }
    }
  }
  const Pipeline* data = tc->data;
  // Data vs the network's input: N is bound by the batch.
  if (net && data && data->batch) tc->symbols["N"] = *data->batch;
  // The network's inputs take the data set's sample fields. With one of each, the one feeds the other; with several
  // sample fields, each input takes the field of its own name.
  bool firstFromFirst = true;  // input 0 takes sample field 0 (the checks below compare those two)
  if (net && data && data->dataset && net->decl && net->decl->params.size() == net->inputs.size()) {
    const Dataset& ds = *data->dataset;
    if (net->inputs.size() > 1 && ds.moreSamples.empty()) {
      const ast::Param& second = net->decl->params[1];
      diags.report(Code::E0139, second.span, net->name, net->inputs.size(), ds.name)
          .primary("no field of the data feeds this input")
          .label(ds.sampleSpan, "the one sample field")
          .help(fmt::format("declare a sample field for each input, named as the input (`sample {}: …`), each read from a "
                            "file of its own (`npy({}: \"….npy\", {}: \"….npy\", …)`)",
                            second.name.name, ds.sampleName.empty() ? std::string("x") : ds.sampleName, second.name.name));
    } else if (ds.moreSamples.empty()) {
      tc->inputFields = {0};
    } else {
      std::vector<std::string> names = {ds.sampleName};
      for (const Dataset::Field& f : ds.moreSamples) names.push_back(f.name);
      std::vector<int> bound;
      firstFromFirst = false;
      for (size_t i = 0; i < net->inputs.size(); ++i) {
        const ast::Param& prm = net->decl->params[i];
        const int k = ds.sampleIndex(prm.name.name);
        if (k < 0) {
          std::string all;
          for (size_t j = 0; j < names.size(); ++j) all += fmt::format("{}`{}`", j == 0 ? "" : j + 1 == names.size() ? " and " : ", ", names[j]);
          auto& dg = diags.report(Code::E0140, prm.name.span, net->name, prm.name.name, ds.name)
                         .primary("takes the sample field of this name")
                         .label(ds.nameSpan, fmt::format("its sample fields are {}", all))
                         .label(tc->dataSetting.valueSpan, "the data");
          if (auto near = closest(prm.name.name, names)) dg.help(fmt::format("did you mean `{}`?", *near)).fixit(prm.name.span, *near);
          else dg.help("name each input after the sample field it takes");
          continue;
        }
        bound.push_back(k);
      }
      if (bound.size() == net->inputs.size()) {
        tc->inputFields = bound;
        firstFromFirst = bound[0] == 0;
        if (std::find(bound.begin(), bound.end(), 0) == bound.end())
          diags.report(Code::E0143, ds.sampleSpan, fmt::format("a network that leaves the first sample field `{}` unused", ds.sampleName))
              .primary("no input takes it")
              .label(net->nameSpan, fmt::format("network `{}`", net->name))
              .help(fmt::format("give the network an input `{}`, or declare the fields it takes first", ds.sampleName));
        // Each input against its field as the pipeline leaves it: per-sample shape and element type.
        for (size_t i = 0; i < bound.size(); ++i) {
          const int k = bound[i];
          if (i == 0 && k == 0) continue;  // compared below, with the hints for one input
          if (i >= net->declaredInputs.size() || net->declaredInputs[i].poisoned) continue;
          const Type& in = net->declaredInputs[i];
          const Type sm = k == 0 ? data->sample : size_t(k - 1) < data->moreSamples.size() ? data->moreSamples[size_t(k - 1)] : Type{};
          if (sm.poisoned || sm.shape.unknownRank || in.shape.unknownRank) continue;
          Shape want;
          for (size_t j = 1; j < in.shape.rank(); ++j) want.dims.push_back(in.shape.dims[j]);
          const bool shapeOk = Shape::compatible(want, sm.shape);
          const bool dtypeOk = sm.dtype == in.dtype || sm.dtype == DType::Unknown;
          if (shapeOk && dtypeOk) continue;
          const std::string& fname = names[size_t(k)];
          auto& dg = diags.report(Code::E0141, net->declaredInputSpans[i], net->decl->params[i].name.name, net->name,
                                  fmt::format("{}{}", dtypeName(in.dtype), want.str()), fname, data->name,
                                  fmt::format("{}{}", dtypeName(sm.dtype), sm.shape.str()));
          dg.primary(fmt::format("{}{} per sample", dtypeName(in.dtype), want.str()));
          dg.label(k == 0 ? ds.sampleSpan : ds.moreSamples[size_t(k - 1)].span, "the field");
          if (!shapeOk)
            dg.help(fmt::format("reshape the field in the pipeline (`{0} = {0} |> reshape({1})`) or declare the input `{2}[N{3}{4}]`",
                                fname, want.str(), dtypeName(in.dtype), sm.shape.rank() ? ", " : "",
                                sm.shape.str().substr(1, sm.shape.str().size() - 2)));
          else
            dg.help(fmt::format("convert the field in the pipeline: `{0} = {0} |> {1}`", fname,
                                in.dtype == DType::I32 ? "to_i32" : in.dtype == DType::I64 ? "to_i64" : "to_f32"));
        }
      }
    }
  }
  if (net && data && firstFromFirst && !data->sample.poisoned && !net->declaredInputs.empty() && !net->declaredInputs[0].poisoned) {
    const Type& in = net->declaredInputs[0];
    const Type& sm = data->sample;
    Shape want;
    for (size_t i = 1; i < in.shape.rank(); ++i) want.dims.push_back(in.shape.dims[i]);
    auto wantN = want.elements(), haveN = sm.shape.elements();
    auto label = [&](Diagnostic& dg) {
      dg.label(net->declaredInputSpans[0], fmt::format("the network takes {} per sample", want.str()));
      dg.label(data->span.valid() ? data->nameSpan : tc->dataSetting.span,
               fmt::format("`{}` gives {} per sample", data->name, sm.brief()));
    };
    // The last `reshape` of the sample in the pipeline: a shape the spec chose, which is then where a mismatch
    // with the network's input is (the data's own shape is not a choice).
    const PipeStep* reshapeStep = nullptr;
    for (const PipeStep& st : data->steps)
      if (st.op && st.name == "reshape" && st.span.valid()) reshapeStep = &st;
    const std::string dataDecl = fmt::format("{}[N{}{}]", dtypeName(in.dtype), sm.shape.rank() ? ", " : "",
                                             sm.shape.str().substr(1, sm.shape.str().size() - 2));
    // The first op that reads the input: a `dense` needs flat samples.
    const Node* firstOp = nullptr;
    for (const Node& nd : net->nodes)
      if (!nd.inputs.empty() && !net->inputs.empty() && nd.inputs[0] == net->inputs[0]) {
        firstOp = &nd;
        break;
      }
    const bool denseFirst = firstOp && firstOp->op && firstOp->op->name == "dense";
    // Channels-last images ([H, W, C], C in 1, 3, 4) against a channels-first input ([C, H, W]).
    const bool channelsLast = sm.shape.rank() == 3 && want.rank() == 3 && sm.shape.dims[2].isConst() &&
                              want.dims[0].isConst() && sm.shape.dims[2].value == want.dims[0].value &&
                              (want.dims[0].value == 1 || want.dims[0].value == 3 || want.dims[0].value == 4) &&
                              Dim::compatible(sm.shape.dims[0], want.dims[1]) && Dim::compatible(sm.shape.dims[1], want.dims[2]);
    if (wantN && haveN && *wantN != *haveN) {
      // A reshape keeps the number of elements: the network's declared input is what disagrees with the data.
      auto& dg = diags.report(Code::E0201, net->declaredInputSpans[0], *wantN, *haveN);
      dg.primary(fmt::format("samples of {} elements", *wantN));
      label(dg);
      dg.label(tc->dataSetting.valueSpan, fmt::format("trained on samples of {} elements", *haveN));
      if (denseFirst && sm.shape.rank() > 1)
        dg.help(fmt::format("flatten the samples in the pipeline (`{} = {} |> reshape([{}])`) and declare the input `{}[N, {}]`",
                            data->dataset ? data->dataset->sampleName : std::string("sample"),
                            data->dataset ? data->dataset->sampleName : std::string("sample"), *haveN,
                            dtypeName(in.dtype), *haveN));
      else
        dg.help(fmt::format("declare the input `{}`, the shape of the data's samples", dataDecl));
    } else if (!Shape::compatible(want, sm.shape)) {
      auto& dg = diags.report(Code::E0214, reshapeStep ? reshapeStep->span : net->declaredInputSpans[0], in.brief(), sm.brief());
      if (reshapeStep) {
        dg.primary(fmt::format("gives {} per sample", sm.shape.str()));
        dg.label(net->declaredInputSpans[0], fmt::format("per sample {}", want.str()));
      } else {
        dg.primary(fmt::format("per sample {}", want.str()));
      }
      dg.label(data->nameSpan, fmt::format("`{}` gives {}", data->name, sm.brief()));
      if (channelsLast && !reshapeStep)
        dg.help(fmt::format("the samples {} look channels-last (height, width, channels); dlspec is channels-first: "
                            "declare the input `{}` and transpose inside the network: `x |> transpose([0, 3, 1, 2])`",
                            sm.shape.str(), dataDecl));
      else if (reshapeStep)
        dg.help(fmt::format("reshape the samples to the network's input: `reshape({})`, or declare the input `{}`",
                            want.str(), dataDecl));
      else
        dg.help(fmt::format("reshape in the pipeline (`|> reshape({})`) or declare `{}`", want.str(), dataDecl));
    } else if (sm.dtype != in.dtype && sm.dtype != DType::Unknown) {
      diags.report(Code::E0213, tc->dataSetting.valueSpan, net->name, dtypeName(in.dtype), sm.brief())
          .label(net->declaredInputSpans[0], fmt::format("declared {}", in.brief()))
          .help(in.dtype == DType::I32 ? "convert the samples in the pipeline: `|> to_i32`"
                                       : "convert the samples in the pipeline: `|> to_f32`");
    } else if (!in.shape.dims.empty() && in.shape.dims[0].isConst() && data->batch && in.shape.dims[0].value != *data->batch) {
      diags.report(Code::E0214, net->declaredInputSpans[0], in.brief(), fmt::format("batches of {}", *data->batch))
          .label(data->batchSpan, "batched here")
          .help("write the batch dimension as a symbol: `N`");
    }
  }
  // The loss: input model.out, target the label field; or a weighted sum of such terms, each on one output of a
  // network with several outputs (model.cls), each target a field of the data (the label, or the sample itself).

  // E0135: `model.NAME` (`a`, a two-part name) names no output of the network, which has several: the closest name as
  // a fix-it, and the outputs it has.
  auto reportUnknownOutput = [&](const ast::Expr& a, const std::string& outName) {
    std::string names;
    std::vector<std::string> cands;
    for (size_t i = 0; i < net->outputs.size(); ++i) {
      names += fmt::format("{}`model.{}`", i == 0 ? "" : i + 1 == net->outputs.size() ? " and " : ", ", net->outputs[i].name);
      cands.push_back(net->outputs[i].name);
    }
    auto& dg = diags.report(Code::E0135, a.path[1].span, net->name, outName);
    dg.primary("no output of this name");
    if (auto best = closest(outName, cands)) dg.fixit(a.path[1].span, *best, Applicability::MaybeIncorrect);
    dg.help(fmt::format("network `{}` has the outputs {}", net->name, names));
  };
  // cosine_embedding(model.a, model.b, target): a loss of two outputs of the network, each [N, D] of one shape (E0144,
  // E0145), against one target of 1 or -1 per sample from the label field (E0146; the values: D0133, R0257).
  auto typePairTerm = [&](const OpInfo* op, Call& c, bool ok, double weight, Span weightSpan) {
    if (c.positional.size() != 3) {
      diags.report(Code::E0108, c.span, op->name, 3, fmt::format("{} {}", c.positional.size(), c.positional.size() == 1 ? "was" : "were"))
          .help(fmt::format("`{}(model.a, model.b, {})`: two outputs of the network and the targets", op->name,
                            data && data->dataset && !data->dataset->labelName.empty() ? data->dataset->labelName : "label"));
      return;
    }
    TrainConfig::LossTerm term;
    term.weight = weight;
    term.weightSpan = weightSpan;
    const Network::Output* outs[2] = {nullptr, nullptr};
    for (int k = 0; k < 2 && net; ++k) {
      const ast::Expr& a = *c.positional[size_t(k)];
      std::string outName;
      if (a.kind == ast::ExprKind::Name && a.path.size() == 2 && (a.path[0].name == "model" || a.path[0].name == net->name))
        outName = a.path[1].name;
      if (net->outputs.empty()) {
        diags.report(Code::E0144, a.span, op->name, fmt::format("network `{}` has one output", net->name))
            .primary("one output")
            .label(net->declaredOutputSpan, "the network's only output")
            .help(fmt::format("return the two embeddings under names: `-> (a: real[N, D], b: real[N, D])` and "
                              "`return (a: …, b: …)`, then `{}(model.a, model.b, …)`", op->name));
        ok = false;
        break;
      }
      if (outName.empty()) {
        diags.report(Code::E0144, a.span, op->name, fmt::format("`{}` is not an output of network `{}`",
                                                                 a.kind == ast::ExprKind::Name ? a.dotted() : std::string("this"), net->name))
            .primary("expected `model.OUTPUT`")
            .help(fmt::format("name the outputs: `{}(model.{}, model.{}, …)`", op->name, net->outputs[0].name,
                              net->outputs[net->outputs.size() > 1 ? 1 : 0].name));
        ok = false;
        continue;
      }
      outs[k] = net->findOutput(outName);
      if (!outs[k]) {
        reportUnknownOutput(a, outName);
        ok = false;
      }
    }
    if (ok && outs[0] && outs[1] && outs[0]->value == outs[1]->value) {
      diags.report(Code::E0144, c.positional[1]->span, op->name,
                   fmt::format("both arguments are `model.{}`, whose cosine with itself is always 1", outs[0]->name))
          .primary("the same output again")
          .label(c.positional[0]->span, "first here")
          .help("compare the embeddings of the two samples of a pair: two outputs of the network");
      ok = false;
    }
    const Value* vals[2] = {nullptr, nullptr};
    for (int k = 0; k < 2; ++k)
      if (outs[k] && outs[k]->value >= 0) vals[k] = &net->values[outs[k]->value];
    if (ok && vals[0] && vals[1] && !vals[0]->type.poisoned && !vals[1]->type.poisoned) {
      const Shape &s0 = vals[0]->type.shape, &s1 = vals[1]->type.shape;
      const bool known = !s0.unknownRank && !s1.unknownRank;
      if (known && (s0.rank() != 2 || s1.rank() != 2 || !Shape::compatible(s0, s1))) {
        const int bad = s0.rank() != 2 ? 0 : 1;
        auto& dg = diags.report(Code::E0145, c.positional[size_t(bad)]->span, op->name, c.positional[0]->dotted(),
                                vals[0]->type.brief(), c.positional[1]->dotted(), vals[1]->type.brief());
        dg.primary(fmt::format("this is {}", vals[size_t(bad)]->type.brief()));
        dg.label(c.positional[size_t(1 - bad)]->span, fmt::format("this is {}", vals[size_t(1 - bad)]->type.brief()));
        dg.help(s0.rank() != 2 || s1.rank() != 2
                    ? "the cosine is taken over the last axis of [N, D]: end each output with `flatten |> dense(D)`"
                    : "give both outputs the same width D: the two embeddings are compared element by element");
        ok = false;
      }
    }
    const Type* target = nullptr;
    if (ok && data && data->dataset) {
      const ast::Expr& a2 = *c.positional[2];
      const std::string s2 = a2.kind == ast::ExprKind::Name ? a2.dotted() : "";
      const Dataset& ds = *data->dataset;
      if (s2 == ds.labelName || s2 == ds.name + "." + ds.labelName) {
        target = &data->label;
        term.target = ds.labelName;
      } else {
        auto& e = diags.report(Code::E0101, a2.span, "label field", s2.empty() ? "this expression" : s2);
        if (!ds.labelName.empty())
          e.help(fmt::format("the targets are the data's label field `{}`", ds.labelName))
              .fixit(a2.span, ds.labelName, Applicability::MachineApplicable);
        ok = false;
      }
    }
    if (ok && target && !target->poisoned) {
      const bool one = !target->shape.unknownRank &&
                       (target->shape.rank() == 0 || (target->shape.rank() == 1 && target->shape.dims[0].isConst() &&
                                                      target->shape.dims[0].value == 1));
      if (target->kind != SemKind::Real || !one) {
        auto& dg = diags.report(Code::E0146, c.positional[2]->span, op->name, c.positional[2]->dotted(), target->brief());
        dg.primary(fmt::format("this is {}", target->brief()));
        if (data && data->dataset) dg.label(data->dataset->labelSpan, "the label is declared here");
        dg.help(target->kind == SemKind::Class
                    ? "class labels are 0 … C-1; declare the label `f32[1]` and give each pair 1 (alike) or -1 (not alike)"
                    : "declare the label `f32[1]`: one target per pair, 1 (alike) or -1 (not alike)");
        ok = false;
      }
    }
    if (!ok) return;
    term.output = outs[0]->name;
    term.outputValue = outs[0]->value;
    term.output2 = outs[1]->name;
    term.outputValue2 = outs[1]->value;
    if (!tc->loss) tc->loss = c;
    term.call = std::move(c);
    tc->lossTerms.push_back(std::move(term));
  };
  auto typeLossTerm = [&](const ast::Expr& v, double weight, Span weightSpan) {
    if (const OpInfo* op = lookupOp(v.path.back(), {OpCategory::Loss}, "loss")) {
      Call c;
      c.name = std::string(op->name);
      c.span = v.span;
      c.nameSpan = v.path.back().span;
      std::vector<const ast::Arg*> named;
      for (auto& a : v.args) {
        if (a.name) named.push_back(&a);
        else c.positional.push_back(a.value.get());
      }
      bool ok = resolveArgs(*op, named, nullptr, v.span, c.args);
      if (op->name == "cosine_embedding") {
        typePairTerm(op, c, ok, weight, weightSpan);
        return;
      }
      if (c.positional.size() != 2) {
        diags.report(Code::E0108, v.span, op->name, 2, fmt::format("{} {}", c.positional.size(), c.positional.size() == 1 ? "was" : "were"))
            .help(fmt::format("`{}(model.out, {})`", op->name,
                              data && data->dataset && !data->dataset->labelName.empty() ? data->dataset->labelName : "label"));
        ok = false;
      }
      const Value* out = nullptr;
      const Node* producer = nullptr;
      const Type* target = nullptr;
      TrainConfig::LossTerm term;
      term.weight = weight;
      term.weightSpan = weightSpan;
      if (ok) {
        const ast::Expr& a0 = *c.positional[0];
        std::string s0 = a0.kind == ast::ExprKind::Name ? a0.dotted() : "";
        // model.NAME (or NETWORK.NAME): `out` for a network with one output, one of its outputs' names otherwise.
        std::string outName;
        if (a0.kind == ast::ExprKind::Name && a0.path.size() == 2 &&
            (a0.path[0].name == "model" || (net && a0.path[0].name == net->name)))
          outName = a0.path[1].name;
        if (net && !net->outputs.empty() && !outName.empty()) {
          if (const Network::Output* o = net->findOutput(outName)) {
            term.output = o->name;
            term.outputValue = o->value;
            if (o->value >= 0) {
              out = &net->values[o->value];
              if (out->producer >= 0) producer = &net->nodes[out->producer];
            }
          } else {
            reportUnknownOutput(a0, outName);
            ok = false;
          }
        } else if (outName == "out") {
          if (net && net->output >= 0) {
            term.outputValue = net->output;
            out = &net->values[net->output];
            if (out->producer >= 0) producer = &net->nodes[out->producer];
          }
        } else if (net && !outName.empty()) {
          diags.report(Code::E0135, a0.path[1].span, net->name, outName)
              .primary("no output of this name")
              .help(fmt::format("network `{}` has one output: `model.out`", net->name))
              .fixit(a0.path[1].span, "out", Applicability::MaybeIncorrect);
          ok = false;
        } else {
          diags.report(Code::E0101, a0.span, "loss input", s0.empty() ? "this expression" : s0)
              .help("the loss's first argument is the model's output: `model.out`");
          ok = false;
        }
        const ast::Expr& a1 = *c.positional[1];
        std::string s1 = a1.kind == ast::ExprKind::Name ? a1.dotted() : "";
        if (data && data->dataset) {
          const Dataset& ds = *data->dataset;
          if (s1 == ds.labelName || s1 == ds.name + "." + ds.labelName) {
            target = &data->label;
            term.target = ds.labelName;
          } else if (!ds.sampleName.empty() && (s1 == ds.sampleName || s1 == ds.name + "." + ds.sampleName)) {
            // The sample field itself (an autoencoder's target): the samples as the pipeline makes them.
            target = &data->sample;
            term.target = ds.sampleName;
            term.targetIsSample = true;
          } else if (!s1.empty() && net && !net->outputs.empty()) {
            auto& e = diags.report(Code::E0136, a1.span, ds.name, s1);
            e.primary("no field of this name");
            std::vector<std::string> cands;
            if (!ds.sampleName.empty()) cands.push_back(ds.sampleName);
            if (!ds.labelName.empty()) cands.push_back(ds.labelName);
            if (auto best = closest(s1, cands)) e.fixit(a1.span, *best, Applicability::MaybeIncorrect);
            e.help(fmt::format("the fields of `{}` are {}", ds.name,
                               cands.size() == 2 ? fmt::format("`{}` (the sample) and `{}` (the label)", cands[0], cands[1])
                                                 : fmt::format("`{}`", cands.empty() ? std::string("…") : cands[0])));
            ok = false;
          } else {
            auto& e = diags.report(Code::E0101, a1.span, "label field", s1.empty() ? "this expression" : s1);
            if (!ds.labelName.empty())
              e.help(fmt::format("the data's label field is `{}`", ds.labelName)).fixit(a1.span, ds.labelName, Applicability::MachineApplicable);
            ok = false;
          }
        }
      }
      const LossSig* sig = lossSig(op->name);
      if (ok && out && target && sig && !out->type.poisoned && !target->poisoned) {
        const Type& ot = out->type;
        auto labelProducer = [&](Diagnostic& dg) {
          if (producer) dg.label(producer->span, fmt::format("this produces {}", ot.brief()));
          else dg.label(out->span, fmt::format("`model.out` is {}", ot.brief()));
        };
        // Binary classification with one output: class<2> labels (0/1) are the targets of bce_with_logits on
        // logits[N, 1] (or of bce on sigmoid_probs[N, 1]).
        const bool binaryLoss = op->name == "bce_with_logits" || op->name == "bce" || op->name == "focal" || op->name == "hinge";
        const bool binary = binaryLoss && target->kind == SemKind::Class &&
                            target->classes == 2 && target->shape.dims.empty() && !ot.shape.unknownRank &&
                            ot.shape.rank() == 2 && ot.shape.dims[1].isConst() && ot.shape.dims[1].value == 1;
        if (!has(sig->inputs, ot.kind)) {
          bool softmaxIntoCe = op->name == "cross_entropy" && ot.kind == SemKind::Probs;
          // The network's final activation (softmax, sigmoid, log_softmax) is the fault when the loss suits the
          // labels: the primary span goes there and the loss is a label. When the loss does not suit the labels
          // either (mse on class labels), the loss is the fault.
          const bool activationAtFault = producer && producer->op && producer->op->category == OpCategory::Activation &&
                                         (has(sig->targets, target->kind) || binary);
          const std::string shapeText = ot.shape.str();
          Diagnostic* dg;
          if (softmaxIntoCe) {
            dg = &diags.report(Code::E0412, producer ? producer->span : c.nameSpan);
            if (producer) {
              dg->primary(fmt::format("this produces {}", ot.brief()));
              dg->label(c.nameSpan, fmt::format("expects logits{}", shapeText));
              dg->help(fmt::format("remove `|> {}` and declare the output `logits{}`: the loss applies softmax itself",
                                   producer->op ? producer->op->name : std::string_view("softmax"), shapeText));
            } else {
              dg->primary(fmt::format("expects logits{}", shapeText));
            }
          } else if (!has(sig->targets, target->kind) && !binary &&
                     (target->kind == SemKind::Class || target->kind == SemKind::OneHot) &&
                     (ot.kind == SemKind::Logits ||
                      (producer && producer->op && producer->op->category == OpCategory::Activation))) {
            // A loss that suits neither the output nor the labels (mse on a softmax against class labels, bce on
            // a ten-way softmax over one-hot rows): the loss is the fault, and the classification loss takes logits.
            dg = &diags.report(Code::E0401, c.nameSpan, op->name, sig->inputText, ot.brief());
            dg->primary(fmt::format("expects {}", sig->inputText));
            const std::string lbl = c.positional[1]->dotted();
            if (ot.kind == SemKind::Logits)
              dg->help(fmt::format("the labels are {}: use `cross_entropy(model.out, {})`", target->kindStr(), lbl));
            else
              dg->help(fmt::format("the labels are {}: use `cross_entropy(model.out, {})`, remove the final `|> {}` and "
                                   "declare the output `logits{}` (cross_entropy applies softmax itself)",
                                   target->kindStr(), lbl, producer->op->name, shapeText));
          } else {
            dg = &diags.report(Code::E0401, activationAtFault ? producer->span : c.nameSpan, op->name, sig->inputText, ot.brief());
            if (activationAtFault) dg->label(c.nameSpan, fmt::format("expects {}", sig->inputText));
            else dg->primary(fmt::format("expects {}", sig->inputText));
            std::string help;
            // Each help is the whole edit: the activation and the declared output kind change together (the
            // network's declared output must match what its last layer produces, E0413).
            const std::string act = producer && producer->op && producer->op->category == OpCategory::Activation
                                        ? std::string(producer->op->name) : std::string();
            auto declare = [&](std::string_view kind) { return fmt::format("declare the output `{}{}`", kind, shapeText); };
            if (op->name == "nll" && (ot.kind == SemKind::Logits || ot.kind == SemKind::Real))
              help = fmt::format("use `cross_entropy(model.out, …)`, which applies log_softmax itself, or end the network "
                                 "with `|> log_softmax` and {}", declare("log_probs"));
            else if ((op->name == "nll" || op->name == "kl_div") && ot.kind == SemKind::Probs)
              help = fmt::format("replace the final `|> softmax` with `|> log_softmax` and {}: `{}` takes log-probabilities",
                                 declare("log_probs"), op->name);
            else if ((op->name == "bce_with_logits" || op->name == "focal" || op->name == "hinge" ||
                      op->name == "cross_entropy") && !act.empty() && ot.kind != SemKind::LogProbs)
              help = fmt::format("remove the final `|> {}` and {}: `{}` takes the raw scores{}", act, declare("logits"), op->name,
                                 op->name == "cross_entropy" ? " and applies log_softmax itself"
                                 : op->name == "hinge"       ? ""
                                                             : " and applies the sigmoid itself");
            else if (op->name == "kl_div" && (ot.kind == SemKind::Logits || ot.kind == SemKind::Real))
              help = fmt::format("end the network with `|> log_softmax` and {}: kl_div takes log-probabilities", declare("log_probs"));
            else if (op->name == "bce" && !act.empty())
              help = fmt::format("replace the final `|> {}` with `|> sigmoid` and {}, or use `bce_with_logits` on logits",
                                 act, declare("sigmoid_probs"));
            else if (op->name == "bce")
              help = fmt::format("end the network with `|> sigmoid` and {}, or use `bce_with_logits` on the logits",
                                 declare("sigmoid_probs"));
            else if (op->name == "cross_entropy" && ot.kind == SemKind::LogProbs)
              help = fmt::format("use `nll` on log_softmax outputs, or remove `|> log_softmax` and {}", declare("logits"));
            else
              help = fmt::format("the network should produce {}", sig->inputText);
            dg->help(help);
          }
          if (dg->span.begin == c.nameSpan.begin && dg->span.file == c.nameSpan.file) labelProducer(*dg);
          else if (!softmaxIntoCe) dg->primary(fmt::format("this produces {}", ot.brief()));
          dg->label(lossItem->key.span, fmt::format("`{}` is the loss", op->name));
        } else if (binary) {
          // one logit per sample against 0/1 labels: nothing more to compare
        } else if (!has(sig->targets, target->kind)) {
          auto& dg = diags.report(Code::E0402, c.positional[1]->span, op->name, sig->targetText,
                                  c.positional[1]->dotted(), target->kindStr());
          dg.primary(fmt::format("this is {}", target->brief()));
          if (data && data->dataset) dg.label(data->dataset->labelSpan, "the label is declared here");
          if (target->kind == SemKind::Class && target->classes == 2 && binaryLoss)
            dg.help(fmt::format("with class<2> labels, `{}` takes one output per sample (`dense(1)`, {}[N, 1]); or use "
                                "`cross_entropy(model.out, …)` on two logits", op->name,
                                op->name == "bce" ? "sigmoid_probs" : "logits"));
          else if (target->kind == SemKind::OneHot && binaryLoss)
            // onehot<C> is one class per sample; a binary loss scores C independent yes/no outputs (and accuracy
            // counts each of them), which is the loss of multilabel<C> targets.
            dg.help(ot.kind == SemKind::SigmoidProbs
                        ? fmt::format("one class of {} per sample is a softmax classifier: remove the final `|> sigmoid`, "
                                      "declare the output `logits{}` and use `cross_entropy(model.out, {})`; for several "
                                      "labels per sample declare `multilabel<{}>`",
                                      target->classes, ot.shape.str(), c.positional[1]->dotted(), target->classes)
                        : fmt::format("one class of {} per sample is a softmax classifier: use `cross_entropy(model.out, "
                                      "{})`; for several labels per sample declare `multilabel<{}>`",
                                      target->classes, c.positional[1]->dotted(), target->classes));
          else if (target->kind == SemKind::Class)
            dg.help("class labels need a classification loss: `cross_entropy(model.out, …)` on logits");
          else if (op->name == "cross_entropy")
            dg.help("cross_entropy needs class labels: declare `label …: class<C>`");
          else
            dg.help(fmt::format("use a loss for {} targets", target->kindStr()));
        } else if (target->classes > 0 && !ot.shape.unknownRank && ot.shape.rank() >= 1 && ot.shape.dims.back().isConst() &&
                   ot.shape.dims.back().value != target->classes) {
          auto& dg = diags.report(Code::E0403, producer ? producer->span : out->span, ot.shape.dims.back().value,
                                  target->kindStr());
          dg.primary(fmt::format("{} outputs", ot.shape.dims.back().value));
          if (data && data->dataset) dg.label(data->dataset->labelSpan, fmt::format("{} classes", target->classes));
          dg.label(c.span, "compared here");
          if (!net->declaredOutput.poisoned) dg.label(net->declaredOutputSpan, fmt::format("declared {}", net->declaredOutput.brief()));
          // Logits of one class per sample are [N, C]: a rank-4 output ([N, 2, 30, 1]) is a rank problem, which
          // `dense(C)` alone would not solve (it acts on the last axis).
          const size_t perSample = target->shape.unknownRank ? 1 : target->shape.rank();
          if (ot.shape.rank() > perSample + 2) {
            int64_t axis = -1;
            for (size_t i = 1; i + 1 < ot.shape.rank(); ++i)
              if (ot.shape.dims[i].isConst() && ot.shape.dims[i].value == target->classes) axis = int64_t(i);
            dg.help(axis == 1 ? fmt::format("the output {} has {} axes more than logits of {} need: the classes are on axis 1, "
                                            "so pool away the others (`global_avgpool`, then `flatten`) to get [N, {}]",
                                            ot.brief(), ot.shape.rank() - perSample - 2, target->kindStr(), target->classes)
                              : fmt::format("the output {} has {} axes more than logits of {} need ([N, {}]): end the network "
                                            "with `flatten |> dense({})`", ot.brief(), ot.shape.rank() - perSample - 2,
                                            target->kindStr(), target->classes, target->classes));
          } else {
            dg.help(fmt::format("make the last layer produce {} units (`dense({})`)", target->classes, target->classes));
          }
        } else if ((target->kind == SemKind::Class || target->kind == SemKind::OneHot) && !target->shape.unknownRank &&
                   !ot.shape.unknownRank && ot.shape.rank() >= 2) {
          // Class labels name one class per output row: logits [N, C] take a label per sample, a sequence's
          // logits [N, T, C] a label per step (`label next: class<C>[T]`).
          Shape per;
          for (size_t i = 1; i + 1 < ot.shape.rank(); ++i) per.dims.push_back(ot.shape.dims[i]);
          // The steps of the targets: a class label's shape; a one-hot row's shape without its class axis
          // (`onehot<C>` is [C], `onehot<C>[T]` one row per step of T).
          Shape steps = target->shape;
          if (target->kind == SemKind::OneHot && !steps.dims.empty() && steps.dims.back().isConst() &&
              steps.dims.back().value == target->classes)
            steps.dims.pop_back();
          if (!Shape::compatible(per, steps)) {
            // A network that classifies whole samples against labels given per step: the labels are declared
            // with steps the model does not predict, so the primary span is the label's declaration.
            const bool labelAtFault = per.dims.empty() && data && data->dataset && data->dataset->labelSpan.valid();
            auto& dg = diags.report(Code::E0405, labelAtFault ? data->dataset->labelSpan : c.nameSpan, op->name, ot.brief(),
                                    steps.dims.empty() ? std::string("[] (one class per sample)") : steps.str());
            if (labelAtFault) {
              dg.primary(fmt::format("one class per step of {}", steps.str()));
              dg.label(c.nameSpan, "compared here");
            }
            dg.label(producer ? producer->span : out->span, fmt::format("this produces {}", ot.brief()));
            if (data && data->dataset && !labelAtFault) dg.label(data->dataset->labelSpan, "the label is declared here");
            dg.help(per.dims.empty()
                        ? fmt::format("the network predicts one class per sample: declare one label per sample (`label {}: {}`), "
                                      "or make the network return one prediction per step",
                                      data && data->dataset ? data->dataset->labelName : std::string("…"), target->kindStr())
                        : fmt::format("declare one class per step: `label …: {}{}`", target->kindStr(), per.str()));
          }
        } else if ((op->name == "mse" || op->name == "l1" || op->name == "huber" || op->name == "smooth_l1" ||
                    op->name == "poisson" || (op->name == "kl_div" && target->kind == SemKind::Real)) &&
                   !target->shape.unknownRank && !ot.shape.unknownRank) {
          Shape per;
          for (size_t i = 1; i < ot.shape.rank(); ++i) per.dims.push_back(ot.shape.dims[i]);
          if (!Shape::compatible(per, target->shape)) {
            // The recurrent layer whose steps reach the output through per-step layers: one that returns every
            // step ([N, T, H]) against one target per sequence (the fix is `output: last`), or one that returns
            // its last step against a target per step (the fix is to return every step). That layer is the fault.
            const Node* rec = nullptr;
            for (const Node* n = producer; n && !rec;) {
              if (n->op && n->op->recurrent) rec = n;
              else if (!n->op || n->inputs.empty() || !(n->op->category == OpCategory::Layer || n->op->category == OpCategory::Activation) ||
                       n->op->name == "flatten" || net->values[n->inputs[0]].type.shape.rank() != ot.shape.rank())
                break;
              else
                n = net->values[n->inputs[0]].producer >= 0 ? &net->nodes[net->values[n->inputs[0]].producer] : nullptr;
            }
            const bool everyStep = rec && rec->strAttr("output", "sequence") != "last" && ot.shape.rank() == 3 &&
                                   per.rank() > target->shape.rank();
            const bool lastStep = rec && rec->strAttr("output", "sequence") == "last" && ot.shape.rank() == 2 &&
                                  per.rank() < target->shape.rank();
            auto& dg = diags.report(Code::E0405, lastStep ? rec->span : c.nameSpan, op->name, ot.brief(), target->shape.str());
            if (lastStep) {
              dg.primary("returns only the last step");
              dg.label(c.nameSpan, fmt::format("compared with targets of shape {}", target->shape.str()));
            }
            dg.label(producer ? producer->span : out->span, fmt::format("this produces {}", ot.brief()));
            if (everyStep) {
              dg.label(rec->span, "returns every time step");
              dg.help(fmt::format("for one target per sequence, take the last step: `{}(…, output: last)` (or pool over time)",
                                  rec->op->name));
            } else if (lastStep) {
              dg.help(fmt::format("for one target per step, return every step: remove `output: last` from `{}`", rec->op->name));
            } else {
              dg.help("make the output's per-sample shape equal the target's");
            }
          }
        }
      }
      // ignore_index names a label to skip; labels lie in [0, classes): one outside matches nothing.
      if (auto it = c.args.find("ignore_index"); it != c.args.end() && !it->second.isDefault && target &&
                                                 target->kind == SemKind::Class && target->classes > 0) {
        const int64_t* k = std::get_if<int64_t>(&it->second.value);
        if (k && (*k < 0 || *k >= target->classes)) {
          auto& dg = diags.report(Code::E0406, it->second.span, c.name, *k, target->kindStr(), *k);
          dg.primary(fmt::format("labels lie in [0, {})", target->classes));
          if (data && data->dataset) dg.label(data->dataset->labelSpan, "the label is declared here");
          dg.help(fmt::format("give the class the padded steps are labelled with (0 … {}), or drop `ignore_index`",
                              target->classes - 1));
        }
      }
      // weight: one per class of the targets (torch's `weight` of CrossEntropyLoss / NLLLoss).
      if (auto it = c.args.find("weight"); it != c.args.end() && !it->second.isDefault && target && target->classes > 0) {
        const auto* w = std::get_if<std::vector<double>>(&it->second.value);
        if (w && int64_t(w->size()) != target->classes) {
          auto& dg = diags.report(Code::E0420, it->second.span, c.name, w->size(), target->kindStr());
          dg.primary(fmt::format("{} weight{}", w->size(), w->size() == 1 ? "" : "s"));
          if (data && data->dataset) dg.label(data->dataset->labelSpan, fmt::format("{} classes", target->classes));
          dg.help(fmt::format("give one weight per class: {} values", target->classes));
        } else if (w) {
          double sum = 0;
          for (double x : *w) sum += x;
          if (sum <= 0)
            diags.report(Code::E0212, it->second.span, "weight", c.name, "a list with at least one positive weight", "only zeros")
                .primary("every class weighs 0");
        }
      }
      if (!tc->loss) tc->loss = c;
      term.call = std::move(c);
      tc->lossTerms.push_back(std::move(term));
    }
  };
  if (lossItem) {
    const ast::Expr& v = *lossItem->value;
    auto bare = [](const ast::Expr* e) {
      while (e->kind == ast::ExprKind::Paren && !e->items.empty()) e = e->items[0].get();
      return e;
    };
    if (v.kind == ast::ExprKind::Call) {
      typeLossTerm(v, 1.0, Span{});
    } else if (bare(&v)->kind != ast::ExprKind::Binary) {
      diags.report(Code::E0215, v.span, "`loss` is a call such as `cross_entropy(model.out, kind)`");
    } else {
      // A weighted sum: terms `w * loss(…)` (or `loss(…) * w`, or a bare `loss(…)` of weight 1) joined by `+`.
      struct Raw { const ast::Expr* call; double weight; Span weightSpan; };
      std::vector<Raw> terms;
      bool formOk = true;
      std::function<void(const ast::Expr&)> collect = [&](const ast::Expr& e0) {
        const ast::Expr* e = bare(&e0);
        if (e->kind == ast::ExprKind::Binary && e->op == '+') {
          collect(*e->items[0]);
          collect(*e->items[1]);
          return;
        }
        if (e->kind == ast::ExprKind::Call) {
          terms.push_back({e, 1.0, Span{}});
          return;
        }
        if (e->kind == ast::ExprKind::Binary && e->op == '*') {
          const ast::Expr* a = bare(e->items[0].get());
          const ast::Expr* b = bare(e->items[1].get());
          if (a->kind == ast::ExprKind::Call) std::swap(a, b);
          if (a->kind == ast::ExprKind::Number && b->kind == ast::ExprKind::Call) {
            if (!(a->number > 0) || !std::isfinite(a->number)) {
              diags.report(Code::E0137, a->span, fmt::format("the weight {} is not a positive number", a->text))
                  .primary("a weight above 0")
                  .help("weigh each term by a positive number; leave out a term that should not count");
              formOk = false;
            }
            terms.push_back({b, a->number, a->span});
            return;
          }
        }
        auto& dg = diags.report(Code::E0137, e->span,
                                e->kind == ast::ExprKind::Binary && e->op == '-' ? "terms are added, never subtracted"
                                                                                 : "this term is not a number times a loss");
        dg.primary("expected `WEIGHT * LOSS(model.OUTPUT, FIELD)`");
        dg.help("write the loss as `1.0 * cross_entropy(model.cls, label) + 0.5 * mse(model.box, box)`");
        formOk = false;
      };
      collect(v);
      if (formOk)
        for (const Raw& r : terms) typeLossTerm(*r.call, r.weight, r.weightSpan);
    }
  } else {
    diags.report(Code::E0404, d.name.span, d.name.name).help("add `loss = cross_entropy(model.out, …)`");
  }
  // A loss none of whose terms compares with the label field (an autoencoder): the validation scores each term's
  // output against its own target, and there is no output for the label's metrics.
  bool labelTerm = tc->lossTerms.empty();
  for (const auto& t : tc->lossTerms) labelTerm |= !t.targetIsSample;
  if (!labelTerm && tc->data && tc->data->dataset)
    for (const Call& m : tc->metricCalls)
      if (m.name != "loss")
        diags.report(Code::E0421, m.span, m.name, "label", tc->name,
                     fmt::format("the sample field `{}` (no loss term compares an output with the label `{}`)",
                                 tc->data->dataset->sampleName, tc->data->dataset->labelName))
            .primary("scores an output against the labels")
            .help("report `loss` (validation also reports each term's loss and its output's mae and rmse), or add a loss "
                  "term on the label field");
  // The metrics that fit the targets: class labels take the classification metrics, real targets the regression
  // ones (accuracy on real targets is W0719's, the checker's).
  // cosine_embedding's targets say whether two outputs should agree: its validation reports the loss and the pairs'
  // accuracy (the share of pairs whose cosine lies on their target's side of (1 + margin) / 2), nothing else.
  bool pairLoss = false;
  for (const auto& t : tc->lossTerms) pairLoss |= t.outputValue2 >= 0;
  if (pairLoss)
    for (const Call& m : tc->metricCalls)
      if (m.name != "loss" && m.name != "accuracy")
        diags.report(Code::E0421, m.span, m.name, m.name == "mae" || m.name == "rmse" || m.name == "r2" ? "real" : "class<C>", tc->name,
                     "the 1/-1 pair targets of `cosine_embedding`")
            .primary("not a metric of pairs")
            .help("report `loss` and `accuracy` (the share of pairs whose cosine lies on their target's side of (1 + margin) / 2)");
  if (labelTerm && !pairLoss && tc->data && tc->data->dataset && !tc->data->label.poisoned) {
    const Type& target = tc->data->label;
    const bool classes = target.kind == SemKind::Class, real = target.kind == SemKind::Real;
    for (const Call& m : tc->metricCalls) {
      const bool classMetric = m.name == "top_k" || m.name == "precision" || m.name == "recall" || m.name == "f1" ||
                               m.name == "confusion" || m.name == "auc";
      const bool realMetric = m.name == "mae" || m.name == "rmse" || m.name == "r2";
      if ((classMetric && !classes) || (realMetric && !real)) {
        auto& dg = diags.report(Code::E0421, m.span, m.name, classMetric ? "class<C>" : "real", tc->name, target.kindStr());
        dg.primary(fmt::format("needs {} targets", classMetric ? "class" : "real"));
        dg.label(tc->data->dataset->labelSpan, "the label is declared here");
        dg.help(classMetric ? "for real targets report `mae`, `rmse` or `r2`"
                            : "for class labels report `accuracy`, `top_k(k)`, `precision`, `recall`, `f1` or `confusion`");
      } else if (m.name == "top_k" && classes && target.classes > 0) {
        auto it = m.args.find("k");
        const int64_t* k = it == m.args.end() ? nullptr : std::get_if<int64_t>(&it->second.value);
        if (k && *k >= target.classes) {
          auto& dg = diags.report(Code::E0422, it->second.span, *k, target.kindStr());
          dg.primary(fmt::format("every label is among the {} highest of {} scores", *k, target.classes));
          dg.label(tc->data->dataset->labelSpan, fmt::format("{} classes", target.classes));
          dg.help(fmt::format("take k below {}", target.classes));
        }
      }
    }
  }
  // val_OUTPUT_METRIC: the validation's metric of one output of a network with several outputs (its loss term's
  // val_OUTPUT_loss, and val_OUTPUT_acc against class labels, val_OUTPUT_mae and val_OUTPUT_rmse against real
  // targets). Returns false when `m` names no output; `why` says why a named output's metric is not reported.
  auto outputMetric = [&](const std::string& m, std::string& output, std::string& metric, std::string& why) {
    if (!net || net->outputs.empty() || m.rfind("val_", 0) != 0) return false;
    const std::string rest = m.substr(4);
    for (const Network::Output& o : net->outputs) {
      if (rest.size() <= o.name.size() + 1 || rest.compare(0, o.name.size() + 1, o.name + "_") != 0) continue;
      const std::string suffix = rest.substr(o.name.size() + 1);
      if (suffix != "loss" && suffix != "acc" && suffix != "mae" && suffix != "rmse") continue;
      output = o.name;
      metric = suffix == "acc" ? "accuracy" : suffix;
      const TrainConfig::LossTerm* term = nullptr;
      for (const auto& t : tc->lossTerms)
        if (t.output == o.name) term = &t;
      const bool classes = term && !term->targetIsSample && tc->data && tc->data->dataset && !tc->data->label.poisoned &&
                           tc->data->label.kind == SemKind::Class;
      if (!tc->settings.count("validate")) why = "the train block has no `validate`";
      else if (!term) why = fmt::format("no term of the loss reads `model.{}`, so the validation has no metrics of it", o.name);
      else if (suffix == "acc" && !classes) why = fmt::format("`model.{}` is compared with real-valued targets: its metrics are val_{}_mae and val_{}_rmse", o.name, o.name, o.name);
      else if ((suffix == "mae" || suffix == "rmse") && classes) why = fmt::format("`model.{}` is compared with class labels: its metric is val_{}_acc", o.name, o.name);
      return true;
    }
    return false;
  };
  if (tc->checkpointBest) {
    std::string output, metric, why;
    if (outputMetric(*tc->checkpointBest, output, metric, why)) {
      if (!why.empty()) {
        diags.report(Code::E0133, tc->checkpointBestSpan, *tc->checkpointBest, why)
            .primary("no such validation metric")
            .help(fmt::format("watch a metric the validation reports of `model.{}`, or `val_loss`", output));
        tc->checkpointBest.reset();
      } else {
        tc->checkpointBest = metric;
        tc->checkpointBestOutput = output;
      }
    }
  }
  // A rule's `monitor: val_OUTPUT_METRIC` (early stopping's, the plateau schedule's): `rule` (when it was built)
  // watches that output's metric: its `monitor` becomes val_METRIC, and the output is returned. E0212 for a name
  // that is no validation metric, E0133 for an output's metric the validation does not report (nullopt then).
  auto resolveMonitor = [&](const std::string& word, Span span, const std::string& ruleName, Call* rule) -> std::optional<std::string> {
    std::string output, metric, why;
    const bool named = outputMetric(word, output, metric, why);
    if (!named) {
      std::string words = "`val_loss`, `val_accuracy`";
      if (net)
        for (const Network::Output& o : net->outputs) words += fmt::format(", `val_{}_loss`", o.name);
      diags.report(Code::E0212, span, "monitor", ruleName, words, word)
          .primary("not a validation metric")
          .help("watch `val_loss`, `val_accuracy`, or an output's `val_OUTPUT_loss`/`_acc`/`_mae`/`_rmse`");
    } else if (!why.empty()) {
      diags.report(Code::E0133, span, word, why)
          .primary("no such validation metric")
          .help(fmt::format("watch a metric the validation reports of `model.{}`, or `val_loss`", output));
    } else if (rule) {
      rule->args["monitor"] = Attr{std::string("val_") + metric, span, false};
      return output;
    }
    return std::nullopt;
  };
  if (!stopMonitor.empty())
    if (auto output = resolveMonitor(stopMonitor, stopMonitorSpan, tc->stop ? tc->stop->name : std::string("early"),
                                     tc->stop ? &*tc->stop : nullptr))
      tc->stopOutput = *output;
  // The plateau schedule's output goes with its call, as its resolved argument `output` (the lowering reads it).
  if (!plateauMonitor.empty()) {
    Call* rule = plateauIndex < tc->schedules.size() && tc->schedules[plateauIndex].name == "plateau" ? &tc->schedules[plateauIndex] : nullptr;
    if (auto output = resolveMonitor(plateauMonitor, plateauMonitorSpan, "plateau", rule))
      rule->args["output"] = Attr{*output, plateauMonitorSpan, false};
  }
  // Gradient accumulation runs its micro-batches on one replica: with several devices it is refused.
  if (tc->accumulate > 1 && tc->devices.size() > 1)
    diags.report(Code::E0308, tc->accumulateSpan, tc->accumulate, tc->devices.size())
        .label(tc->placementSpan, fmt::format("{} devices", tc->devices.size()))
        .help(fmt::format("drop `accumulate` and take a {} times larger batch: the devices split it", tc->devices.size()));
  checkMixing(*tc);
  prog.trains.push_back(std::move(tc));
}

// mixup and cutmix make each target a mix of two classes: the loss must take class probabilities (cross_entropy,
// as torch's probability targets), over one class label per sample, with no setting that differs between class
// labels and probabilities (class weights, ignore_index); its kernel for them is the CPU's.
void Analyzer::checkMixing(const TrainConfig& tc) {
  if (!tc.data) return;
  const PipeStep* mix = nullptr;
  for (const PipeStep& s : tc.data->steps)
    if (s.op && s.op->mixesLabels) mix = mix ? mix : &s;
  if (!mix) return;
  for (const PipeStep& s : tc.data->steps)
    if (s.op && s.op->mixesLabels && &s != mix) {
      diags.report(Code::E0621, s.span, s.name, fmt::format("`{}` mixes them already", mix->name))
          .primary("a second mix")
          .label(mix->span, "the first")
          .help("keep one of mixup and cutmix per pipeline");
      return;
    }
  auto report = [&](const std::string& why, Span at, const std::string& help) {
    auto& dg = diags.report(Code::E0621, mix->span, mix->name, why);
    dg.primary("soft labels").label(at, "here");
    dg.help(help);
  };
  const Span lossSpan = tc.loss ? tc.loss->span : tc.nameSpan;
  const Type& label = tc.data->label;
  if (!tc.loss) return;
  if (tc.loss->name != "cross_entropy") {
    report(fmt::format("loss `{}` cannot take soft labels", tc.loss->name), tc.loss->nameSpan,
           "train with `loss = cross_entropy(…)`, which takes class probabilities, or remove the step");
    return;
  }
  if (!label.poisoned && label.kind != SemKind::Class && label.kind != SemKind::OneHot) {
    report(fmt::format("the labels are {}, not classes", label.kindStr()), tc.data->dataset ? tc.data->dataset->labelSpan : lossSpan,
           "mixup and cutmix mix class labels: remove the step for real-valued targets");
    return;
  }
  if (!label.poisoned && label.kind == SemKind::Class && !label.shape.unknownRank && label.shape.rank() > 0) {
    report("the labels are per step of a sequence", tc.data->dataset ? tc.data->dataset->labelSpan : lossSpan,
           "mixup and cutmix take one class label per sample");
    return;
  }
  for (const char* a : {"weight", "ignore_index"})
    if (auto it = tc.loss->args.find(a); it != tc.loss->args.end() && !it->second.isDefault) {
      report(fmt::format("`{}`'s `{}` applies to class labels only", tc.loss->name, a), it->second.span,
             fmt::format("remove `{}` from the loss, or the step", a));
      return;
    }
  const Device dev = tc.devices.empty() ? Device{} : tc.devices.front();
  if (dev.kind != Device::Kind::Cpu)
    diags.report(Code::E0304, mix->span, fmt::format("cross_entropy with the soft labels of `{}`", mix->name), "CUDA")
        .label(tc.placementSpan.valid() ? tc.placementSpan : tc.model.span, fmt::format("the model is placed on {}", dev.str()))
        .help("place the model `on cpu`, or remove the step");
}

}  // namespace dls::sema

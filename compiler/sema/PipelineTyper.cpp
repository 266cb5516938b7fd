// Pipelines: the source split, each step with the per-sample type before and after it, the batch size.
#include <algorithm>
#include <initializer_list>

#include <dlspec/runtime.h>
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "sema/OpRules.h"
#include "support/Suggest.h"

namespace dls::sema {

namespace {
std::string fieldList(const Dataset& ds) {
  std::string all = "`" + ds.sampleName + "`";
  for (size_t k = 0; k < ds.moreSamples.size(); ++k)
    all += fmt::format("{}`{}`", k + 1 == ds.moreSamples.size() ? " and " : ", ", ds.moreSamples[k].name);
  return all;
}
}  // namespace

// The sample field an augmentation transforms: the one `on` names, else the only one of image shape (rank 2 or more
// as the pipeline has it so far); mixup mixes every field alike and names none. The runtime augments the first
// sample field. False, with E0636 or E0637, when that is not one field the runtime augments.
bool Analyzer::augmentedField(const Dataset& ds, const ast::Item& it, const std::string& op,
                              const std::unordered_map<std::string, Type>& fields, std::string& field) {
  const Span at = it.value->span;
  if (it.on && op == "mixup") {
    diags.report(Code::E0636, it.on->span, op, "mixup mixes every sample field of a pair, and the labels, with the same weight")
        .primary("one field named")
        .label(at, "mixup")
        .help("drop `on …`");
    return false;
  }
  if (it.on && ds.sampleIndex(it.on->name) < 0) {
    auto& dg = diags.report(Code::E0636, it.on->span, op, fmt::format("`{}` is not a sample field of data set `{}`", it.on->name, ds.name))
                   .primary("not a sample field")
                   .label(ds.nameSpan, fmt::format("its sample fields: {}", fieldList(ds)));
    std::vector<std::string> names = {ds.sampleName};
    for (const auto& f : ds.moreSamples) names.push_back(f.name);
    if (auto near = closest(it.on->name, names)) dg.help(fmt::format("did you mean `{}`?", *near)).fixit(it.on->span, *near);
    return false;
  }
  if (ds.moreSamples.empty() || op == "mixup") return true;  // the one sample field; mixup: every field
  std::string target;
  if (it.on) {
    target = it.on->name;
  } else {
    std::vector<std::string> images;
    auto add = [&](const std::string& name) {
      auto f = fields.find(name);
      if (f != fields.end() && !f->second.shape.unknownRank && f->second.shape.dims.size() >= 2) images.push_back(name);
    };
    add(ds.sampleName);
    for (const auto& f : ds.moreSamples) add(f.name);
    if (images.size() != 1) {
      std::string which;
      for (size_t k = 0; k < images.size(); ++k) which += fmt::format("{}`{}`", k == 0 ? "" : k + 1 == images.size() ? " and " : ", ", images[k]);
      diags.report(Code::E0636, at, op,
                   images.empty() ? fmt::format("data set `{}` has {} sample fields and none of image shape (rank 2 or more)",
                                                ds.name, ds.moreSamples.size() + 1)
                                  : fmt::format("data set `{}` has several sample fields of image shape: {}", ds.name, which))
          .primary("an augmentation of which field?")
          .label(ds.nameSpan, fmt::format("its sample fields: {}", fieldList(ds)))
          .help(fmt::format("name the field: `augment {}(…) on {}`", op, images.empty() ? ds.sampleName : images[0]));
      return false;
    }
    target = images[0];
  }
  if (target != ds.sampleName) {
    diags.report(Code::E0637, it.on ? it.on->span : at, op, target, ds.sampleName)
        .primary(it.on ? "a further sample field" : fmt::format("`{}` is the field of image shape", target))
        .label(ds.sampleSpan, "the first sample field")
        .help(fmt::format("declare `sample {}` first, before `sample {}`", target, ds.sampleName));
    return false;
  }
  field = target;
  return true;
}

void Analyzer::typePipeline(const ast::Decl& d) {
  auto p = std::make_unique<Pipeline>();
  p->name = d.name.name;
  p->span = d.span;
  p->nameSpan = d.name.span;
  p->decl = &d;
  bool poisoned = false;
  if (!d.source.empty()) {
    p->sourceSpan = Span::join(d.source.front().span, d.source.back().span);
    if (const ast::Decl* dd = lookupDecl(d.source[0], ast::DeclKind::Dataset, "dataset")) {
      auto it = datasets.find(dd->name.name);
      if (it != datasets.end()) p->dataset = it->second;
    }
    if (p->dataset) {
      if (d.source.size() != 2) {
        diags.report(Code::E0215, p->sourceSpan, fmt::format("a pipeline reads one split: `from {}.train`", p->dataset->name));
      } else if (!p->dataset->find(d.source[1].name)) {
        std::vector<std::string> splits;
        for (auto& s : p->dataset->splits) splits.push_back(s.split);
        auto& e = diags.report(Code::E0101, d.source[1].span, fmt::format("split of `{}`", p->dataset->name), d.source[1].name);
        if (auto near = closest(d.source[1].name, splits)) e.help(fmt::format("did you mean `{}`?", *near));
      } else {
        p->split = d.source[1].name;
      }
    }
  }
  std::unordered_map<std::string, Type> fields;
  if (p->dataset) {
    fields[p->dataset->sampleName] = p->dataset->sample;
    for (const Dataset::Field& f : p->dataset->moreSamples) fields[f.name] = f.type;
    if (!p->dataset->labelName.empty()) fields[p->dataset->labelName] = p->dataset->label;
  } else {
    poisoned = true;
  }
  auto step = [&](const ast::Expr& call, const std::string& field, bool augment, Type before) -> std::optional<Type> {
    if (call.kind != ast::ExprKind::Call && call.kind != ast::ExprKind::Name) {
      diags.report(Code::E0215, call.span, "expected a pipeline step such as `to_f32` or `scale(1/255)`");
      return std::nullopt;
    }
    const OpInfo* op = lookupOp(call.path.back(), {OpCategory::Pipeline}, "pipeline step");
    if (!op) return std::nullopt;
    PipeStep s;
    s.op = op;
    s.name = std::string(op->name);
    s.augment = augment;
    s.field = field;
    s.span = call.span;
    std::vector<const ast::Arg*> args;
    for (auto& a : call.args) args.push_back(&a);
    if (!resolveArgs(*op, args, nullptr, call.span, s.attrs)) return std::nullopt;
    s.before = before;
    if (before.poisoned) {
      s.after = before;
    } else {
      ShapeCtx c{*op, {&before}, s.attrs, call.span, {}, {}};
      op->shape(c);
      if (c.error) {
        auto& dg = diags.add(c.error->code, call.span, c.error->message);
        if (!c.error->primary.empty()) dg.primary(c.error->primary);
        if (!c.error->inputs.empty() && field.size()) dg.note(fmt::format("the sample `{}` is {} here", field, before.brief()));
        if (!c.error->help.empty()) dg.help(c.error->help);
        s.after = before, s.after.poisoned = true;
      } else {
        s.after = c.out;
      }
    }
    if (op->name == "batch") {
      if (p->batch) diags.report(Code::E0104, call.span, "batch").primary("the pipeline is batched twice");
      else p->batch = std::get<int64_t>(s.attrs["size"].value), p->batchSpan = call.span;
    }
    if (op->name == "split")
      if (p->dataset) datasets[p->dataset->name]->validationFraction = std::get<double>(s.attrs["valid"].value);
    Type after = s.after;
    p->steps.push_back(std::move(s));
    return after;
  };
  for (const ast::Item& it : d.items) {
    if (it.kind == ast::ItemKind::Assign) {
      auto f = fields.find(it.key.name);
      if (f == fields.end()) {
        if (!poisoned) {
          std::vector<std::string> names;
          for (auto& [k, _] : fields) names.push_back(k);
          auto& e = diags.report(Code::E0101, it.key.span, "field", it.key.name);
          if (auto near = closest(it.key.name, names)) e.help(fmt::format("did you mean `{}`?", *near));
        }
        continue;
      }
      // field = field |> a |> b …
      std::vector<const ast::Expr*> chain;
      const ast::Expr* e = it.value.get();
      while (e && e->kind == ast::ExprKind::Pipe) {
        chain.push_back(e->items[1].get());
        e = e->items[0].get();
      }
      if (!e || e->kind != ast::ExprKind::Name || e->dotted() != it.key.name) {
        diags.report(Code::E0215, e ? e->span : it.span,
                     fmt::format("a pipeline assignment transforms its own field: `{0} = {0} |> …`", it.key.name));
        continue;
      }
      Type t = f->second;
      for (auto rit = chain.rbegin(); rit != chain.rend(); ++rit) {
        auto r = step(**rit, it.key.name, false, t);
        if (!r) {
          t.poisoned = true;  // the later steps are still recorded, untyped, for the checker's rules
          continue;
        }
        t = *r;
      }
      f->second = t;
    } else if (it.kind == ast::ItemKind::Call || it.kind == ast::ItemKind::Augment) {
      std::string field = p->dataset ? p->dataset->sampleName : "";
      const std::string opName = it.value && !it.value->path.empty() ? it.value->path.back().name : std::string("augment");
      const bool augments = it.value && (it.kind == ast::ItemKind::Augment || opName == "mixup" || opName == "cutmix");
      if (p->dataset && augments && !augmentedField(*p->dataset, it, opName, fields, field)) continue;
      Type before = p->dataset ? fields[field] : Type{};
      if (!p->dataset) before.poisoned = true;
      auto r = step(*it.value, field, it.kind == ast::ItemKind::Augment, before);
      if (r && p->dataset && !p->steps.empty() && p->steps.back().op->shape != rules::datasetLevel) fields[field] = *r;
    } else {
      diags.report(Code::E0112, it.span, "pipeline", "item");
    }
  }
  checkFeatureStatistics(*p);
  checkAugmentations(*p);
  if (p->dataset) {
    p->sample = fields[p->dataset->sampleName];
    for (const Dataset::Field& f : p->dataset->moreSamples) p->moreSamples.push_back(fields[f.name]);
    if (!p->dataset->labelName.empty()) p->label = fields[p->dataset->labelName];
  } else {
    p->sample.poisoned = p->label.poisoned = true;
  }
  pipelines[p->name] = p.get();
  prog.pipelines.push_back(std::move(p));
}

// standardize and min_max rescale each feature by statistics of the training split that the lowering
// computes from the file when the program is built: they apply to the samples, of a data set with a `train`
// split in a format of numeric records (CSV, NPY, IDX), after steps whose effect on those statistics is known
// (conversions, scale, normalize and reshape, which keeps the elements' order).
void Analyzer::checkFeatureStatistics(const Pipeline& p) {
  // E0116 at the first step of s's field before step i whose effect on the statistics is not followed (not in
  // `known`), if any.
  auto firstUnknownStep = [&](const PipeStep& s, size_t i, std::initializer_list<int> known) {
    for (size_t j = 0; j < i; ++j) {
      const PipeStep& b = p.steps[j];
      if (!b.op || b.field != s.field || b.op->shape == rules::datasetLevel) continue;
      if (std::find(known.begin(), known.end(), b.op->opcode) != known.end()) continue;
      diags.report(Code::E0116, s.span, fmt::format("`{}` comes after `{}`, whose effect on the training split's statistics is not known when the program is built", s.name, b.name))
          .primary("computed from the file's values")
          .label(b.span, "this step comes first")
          .help(fmt::format("move `{}` before `{}`", s.name, b.name));
      return;
    }
  };
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PipeStep& s = p.steps[i];
    if (!s.op || (s.op->opcode != kOpcodeStandardize && s.op->opcode != kOpcodeMinMax)) continue;
    if (!p.dataset) continue;
    const Dataset& ds = *p.dataset;
    const DataSource* csvTrain = nullptr;
    for (const DataSource& src : ds.splits)
      if (src.split == "train" && src.format == DataFormat::Csv) csvTrain = &src;
    if (s.field != ds.sampleName && s.field == ds.labelName && s.op->opcode == kOpcodeStandardize && csvTrain &&
        ds.label.kind == SemKind::Real) {
      // The targets of a CSV training split, standardised by their mean and deviation: after steps whose effect
      // on each target is known (conversions, scale, normalize, add, log1p).
      firstUnknownStep(s, i, {DLS_PIPE_TO_F32, DLS_PIPE_SCALE, DLS_PIPE_NORMALIZE, DLS_PIPE_ADD, DLS_PIPE_LOG1P, DLS_PIPE_RESHAPE});
      continue;
    }
    if (ds.sampleIndex(s.field) < 0) {
      diags.report(Code::E0116, s.span, fmt::format("`{}` of the label field `{}` is not supported yet: it rescales samples", s.name, s.field))
          .primary("a step of the labels")
          .help(fmt::format("rescale real-valued targets with `normalize(mean, std)`: `{0} = {0} |> normalize(…)`", s.field));
      continue;
    }
    const DataSource* train = nullptr;
    for (const DataSource& src : ds.splits)
      if (src.split == "train") train = &src;
    if (!train) {
      diags.report(Code::E0116, s.span, fmt::format("`{}` uses the statistics of the training split, but data set `{}` has no `train` split", s.name, ds.name))
          .primary("statistics of which data?")
          .help("declare the training data as `train = …`, or normalise with given values: `normalize(mean, std)`");
      continue;
    }
    if (train->format == DataFormat::Images || train->format == DataFormat::Text) {
      diags.report(Code::E0116, s.span, fmt::format("`{}` of {} samples is not supported yet: it is computed for CSV, NPY and IDX training data",
                                                    s.name, train->format == DataFormat::Images ? "image-folder" : "text"))
          .primary("per-feature statistics of these samples")
          .help("normalise with given values: `normalize(mean, std)`");
      continue;
    }
    firstUnknownStep(s, i, {DLS_PIPE_TO_F32, DLS_PIPE_TO_I32, DLS_PIPE_TO_I64, DLS_PIPE_SCALE, DLS_PIPE_NORMALIZE, DLS_PIPE_RESHAPE});
  }
}

// color_jitter blends and clamps to [0, 1] as torchvision's does on float images: after normalize or standardize
// the values are no longer in that range, and the clamp cuts them off.
void Analyzer::checkAugmentations(const Pipeline& p) {
  // one_hot encodes the indices the data holds: at load time, before any augmentation, and of values no step has
  // rescaled.
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PipeStep& s = p.steps[i];
    if (!s.op || s.op->opcode != DLS_PIPE_ONE_HOT || s.before.kind == SemKind::Class) continue;
    for (size_t j = 0; j < i; ++j) {
      const PipeStep& b = p.steps[j];
      if (!b.op || b.field != s.field || b.op->wholeDataset || !(b.augment || b.op->augmentation || b.op->rescales ||
                                                                  b.op->opcode == DLS_PIPE_ADD || b.op->opcode == DLS_PIPE_LOG1P))
        continue;
      diags.report(Code::E0630, s.span, fmt::format("it comes after `{}`, which {} the values it would read as indices", b.name,
                                                    b.augment || b.op->augmentation ? "augments" : "rescales"))
          .primary("one_hot here")
          .label(b.span, "this step comes first")
          .help(fmt::format("encode first: move `one_hot` before `{}`", b.name));
      break;
    }
  }
  // The runtime augments a sample in three stages: random_crop and random_flip when it gathers the sample, then
  // the other per-sample augmentations in the order written, then mixup / cutmix over the batch. An order written
  // otherwise would silently not be the order run.
  auto stage = [](const PipeStep& s) {
    if (!s.op || !s.op->augmentation) return -1;
    const int c = s.op->opcode;
    return c == DLS_PIPE_RANDOM_CROP || c == DLS_PIPE_RANDOM_FLIP ? 0 : c == DLS_PIPE_MIXUP || c == DLS_PIPE_CUTMIX ? 2 : 1;
  };
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PipeStep& s = p.steps[i];
    const int si = stage(s);
    if (si < 0) continue;
    for (size_t j = 0; j < i; ++j) {
      const PipeStep& b = p.steps[j];
      const int sb = stage(b);
      if (sb <= si || (si == 0 && sb == 0)) continue;
      const std::string why = si == 0 ? fmt::format("`{}` crops or mirrors each sample as it is read, before any other augmentation runs", s.name)
                                      : fmt::format("`{}` mixes the samples of the batch after every per-sample augmentation has run", b.name);
      diags.report(Code::E0640, s.span, s.name, b.name, why)
          .primary(fmt::format("`{}` would run first", s.name))
          .label(b.span, "written first")
          .help(fmt::format("write `augment {}(…)` before `augment {}(…)`", s.name, b.name));
      break;
    }
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PipeStep& s = p.steps[i];
    if (!s.op || s.op->name != "color_jitter") continue;
    for (size_t j = 0; j < i; ++j) {
      const PipeStep& b = p.steps[j];
      if (!b.op || b.field != s.field || b.op->wholeDataset) continue;
      const int c = b.op->opcode;
      if (c != DLS_PIPE_NORMALIZE && c != kOpcodeStandardize) continue;
      diags.report(Code::W0610, s.span, b.name)
          .primary("clamps to [0, 1]")
          .label(b.span, "the values leave [0, 1] here")
          .help(fmt::format("jitter the colours before `{}`: `augment color_jitter(…)` after `scale(1/255)`", b.name));
      break;
    }
  }
}

}  // namespace dls::sema

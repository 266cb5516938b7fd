// dlspec ops [NAME] [--markdown] : the reference of the ops, generated from the op table (sema/OpTable.cpp).
// `--markdown` prints docs/ops.md, which a test regenerates and compares.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "driver/Command.h"
#include "sema/OpRules.h"
#include "sema/OpTable.h"
#include "support/Suggest.h"

namespace dls {

using sema::AttrSpec;
using sema::AttrType;
using sema::OpCategory;
using sema::OpInfo;

static const std::string_view kUsage = commandUsage("ops");

namespace {

// The sections of the reference, in order; pipeline steps are split into three by how they are written.
enum class Section { Layer, Activation, Structural, Transform, Augmentation, DatasetStep, DataSource, Loss, Optimizer,
                     Schedule, Clip, Stop, Metric, Initializer };

constexpr Section kSections[] = {Section::Layer,       Section::Activation,  Section::Structural, Section::Transform,
                                 Section::Augmentation, Section::DatasetStep, Section::DataSource, Section::Loss,
                                 Section::Optimizer,   Section::Schedule,    Section::Clip,       Section::Stop,
                                 Section::Metric,      Section::Initializer};

bool isAugmentation(const OpInfo& op) { return op.augmentation; }
bool isDatasetStep(const OpInfo& op) { return op.shape == sema::rules::datasetLevel; }

Section sectionOf(const OpInfo& op) {
  switch (op.category) {
    case OpCategory::Layer: return Section::Layer;
    case OpCategory::Activation: return Section::Activation;
    case OpCategory::Structural: return Section::Structural;
    case OpCategory::Pipeline:
      return isAugmentation(op) ? Section::Augmentation : isDatasetStep(op) ? Section::DatasetStep : Section::Transform;
    case OpCategory::DataSource: return Section::DataSource;
    case OpCategory::Loss: return Section::Loss;
    case OpCategory::Optimizer: return Section::Optimizer;
    case OpCategory::Schedule: return Section::Schedule;
    case OpCategory::Metric: return Section::Metric;
    case OpCategory::Initializer: return Section::Initializer;
    case OpCategory::Clip: return Section::Clip;
    case OpCategory::Stop: return Section::Stop;
  }
  return Section::Layer;
}

std::string_view sectionTitle(Section s) {
  switch (s) {
    case Section::Layer: return "Layers";
    case Section::Activation: return "Activations";
    case Section::Structural: return "Structural ops";
    case Section::Transform: return "Pipeline transformations";
    case Section::Augmentation: return "Augmentations";
    case Section::DatasetStep: return "Pipeline steps";
    case Section::DataSource: return "Data sources";
    case Section::Loss: return "Losses";
    case Section::Optimizer: return "Optimisers";
    case Section::Schedule: return "Schedules";
    case Section::Clip: return "Gradient clipping";
    case Section::Stop: return "Stopping rules";
    case Section::Metric: return "Metrics";
    case Section::Initializer: return "Initialisers";
  }
  return "";
}

std::string_view sectionWhere(Section s) {
  switch (s) {
    case Section::Layer: return "in a network or block, on a value: `h = x |> NAME(…)`";
    case Section::Activation: return "in a network or block: `h = x |> NAME`";
    case Section::Structural: return "in a network or block";
    case Section::Transform: return "in a pipeline, on a field of the sample: `image = image |> NAME(…)`";
    case Section::Augmentation: return "in a pipeline, training only: `augment NAME(…)`";
    case Section::DatasetStep: return "in a pipeline, as an item of its own: `NAME(…)`";
    case Section::DataSource: return "in a dataset, as a split: `train = NAME(…)`";
    case Section::Loss: return "in a train block: `loss = NAME(model.out, LABEL)`";
    case Section::Optimizer: return "in a train block: `optimizer = NAME(…)`";
    case Section::Schedule: return "in a train block: `schedule = NAME(…)`";
    case Section::Clip: return "in a train block: `clip = NAME(…)`";
    case Section::Stop: return "in a train block that validates: `stop = NAME(…)`";
    case Section::Metric: return "in a train block's `validate = … metrics [NAME, …]`";
    case Section::Initializer: return "as the `init:` argument of a layer with weights: `dense(64, init: NAME)`";
  }
  return "";
}

std::string number(double v) {
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string valueText(const sema::AttrValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return fmt::format("{}", *i);
  if (auto* d = std::get_if<double>(&v)) return number(*d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* l = std::get_if<std::vector<int64_t>>(&v)) return fmt::format("[{}]", fmt::join(*l, ", "));
  return "";
}

std::string words(std::string_view w, std::string_view sep = ", ") {
  std::string out;
  while (!w.empty()) {
    size_t bar = w.find('|');
    if (!out.empty()) out += sep;
    out += fmt::format("`{}`", w.substr(0, bar));
    w = bar == std::string_view::npos ? std::string_view{} : w.substr(bar + 1);
  }
  return out;
}

std::string typeText(const AttrSpec& a) {
  switch (a.type) {
    case AttrType::Int: return "integer";
    case AttrType::Float: return "number";
    case AttrType::Bool: return "`true` or `false`";
    case AttrType::String: return "string";
    case AttrType::Enum: return "one of " + words(a.words);
    case AttrType::IntOrPair: return "integer or pair `[h, w]`";
    case AttrType::Padding: return "integer, `[h, w]`, `[top, left, bottom, right]`, " + words(a.words, " or ");
    case AttrType::IntList: return "list of integers";
    case AttrType::FloatList: return "list of numbers";
    case AttrType::IntOrWord: return "integer or " + words(a.words, " or ");
    case AttrType::IntOrString: return "string or integer";
    case AttrType::Init: return "initialiser (see Initialisers)";
  }
  return "value";
}

std::string rangeText(const AttrSpec& a) {
  bool lo = !std::isinf(a.min), hi = !std::isinf(a.max) && a.max < 9e18;
  if (!lo && !hi) return "";
  if (lo && hi) return fmt::format("{}{}, {}{}", a.minExclusive ? "(" : "[", number(a.min), number(a.max), a.maxExclusive ? ")" : "]");
  if (lo) return fmt::format("{} {}", a.minExclusive ? ">" : "≥", number(a.min));
  return fmt::format("{} {}", a.maxExclusive ? "<" : "≤", number(a.max));
}

bool required(const AttrSpec& a) { return !a.dflt && !a.optional; }

std::string_view firstWord(std::string_view w) { return w.substr(0, w.find('|')); }

// A value for an argument in the generated example: a usual one for the well-known names, else by type.
std::string exampleValue(const OpInfo& op, const AttrSpec& a) {
  std::string_view n = a.name;
  std::string v;
  if (n == "units" || n == "dim") v = "64";
  else if (n == "filters") v = "16";
  else if (n == "kernel") v = "3";
  else if (n == "vocab") v = "1000";
  else if (n == "classes") v = "10";
  else if (n == "shape") v = "[1, 28, 28]";
  else if (n == "perm") v = "[0, 2, 1]";
  else if (n == "axis") v = "1";
  else if (n == "factor") v = a.type == AttrType::Float ? "1/255" : "2";
  else if (n == "mean") v = "0.5";
  else if (n == "std") v = "0.25";
  else if (n == "size") v = a.type == AttrType::Int ? "64" : "28";
  else if (n == "valid") v = "0.1";
  else if (n == "lr") v = "0.01";
  else if (n == "every") v = "10";
  else if (n == "t_max") v = "50";
  else if (n == "steps") v = "500";
  else if (n == "milestones") v = "[30, 60]";
  else if (n == "value") v = "0.1";
  else if (n == "images") v = "\"train-images-idx3-ubyte.gz\"";
  else if (n == "labels") v = op.name == "npy" ? "\"train_y.npy\"" : "\"train-labels-idx1-ubyte.gz\"";
  else if (n == "samples") v = "\"train_x.npy\"";
  else if (n == "path") v = "\"train.csv\"";
  else {
    switch (a.type) {
      case AttrType::Int: case AttrType::IntOrPair: case AttrType::IntOrWord:
        v = number(std::isinf(a.min) ? 1 : std::max(a.min + (a.minExclusive ? 1 : 0), 1.0));
        break;
      case AttrType::Float: v = "0.5"; break;
      case AttrType::Bool: v = "true"; break;
      case AttrType::String: case AttrType::IntOrString: v = "\"file\""; break;
      case AttrType::Enum: case AttrType::Padding: v = std::string(firstWord(a.words)); break;
      case AttrType::IntList: v = "[1]"; break;
      case AttrType::FloatList: v = "[1, 2]"; break;
      case AttrType::Init: v = "he"; break;
    }
  }
  if (!a.units.empty()) {
    std::string_view u = a.units;
    std::string_view plural = u.substr(u.find('|') == std::string_view::npos ? 0 : u.find('|') + 1);
    v += " " + std::string(plural);
  }
  return v;
}

// The call with its required arguments: positional ones in order, then named ones (and those with units).
std::string exampleCall(const OpInfo& op) {
  std::vector<const AttrSpec*> pos, named;
  for (const AttrSpec& a : op.attrs)
    if (required(a)) (a.positional >= 0 && a.units.empty() ? pos : named).push_back(&a);
  std::sort(pos.begin(), pos.end(), [](const AttrSpec* x, const AttrSpec* y) { return x->positional < y->positional; });
  std::vector<std::string> args;
  if (op.inputsFromArgs) {
    if (op.category == OpCategory::Loss && op.minInputs == 3) args = {"model.a", "model.b", "label"};  // two outputs
    else if (op.category == OpCategory::Loss) args = {"model.out", "label"};
    else if (op.attention) args = {"x", "memory"};  // cross_attention: the queries, then the keys' and values' sequence
    else args = {"a", "b"};
  }
  for (const AttrSpec* a : pos) args.push_back(exampleValue(op, *a));
  for (const AttrSpec* a : named) args.push_back(fmt::format("{}: {}", a->name, exampleValue(op, *a)));
  if (args.empty()) return std::string(op.name);
  return fmt::format("{}({})", op.name, fmt::join(args, ", "));
}

std::string example(const OpInfo& op) {
  std::string call = exampleCall(op);
  switch (sectionOf(op)) {
    case Section::Layer: case Section::Activation:
      return op.inputsFromArgs ? "h = " + call : "h = x |> " + call;
    case Section::Structural: return op.inputsFromArgs ? "h = " + call : "h = x |> " + call;
    case Section::Transform: return "image = image |> " + call;
    case Section::Augmentation: return "augment " + call;
    case Section::DatasetStep: return call;
    case Section::DataSource: return "train = " + call;
    case Section::Loss: return "loss = " + call;
    case Section::Optimizer: return "optimizer = " + call;
    case Section::Schedule: return "schedule = " + call;
    case Section::Clip: return "clip = " + call;
    case Section::Stop: return "stop = " + call;
    case Section::Metric: return fmt::format("validate = test_input every 1 epoch metrics [{}]", op.name);
    case Section::Initializer: return fmt::format("h = x |> dense(64, init: {})", call);
  }
  return call;
}

std::string ordinal(int i) {
  static const char* names[] = {"1st", "2nd", "3rd"};
  return i < 3 ? names[i] : fmt::format("{}th", i + 1);
}

}  // namespace

// One op's reference, in Markdown (also what `dlspec ops NAME` prints).
std::string opReference(const OpInfo& op) {
  std::string out = fmt::format("### `{}`\n\n", op.name);
  out += fmt::format("*{}*. {}.\n\n", sema::categoryName(op.category), op.doc.empty() ? "(no description)" : op.doc);
  if (!op.replacedBy.empty())
    out += fmt::format("Deprecated since language version {}: use `{}`.\n\n", op.deprecatedSince, op.replacedBy);
  if (!op.attrs.empty()) {
    out += "| argument | type | default | range |\n|---|---|---|---|\n";
    for (const AttrSpec& a : op.attrs) {
      std::string name = fmt::format("`{}`", a.name);
      if (a.positional >= 0) name += fmt::format(" ({} positional)", ordinal(a.positional));
      std::string dflt = a.dflt ? fmt::format("`{}`", valueText(*a.dflt)) : a.optional ? "none" : "required";
      std::string range = rangeText(a);
      if (!a.units.empty()) range += (range.empty() ? "" : "; ") + std::string("unit ") + words(a.units, " or ");
      out += fmt::format("| {} | {} | {} | {} |\n", name, typeText(a), dflt, range);
    }
    out += "\n";
  }
  std::vector<std::string> facts;
  bool tensorOp = op.category == OpCategory::Layer || op.category == OpCategory::Activation ||
                  op.category == OpCategory::Structural || op.category == OpCategory::Loss;
  if (tensorOp) {
    if (op.inputsFromArgs)
      facts.push_back(op.maxInputs < 0 ? fmt::format("inputs: {} or more, as arguments", op.minInputs)
                                       : fmt::format("inputs: {}, as arguments", op.minInputs));
    if (op.category != OpCategory::Loss)
      facts.push_back(op.kind ? fmt::format("output kind: `{}`", sema::semKindName(*op.kind)) : "output kind: the input's");
    if (op.params) facts.push_back("has trainable parameters");
    std::string backends = op.cpu && op.cuda ? "cpu, cuda" : op.cpu ? "cpu" : op.cuda ? "cuda" : "none yet";
    if (!op.cudaWithout.empty()) backends += fmt::format(" (cuda not with {})", words(op.cudaWithout, ", "));
    if (op.opcode != sema::kOpcodeView) facts.push_back("backends: " + backends);
    else facts.push_back("a view: no kernel, no copy");
    if (op.opcode >= 0)
      facts.push_back(op.bf16      ? "`precision = bf16` (cpu): bf16 products, f32 accumulation and outputs"
                      : op.keepF32 ? "`precision = bf16` (cpu): kept in f32 (unstable in low precision)"
                                   : "`precision = bf16` (cpu): f32 (no bf16 kernel)");
    if (!op.differentiable) facts.push_back("not differentiable");
  }
  if (!facts.empty()) out += fmt::format("{}.\n\n", fmt::join(facts, "; "));
  out += fmt::format("```dls\n{}\n```\n", example(op));
  return out;
}

std::string opReferenceText(std::string_view name) {
  std::string out;
  for (const OpInfo& op : sema::opTable())
    if (op.name == name) out += (out.empty() ? "" : "\n") + opReference(op);
  return out;
}

std::string opsMarkdown() {
  std::string out =
      "# Op reference\n\n"
      "<!-- Generated by `dlspec ops --markdown` from the op table (compiler/sema/OpTable.cpp); do not edit.\n"
      "     The test ops/docs-are-current fails when this file differs from what the table generates. -->\n\n"
      "Every layer, activation, structural op, pipeline step, augmentation, data source, loss, optimiser, schedule,\n"
      "metric and initialiser a spec can name, with its arguments. An argument marked positional may be given\n"
      "without its name, in that position: `conv2d(16, 3)` is `conv2d(filters: 16, kernel: 3)`. `dlspec ops NAME`\n"
      "prints one entry. Shapes are written batch first: `[N, C, H, W]`.\n\n";
  for (Section s : kSections) {
    std::vector<std::string> names;
    for (const OpInfo& op : sema::opTable())
      if (sectionOf(op) == s) names.push_back(fmt::format("`{}`", op.name));
    out += fmt::format("- **{}**: {}\n", sectionTitle(s), fmt::join(names, ", "));
  }
  for (Section s : kSections) {
    out += fmt::format("\n## {}\n\nWritten {}.\n", sectionTitle(s), sectionWhere(s));
    for (const OpInfo& op : sema::opTable())
      if (sectionOf(op) == s) out += "\n" + opReference(op);
  }
  return out;
}

int cmdOps(const std::vector<std::string>& argv) {
  bool markdown = false;
  std::vector<std::string> names;
  for (const std::string& a : argv) {
    if (a == "--markdown") markdown = true;
    else if (!a.empty() && a[0] == '-') return usageError(fmt::format("unknown option `{}`", a), kUsage);
    else names.push_back(a);
  }
  if (names.size() > 1) return usageError("expected at most one op name", kUsage);
  if (names.empty()) {
    if (markdown) {
      fmt::print("{}", opsMarkdown());
      return kExitOk;
    }
    for (Section s : kSections) {
      fmt::print("{}:\n", sectionTitle(s));
      for (const OpInfo& op : sema::opTable())
        if (sectionOf(op) == s) fmt::print("  {:<22} {}\n", op.name, op.doc);
      fmt::print("\n");
    }
    fmt::print("`dlspec ops NAME` prints one op's arguments, defaults and an example.\n");
    return kExitOk;
  }
  std::string out = opReferenceText(names[0]);
  if (out.empty()) {
    std::vector<std::string> all;
    for (const OpInfo& op : sema::opTable()) all.emplace_back(op.name);
    return usageError(fmt::format("no op `{}`; {}", names[0], suggestionText(names[0], all)), kUsage);
  }
  fmt::print("{}", out);
  return kExitOk;
}

}  // namespace dls

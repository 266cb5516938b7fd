#include "import/DarknetImport.h"

#include <cctype>
#include <cstdlib>
#include <fmt/format.h>
#include <map>
#include <set>

namespace dls::import {
namespace {

// One `key=value` line of a section. Darknet strips every blank from a line before reading it.
struct Option {
  std::string key, value;
  uint32_t line = 0;
  Span keySpan, valueSpan;
  bool used = false;
};

struct Section {
  std::string name;
  uint32_t line = 0;
  Span span;
  std::vector<Option> options;
};

// The keys each section may carry: read by the translation, or known to Darknet but without effect on the
// network's shapes (augmentation, schedule details, detection-loss weights). Anything else is W1101.
const std::map<std::string, std::set<std::string>>& knownKeys() {
  static const std::map<std::string, std::set<std::string>> k = {
      {"net", {"batch", "subdivisions", "width", "height", "channels", "inputs", "learning_rate", "momentum", "decay",
               "max_batches", "policy", "steps", "scales", "step", "gamma", "power", "burn_in", "angle", "aspect",
               "saturation", "exposure", "hue", "min_crop", "max_crop", "time_steps", "adam", "B1", "B2", "eps",
               "seen", "random", "notruth", "max_ratio", "min_ratio", "center", "clip"}},
      {"convolutional", {"filters", "size", "stride", "pad", "padding", "groups", "activation", "batch_normalize"}},
      {"connected", {"output", "activation", "batch_normalize"}},
      {"rnn", {"output", "hidden", "activation", "batch_normalize", "shortcut"}},
      {"gru", {"output", "batch_normalize", "tanh"}},
      {"lstm", {"output", "batch_normalize"}},
      {"local", {"filters", "size", "stride", "pad", "activation"}},
      {"crop", {"crop_height", "crop_width", "flip", "angle", "saturation", "exposure", "shift", "noadjust"}},
      {"maxpool", {"size", "stride", "padding"}},
      {"avgpool", {}},
      {"dropout", {"probability"}},
      {"softmax", {"groups", "temperature", "tree", "spatial", "noloss"}},
      {"route", {"layers"}},
      {"shortcut", {"from", "activation", "alpha", "beta"}},
      {"upsample", {"stride", "scale"}},
      {"reorg", {"stride", "reverse", "flatten", "extra"}},
      {"cost", {"type", "scale", "ratio", "noobject_scale", "thresh"}},
      {"yolo", {"mask", "anchors", "classes", "num", "jitter", "ignore_thresh", "truth_thresh", "random",
                "max_delta", "map"}},
      {"region", {"anchors", "classes", "coords", "num", "softmax", "jitter", "rescore", "object_scale",
                  "noobject_scale", "class_scale", "coord_scale", "thresh", "random", "absolute", "bias_match",
                  "tree", "map", "log", "sqrt", "max"}},
      {"detection", {"classes", "coords", "rescore", "side", "num", "softmax", "sqrt", "jitter", "object_scale",
                     "noobject_scale", "class_scale", "coord_scale", "forced", "random", "reorg"}},
  };
  return k;
}

// Sections Darknet knows that dlspec has no op for: reported as E1103 (never dropped).
const std::set<std::string>& knownButInexpressible() {
  static const std::set<std::string> s = {"crnn", "deconvolutional",
                                          "normalization", "batchnorm", "l2norm", "logistic", "iseg", "xnor",
                                          "network", "conv", "conn", "max", "avg", "deconv", "lrn", "soft"};
  return s;
}

std::string camel(const std::string& stem) {
  std::string out;
  bool up = true;
  for (char ch : stem) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    up = false;
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "Net" + out;
  return out;
}

std::string snake(const std::string& stem) {
  std::string out;
  for (char ch : stem) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "net_" + out;
  return out;
}

class Importer {
public:
  Importer(SourceManager& sources, DiagnosticEngine& diags, FileId file) : sm_(sources), diags_(diags), file_(file) {}

  std::optional<DarknetImport> run(const std::string& path);

private:
  SourceManager& sm_;
  DiagnosticEngine& diags_;
  FileId file_;
  std::vector<Section> sections_;
  std::vector<DarknetLayer> layers_;
  std::vector<std::string> body_;  // network statements, one line each
  std::vector<int> bodyLayer_;     // layer index of each body line, -1 for none
  bool bad_ = false;

  void parse();
  Option* find(Section& s, const std::string& key) {
    for (Option& o : s.options)
      if (o.key == key) {
        o.used = true;
        return &o;
      }
    return nullptr;
  }
  std::optional<int64_t> integer(Section& s, const std::string& key, int64_t dflt, int64_t min = INT64_MIN);
  std::optional<double> number(Section& s, const std::string& key, double dflt);
  std::string word(Section& s, const std::string& key, const std::string& dflt) {
    Option* o = find(s, key);
    return o ? o->value : dflt;
  }
  // `layers=` / `from=` values: indexes relative (negative) or absolute; nullopt after E1104/E1102.
  std::optional<std::vector<int>> refs(Section& s, const std::string& key, int self);
  // The activation suffix (` |> leaky_relu(0.1)`), or nullopt after E1103.
  std::optional<std::string> activation(Section& s, const std::string& dflt);
  // W1103: translated, but part of the feature's behaviour is not in the spec.
  void notModelled(Span at, const std::string& what, const std::string& why) {
    diags_.report(Code::W1103, at, what, why);
  }
  void inexpressible(Span at, const std::string& what, const std::string& why) {
    diags_.report(Code::E1103, at, what, why);
    bad_ = true;
  }
  std::string feature(const Section& s, const std::string& key = {}) const {
    return key.empty() ? fmt::format("`[{}]` at line {}", s.name, s.line)
                       : fmt::format("`[{}]` key `{}` at line {}", s.name, key, s.line);
  }
};

void Importer::parse() {
  std::string_view text = sm_.text(file_);
  uint32_t pos = 0, line = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    ++line;
    std::string_view raw = text.substr(pos, nl - pos);
    std::string stripped;
    std::vector<uint32_t> at;  // offset in the file of each kept character
    for (uint32_t i = 0; i < raw.size(); ++i)
      if (!std::isspace(static_cast<unsigned char>(raw[i]))) {
        stripped += raw[i];
        at.push_back(pos + i);
      }
    auto span = [&](size_t b, size_t e) {
      return e > b ? Span{file_, at[b], at[e - 1] + 1} : Span{file_, pos, pos};
    };
    if (!stripped.empty() && stripped[0] != '#' && stripped[0] != ';') {
      if (stripped[0] == '[') {
        size_t close = stripped.find(']');
        if (close == std::string::npos) {
          diags_.report(Code::E1105, span(0, stripped.size())).primary("a section header needs `]`");
          bad_ = true;
        } else {
          sections_.push_back({stripped.substr(1, close - 1), line, span(0, close + 1), {}});
        }
      } else {
        size_t eq = stripped.find('=');
        if (eq == std::string::npos || eq == 0 || sections_.empty()) {
          diags_.report(Code::E1105, span(0, stripped.size()))
              .primary(sections_.empty() ? "no `[section]` before this line" : "expected `key=value`");
          bad_ = true;
        } else {
          sections_.back().options.push_back(
              {stripped.substr(0, eq), stripped.substr(eq + 1), line, span(0, eq), span(eq + 1, stripped.size())});
        }
      }
    }
    if (nl == text.size()) break;
    pos = static_cast<uint32_t>(nl + 1);
  }
}

std::optional<int64_t> Importer::integer(Section& s, const std::string& key, int64_t dflt, int64_t min) {
  Option* o = find(s, key);
  if (!o) return dflt;
  char* end = nullptr;
  long long v = std::strtoll(o->value.c_str(), &end, 10);
  if (o->value.empty() || *end) {
    diags_.report(Code::E1102, o->valueSpan, key, o->value, "expected an integer");
    bad_ = true;
    return std::nullopt;
  }
  if (v < min) {
    diags_.report(Code::E1102, o->valueSpan, key, o->value, fmt::format("must be at least {}", min));
    bad_ = true;
    return std::nullopt;
  }
  return v;
}

std::optional<double> Importer::number(Section& s, const std::string& key, double dflt) {
  Option* o = find(s, key);
  if (!o) return dflt;
  char* end = nullptr;
  double v = std::strtod(o->value.c_str(), &end);
  if (o->value.empty() || *end) {
    diags_.report(Code::E1102, o->valueSpan, key, o->value, "expected a number");
    bad_ = true;
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<int>> Importer::refs(Section& s, const std::string& key, int self) {
  Option* o = find(s, key);
  if (!o) {
    diags_.report(Code::E1102, s.span, key, "", fmt::format("`[{}]` needs `{}=`", s.name, key));
    bad_ = true;
    return std::nullopt;
  }
  std::vector<int> out;
  size_t b = 0;
  while (b <= o->value.size()) {
    size_t e = o->value.find(',', b);
    if (e == std::string::npos) e = o->value.size();
    std::string item = o->value.substr(b, e - b);
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end) {
      diags_.report(Code::E1102, o->valueSpan, key, o->value, "expected layer indexes separated by commas");
      bad_ = true;
      return std::nullopt;
    }
    long abs = v < 0 ? self + v : v;
    if (abs < 0 || abs >= self) {
      diags_.report(Code::E1104, o->valueSpan, key + "=" + item, abs, self)
          .note(fmt::format("a negative index counts back from this layer ({}); layers are numbered from 0", self));
      bad_ = true;
      return std::nullopt;
    }
    out.push_back(static_cast<int>(abs));
    b = e + 1;
  }
  return out;
}

std::optional<std::string> Importer::activation(Section& s, const std::string& dflt) {
  Option* o = find(s, "activation");
  std::string a = o ? o->value : dflt;
  if (a == "linear") return std::string();
  if (a == "leaky") return std::string(" |> leaky_relu(0.1)");
  if (a == "relu") return std::string(" |> relu");
  if (a == "logistic") return std::string(" |> sigmoid");
  if (a == "tanh") return std::string(" |> tanh");
  if (a == "ramp") return std::string(" |> ramp");  // check-only: relu(x) + 0.1 x
  static const std::set<std::string> darknetOnly = {"mish", "swish", "elu", "selu", "relie", "plse",
                                                    "stair", "hardtan", "lhtan", "loggy", "gelu", "relu6"};
  Span at = o ? o->valueSpan : s.span;
  if (darknetOnly.count(a))
    inexpressible(at, feature(s, "activation"), fmt::format("dlspec has no `{}` activation", a));
  else {
    diags_.report(Code::E1102, at, "activation", a, "Darknet knows no such activation (it would fall back to relu)");
    bad_ = true;
  }
  return std::nullopt;
}

std::optional<DarknetImport> Importer::run(const std::string& path) {
  parse();
  if (sections_.empty()) {
    diags_.report(Code::E1105, Span{file_, 0, 0}).primary("the file has no `[net]` section");
    return std::nullopt;
  }
  Section& net = sections_[0];
  if (net.name != "net" && net.name != "network") {
    diags_.report(Code::E1102, net.span, "[" + net.name + "]", "", "the first section must be `[net]`");
    return std::nullopt;
  }
  auto W = integer(net, "width", 0, 0), H = integer(net, "height", 0, 0), C = integer(net, "channels", 0, 0);
  auto batch = integer(net, "batch", 1, 1), subdiv = integer(net, "subdivisions", 1, 1);
  auto lr = number(net, "learning_rate", 0.001), mom = number(net, "momentum", 0.9),
       decay = number(net, "decay", 0.0001);
  auto maxBatches = integer(net, "max_batches", 0, 0);
  // adam=1: Darknet's Adam (network.c), B1/B2/eps defaulting to .9, .999 and 1e-7, decay as L2 on the gradient.
  auto adam = integer(net, "adam", 0, 0);
  auto b1 = number(net, "B1", 0.9), b2 = number(net, "B2", 0.999), eps = number(net, "eps", 1e-7);
  if (!W || !H || !C || !batch || !subdiv || !lr || !mom || !decay || !maxBatches || !adam || !b1 || !b2 || !eps)
    return std::nullopt;
  // `inputs=` without width/height/channels: a flat input of that many values (Darknet's net->inputs).
  std::optional<int64_t> flatInputs;
  if (find(net, "inputs") && *W == 0 && *H == 0 && *C == 0) {
    flatInputs = integer(net, "inputs", 1, 1);
    if (!*flatInputs) return std::nullopt;
    W = 1, H = 1, C = *flatInputs;
  }
  if (*W == 0 || *H == 0 || *C == 0) {
    diags_.report(Code::E1102, net.span, "width/height/channels", "", "`[net]` must give all three, above zero");
    return std::nullopt;
  }

  int w = static_cast<int>(*W), h = static_cast<int>(*H), c = static_cast<int>(*C);
  bool flat = flatInputs.has_value();
  // A network with [rnn], [gru] or [lstm] reads sequences: Darknet feeds `time_steps` steps of `inputs`
  // values each (its batch is batch/subdivisions sequences), so the input is [N, time_steps, inputs] and the
  // layers around the recurrent ones act at every step.
  int steps = 0;
  auto time = integer(net, "time_steps", 1, 1);
  if (!time) return std::nullopt;
  for (size_t si = 1; si < sections_.size(); ++si) {
    const Section& s = sections_[si];
    if (s.name != "rnn" && s.name != "gru" && s.name != "lstm") continue;
    if (!flat) {
      inexpressible(s.span, feature(s), fmt::format("a recurrent layer over a {}x{}x{} image input (dlspec's "
                                                    "recurrent layers read [N, time, features] sequences: give "
                                                    "[net] `inputs=` instead of width/height/channels)", w, h, c));
      return std::nullopt;
    }
    steps = static_cast<int>(*time);
    break;
  }
  std::string prev = "x";
  std::vector<std::string> headInputs;  // detection heads: the values their loss would read
  std::vector<Span> headSpans;
  bool classifier = false;
  int classes = 0;
  std::string costType;
  int inW = w, inH = h;             // the network's input: [net]'s size, or a leading [crop]'s output
  std::vector<std::string> augment; // a leading [crop]'s input-pipeline steps
  std::string adjust;               // [crop]'s value mapping, a pipeline transform

  for (size_t si = 1; si < sections_.size(); ++si) {
    Section& s = sections_[si];
    int idx = static_cast<int>(layers_.size());
    DarknetLayer L;
    L.index = idx;
    L.section = s.name;
    L.cfgLine = s.line;
    L.dlsName = fmt::format("l{}", idx);
    std::string comment = fmt::format("  // {} [{}] line {}", idx, s.name, s.line);
    std::string stmt;      // the right-hand side; empty: no statement
    std::string in = prev; // dlspec value feeding this layer
    auto spatial = [&]() {  // the input as [N, C, H, W]
      return flat ? fmt::format("{} |> reshape([{}, {}, {}])", in, c, h, w) : in;
    };
    auto flattened = [&]() { return flat ? in : in + " |> flatten"; };
    const auto& known = knownKeys();
    if (known.count(s.name) == 0) {
      if (s.name == "crnn")
        inexpressible(s.span, feature(s), "a convolutional recurrent layer: dlspec's recurrent layers (rnn, gru, "
                                          "lstm) are dense over [N, time, features]");
      else if (knownButInexpressible().count(s.name))
        inexpressible(s.span, feature(s), "dlspec has no op for this Darknet layer");
      else {
        diags_.report(Code::E1101, s.span, s.name);
        bad_ = true;
      }
      return std::nullopt;
    }
    for (Option& o : s.options)
      if (!known.at(s.name).count(o.key)) diags_.report(Code::W1101, o.keySpan, o.key, s.name);
    static const std::set<std::string> perStep = {"rnn", "gru", "lstm", "connected", "dropout", "softmax", "cost"};
    if (steps && !perStep.count(s.name)) {
      inexpressible(s.span, feature(s), "this layer in a recurrent network: around recurrent layers dlspec "
                                        "translates the per-step ones (connected, dropout, softmax, cost)");
      return std::nullopt;
    }
    // Batch normalisation inside a sequence network: Darknet normalises each connected layer over the batch
    // at every step; dlspec's batch_norm normalises axis 1, which is time in [N, time, features].
    auto seqBatchNorm = [&](const char* what) {
      if (Option* o = find(s, "batch_normalize"); o && o->value != "0")
        notModelled(o->keySpan, feature(s, "batch_normalize"),
                    fmt::format("batch normalisation inside {} is not modelled (dlspec's batch_norm normalises "
                                "axis 1, which is time in a [N, time, features] sequence)", what));
    };

    if (s.name == "crop") {
      // Darknet's crop layer is input augmentation (crop_layer.c): a random crop_width x crop_height window
      // (the centre one when not training), a random horizontal flip, values mapped to [-1, 1] unless
      // noadjust=1, and on the GPU random rotation, saturation, exposure and brightness shift. Here it is the
      // input pipeline's random_crop / random_flip / normalize; the network's input is the crop.
      if (si != 1) {
        inexpressible(s.span, feature(s), "a crop inside the network (dlspec crops in the input pipeline, "
                                          "so only a leading `[crop]` translates)");
        return std::nullopt;
      }
      auto ch = integer(s, "crop_height", 1, 1), cw = integer(s, "crop_width", 1, 1), flip = integer(s, "flip", 0, 0);
      auto noadjust = integer(s, "noadjust", 0, 0);
      auto angle = number(s, "angle", 0), sat = number(s, "saturation", 1), expo = number(s, "exposure", 1),
           shift = number(s, "shift", 0);
      if (!ch || !cw || !flip || !noadjust || !angle || !sat || !expo || !shift) return std::nullopt;
      if (*ch > h || *cw > w) {
        Option* o = find(s, *ch > h ? "crop_height" : "crop_width");
        diags_.report(Code::E1102, o ? o->valueSpan : s.span, *ch > h ? "crop_height" : "crop_width",
                      std::to_string(*ch > h ? *ch : *cw), fmt::format("the crop must fit the {}x{} input", w, h));
        return std::nullopt;
      }
      auto unmodelled = [&](const char* key, bool on, const std::string& what) {
        if (Option* o = find(s, key); o && on)
          notModelled(o->keySpan, fmt::format("`[crop]` key `{}` at line {}", key, o->line),
                      fmt::format("{} (`{}={}`): the pipeline has no such augmentation", what, key, o->value));
      };
      unmodelled("angle", *angle != 0, "a random rotation");
      unmodelled("saturation", *sat != 1, "a random saturation change");
      unmodelled("exposure", *expo != 1, "a random exposure change");
      unmodelled("shift", *shift != 0, "a random brightness shift");
      augment.push_back(*ch == *cw ? fmt::format("random_crop({})", *ch)
                                   : fmt::format("random_crop([{}, {}])", *ch, *cw));
      if (*flip) augment.push_back("random_flip(0.5)");
      if (!*noadjust) adjust = "normalize(mean: 0.5, std: 0.5)";
      comment += fmt::format(" (input augmentation: the pipeline's {}{}; Darknet takes the centre crop when "
                             "not training)", augment[0], *flip ? " and random_flip" : "");
      w = inW = static_cast<int>(*cw), h = inH = static_cast<int>(*ch), flat = false;
    } else if (s.name == "local") {
      // Darknet's locally connected layer (local_layer.c): conv's window, no weight sharing; `pad` is a flag
      // (out = (in - 1) / stride + 1 with it, (in - size) / stride + 1 without).
      auto filters = integer(s, "filters", 1, 1), size = integer(s, "size", 1, 1), stride = integer(s, "stride", 1, 1);
      auto pad = integer(s, "pad", 0, 0);
      auto act = activation(s, "logistic");
      if (!filters || !size || !stride || !pad || !act) return std::nullopt;
      int k = static_cast<int>(*size), st = static_cast<int>(*stride);
      int p = *pad ? k / 2 : 0;
      int oh = *pad ? (h - 1) / st + 1 : (h - k) / st + 1, ow = *pad ? (w - 1) / st + 1 : (w - k) / st + 1;
      stmt = fmt::format("{} |> local(filters: {}, kernel: {}", spatial(), *filters, k);
      if (st != 1) stmt += fmt::format(", stride: {}", st);
      if (p) stmt += fmt::format(", pad: {}", p);
      stmt += ")" + *act;
      L.bflops = (2.0 * double(*filters) * k * k * double(c) * oh * ow) / 1e9;
      w = ow, h = oh, c = static_cast<int>(*filters), flat = false;
    } else if (s.name == "convolutional") {
      auto filters = integer(s, "filters", 1, 1), size = integer(s, "size", 1, 1), stride = integer(s, "stride", 1, 1);
      auto pad = integer(s, "pad", 0, 0), padding = integer(s, "padding", 0, 0), groups = integer(s, "groups", 1, 1);
      auto bn = integer(s, "batch_normalize", 0, 0);
      auto act = activation(s, "logistic");
      if (!filters || !size || !stride || !pad || !padding || !groups || !bn || !act) return std::nullopt;
      int p = *pad ? static_cast<int>(*size / 2) : static_cast<int>(*padding);
      if (c % *groups || *filters % *groups) {
        diags_.report(Code::E1102, find(s, "groups")->valueSpan, "groups", std::to_string(*groups),
                      fmt::format("{} input channels and {} filters must both divide by it", c, *filters));
        return std::nullopt;
      }
      int oh = (h + 2 * p - static_cast<int>(*size)) / static_cast<int>(*stride) + 1;
      int ow = (w + 2 * p - static_cast<int>(*size)) / static_cast<int>(*stride) + 1;
      stmt = fmt::format("{} |> conv2d(filters: {}, kernel: {}", spatial(), *filters, *size);
      if (*stride != 1) stmt += fmt::format(", stride: {}", *stride);
      if (p) stmt += fmt::format(", pad: {}", p);
      if (*groups != 1) stmt += fmt::format(", groups: {}", *groups);
      if (*bn) stmt += ", bias: false) |> batch_norm";
      else stmt += ")";
      stmt += *act;
      L.bflops = (2.0 * double(*filters) * double(*size) * double(*size) * double(c / *groups) * oh * ow) / 1e9;
      w = ow, h = oh, c = static_cast<int>(*filters), flat = false;
    } else if (s.name == "rnn") {
      // rnn_layer.c: three connected layers, `output` units each (`hidden` is unused): s_t = act(W_in x_t) +
      // act(W_self s_(t-1)) (+ s_(t-1) with shortcut=1), y_t = act(W_out s_t). Translated as dlspec's Elman
      // cell followed by the output layer, the same three weight matrices: rnn(output) |> dense(output) |> act.
      auto out = integer(s, "output", 1, 1), bn = integer(s, "batch_normalize", 0, 0);
      auto shortcut = integer(s, "shortcut", 0, 0);
      auto act = activation(s, "logistic");
      if (!out || !bn || !shortcut || !act) return std::nullopt;
      if (*shortcut) {
        inexpressible(find(s, "shortcut")->keySpan, feature(s, "shortcut"), "an rnn whose state adds the previous state");
        return std::nullopt;
      }
      // The cell's activation, by Darknet's name (activation() has checked it and gives the output layer's).
      static const std::map<std::string, std::string> cells = {
          {"tanh", ""}, {"relu", ", activation: relu"}, {"leaky", ", activation: leaky_relu, alpha: 0.1"}};
      const std::string name = word(s, "activation", "logistic");
      auto cell = cells.find(name);
      if (cell == cells.end()) {
        Option* o = find(s, "activation");
        inexpressible(o ? o->valueSpan : s.span, feature(s, "activation"),
                      fmt::format("an rnn cell with activation `{}` (dlspec's rnn takes tanh, relu or leaky_relu)", name));
        return std::nullopt;
      }
      notModelled(s.span, feature(s),
                  "Darknet's rnn activates its input and recurrent terms separately and adds them; dlspec's rnn "
                  "activates their sum (the weights, their shapes and the output layer are Darknet's)");
      seqBatchNorm("Darknet's rnn");
      stmt = fmt::format("{} |> rnn({}{}) |> dense({}){}", in, *out, cell->second, *out, *act);
      comment += " (cell, then Darknet's output layer)";
      w = h = 1, c = static_cast<int>(*out), flat = true;
    } else if (s.name == "gru" || s.name == "lstm") {
      // gru_layer.c: z = logistic(U_z x + W_z h), r = logistic(U_r x + W_r h), h~ = act(U_h x + W_h (r * h)),
      // h = z * h + (1 - z) * h~, act = tanh with tanh=1, logistic otherwise: dlspec's gru with the reset gate
      // before the recurrent product. lstm_layer.c: the standard cell, dlspec's lstm.
      auto out = integer(s, "output", 1, 1), bn = integer(s, "batch_normalize", 0, 0);
      if (!out || !bn) return std::nullopt;
      if (s.name == "gru") {
        auto tanh = integer(s, "tanh", 0, 0);
        if (!tanh) return std::nullopt;
        if (!*tanh)
          notModelled(s.span, feature(s),
                      "without `tanh=1` Darknet's gru squashes its candidate state with the logistic function; "
                      "dlspec's gru uses tanh");
        stmt = fmt::format("{} |> gru({}, reset_after: false)", in, *out);
      } else {
        stmt = fmt::format("{} |> lstm({})", in, *out);
      }
      seqBatchNorm(fmt::format("Darknet's {}", s.name).c_str());
      w = h = 1, c = static_cast<int>(*out), flat = true;
    } else if (s.name == "connected") {
      auto out = integer(s, "output", 1, 1), bn = integer(s, "batch_normalize", 0, 0);
      auto act = activation(s, "logistic");
      if (!out || !bn || !act) return std::nullopt;
      if (steps) {  // at every step
        seqBatchNorm("a connected layer of a sequence network");
        stmt = fmt::format("{} |> dense({}){}", in, *out, *act);
      } else {
        stmt = fmt::format("{} |> dense({}", flattened(), *out);
        stmt += *bn ? ", bias: false) |> batch_norm" : ")";
        stmt += *act;
      }
      w = h = 1, c = static_cast<int>(*out), flat = true;
    } else if (s.name == "maxpool") {
      auto stride = integer(s, "stride", 1, 1);
      if (!stride) return std::nullopt;
      auto size = integer(s, "size", *stride, 1);
      if (!size) return std::nullopt;
      auto padding = integer(s, "padding", *size - 1, 0);
      if (!padding) return std::nullopt;
      // Darknet: out = (in + padding - size) / stride + 1, the window starting padding/2 before the
      // first pixel; the remaining padding - padding/2 falls after the last one: asymmetric padding.
      int pb = static_cast<int>(*padding / 2), pa = static_cast<int>(*padding) - pb;
      int oh = (h + static_cast<int>(*padding) - static_cast<int>(*size)) / static_cast<int>(*stride) + 1;
      int ow = (w + static_cast<int>(*padding) - static_cast<int>(*size)) / static_cast<int>(*stride) + 1;
      stmt = fmt::format("{} |> maxpool({}, stride: {}", spatial(), *size, *stride);
      if (*padding) stmt += pb == pa ? fmt::format(", pad: {}", pb) : fmt::format(", pad: [{}, {}, {}, {}]", pb, pb, pa, pa);
      stmt += ")";
      w = ow, h = oh, flat = false;
    } else if (s.name == "avgpool") {
      stmt = flat ? in : in + " |> global_avgpool";
      w = h = 1, flat = true;
    } else if (s.name == "dropout") {
      auto p = number(s, "probability", 0.5);
      if (!p) return std::nullopt;
      if (*p < 0 || *p >= 1) {
        diags_.report(Code::E1102, find(s, "probability")->valueSpan, "probability", fmt::format("{}", *p),
                      "a dropout probability lies in [0, 1)");
        return std::nullopt;
      }
      stmt = fmt::format("{} |> dropout({})", in, *p);
    } else if (s.name == "softmax") {
      auto groups = integer(s, "groups", 1, 1);
      if (!groups) return std::nullopt;
      if (Option* t = find(s, "tree"))
        notModelled(t->keySpan, feature(s, "tree"),
                    fmt::format("a hierarchical softmax over the tree `{}` is translated as one softmax over all "
                                "{} values; the shape is Darknet's, the per-group normalisation is not modelled",
                                t->value, w * h * c));
      if (*groups != 1) {
        inexpressible(find(s, "groups")->keySpan, feature(s, "groups"), "a softmax over groups of channels");
        return std::nullopt;
      }
      bool last = si + 1 == sections_.size() || (si + 2 == sections_.size() && sections_[si + 1].name == "cost");
      if (last) {  // the loss applies the softmax: the network returns logits
        classifier = true;
        classes = w * h * c;
        stmt = steps ? in : flattened();
        comment += " (applied by cross_entropy)";
      } else {
        stmt = (steps ? in : flattened()) + " |> softmax";
      }
      w = h = 1, c = classes ? classes : w * h * c, flat = true;
    } else if (s.name == "route") {
      auto r = refs(s, "layers", idx);
      if (!r) return std::nullopt;
      const DarknetLayer& first = layers_[(*r)[0]];
      int sum = 0;
      std::string args;
      for (int j : *r) {
        const DarknetLayer& src = layers_[j];
        if (src.w != first.w || src.h != first.h)
          L.fault = fmt::format("route joins layer {} ({}x{}) and layer {} ({}x{}): Darknet concatenates the buffers anyway",
                                first.index, first.w, first.h, j, src.w, src.h);
        sum += src.c;
        args += (args.empty() ? "" : ", ") + src.dlsName;
      }
      stmt = r->size() == 1 ? first.dlsName : fmt::format("concat({}, axis: 1)", args);
      w = first.w, h = first.h, c = r->size() == 1 ? first.c : sum, flat = r->size() == 1 && first.flat;
    } else if (s.name == "shortcut") {
      auto r = refs(s, "from", idx);
      auto act = activation(s, "linear");
      if (!r || !act) return std::nullopt;
      if (r->size() != 1) {
        inexpressible(find(s, "from")->valueSpan, feature(s, "from"), "a shortcut from several layers");
        return std::nullopt;
      }
      if (find(s, "alpha") || find(s, "beta")) {
        inexpressible(s.span, feature(s, "alpha/beta"), "a weighted shortcut");
        return std::nullopt;
      }
      const DarknetLayer& src = layers_[(*r)[0]];
      if (src.w != w || src.h != h || src.c != c)
        L.fault = fmt::format("shortcut adds layer {} ({}x{}x{}) to layer {} ({}x{}x{}): Darknet strides and "
                              "truncates silently",
                              src.index, src.w, src.h, src.c, idx - 1, w, h, c);
      stmt = fmt::format("add({}, {}){}", in, src.dlsName, *act);
    } else if (s.name == "upsample") {
      auto stride = integer(s, "stride", 2);
      if (!stride) return std::nullopt;
      if (find(s, "scale")) {
        inexpressible(find(s, "scale")->keySpan, feature(s, "scale"), "a scaled upsample");
        return std::nullopt;
      }
      if (*stride <= 0) {
        inexpressible(find(s, "stride")->valueSpan, feature(s, "stride"), "a negative stride (downsampling)");
        return std::nullopt;
      }
      stmt = fmt::format("{} |> upsample({})", spatial(), *stride);
      w *= static_cast<int>(*stride), h *= static_cast<int>(*stride), flat = false;
    } else if (s.name == "reorg") {
      auto stride = integer(s, "stride", 1, 1);
      if (!stride) return std::nullopt;
      for (const char* k : {"reverse", "flatten"})
        if (Option* o = find(s, k); o && o->value != "0") {
          inexpressible(o->keySpan, feature(s, k), fmt::format("reorg with `{}`", k));
          return std::nullopt;
        }
      auto extra = integer(s, "extra", 0, 0);
      if (!extra) return std::nullopt;
      int st = static_cast<int>(*stride);
      if (*extra) {
        // reorg_layer.c with extra: the stride is ignored; each sample is copied flat, `extra` zeros follow.
        stmt = fmt::format("{} |> reorg({}, extra: {})", spatial(), st, *extra);
        comment += fmt::format(" (extra={}: the input flat, then {} zero values)", *extra, *extra);
        c = w * h * c + static_cast<int>(*extra), w = h = 1, flat = true;
      } else {
        stmt = fmt::format("{} |> reorg({})", spatial(), st);
        w /= st, h /= st, c *= st * st, flat = false;
      }
    } else if (s.name == "cost") {
      costType = word(s, "type", "sse");
      comment += fmt::format(" (cost type={}: the train block's loss)", costType);
    } else {  // yolo, region, detection: the output is the input (activated in place); the loss is not ours
      headInputs.push_back(in);
      headSpans.push_back(s.span);
      for (Option& o : s.options) o.used = true;
      if (s.name == "yolo" || s.name == "region") classes = static_cast<int>(*integer(s, "classes", 20, 1));
      comment += " (detection head: its loss is not expressible)";
    }
    if (!stmt.empty()) {
      body_.push_back(fmt::format("  {} = {}", L.dlsName, stmt));
      bodyLayer_.push_back(idx);
      prev = L.dlsName;
      body_.back() += comment.substr(1);
    } else {
      body_.push_back(comment.substr(2));
      bodyLayer_.push_back(-1);
      L.dlsName = in;
    }
    L.w = w, L.h = h, L.c = c, L.flat = flat, L.steps = steps;
    layers_.push_back(L);
  }
  if (bad_ || diags_.hasErrors()) return std::nullopt;

  for (size_t k = 0; k < headSpans.size(); ++k)
    diags_.report(Code::W1102, headSpans[k],
                  "this detection head's loss (anchors, objectness, box regression) is not expressible in dlspec: "
                  "the network returns the head's input, and no train block is generated");

  // Assemble the spec.
  std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".cfg") stem.resize(stem.size() - 4);
  std::string netName = camel(stem);
  std::string out = fmt::format("dlspec 1\n\n// Imported from {} by `dlspec import darknet`.\n", path);
  out += "// Each statement names the Darknet layer (index, section, cfg line) it translates.\n";
  std::string returns, retValue;
  if (!headInputs.empty()) {
    if (headInputs.size() == 1) {
      retValue = headInputs[0];
      const DarknetLayer& last = layers_.back();  // a head's output is its input
      returns = last.flat ? fmt::format("real[N, {}]", last.w * last.h * last.c)
                          : fmt::format("real[N, {}, {}, {}]", last.c, last.h, last.w);
    } else {
      int64_t total = 0;
      for (size_t k = 0; k < headInputs.size(); ++k) {
        int j = -1;
        for (const DarknetLayer& l : layers_)
          if (l.dlsName == headInputs[k] && l.section != "yolo" && l.section != "region" && l.section != "detection") j = l.index;
        if (j >= 0) total += int64_t(layers_[j].w) * layers_[j].h * layers_[j].c;
      }
      body_.push_back(fmt::format("  heads = concat({}, axis: 1)  // every detection head's input, flattened",
                                  [&] {
                                    std::string a;
                                    for (const std::string& v : headInputs) a += (a.empty() ? "" : ", ") + v + " |> flatten";
                                    return a;
                                  }()));
      bodyLayer_.push_back(-1);
      retValue = "heads";
      returns = fmt::format("real[N, {}]", total);
    }
  } else {
    const DarknetLayer& last = layers_.back();
    retValue = prev;
    returns = steps      ? fmt::format("{}[N, {}, {}]", classifier ? "logits" : "real", steps, last.c)
              : last.flat ? fmt::format("{}[N, {}]", classifier ? "logits" : "real", last.c)
                          : fmt::format("real[N, {}, {}, {}]", last.c, last.h, last.w);
  }
  std::string data = fmt::format("{}_data", snake(stem));
  if (classifier) {
    out += fmt::format(
        "\n// A placeholder source: point it at real files before `dlspec check --data` or training.\n"
        "dataset {} {{\n  train = npy(\"data/{}/train_images.npy\", \"data/{}/train_labels.npy\")\n"
        "  sample image: f32[{}]\n  label kind: class<{}>{}\n}}\n",
        data, stem, stem,
        steps        ? fmt::format("{}, {}", steps, *C)
        : flatInputs ? std::to_string(*C)
                     : fmt::format("{}, {}, {}", *C, *H, *W),
        classes, steps ? fmt::format("[{}]", steps) : "");
    if (steps)
      out += fmt::format("// [net] time_steps={}: a sample is a sequence of {} step{} of {} values, labelled at "
                         "every step.\n", steps, steps, steps == 1 ? "" : "s", *C);
    out += fmt::format("\n// [net] batch={} subdivisions={}: Darknet updates once per {} {}.\n", *batch, *subdiv,
                       *batch, steps ? "sequences" : "images");
    out += fmt::format("pipeline train_input from {}.train {{\n", data);
    if (!adjust.empty()) out += fmt::format("  image = image |> {}  // [crop]: values to [-1, 1]\n", adjust);
    out += "  shuffle(buffer: all)\n";
    for (const std::string& a : augment) out += fmt::format("  augment {}  // [crop]\n", a);
    out += fmt::format("  batch({})\n}}\n", *batch);
  }
  if (!augment.empty() && !classifier)
    out += fmt::format("\n// [crop]: the input is the {}x{} crop of the {}x{} image ({}); this spec has no pipeline.\n",
                       inW, inH, *W, *H, augment[0]);
  out += fmt::format("\nnetwork {}(x: f32[N, {}]) -> {} {{\n", netName,
                     steps        ? fmt::format("{}, {}", steps, *C)
                     : flatInputs ? std::to_string(*C)
                                  : fmt::format("{}, {}, {}", *C, inH, inW),
                     returns);
  uint32_t lineNo = 0;
  for (char ch : out) lineNo += ch == '\n';
  for (size_t k = 0; k < body_.size(); ++k) {
    if (bodyLayer_[k] >= 0) layers_[bodyLayer_[k]].dlsLine = lineNo + 1 + static_cast<uint32_t>(k);
    out += body_[k] + "\n";
  }
  out += fmt::format("  return {}\n}}\n", retValue);
  if (classifier) {
    std::string optimizer =
        *adam ? fmt::format("adam(lr: {}, beta1: {}, beta2: {}, eps: {}, weight_decay: {})", *lr, *b1, *b2, *eps, *decay)
              : fmt::format("sgd(lr: {}, momentum: {}, weight_decay: {})", *lr, *mom, *decay);
    out += fmt::format("\n// [net] learning_rate={} {} decay={} max_batches={} ({} {}).\n", *lr,
                       *adam ? "adam=1" : fmt::format("momentum={}", *mom), *decay, *maxBatches, *maxBatches * *batch,
                       steps ? "sequences" : "images");
    out += fmt::format("train {} {{\n  model     = {} on cpu\n  data      = train_input\n"
                       "  loss      = cross_entropy(model.out, kind)\n"
                       "  optimizer = {}\n  epochs    = 1\n}}\n",
                       snake(stem), netName, optimizer);
  }
  DarknetImport result;
  result.spec = std::move(out);
  result.layers = std::move(layers_);
  return result;
}

}  // namespace

std::string DarknetImport::layersJson() const {
  std::string j = "[\n";
  for (size_t k = 0; k < layers.size(); ++k) {
    const DarknetLayer& l = layers[k];
    std::string fault;
    for (char ch : l.fault) fault += ch == '"' ? std::string("\\\"") : std::string(1, ch);
    j += fmt::format("  {{\"index\": {}, \"section\": \"{}\", \"cfg_line\": {}, \"w\": {}, \"h\": {}, \"c\": {}, "
                     "\"bflops\": {:.6f}, \"flat\": {}, \"steps\": {}, \"dls_line\": {}, \"dls_name\": \"{}\", "
                     "\"fault\": \"{}\"}}{}\n",
                     l.index, l.section, l.cfgLine, l.w, l.h, l.c, l.bflops, l.flat, l.steps, l.dlsLine, l.dlsName, fault,
                     k + 1 < layers.size() ? "," : "");
  }
  return j + "]\n";
}

std::optional<DarknetImport> importDarknet(const std::string& path, SourceManager& sources, DiagnosticEngine& diags) {
  std::string error;
  std::optional<FileId> file = sources.load(path, error);
  if (!file) {
    diags.report(Code::E0901, Span{}, path, error);
    return std::nullopt;
  }
  return Importer(sources, diags, *file).run(path);
}

}  // namespace dls::import

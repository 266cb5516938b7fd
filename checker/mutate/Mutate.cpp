#include "checker/mutate/Mutate.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <fmt/format.h>
#include <functional>
#include <regex>
#include <zlib.h>

#include "checker/data/DataTable.h"

namespace dls::checker {

const std::vector<MutationOperator>& mutationOperators() {
  static const std::vector<MutationOperator> ops = {
      {"act_remove", "remove one activation"},
      {"act_change", "replace one ReLU by a sigmoid"},
      {"loss_change", "cross_entropy <-> mse"},
      {"opt_change", "sgd <-> adam (with that optimizer's usual learning rate)"},
      {"lr_x100", "learning rate x100"},
      {"lr_div100", "learning rate /100"},
      {"bias_false", "`bias: false` on one dense/conv2d layer"},
      {"init_zeros", "`init: zeros` on one dense/conv2d layer"},
      {"init_constant", "`init: constant(0.1)` on one dense/conv2d layer"},
      {"units_change", "change the output layer's units"},
      {"norm_drop_input", "drop `normalize` from the training pipeline"},
      {"norm_drop_layer", "drop one normalisation layer from a network"},
      {"shuffle_after_batch", "move `shuffle` after `batch`"},
      {"augment_test", "augment the validation/test pipeline"},
      {"adam_eps", "adam with eps 1e-12"},
      {"missing_device", "place the model on cuda:7 of a one-GPU machine"},
      {"data_relabel", "give 20% of the training labels another class (copy of the labels file)"},
      {"data_unbalance", "keep every sample of class 0 and 1 in 20 of each other class (copy of the training files)"},
  };
  return ops;
}

namespace {

// A top-level declaration: `network MLP(...) -> ... { ... }`, with the offsets of its text.
struct Decl {
  std::string kind, name;
  size_t begin = 0, open = 0, close = 0;  // keyword, `{`, `}`
};

// Declarations by brace matching; comments and strings are skipped.
std::vector<Decl> declarations(const std::string& s) {
  std::vector<Decl> out;
  static const std::regex head(R"(^(network|pipeline|train|dataset|block)\s+([A-Za-z_][A-Za-z0-9_]*))");
  size_t i = 0;
  while (i < s.size()) {
    size_t eol = s.find('\n', i);
    if (eol == std::string::npos) eol = s.size();
    std::smatch m;
    std::string line = s.substr(i, eol - i);
    if (std::regex_search(line, m, head)) {
      Decl d{m[1], m[2], i, 0, 0};
      int depth = 0;
      for (size_t j = i; j < s.size(); ++j) {
        char c = s[j];
        if (c == '/' && j + 1 < s.size() && s[j + 1] == '/') {
          j = s.find('\n', j);
          if (j == std::string::npos) break;
          continue;
        }
        if (c == '"') {
          j = s.find('"', j + 1);
          if (j == std::string::npos) break;
          continue;
        }
        if (c == '{' && depth++ == 0) d.open = j;
        if (c == '}' && --depth == 0) {
          d.close = j;
          break;
        }
      }
      if (!d.open || !d.close) break;
      out.push_back(d);
      eol = s.find('\n', d.close);
      if (eol == std::string::npos) break;
    }
    i = eol + 1;
  }
  return out;
}

// The value text of `key = …` in a train block (the rest of its line, comment excluded).
std::string settingValue(const std::string& s, const Decl& t, const std::string& key, size_t* at = nullptr) {
  std::regex re("\\n[ \\t]*" + key + "[ \\t]*=[ \\t]*([^\\n]*?)[ \\t]*(//[^\\n]*)?(?=\\n)");
  std::smatch m;
  std::string body = s.substr(t.open, t.close - t.open);
  if (!std::regex_search(body, m, re)) return {};
  if (at) *at = t.open + static_cast<size_t>(m.position(1));
  return m[1];
}

// The end of a call whose `(` is at `open`: the offset of its `)`.
size_t closeParen(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t j = open; j < s.size(); ++j) {
    if (s[j] == '(') ++depth;
    if (s[j] == ')' && --depth == 0) return j;
  }
  return std::string::npos;
}

std::string fmtNumber(double v) { return fmt::format("{:g}", v); }

struct Builder {
  const std::string& text;
  std::vector<Mutant>& out;
  std::map<std::string, int> counts;
  void add(const std::string& op, size_t at, std::string mutated, bool fault, std::string leaf, std::string by) {
    Mutant m;
    m.op = op;
    m.index = ++counts[op];
    m.line = 1, m.col = 1;
    for (size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') ++m.line, m.col = 1;
      else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++m.col;
    }
    m.fault = fault;
    m.leaf = std::move(leaf);
    m.detectedBy = std::move(by);
    m.text = std::move(mutated);
    out.push_back(std::move(m));
  }
  // Replaces [b, e) by `with`.
  std::string splice(size_t b, size_t e, const std::string& with) const { return text.substr(0, b) + with + text.substr(e); }
};

// Every match of `re` inside [b, e) of s: (offset, length, match).
void forEach(const std::string& s, size_t b, size_t e, const std::regex& re,
             const std::function<void(size_t, size_t, const std::smatch&)>& f) {
  std::string body = s.substr(b, e - b);
  for (auto it = std::sregex_iterator(body.begin(), body.end(), re); it != std::sregex_iterator(); ++it)
    f(b + static_cast<size_t>(it->position(0)), static_cast<size_t>(it->length(0)), *it);
}

bool normFollows(const std::string& s, size_t after) {
  static const std::regex next(R"(^\s*\|>\s*(batch_norm|layer_norm|group_norm)\b)");
  std::string rest = s.substr(after, 200);
  return std::regex_search(rest, next);
}

}  // namespace

std::vector<Mutant> mutateSpec(const std::string& s) {
  std::vector<Mutant> out;
  Builder B{s, out, {}};
  std::vector<Decl> decls = declarations(s);
  std::vector<const Decl*> nets, pipes, trains;
  for (const Decl& d : decls) {
    if (d.kind == "network" || d.kind == "block") nets.push_back(&d);
    if (d.kind == "pipeline") pipes.push_back(&d);
    if (d.kind == "train") trains.push_back(&d);
  }
  auto pipeNamed = [&](const std::string& n) -> const Decl* {
    for (auto* p : pipes)
      if (p->name == n) return p;
    return nullptr;
  };
  const std::string faultless;

  // Activations.
  static const std::regex act(R"([ \t]*\|>[ \t]*(relu|tanh|sigmoid|gelu|leaky_relu|elu|swish)\b(\([^()]*\))?)");
  static const std::regex relu(R"(\|>[ \t]*(relu)\b)");
  for (auto* n : nets) {
    forEach(s, n->open, n->close, act, [&](size_t at, size_t len, const std::smatch&) {
      B.add("act_remove", at, B.splice(at, at + len, ""), true, "1.2.3 missing ReLU activation", "static");
    });
    forEach(s, n->open, n->close, relu, [&](size_t at, size_t, const std::smatch& m) {
      size_t b = at + static_cast<size_t>(m.position(1) - m.position(0));
      B.add("act_change", b, B.splice(b, b + 4, "sigmoid"), false,
            "not a fault by itself: sigmoid hidden units are legal (vanishing gradients are R0103 at run time)", "runtime");
    });
  }

  // Weight layers: bias, initialisers; the output layer's units.
  static const std::regex weightCall(R"(\b(dense|conv2d)\()");
  for (auto* n : nets) {
    forEach(s, n->open, n->close, weightCall, [&](size_t at, size_t len, const std::smatch&) {
      size_t open = at + len - 1, close = closeParen(s, open);
      if (close == std::string::npos) return;
      std::string args = s.substr(open + 1, close - open - 1);
      std::string sep = args.find_first_not_of(" \t") == std::string::npos ? "" : ", ";
      if (args.find("bias:") == std::string::npos) {
        bool norm = normFollows(s, close + 1);
        B.add("bias_false", close, B.splice(close, close, sep + "bias: false"), !norm,
              norm ? "not a fault: a normalisation layer follows and its shift replaces the bias"
                   : "1.2.2 missing bias",
              "static");
      }
      if (args.find("init:") == std::string::npos) {
        B.add("init_zeros", close, B.splice(close, close, sep + "init: zeros"), true, "1.1 wrong weight initialization", "static");
        B.add("init_constant", close, B.splice(close, close, sep + "init: constant(0.1)"), true,
              "1.1 wrong weight initialization", "static");
      }
    });
    if (n->kind != "network") continue;
    static const std::regex dense(R"(\bdense\(\s*(units:\s*)?([0-9]+))");
    size_t lastAt = 0, lastLen = 0;
    std::string lastUnits;
    forEach(s, n->open, n->close, dense, [&](size_t at, size_t, const std::smatch& m) {
      lastAt = at + static_cast<size_t>(m.position(2) - m.position(0));
      lastLen = static_cast<size_t>(m.length(2));
      lastUnits = m[2];
    });
    if (lastLen) {
      long u = std::stol(lastUnits);
      B.add("units_change", lastAt, B.splice(lastAt, lastAt + lastLen, std::to_string(u > 1 ? u - 1 : 2)), true,
            "1.2.2 wrong number of neurons in layer (output layer)", "static");
    }
    static const std::regex norm(R"([ \t]*\|>[ \t]*(batch_norm|layer_norm|group_norm)\b(\([^()]*\))?)");
    forEach(s, n->open, n->close, norm, [&](size_t at, size_t len, const std::smatch&) {
      B.add("norm_drop_layer", at, B.splice(at, at + len, ""), false,
            "not a fault by itself: networks without normalisation layers are legal", "runtime");
    });
  }

  // Train blocks: loss, optimizer, learning rate, device.
  for (auto* t : trains) {
    size_t at = 0;
    std::string loss = settingValue(s, *t, "loss", &at);
    if (loss.rfind("cross_entropy(", 0) == 0)
      B.add("loss_change", at, B.splice(at, at + 13, "mse"), true, "5.2 wrong selection of loss function", "static");
    else if (loss.rfind("mse(", 0) == 0)
      B.add("loss_change", at, B.splice(at, at + 3, "cross_entropy"), true, "5.2 wrong selection of loss function", "static");

    size_t oat = 0;
    std::string opt = settingValue(s, *t, "optimizer", &oat);
    if (!opt.empty()) {
      size_t oend = oat + opt.size();
      bool sgd = opt.rfind("sgd", 0) == 0;
      B.add("opt_change", oat, B.splice(oat, oend, sgd ? "adam(lr: 0.001)" : "sgd(lr: 0.01, momentum: 0.9)"), false,
            "not a fault: another optimizer with its usual learning rate", "runtime");
      B.add("adam_eps", oat, B.splice(oat, oend, "adam(lr: 0.001, eps: 1e-12)"), true,
            "5.5 epsilon for Adam optimizer too low", "static");
      static const std::regex lrArg(R"(\blr:\s*([0-9.eE+-]+))");
      std::smatch m;
      if (std::regex_search(opt, m, lrArg)) {
        size_t b = oat + static_cast<size_t>(m.position(1)), e = b + static_cast<size_t>(m.length(1));
        double lr = std::strtod(m[1].str().c_str(), nullptr);
        B.add("lr_x100", b, B.splice(b, e, fmtNumber(lr * 100)), true, "5.1 suboptimal learning rate (too high)", "static");
        B.add("lr_div100", b, B.splice(b, e, fmtNumber(lr / 100)), true, "5.1 suboptimal learning rate (too low)",
              "runtime");
      }
    }

    size_t mat = 0;
    std::string model = settingValue(s, *t, "model", &mat);
    if (!model.empty()) {
      size_t onPos = model.find(" on ");
      std::string net = onPos == std::string::npos ? model : model.substr(0, onPos);
      std::string placed = net + " on cuda:7";
      std::string hasDevices = settingValue(s, *t, "devices");
      size_t lineEnd = s.find('\n', mat);
      std::string mutated = s.substr(0, mat) + placed + s.substr(mat + model.size(), lineEnd - mat - model.size());
      if (hasDevices.empty()) mutated += "\n  devices   = 1";
      mutated += s.substr(lineEnd);
      B.add("missing_device", mat, mutated, true, "2 wrong reference to GPU device", "static");
    }
  }

  // Pipelines: normalisation, shuffle position, augmentation of evaluation data.
  std::vector<const Decl*> trainPipes, evalPipes;
  for (auto* t : trains) {
    std::string d = settingValue(s, *t, "data"), v = settingValue(s, *t, "validate");
    if (auto* p = pipeNamed(d.substr(0, d.find(' ')))) trainPipes.push_back(p);
    if (auto* p = pipeNamed(v.substr(0, v.find(' ')))) evalPipes.push_back(p);
  }
  static const std::regex normalize(R"([ \t]*\|>[ \t]*normalize\([^()]*\))");
  for (auto* p : trainPipes)
    forEach(s, p->open, p->close, normalize, [&](size_t at, size_t len, const std::smatch&) {
      B.add("norm_drop_input", at, B.splice(at, at + len, ""), true,
            "5.4 missing preprocessing step (normalisation)", "static");
    });
  static const std::regex shuffleLine(R"(\n[ \t]*shuffle\([^\n]*)"), batchLine(R"(\n[ \t]*batch\([^\n]*)");
  for (auto* p : pipes) {
    std::string body = s.substr(p->open, p->close - p->open);
    std::smatch sm, bm;
    if (!std::regex_search(body, sm, shuffleLine) || !std::regex_search(body, bm, batchLine)) continue;
    if (sm.position(0) > bm.position(0)) continue;
    size_t sAt = p->open + static_cast<size_t>(sm.position(0)), bAt = p->open + static_cast<size_t>(bm.position(0));
    std::string shuffle = sm[0], batch = bm[0];
    std::string mutated = s.substr(0, sAt) + s.substr(sAt + shuffle.size(), bAt + batch.size() - sAt - shuffle.size()) +
                          shuffle + s.substr(bAt + batch.size());
    B.add("shuffle_after_batch", sAt + 1, mutated, true, "3 wrong position of data shuffle operation", "static");
  }
  for (auto* p : evalPipes) {
    if (std::find(trainPipes.begin(), trainPipes.end(), p) != trainPipes.end()) continue;
    std::string body = s.substr(p->open, p->close - p->open);
    std::smatch bm;
    if (!std::regex_search(body, bm, batchLine)) continue;
    size_t at = p->open + static_cast<size_t>(bm.position(0));
    B.add("augment_test", at + 1, B.splice(at, at, "\n  augment random_flip(0.5)"), true,
          "5.7 redundant data augmentation (of evaluation data)", "static");
  }
  return out;
}

namespace {

std::string idxBytes(const std::vector<int64_t>& dims, const uint8_t* data, size_t n) {
  std::string b = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (int64_t d : dims)
    for (int k = 3; k >= 0; --k) b += static_cast<char>((static_cast<uint64_t>(d) >> (8 * k)) & 0xff);
  b.append(reinterpret_cast<const char*>(data), n);
  return b;
}

std::string gzipBytes(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, raw.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string csvBytes(const data::DataTable& t, const std::string& labelName, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& labels) {
  std::string out;
  for (auto& c : t.columns) out += c + ",";
  out += labelName + "\n";
  size_t nc = t.columns.size();
  for (size_t k = 0; k < rows.size(); ++k) {
    for (size_t j = 0; j < nc; ++j) out += fmt::format("{:.9g},", t.values[static_cast<size_t>(rows[k]) * nc + j]);
    out += std::to_string(labels[k]) + "\n";
  }
  return out;
}

std::string quoted(const std::string& p) {
  std::string q = "\"";
  for (char ch : p) q += ch == '"' || ch == '\\' ? std::string("\\") + ch : std::string(1, ch);
  return q + "\"";
}

}  // namespace

std::vector<Mutant> mutateData(const std::string& s, const std::string& specDir, const std::string& outDir) {
  std::vector<Mutant> out;
  Builder B{s, out, {}};
  namespace fs = std::filesystem;
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (fs::path(specDir) / p).string(); };
  std::string absOut = fs::absolute(outDir).lexically_normal().string();
  for (const Decl& d : declarations(s)) {
    if (d.kind != "dataset") continue;
    std::string body = s.substr(d.open, d.close - d.open);
    static const std::regex train(R"re(\n[ \t]*train[ \t]*=[ \t]*(idx|csv)\(\s*"([^"]*)"\s*(,\s*"([^"]*)")?)re");
    static const std::regex labelArg(R"re(label:\s*"([^"]*)")re");
    static const std::regex classes(R"(class<\s*([0-9]+)\s*>)");
    std::smatch m, cm;
    if (!std::regex_search(body, m, train) || !std::regex_search(body, cm, classes)) continue;
    int64_t C = std::stoll(cm[1]);
    if (C < 2) continue;
    bool csv = m[1] == "csv";
    if (!csv && !m[4].matched) continue;
    data::DataTable t;
    std::string err, labelName = "label";
    size_t lineEnd = body.find('\n', static_cast<size_t>(m.position(0)) + 1);
    std::string line = body.substr(static_cast<size_t>(m.position(0)), lineEnd - static_cast<size_t>(m.position(0)));
    std::smatch lm;
    // The label column: `label: "…"`, else the column named like the label field (as sema resolves it).
    static const std::regex labelField(R"re(\n[ \t]*label[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*:)re");
    if (csv && std::regex_search(line, lm, labelArg)) labelName = lm[1];
    else if (csv && std::regex_search(body, lm, labelField)) labelName = lm[1];
    bool ok = csv ? data::readCsv(resolve(m[2]), labelName, t, err) : data::readIdx(resolve(m[2]), resolve(m[4]), t, err);
    // The label operators below rewrite one label per record; per-step labels ((n, T)) are left alone.
    if (!ok || t.rows < 2 || t.raw.size() > (size_t{256} << 20) || t.labelsPerRow != 1) continue;
    if (!csv && t.sampleKind != 'u') continue;  // the IDX files written below hold u8 samples
    // Offsets of the quoted paths in the spec.
    size_t pathA = d.open + static_cast<size_t>(m.position(2)) - 1, pathAEnd = pathA + m[2].length() + 2;
    size_t pathB = m[4].matched ? d.open + static_cast<size_t>(m.position(4)) - 1 : 0, pathBEnd = pathB + (m[4].matched ? m[4].length() + 2 : 0);
    std::string tag = d.name;
    std::vector<int64_t> all(static_cast<size_t>(t.rows));
    for (int64_t i = 0; i < t.rows; ++i) all[static_cast<size_t>(i)] = i;

    // data_relabel: every fifth record gets the next class (a fixed, reproducible 20%).
    {
      std::vector<int64_t> labels = t.labels;
      for (size_t i = 0; i < labels.size(); i += 5)
        if (labels[i] >= 0 && labels[i] < C) labels[i] = (labels[i] + 1) % C;
      std::string file = fmt::format("data_relabel_{}_{}", B.counts["data_relabel"] + 1, tag);
      Mutant tmp;
      std::string mutated;
      if (csv) {
        file += ".csv";
        tmp.files.push_back({file, csvBytes(t, labelName, all, labels)});
        mutated = B.splice(pathA, pathAEnd, quoted(absOut + "/" + file));
      } else {
        file += "-labels.idx";
        std::vector<uint8_t> lb(labels.begin(), labels.end());
        tmp.files.push_back({file, idxBytes({t.rows}, lb.data(), lb.size())});
        mutated = B.splice(pathB, pathBEnd, quoted(absOut + "/" + file));
      }
      B.add("data_relabel", pathA, mutated, true, "5.6 wrong labels for training data", "runtime");
      out.back().files = std::move(tmp.files);
    }
    // data_unbalance: all of class 0, every 20th sample of the other classes.
    {
      std::vector<int64_t> keep, labels;
      for (int64_t i = 0, seen = 0; i < t.rows; ++i) {
        int64_t l = t.labels[static_cast<size_t>(i)];
        if (l == 0 || (seen++ % 20) == 0) keep.push_back(i), labels.push_back(l);
      }
      std::string base = fmt::format("data_unbalance_{}_{}", B.counts["data_unbalance"] + 1, tag);
      std::vector<std::pair<std::string, std::string>> files;
      std::string mutated;
      if (csv) {
        files.push_back({base + ".csv", csvBytes(t, labelName, keep, labels)});
        mutated = B.splice(pathA, pathAEnd, quoted(absOut + "/" + base + ".csv"));
      } else {
        std::vector<uint8_t> px(keep.size() * t.rowBytes), lb(labels.begin(), labels.end());
        for (size_t k = 0; k < keep.size(); ++k)
          std::memcpy(&px[k * t.rowBytes], &t.raw[static_cast<size_t>(keep[k]) * t.rowBytes], t.rowBytes);
        std::vector<int64_t> dims = {static_cast<int64_t>(keep.size())};
        dims.insert(dims.end(), t.sampleDims.begin(), t.sampleDims.end());
        files.push_back({base + "-images.idx.gz", gzipBytes(idxBytes(dims, px.data(), px.size()))});
        files.push_back({base + "-labels.idx", idxBytes({static_cast<int64_t>(keep.size())}, lb.data(), lb.size())});
        // Replace the later path first so the earlier offsets stay valid.
        std::string tmp = s.substr(0, pathB) + quoted(absOut + "/" + files[1].first) + s.substr(pathBEnd);
        mutated = tmp.substr(0, pathA) + quoted(absOut + "/" + files[0].first) + tmp.substr(pathAEnd);
      }
      B.add("data_unbalance", pathA, mutated, true, "5.6 unbalanced training data", "data");
      out.back().files = std::move(files);
    }
  }
  return out;
}

}  // namespace dls::checker

#include "sema/Summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include <set>
#include <string_view>

#include "dlspec/OpSchema.h"
#include "sema/OpTable.h"
#include "support/Json.h"

namespace dls::sema {
namespace {
void accumulate(std::optional<int64_t>& total, std::optional<int64_t> v) {
  int64_t r;
  if (!total || !v || !addChecked(*total, *v, r)) total.reset();
  else total = r;
}
std::string num(std::optional<int64_t> v) {
  if (!v) return "?";
  std::string s = std::to_string(*v), out;
  int k = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it, ++k) {
    if (k && k % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
  }
  return out;
}
std::string jnum(std::optional<int64_t> v) { return v ? std::to_string(*v) : "null"; }
}  // namespace

Bf16Copies bf16Copies(const Network& n) {
  Bf16Copies c;
  for (const Node& nd : n.nodes) {
    if (!nd.op->bf16 || nd.inputs.empty()) continue;
    ++c.ops;
    int64_t w = 0;
    for (int pid : nd.params)
      if (n.params[pid].trainable) w += n.params[pid].shape.elements().value_or(0);
    const Shape& in = n.values[nd.inputs[0]].type.shape;
    const Shape& out = n.values[nd.output].type.shape;
    auto ie = in.unknownRank || in.rank() == 0 ? std::nullopt : in.elements(1);
    auto oe = out.unknownRank || out.rank() == 0 ? std::nullopt : out.elements(1);
    c.weights += schema::bf16CopyBytes(nd.op->opcode, 0, w, 0, true);
    if (ie && oe) accumulate(c.perSample, schema::bf16CopyBytes(nd.op->opcode, *ie, 0, *oe, true));
    else c.perSample.reset();
  }
  return c;
}

NetworkSummary summarize(const Program& p, const Network& n) {
  NetworkSummary s;
  s.network = n.name;
  s.flops = 0, s.macFlops = 0, s.activationBytes = 0;
  for (const Node& nd : n.nodes) {
    LayerRow r;
    for (auto& b : nd.blockPath) r.blockPath += b + "/";
    r.layer = nd.layer;
    r.op = std::string(nd.op->name);
    r.node = nd.id;
    r.value = n.values[nd.output].name;
    const Type& out = n.values[nd.output].type;
    r.outShape = out.shape.str();
    for (int pid : nd.params) {
      const Param& pa = n.params[pid];
      auto e = pa.shape.elements();
      if (pa.trainable) r.params += e.value_or(0);
      else s.buffers += e.value_or(0);
    }
    std::vector<const Type*> in;
    for (int i : nd.inputs) in.push_back(&n.values[i].type);
    r.flops = nd.op->flops ? nd.op->flops(in, out, nd) : std::optional<int64_t>(0);
    if (auto e = out.shape.unknownRank || out.shape.rank() == 0 ? std::nullopt : out.shape.elements(1)) {
      int64_t b;
      if (mulChecked(*e, static_cast<int64_t>(dtypeBytes(out.dtype)), b)) r.activationBytes = b;
    }
    if (nd.op->opcode == kOpcodeView) r.activationBytes = 0;  // aliases its input
    s.params += r.params;
    accumulate(s.flops, r.flops);
    // Learned products (dense, convolutions, local, recurrent cells): the op table's columns, not names.
    if (nd.op->matmul || nd.op->recurrent) accumulate(s.macFlops, r.flops);
    accumulate(s.activationBytes, r.activationBytes);
    s.rows.push_back(std::move(r));
  }
  s.bf16 = bf16Copies(n);
  for (const auto& o : n.outputs)
    s.outputs.push_back({o.name, o.value >= 0 ? n.values[o.value].type.str() : o.declared.str()});
  for (auto& t : p.trains)
    if (t->network == &n) {
      s.train = t->name;
      if (t->data) s.batch = t->data->batch;
      if (t->precision) s.precision = *t->precision;
      const bool terms = t->lossTerms.size() > 1 || (t->lossTerms.size() == 1 && (t->lossTerms[0].weight != 1.0 ||
                                                                                 t->lossTerms[0].targetIsSample));
      if (t->data && t->data->dataset && (n.inputs.size() > 1 || !t->data->dataset->moreSamples.empty()))
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          const Dataset& ds = *t->data->dataset;
          const int k = i < t->inputFields.size() ? t->inputFields[i] : -1;
          const std::string field = k == 0 ? ds.sampleName : k > 0 ? ds.moreSamples[size_t(k - 1)].name : std::string();
          const Type& it = n.values[size_t(n.inputs[i])].type;
          s.inputs.push_back({n.values[size_t(n.inputs[i])].name, fmt::format("{}{}", dtypeName(it.dtype), it.shape.str()),
                              field.empty() ? std::string() : ds.name + "." + field});
        }
      if (terms || !n.outputs.empty())
        for (const auto& lt : t->lossTerms)
          s.lossTerms.push_back({lt.call.name, lt.output.empty() ? std::string("out") : lt.output, lt.target, lt.weight, lt.output2});
      break;
    }
  return s;
}

std::string summaryText(const std::vector<NetworkSummary>& all) {
  std::string o;
  for (const NetworkSummary& s : all) {
    o += fmt::format("network {}{}\n", s.network, s.train.empty() ? "" : fmt::format(" (train {})", s.train));
    // Columns as wide as their widest cell (nested block paths make long layer names).
    std::vector<std::array<std::string, 6>> cells = {{"layer", "op", "output", "params", "FLOPs/sample", "act B/sample"}};
    for (const LayerRow& r : s.rows)
      cells.push_back({r.blockPath + r.layer, r.op, r.outShape, num(r.params), num(r.flops), num(r.activationBytes)});
    std::array<size_t, 6> w{};
    for (const auto& row : cells)
      for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
    for (const auto& row : cells)
      o += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}\n", row[0], w[0], row[1], w[1], row[2], w[2], row[3],
                       w[3], row[4], w[4], row[5], w[5]);
    o += fmt::format("  total: {} trainable parameters ({} bytes f32), {} non-trainable\n", num(s.params),
                     num(s.params * 4), num(s.buffers));
    o += fmt::format("  forward: {} FLOPs per sample ({} in matrix products and convolutions); forward+backward ~ 3x = {}\n",
                     num(s.flops), num(s.macFlops), num(s.flops ? std::optional<int64_t>(*s.flops * 3) : std::nullopt));
    o += fmt::format("  activations: {} bytes per sample", num(s.activationBytes));
    if (s.batch && s.activationBytes)
      o += fmt::format(", {} per batch of {}", num(*s.activationBytes * *s.batch), *s.batch);
    o += "\n";
    if (s.batch) o += fmt::format("  batch: {}\n", *s.batch);
    if (!s.inputs.empty()) {
      std::string ins;
      for (const auto& in : s.inputs)
        ins += fmt::format("{}{}: {} <- {}", ins.empty() ? "" : ", ", in.name, in.type, in.field.empty() ? "(no field)" : in.field);
      o += fmt::format("  inputs: {}\n", ins);
    }
    if (!s.outputs.empty()) {
      std::string outs;
      for (const auto& [name, type] : s.outputs) outs += fmt::format("{}{}: {}", outs.empty() ? "" : ", ", name, type);
      o += fmt::format("  outputs: {}\n", outs);
    }
    if (!s.lossTerms.empty()) {
      std::string terms;
      for (const auto& t : s.lossTerms)
        terms += fmt::format("{}{:g} * {}(model.{}, {}{})", terms.empty() ? "" : " + ", t.weight, t.loss, t.output,
                             t.output2.empty() ? std::string() : fmt::format("model.{}, ", t.output2), t.target);
      o += fmt::format("  loss: {}\n", terms);
    }
    if (s.precision == "bf16")
      o += fmt::format("  precision: bf16 on the cpu: {} op(s) compute their products in bf16; their bf16 copies take {} bytes "
                       "of weights and {} bytes per sample (activations, gradients, master weights and optimizer "
                       "state stay f32)\n",
                       s.bf16.ops, num(s.bf16.weights), num(s.bf16.perSample));
  }
  return o;
}

std::string summaryJson(const std::vector<NetworkSummary>& all) {
  std::string o = "{\"networks\":[";
  for (size_t k = 0; k < all.size(); ++k) {
    const NetworkSummary& s = all[k];
    o += k ? "," : "";
    o += "{\"name\":" + jsonQuote(s.network) + ",\"train\":" + (s.train.empty() ? "null" : jsonQuote(s.train)) +
         ",\"batch\":" + jnum(s.batch) + ",\"layers\":[";
    for (size_t i = 0; i < s.rows.size(); ++i) {
      const LayerRow& r = s.rows[i];
      o += i ? "," : "";
      o += "{\"block\":" + jsonQuote(r.blockPath) + ",\"layer\":" + jsonQuote(r.layer) + ",\"op\":" + jsonQuote(r.op) +
           ",\"output\":" + jsonQuote(r.outShape) + ",\"params\":" + std::to_string(r.params) +
           ",\"flops\":" + jnum(r.flops) + ",\"activation_bytes\":" + jnum(r.activationBytes) +
           ",\"value\":" + (r.value.empty() ? "null" : jsonQuote(r.value)) + "}";
    }
    o += "],\"total_params\":" + std::to_string(s.params) + ",\"non_trainable\":" + std::to_string(s.buffers) +
         ",\"forward_flops\":" + jnum(s.flops) + ",\"product_flops\":" + jnum(s.macFlops) +
         ",\"activation_bytes\":" + jnum(s.activationBytes) + ",\"precision\":" + jsonQuote(s.precision) +
         (s.precision == "bf16" ? ",\"bf16_ops\":" + std::to_string(s.bf16.ops) + ",\"bf16_weight_bytes\":" +
                                      std::to_string(s.bf16.weights) + ",\"bf16_bytes_per_sample\":" + jnum(s.bf16.perSample)
                                : std::string());
    if (!s.inputs.empty()) {
      o += ",\"inputs\":[";
      for (size_t i = 0; i < s.inputs.size(); ++i)
        o += (i ? "," : "") + std::string("{\"name\":") + jsonQuote(s.inputs[i].name) + ",\"type\":" + jsonQuote(s.inputs[i].type) +
             ",\"field\":" + (s.inputs[i].field.empty() ? std::string("null") : jsonQuote(s.inputs[i].field)) + "}";
      o += "]";
    }
    if (!s.outputs.empty()) {
      o += ",\"outputs\":[";
      for (size_t i = 0; i < s.outputs.size(); ++i)
        o += (i ? "," : "") + std::string("{\"name\":") + jsonQuote(s.outputs[i].first) + ",\"type\":" +
             jsonQuote(s.outputs[i].second) + "}";
      o += "]";
    }
    if (!s.lossTerms.empty()) {
      o += ",\"loss_terms\":[";
      for (size_t i = 0; i < s.lossTerms.size(); ++i)
        o += (i ? "," : "") + std::string("{\"loss\":") + jsonQuote(s.lossTerms[i].loss) + ",\"output\":" +
             jsonQuote(s.lossTerms[i].output) +
             (s.lossTerms[i].output2.empty() ? std::string() : ",\"output2\":" + jsonQuote(s.lossTerms[i].output2)) +
             ",\"target\":" + jsonQuote(s.lossTerms[i].target) +
             ",\"weight\":" + fmt::format("{}", s.lossTerms[i].weight) + "}";
      o += "]";
    }
    o += "}";
  }
  return o + "]}\n";
}

}  // namespace dls::sema

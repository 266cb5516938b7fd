// SpecView: the facts the rules read, taken from the AST: each network as its sequence of layers (blocks
// inlined, block parameters substituted), each pipeline as its steps, each data set's fields and splits,
// each train block's settings. Rules that need types, devices and kinds read sema::Program as well.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "syntax/Ast.h"

namespace dls::checker {

// An op applied in a network or a pipeline: `conv2d(filters: 20)`, `relu`, `augment random_crop(28)`.
struct OpUse {
  std::string op;                                  // callee name (last path component)
  const ast::Expr* expr = nullptr;                 // the Call or Name expression
  Span span, nameSpan;
  std::map<std::string, const ast::Expr*> args;    // named arguments (block parameters substituted)
  std::map<std::string, Span> argSpans;            // whole `name: value` spans
  std::vector<const ast::Expr*> positional;
  std::vector<std::string> blockPath;              // blocks it was inlined from
  std::string field;                               // pipelines: `image = image |> …` → "image"; "" for calls
  bool augment = false;                            // pipelines: `augment …`
  std::vector<std::string> duplicateArgs;          // named arguments given more than once
  const ast::Expr* arg(const std::string& n) const {
    auto it = args.find(n);
    return it == args.end() ? nullptr : it->second;
  }
};

struct NetView {
  const ast::Decl* decl = nullptr;
  std::vector<OpUse> layers;            // in source order
  std::vector<std::optional<int64_t>> inputDims;  // the first input's dims after the batch dim
  std::string inputDType;               // f32
  std::string outKind;                  // logits, real, probs …
  std::vector<std::string> locals;      // names assigned in the body
  std::vector<Span> localSpans;
};

struct PipeView {
  const ast::Decl* decl = nullptr;
  std::string dataset, split;           // from fashion.train
  Span sourceSpan;
  std::vector<OpUse> steps;
};

struct DataView {
  const ast::Decl* decl = nullptr;
  const ast::Item* sample = nullptr;    // sample image: u8[28, 28]
  const ast::Item* label = nullptr;     // label kind: class<10>
  std::vector<const ast::Item*> masks;  // any field whose type is mask
  std::map<std::string, const ast::Item*> splits;  // train = idx(…)
};

struct TrainView {
  const ast::Decl* decl = nullptr;
  std::map<std::string, const ast::Item*> items;
  const ast::Item* item(const std::string& k) const {
    auto it = items.find(k);
    return it == items.end() ? nullptr : it->second;
  }
};

struct SpecView {
  std::vector<NetView> networks;
  std::vector<PipeView> pipelines;
  std::vector<DataView> datasets;
  std::vector<TrainView> trains;
  const NetView* network(const std::string& n) const;
  const PipeView* pipeline(const std::string& n) const;
  const DataView* dataset(const std::string& n) const;
};

SpecView buildView(const ast::Spec& spec);

// Expression helpers.
const ast::Expr* stripParens(const ast::Expr* e);
std::optional<double> evalNumber(const ast::Expr* e);   // numbers, -x, + - * / of numbers
std::optional<int64_t> evalInt(const ast::Expr* e);      // exact integers only
std::string nameOf(const ast::Expr* e);                  // Name or Call: dotted path; else ""
// The call of a setting, `adam(lr: 0.001)` or a bare name `adam`; its op, args, spans.
std::optional<OpUse> asOp(const ast::Expr* e);
// `a |> b |> c` → [a, b, c].
void flattenPipe(const ast::Expr* e, std::vector<const ast::Expr*>& out);
// The name of a TypeExpr's base (u8, class, logits) and its dims as integers where constant.
std::vector<std::optional<int64_t>> typeDims(const ast::TypeExpr& t);

}  // namespace dls::checker

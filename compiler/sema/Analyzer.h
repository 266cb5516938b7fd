// Analyzer: the state analyze() shares between its passes, one file per concept:
//   ConstEval.cpp (constant expressions), ArgResolver.cpp (call arguments against the op table),
//   TypeResolver.cpp (type expressions), NameResolver.cpp (declarations, duplicates),
//   DatasetTyper.cpp, PipelineTyper.cpp, NetworkTyper.cpp, BlockInliner.cpp, TrainTyper.cpp.
#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "sema/OpTable.h"
#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::sema {

// A compile-time constant: a number, a string, a bare word (same, all, he) or a list of them.
struct Const {
  enum class Kind : uint8_t { Int, Float, Bool, String, Word, List, Call } kind = Kind::Int;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string s;             // String, Word, Call (callee)
  std::vector<Const> items;  // List, Call (arguments, in order)
  std::vector<std::string> names;  // Call: each argument's name, "" when positional
  Span span;
  std::string describe() const;  // "the integer 3", "`same`", "a list"
};
using ConstEnv = std::unordered_map<std::string, Const>;

// Values visible in one network or block body.
struct Scope {
  std::unordered_map<std::string, int> values;  // name -> value id
  const ConstEnv* consts = nullptr;             // block parameters
};

class Analyzer {
public:
  Analyzer(const ast::Spec& spec, const SourceManager& sm, DiagnosticEngine& diags, Program& prog)
      : spec(spec), sm(sm), diags(diags), prog(prog) {}
  void run();

  const ast::Spec& spec;
  const SourceManager& sm;
  DiagnosticEngine& diags;
  Program& prog;

  // NameResolver.cpp
  std::unordered_map<std::string, const ast::Decl*> decls;  // every declared name
  void collectDecls();
  std::vector<std::string> declNames(ast::DeclKind k) const;
  const ast::Decl* lookupDecl(const ast::Ident& id, ast::DeclKind want, std::string_view what);

  // ConstEval.cpp
  std::optional<Const> evalConst(const ast::Expr& e, const ConstEnv* env, bool report = true);

  // ArgResolver.cpp: `args` are the attribute arguments (inputs removed); false after an error.
  bool resolveArgs(const OpInfo& op, const std::vector<const ast::Arg*>& args, const ConstEnv* env, Span callSpan,
                   std::map<std::string, Attr>& out);
  bool convertArg(const OpInfo& op, const AttrSpec& spec, const Const& c, AttrValue& out);
  // Finds an op by name or reports E0102 with a did-you-mean; follows deprecations (W0102).
  const OpInfo* lookupOp(const ast::Ident& name, std::initializer_list<OpCategory> cats, std::string_view what);

  // TypeResolver.cpp
  std::optional<Type> resolveType(const ast::TypeExpr& t, const ConstEnv* env, bool allowSymbols);

  // DatasetTyper.cpp / PipelineTyper.cpp / TrainTyper.cpp
  void typeDataset(const ast::Decl& d);
  static std::vector<std::string> sampleFieldNames(const ast::Decl& d);
  static std::string labelFieldName(const ast::Decl& d);
  void checkImageSource(const Dataset& ds, const DataSource& src);
  void checkFeatureStatistics(const Pipeline& p);
  void checkAugmentations(const Pipeline& p);  // E0630, E0640, W0610
  bool augmentedField(const Dataset& ds, const ast::Item& it, const std::string& op,
                      const std::unordered_map<std::string, Type>& fields, std::string& field);  // E0636, E0637
  void checkMixing(const TrainConfig& tc);     // E0621, E0304: mixup and cutmix against the loss
  void checkTextSource(const Dataset& ds, const DataSource& src);
  void typePipeline(const ast::Decl& d);
  void typeTrain(const ast::Decl& d);

  // NetworkTyper.cpp
  void typeNetwork(const ast::Decl& d);
  struct NetCtx {
    Network* net = nullptr;
    std::unordered_map<std::string, int> opCounters;
    std::vector<std::string> blockPath;
    std::vector<std::string> blockStack;  // block names being inlined (cycle detection)
    std::vector<bool> used;               // per value id
    std::vector<bool> recovered;          // per value id: computed from an error's fallback result (NetworkTyper.cpp)
    std::vector<Span> usedAt;
    size_t blockInstances = 0;
    std::unordered_set<std::string> recursiveBlocks;  // reported by E0106 once; later instances are poison
    // Unknown callees already reported (by span start): a block body's typo is reported, with its
    // did-you-mean search, once, not once per block instance (2^16 under a fan-out, found by fuzz_check).
    std::unordered_set<uint32_t> unknownCallees;
    // `return (cls: a, box: b)` of the network's body: each name and its value id, in order.
    std::vector<std::pair<ast::Ident, int>> namedReturns;
  };
  // Types an expression; returns a value id (-1 after an error: the caller poisons).
  int typeExpr(NetCtx& n, Scope& s, const ast::Expr& e);
  int typeCall(NetCtx& n, Scope& s, const ast::Expr& call, int piped);
  int applyOp(NetCtx& n, const OpInfo& op, const ast::Expr& call, std::vector<int> inputs,
              std::vector<const ast::Arg*> attrArgs, const ConstEnv* env, Span span, Span nameSpan);
  int typeBody(NetCtx& n, Scope& s, const std::vector<ast::Item>& items, std::string_view what, Span declSpan);
  int poison(NetCtx& n, Span span);
  void labelOperand(Diagnostic& d, const NetCtx& n, int valueId, std::string_view role);
  std::string producerName(const NetCtx& n, int valueId) const;
  // BlockInliner.cpp
  int inlineBlock(NetCtx& n, Scope& s, const ast::Decl& block, const ast::Expr& call, int piped);

  // Values of every network by name, for E0107 (a reference to another network's value).
  std::unordered_map<std::string, std::string> valueOwner;
  std::unordered_map<std::string, Dataset*> datasets;
  std::unordered_map<std::string, Pipeline*> pipelines;
  std::unordered_map<std::string, Network*> networks;
};

}  // namespace dls::sema

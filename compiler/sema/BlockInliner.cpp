// Blocks are inlined where they are used: inputs bound to the caller's values, typed parameters bound
// to constants (defaults applied), the body typed in a fresh scope. A block that instantiates itself,
// directly or through others, is reported with the chain.
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {
namespace {
constexpr size_t kMaxBlockInstances = 200000;
}

int Analyzer::inlineBlock(NetCtx& n, Scope& s, const ast::Decl& block, const ast::Expr& call, int piped) {
  const std::string& bname = block.name.name;
  // A block already found to contain itself is reported once: under a fan-out of 2^k instances, one
  // report per instance took 16 s and 40,000 errors (found by fuzz_analyze).
  if (n.recursiveBlocks.count(bname)) return poison(n, call.span);
  for (size_t i = 0; i < n.blockStack.size(); ++i)
    if (n.blockStack[i] == bname) {
      n.recursiveBlocks.insert(bname);
      std::string chain;
      for (size_t j = i; j < n.blockStack.size(); ++j) chain += "`" + n.blockStack[j] + "` -> ";
      chain += "`" + bname + "`";
      diags.report(Code::E0106, call.path[0].span, bname, chain)
          .primary("instantiated again here")
          .label(block.name.span, "declared here")
          .help("a block cannot contain itself; repeat layers explicitly or give the recursion a fixed depth with separate blocks");
      return poison(n, call.span);
    }
  if (++n.blockInstances > kMaxBlockInstances) {
    if (n.blockInstances == kMaxBlockInstances + 1)
      diags.report(Code::E0115, call.span, "the network", fmt::format("more than {} block instances", kMaxBlockInstances));
    return poison(n, call.span);
  }
  std::vector<int> inputs;
  if (piped >= 0) inputs.push_back(piped);
  size_t argIndex = 0;
  // Inputs beyond the piped one come from the leading positional arguments.
  while (inputs.size() < block.inputs.size() && argIndex < call.args.size() && !call.args[argIndex].name)
    inputs.push_back(typeExpr(n, s, *call.args[argIndex++].value));
  if (inputs.size() != block.inputs.size()) {
    diags.report(Code::E0108, call.span, bname, block.inputs.size(),
                 fmt::format("{} {}", inputs.size(), inputs.size() == 1 ? "was" : "were"))
        .label(block.name.span, "declared here");
    return poison(n, call.span);
  }
  ConstEnv env;
  std::unordered_map<std::string, Span> given;
  bool ok = true;
  size_t positional = 0;
  std::vector<std::string> pnames;
  for (auto& p : block.params) pnames.push_back(p.name.name);
  for (; argIndex < call.args.size(); ++argIndex) {
    const ast::Arg& a = call.args[argIndex];
    const ast::Param* p = nullptr;
    if (a.name) {
      for (auto& q : block.params)
        if (q.name.name == a.name->name) p = &q;
      if (!p) {
        auto& d = diags.report(Code::E0103, a.name->span, bname, a.name->name);
        if (auto near = closest(a.name->name, pnames)) d.help(fmt::format("did you mean `{}`?", *near)).fixit(a.name->span, *near);
        ok = false;
        continue;
      }
    } else {
      if (positional >= block.params.size()) {
        diags.report(Code::E0110, a.span, bname, block.params.size(), positional + 1);
        ok = false;
        ++positional;
        continue;
      }
      p = &block.params[positional++];
    }
    if (given.count(p->name.name)) {
      diags.report(Code::E0105, a.span, p->name.name).label(given[p->name.name], "first given here");
      ok = false;
      continue;
    }
    given[p->name.name] = a.span;
    auto c = evalConst(*a.value, s.consts);
    if (!c) {
      ok = false;
      continue;
    }
    const std::string& ty = p->type.base.name;
    bool typeOk = ty == "int" ? c->kind == Const::Kind::Int
                  : ty == "float" ? (c->kind == Const::Kind::Int || c->kind == Const::Kind::Float)
                  : ty == "bool" ? c->kind == Const::Kind::Bool
                  : ty == "string" ? c->kind == Const::Kind::String
                                   : true;
    if (!typeOk) {
      diags.report(Code::E0211, a.value->span, p->name.name, bname, fmt::format("`{}`", ty), c->describe())
          .label(p->span, "declared here");
      ok = false;
      continue;
    }
    if (ty == "float" && c->kind == Const::Kind::Int) c->kind = Const::Kind::Float;
    env[p->name.name] = *c;
  }
  for (const ast::Param& p : block.params) {
    if (env.count(p.name.name) || given.count(p.name.name)) continue;
    if (!p.defaultValue) {
      if (ok) diags.report(Code::E0109, call.span, bname, p.name.name).label(p.span, "declared here");
      ok = false;
      continue;
    }
    auto c = evalConst(*p.defaultValue, &env);
    if (!c) {
      ok = false;
      continue;
    }
    env[p.name.name] = *c;
  }
  if (!ok) return poison(n, call.span);
  Scope bs;
  bs.consts = &env;
  for (size_t i = 0; i < block.inputs.size(); ++i) bs.values[block.inputs[i].name] = inputs[i];
  n.blockStack.push_back(bname);
  n.blockPath.push_back(fmt::format("{}_{}", bname, ++n.opCounters["block:" + bname]));
  int out = typeBody(n, bs, block.items, fmt::format("block `{}`", bname), block.name.span);
  n.blockPath.pop_back();
  n.blockStack.pop_back();
  return out;
}

}  // namespace dls::sema

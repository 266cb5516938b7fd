#include "syntax/Parser.h"

#include <algorithm>
#include <antlr4-runtime.h>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

#include "DLSpecLexer.h"
#include "DLSpecParser.h"
#include "support/Suggest.h"

namespace dls {

using antlr4::Token;
using P = DLSpecParser;

const std::vector<std::string>& keywords() {
  static const std::vector<std::string> k = {"dlspec", "dataset", "pipeline", "block",   "network", "train",
                                             "return", "allow",   "sample",   "label",   "from",    "augment",
                                             "on",     "every",   "metrics",  "keep"};
  return k;
}

std::string_view ast::declKeyword(ast::DeclKind k) {
  switch (k) {
    case ast::DeclKind::Dataset: return "dataset";
    case ast::DeclKind::Pipeline: return "pipeline";
    case ast::DeclKind::Block: return "block";
    case ast::DeclKind::Network: return "network";
    case ast::DeclKind::Train: return "train";
  }
  return "";
}

namespace {

constexpr size_t kMaxNesting = 256;
constexpr size_t kMaxSyntaxErrors = 50;
constexpr size_t kMaxExprDepth = 4000;

struct StopParsing {};

// Finds the first byte that is not valid UTF-8; returns npos when the text is valid.
size_t invalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string describeChar(std::string_view text) {
  if (text.size() == 1) {
    unsigned char c = static_cast<unsigned char>(text[0]);
    if (c < 0x20 || c == 0x7f) return fmt::format("U+{:04X} (a control character)", c);
    return fmt::format("`{}`", text);
  }
  return fmt::format("`{}`", text);
}

// Maps ANTLR's code-point indices to byte offsets in the file.
struct OffsetMap {
  std::vector<uint32_t> cpToByte;
  explicit OffsetMap(std::string_view s) {
    cpToByte.reserve(s.size() + 1);
    for (uint32_t i = 0; i < s.size(); ++i)
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) cpToByte.push_back(i);
    cpToByte.push_back(static_cast<uint32_t>(s.size()));
  }
  uint32_t byte(size_t cp) const { return cp < cpToByte.size() ? cpToByte[cp] : cpToByte.back(); }
};

std::string tokenDescription(const Token* t) {
  switch (t->getType()) {
    case Token::EOF: return "end of file";
    case DLSpecLexer::ID: return fmt::format("name `{}`", t->getText().substr(0, 40));
    case DLSpecLexer::NUMBER: return fmt::format("number `{}`", t->getText().substr(0, 40));
    case DLSpecLexer::STRING:
    case DLSpecLexer::UNTERMINATED_STRING: {
      std::string text = t->getText();
      return fmt::format("string {}", text.size() > 40 ? text.substr(0, 40) + "…" : text);
    }
    default: break;
  }
  std::string text = t->getText();
  if (text.size() > 40) text = text.substr(0, 40) + "…";
  return fmt::format("`{}`", text);
}

std::string tokenTypeName(const antlr4::dfa::Vocabulary& vocab, size_t type) {
  switch (type) {
    case Token::EOF: return "end of file";
    case DLSpecLexer::ID: return "a name";
    case DLSpecLexer::NUMBER: return "a number";
    case DLSpecLexer::STRING: return "a string";
    default: break;
  }
  std::string lit = vocab.getLiteralName(type);
  if (lit.size() >= 2 && lit.front() == '\'') return "`" + lit.substr(1, lit.size() - 2) + "`";
  return vocab.getSymbolicName(type);
}

std::string contextPhrase(antlr4::ParserRuleContext* ctx) {
  for (auto* c = ctx; c; c = dynamic_cast<antlr4::ParserRuleContext*>(c->parent)) {
    switch (c->getRuleIndex()) {
      case P::RuleArgList:
      case P::RuleArg:
      case P::RuleCall: return "in the argument list";
      case P::RuleList: return "in the list";
      case P::RuleTypeExpr: return "in the type";
      case P::RuleAttribute: return "in the attribute";
      case P::RuleParam: return "in the parameter list";
      case P::RulePlacement:
      case P::RuleDevice: return "in the device placement";
      case P::RuleDatasetDecl: return "in the dataset";
      case P::RulePipelineDecl: return "in the pipeline";
      case P::RuleBlockDecl: return "in the block";
      case P::RuleNetworkDecl: return "in the network";
      case P::RuleTrainDecl: return "in the train block";
      case P::RuleHeader: return "in the version header";
      default: break;
    }
  }
  return "at the top level";
}

// Reports syntax errors through the DiagnosticEngine instead of ANTLR's console listener.
class ErrorStrategy : public antlr4::DefaultErrorStrategy {
public:
  ErrorStrategy(DiagnosticEngine& d, FileId f, const OffsetMap& m) : diags_(d), file_(f), map_(m) {}
  size_t errors = 0;
  // Errors are reported per declaration (see parseSpec): after the first error in one, a later error on
  // the same line, or at the end of the declaration, is a consequence of the first and is not reported.
  size_t errorsInChunk = 0;
  uint32_t lastErrorLine = 0;
  const SourceManager* sm = nullptr;

  void startChunk() {
    errorsInChunk = 0;
    lastErrorLine = 0;
  }

  Span spanOf(const Token* t) const {
    if (t->getType() == Token::EOF) {
      uint32_t e = map_.byte(map_.cpToByte.size());
      return {file_, e, e};
    }
    return {file_, map_.byte(t->getStartIndex()), map_.byte(t->getStopIndex() + 1)};
  }

protected:
  // After an error in a declaration, a later one is reported only when it is in an item (statement,
  // field, pipeline step, setting) that starts on a line after the last error: errors in between are
  // the parser's recovery reading the rest of the broken item.
  bool worthReporting(antlr4::Parser* p, const Token* t) {
    uint32_t line = sm->lineCol(spanOf(t)).line;
    if (errorsInChunk > 0) {
      if (t->getType() == Token::EOF || line <= lastErrorLine) return false;
      antlr4::ParserRuleContext* item = nullptr;
      for (auto* c = p->getContext(); c && !item; c = dynamic_cast<antlr4::ParserRuleContext*>(c->parent)) {
        size_t r = c->getRuleIndex();
        if (r == P::RuleStmt || r == P::RuleDatasetItem || r == P::RulePipeItem || r == P::RuleTrainItem) item = c;
      }
      if (!item || !item->getStart() || sm->lineCol(spanOf(item->getStart())).line <= lastErrorLine) return false;
    }
    lastErrorLine = line;
    ++errorsInChunk;
    return true;
  }

  // `h = x |>` followed by a new line: say what is missing rather than what came next.
  bool missingOperand(antlr4::Parser* p, const Token* t) {
    Token* prev = p->getTokenStream()->LT(-1);
    if (!prev) return false;
    size_t ty = prev->getType();
    if (ty != DLSpecLexer::PIPE && ty != DLSpecLexer::ASSIGN && ty != DLSpecLexer::PLUS && ty != DLSpecLexer::MINUS &&
        ty != DLSpecLexer::STAR && ty != DLSpecLexer::SLASH && ty != DLSpecLexer::RETURN)
      return false;
    auto& d = diags_.report(Code::E0013, spanOf(t), "an expression", fmt::format("after `{}`", prev->getText()),
                            tokenDescription(t));
    d.label(spanOf(prev), "needs an operand");
    count();
    return true;
  }

  // `lable kind: class<10>` reads as `lable = …` with the `=` missing: point out the likely misspelt keyword.
  void suggestPreviousKeyword(Diagnostic& d, antlr4::Parser* p) {
    Token* prev = p->getTokenStream()->LT(-1);
    if (!prev || prev->getType() != DLSpecLexer::ID) return;
    static const std::vector<std::string> itemKeywords = {"sample", "label", "return", "augment"};
    if (auto k = closest(prev->getText(), itemKeywords)) {
      d.label(spanOf(prev), fmt::format("is this a misspelt `{}`?", *k));
      d.help(fmt::format("did you mean `{}`?", *k));
      d.fixit(spanOf(prev), *k);
    }
  }

  void count() {
    if (++errors >= kMaxSyntaxErrors) {
      diags_.report(Code::E0018, Span{}, errors);
      throw StopParsing{};
    }
  }

  // A name that is close to a keyword the grammar would accept here gets a did-you-mean.
  void suggestKeyword(Diagnostic& d, const Token* t, const antlr4::misc::IntervalSet& expected,
                      antlr4::Parser* p) {
    if (t->getType() != DLSpecLexer::ID) return;
    std::vector<std::string> cands;
    for (size_t type : expected.toList()) {
      std::string lit = p->getVocabulary().getLiteralName(type);
      if (lit.size() > 2 && std::isalpha(static_cast<unsigned char>(lit[1]))) cands.push_back(lit.substr(1, lit.size() - 2));
    }
    if (cands.empty()) cands = keywords();
    if (auto k = closest(t->getText(), cands)) {
      d.help(fmt::format("did you mean `{}`?", *k));
      d.fixit(spanOf(t), *k);
    }
  }

  // Brackets are balanced before the parser runs, so deleting one to recover is always wrong (and would
  // turn `dataset {` into a dataset named after its first field).
  Token* singleTokenDeletion(antlr4::Parser* p) override {
    size_t t = p->getCurrentToken()->getType();
    if (t == DLSpecLexer::LPAREN || t == DLSpecLexer::RPAREN || t == DLSpecLexer::LBRACK ||
        t == DLSpecLexer::RBRACK || t == DLSpecLexer::LBRACE || t == DLSpecLexer::RBRACE)
      return nullptr;
    return antlr4::DefaultErrorStrategy::singleTokenDeletion(p);
  }

  std::string expectedList(antlr4::Parser* p, const antlr4::misc::IntervalSet& set) {
    auto all = set.toList();
    // Keywords that are also names (`sample`, `train`, …) are "a name" when a name is expected.
    std::vector<size_t> types;
    bool name = set.contains(static_cast<size_t>(DLSpecLexer::ID));
    if (name) types.push_back(DLSpecLexer::ID);
    for (size_t t : all)
      if (!name || !(t == DLSpecLexer::ID || t == DLSpecLexer::SAMPLE || t == DLSpecLexer::LABEL ||
                     t == DLSpecLexer::FROM || t == DLSpecLexer::AUGMENT || t == DLSpecLexer::ON ||
                     t == DLSpecLexer::EVERY || t == DLSpecLexer::METRICS || t == DLSpecLexer::KEEP ||
                     t == DLSpecLexer::DLSPEC || t == DLSpecLexer::DATASET || t == DLSpecLexer::PIPELINE ||
                     t == DLSpecLexer::BLOCK || t == DLSpecLexer::NETWORK || t == DLSpecLexer::TRAIN ||
                     t == DLSpecLexer::STEPS || t == DLSpecLexer::STEP))
        types.push_back(t);
    if (types.size() > 5) return "";
    std::string out;
    for (size_t i = 0; i < types.size(); ++i) {
      if (i) out += i + 1 == types.size() ? " or " : ", ";
      out += tokenTypeName(p->getVocabulary(), types[i]);
    }
    return out;
  }

  void atDeclLevel(antlr4::Parser* p, const Token* t) {
    auto& d = diags_.report(Code::E0011, spanOf(t), tokenDescription(t));
    d.primary("a declaration must start here");
    if (t->getType() == DLSpecLexer::ID) {
      std::vector<std::string> decls = {"dataset", "pipeline", "block", "network", "train"};
      if (auto k = closest(t->getText(), decls)) {
        d.help(fmt::format("did you mean `{}`?", *k));
        d.fixit(spanOf(t), *k);
      }
    }
  }

  void reportNoViableAlternative(antlr4::Parser* p, const antlr4::NoViableAltException& e) override {
    Token* t = e.getOffendingToken();
    if (!worthReporting(p, t) || missingOperand(p, t)) return;
    auto* ctx = p->getContext();
    if (ctx && (ctx->getRuleIndex() == P::RuleDecl || ctx->getRuleIndex() == P::RuleSpec)) {
      atDeclLevel(p, t);
    } else if (ctx && ctx->getRuleIndex() == P::RuleIdent) {
      auto* outer = dynamic_cast<antlr4::ParserRuleContext*>(ctx->parent);
      diags_.report(Code::E0013, spanOf(t), "a name", contextPhrase(outer ? outer : ctx), tokenDescription(t));
    } else {
      auto& d = diags_.report(Code::E0012, spanOf(t), tokenDescription(t), contextPhrase(ctx));
      suggestKeyword(d, t, e.getExpectedTokens(), p);
    }
    count();
  }

  void reportInputMismatch(antlr4::Parser* p, const antlr4::InputMismatchException& e) override {
    Token* t = e.getOffendingToken();
    if (!worthReporting(p, t) || missingOperand(p, t)) return;
    auto* ctx = p->getContext();
    if (ctx && (ctx->getRuleIndex() == P::RuleSpec || ctx->getRuleIndex() == P::RuleDecl)) {
      atDeclLevel(p, t);
      count();
      return;
    }
    std::string exp = expectedList(p, e.getExpectedTokens());
    if (exp.empty()) {
      auto& d = diags_.report(Code::E0012, spanOf(t), tokenDescription(t), contextPhrase(ctx));
      suggestKeyword(d, t, e.getExpectedTokens(), p);
    } else {
      auto& d = diags_.report(Code::E0013, spanOf(t), exp, contextPhrase(ctx), tokenDescription(t));
      suggestKeyword(d, t, e.getExpectedTokens(), p);
      if (exp == "`=`") suggestPreviousKeyword(d, p);
    }
    count();
  }

  void reportUnwantedToken(antlr4::Parser* p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    Token* t = p->getCurrentToken();
    if (!worthReporting(p, t) || missingOperand(p, t)) return;
    auto* ctx = p->getContext();
    if (ctx && (ctx->getRuleIndex() == P::RuleSpec || ctx->getRuleIndex() == P::RuleDecl)) {
      atDeclLevel(p, t);
    } else {
      auto& d = diags_.report(Code::E0012, spanOf(t), tokenDescription(t), contextPhrase(ctx));
      d.primary("not expected here");
      suggestKeyword(d, t, getExpectedTokens(p), p);
    }
    count();
  }

  void reportMissingToken(antlr4::Parser* p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    Token* t = p->getCurrentToken();
    if (!worthReporting(p, t)) return;
    std::string exp = expectedList(p, getExpectedTokens(p));
    if (exp.empty()) exp = "more input";
    auto& d = diags_.report(Code::E0013, spanOf(t), exp, contextPhrase(p->getContext()), tokenDescription(t));
    suggestKeyword(d, t, getExpectedTokens(p), p);
    if (exp == "`=`") suggestPreviousKeyword(d, p);
    count();
  }

  void reportFailedPredicate(antlr4::Parser* p, const antlr4::FailedPredicateException& e) override {
    if (!worthReporting(p, e.getOffendingToken())) return;
    diags_.report(Code::E0012, spanOf(e.getOffendingToken()), tokenDescription(e.getOffendingToken()),
                  contextPhrase(p->getContext()));
    count();
  }

private:
  DiagnosticEngine& diags_;
  FileId file_;
  const OffsetMap& map_;
};

struct Bracket {
  size_t type;
  Span span;
  size_t before;  // token type before the opener: a name before '(' makes it an argument list
};

std::string_view bracketWhat(size_t type, size_t prevType) {
  switch (type) {
    case DLSpecLexer::LPAREN: return prevType == DLSpecLexer::ID ? "argument list" : "parenthesis";
    case DLSpecLexer::LBRACK: return "bracket";
    case DLSpecLexer::LBRACE: return "body";
    default: return "group";
  }
}
std::string_view closerOf(size_t type) {
  return type == DLSpecLexer::LPAREN ? ")" : type == DLSpecLexer::LBRACK ? "]" : "}";
}
std::string_view openerOf(size_t type) {
  return type == DLSpecLexer::RPAREN ? "(" : type == DLSpecLexer::RBRACK ? "[" : "{";
}

// Builds the AST from a parse tree that has no syntax errors.
class Builder {
public:
  Builder(const SourceManager& sm, FileId f, DiagnosticEngine& d, const OffsetMap& m,
          antlr4::CommonTokenStream& tokens)
      : sm_(sm), file_(f), diags_(d), map_(m) {
    for (Token* t : tokens.getTokens())
      if (t->getChannel() == Token::HIDDEN_CHANNEL) comments_.push_back({spanOf(t), t->getText(), false});
  }

  std::unique_ptr<ast::Spec> spec(P::SpecContext* ctx) {
    auto s = std::make_unique<ast::Spec>();
    s->file = file_;
    if (auto* h = ctx->header()) {
      s->headerComments.leading = leadingBefore(spanOf(h).begin);
      s->versionSpan = spanOf(h);
      ast::ExprPtr v = number(h->NUMBER()->getSymbol());
      if (v && v->isInteger) s->version = v->integer;
      else s->version = -1;
      s->headerComments.trailing = trailingAfter(s->versionSpan.end);
    }
    for (auto* d : ctx->decl()) s->decls.push_back(decl(d));
    for (auto& c : comments_)
      if (!c.used) s->trailingComments.push_back(c.text);
    return s;
  }

private:
  struct Comment {
    Span span;
    std::string text;
    bool used;
  };

  Span spanOf(const Token* t) const { return {file_, map_.byte(t->getStartIndex()), map_.byte(t->getStopIndex() + 1)}; }
  Span spanOf(antlr4::ParserRuleContext* c) const {
    Token* b = c->getStart();
    Token* e = c->getStop();
    if (!e || e->getTokenIndex() < b->getTokenIndex()) e = b;
    return {file_, map_.byte(b->getStartIndex()), map_.byte(e->getStopIndex() + 1)};
  }

  std::vector<std::string> leadingBefore(uint32_t begin) {
    std::vector<std::string> out;
    for (auto& c : comments_)
      if (!c.used && c.span.begin < begin) {
        c.used = true;
        out.push_back(c.text);
      }
    return out;
  }
  std::string trailingAfter(uint32_t end) {
    uint32_t line = sm_.lineCol(file_, end > 0 ? end - 1 : 0).line;
    for (auto& c : comments_)
      if (!c.used && c.span.begin >= end && sm_.lineCol(file_, c.span.begin).line == line) {
        c.used = true;
        return c.text;
      }
    return {};
  }

  ast::Ident ident(P::IdentContext* c) { return {c->getText(), spanOf(c)}; }
  ast::Ident ident(antlr4::tree::TerminalNode* n) { return {n->getText(), spanOf(n->getSymbol())}; }

  std::vector<ast::Attribute> attributes(const std::vector<P::AttributeContext*>& attrs) {
    std::vector<ast::Attribute> out;
    for (auto* a : attrs) {
      ast::Attribute at;
      at.span = spanOf(a);
      if (a->argList()) at.args = args(a->argList());
      out.push_back(std::move(at));
    }
    return out;
  }

  ast::Decl decl(P::DeclContext* ctx) {
    ast::Decl d;
    d.span = spanOf(ctx);
    d.comments.leading = leadingBefore(d.span.begin);
    d.attrs = attributes(ctx->attribute());
    antlr4::ParserRuleContext* body = nullptr;
    if (auto* c = ctx->datasetDecl()) {
      d.kind = ast::DeclKind::Dataset;
      d.keywordSpan = spanOf(c->DATASET()->getSymbol());
      d.name = ident(c->ident());
      header(d, c->LBRACE()->getSymbol());
      for (auto* it : c->datasetItem()) d.items.push_back(datasetItem(it));
      body = c;
    } else if (auto* c = ctx->pipelineDecl()) {
      d.kind = ast::DeclKind::Pipeline;
      d.keywordSpan = spanOf(c->PIPELINE()->getSymbol());
      d.name = ident(c->ident());
      for (auto* i : c->qualified()->ident()) d.source.push_back(ident(i));
      header(d, c->LBRACE()->getSymbol());
      for (auto* it : c->pipeItem()) d.items.push_back(pipeItem(it));
      body = c;
    } else if (auto* c = ctx->blockDecl()) {
      d.kind = ast::DeclKind::Block;
      d.keywordSpan = spanOf(c->BLOCK()->getSymbol());
      auto ids = c->ident();
      d.name = ident(ids[0]);
      for (size_t i = 1; i < ids.size(); ++i) d.inputs.push_back(ident(ids[i]));
      for (auto* p : c->param()) d.params.push_back(param(p));
      header(d, c->LBRACE()->getSymbol());
      for (auto* it : c->stmt()) d.items.push_back(stmt(it));
      body = c;
    } else if (auto* c = ctx->networkDecl()) {
      d.kind = ast::DeclKind::Network;
      d.keywordSpan = spanOf(c->NETWORK()->getSymbol());
      d.name = ident(c->ident());
      for (auto* p : c->param()) d.params.push_back(param(p));
      if (c->typeExpr()) {
        d.returns = type(c->typeExpr());
      } else if (auto* outs = c->outputs()) {
        d.outputsSpan = spanOf(outs);
        for (auto* o : outs->output()) {
          ast::Param p;
          p.span = spanOf(o);
          p.name = ident(o->ident());
          p.type = type(o->typeExpr());
          d.outputs.push_back(std::move(p));
        }
      }
      header(d, c->LBRACE()->getSymbol());
      for (auto* it : c->stmt()) d.items.push_back(stmt(it));
      body = c;
    } else if (auto* c = ctx->trainDecl()) {
      d.kind = ast::DeclKind::Train;
      d.keywordSpan = spanOf(c->TRAIN()->getSymbol());
      d.name = ident(c->ident());
      header(d, c->LBRACE()->getSymbol());
      for (auto* it : c->trainItem()) d.items.push_back(trainItem(it));
      body = c;
    }
    Token* close = body->getStop();
    d.bodySpan = Span::join(d.bodySpan, spanOf(close));
    d.footer = leadingBefore(spanOf(close).begin);
    if (std::string t = trailingAfter(spanOf(close).end); !t.empty()) d.footer.push_back(t);
    return d;
  }

  void header(ast::Decl& d, Token* lbrace) {
    d.bodySpan = spanOf(lbrace);
    d.comments.trailing = trailingAfter(spanOf(lbrace).end);
  }

  void itemStart(ast::Item& item, antlr4::ParserRuleContext* ctx) {
    item.span = spanOf(ctx);
    item.comments.leading = leadingBefore(item.span.begin);
  }
  void itemEnd(ast::Item& item) { item.comments.trailing = trailingAfter(item.span.end); }

  ast::Item datasetItem(P::DatasetItemContext* c) {
    ast::Item it;
    itemStart(it, c);
    it.attrs = attributes(c->attribute());
    if (c->role) {
      it.kind = ast::ItemKind::Field;
      it.role = {c->role->getText(), spanOf(c->role)};
      it.key = ident(c->ident());
      it.type = type(c->typeExpr());
    } else {
      it.kind = ast::ItemKind::Assign;
      it.key = ident(c->ident());
      it.value = expr(c->expr());
    }
    itemEnd(it);
    return it;
  }

  ast::Item pipeItem(P::PipeItemContext* c) {
    ast::Item it;
    itemStart(it, c);
    it.attrs = attributes(c->attribute());
    if (c->AUGMENT()) {
      it.kind = ast::ItemKind::Augment;
      it.key = ident(c->AUGMENT());
      it.value = call(c->call());
      if (c->ON()) it.on = ident(c->ident());
    } else if (c->call()) {
      it.kind = ast::ItemKind::Call;
      it.value = call(c->call());
    } else {
      it.kind = ast::ItemKind::Assign;
      it.key = ident(c->ident());
      it.value = expr(c->expr());
    }
    itemEnd(it);
    return it;
  }

  ast::Item stmt(P::StmtContext* c) {
    ast::Item it;
    itemStart(it, c);
    it.attrs = attributes(c->attribute());
    if (c->RETURN()) {
      it.kind = ast::ItemKind::Return;
      it.key = ident(c->RETURN());
    } else {
      it.kind = ast::ItemKind::Assign;
      it.key = ident(c->ident());
    }
    if (auto* nv = c->namedValues()) {
      // return (cls: a, box: b): a List of the values, and their names beside it
      it.value = make(ast::ExprKind::List, spanOf(nv));
      for (auto* v : nv->namedValue()) {
        it.outputNames.push_back(ident(v->ident()));
        it.value->items.push_back(expr(v->expr()));
      }
    } else {
      it.value = expr(c->expr());
    }
    itemEnd(it);
    return it;
  }

  ast::Item trainItem(P::TrainItemContext* c) {
    ast::Item it;
    itemStart(it, c);
    it.attrs = attributes(c->attribute());
    it.kind = ast::ItemKind::Assign;
    it.key = ident(c->ident());
    it.value = expr(c->expr());
    if (c->STEPS()) it.unit = ident(c->STEPS());
    else if (c->STEP()) it.unit = ident(c->STEP());
    for (auto* cl : c->clause()) {
      ast::Clause k;
      k.span = spanOf(cl);
      if (auto* on = dynamic_cast<P::OnClauseContext*>(cl)) {
        k.kind = ast::ClauseKind::On;
        k.keywordSpan = spanOf(on->ON()->getSymbol());
        k.deviceList = on->placement()->LBRACK() != nullptr;
        for (auto* dv : on->placement()->device()) {
          ast::Device dev;
          dev.name = ident(dv->ident());
          dev.span = spanOf(dv);
          if (dv->NUMBER()) {
            ast::ExprPtr n = number(dv->NUMBER()->getSymbol());
            dev.index = n && n->isInteger ? n->integer : -1;
          }
          k.devices.push_back(std::move(dev));
        }
      } else if (auto* ev = dynamic_cast<P::EveryClauseContext*>(cl)) {
        k.kind = ast::ClauseKind::Every;
        k.keywordSpan = spanOf(ev->EVERY()->getSymbol());
        k.value = expr(ev->expr());
        k.unit = ident(ev->ident());
      } else if (auto* me = dynamic_cast<P::MetricsClauseContext*>(cl)) {
        k.kind = ast::ClauseKind::Metrics;
        k.keywordSpan = spanOf(me->METRICS()->getSymbol());
        k.value = list(me->list());
      } else if (auto* ke = dynamic_cast<P::KeepClauseContext*>(cl)) {
        k.kind = ast::ClauseKind::Keep;
        k.keywordSpan = spanOf(ke->KEEP()->getSymbol());
        k.value = expr(ke->expr());
        if (ke->best && ke->by && ke->metric) {
          k.bestWord = ident(ke->best);
          k.byWord = ident(ke->by);
          k.bestMetric = ident(ke->metric);
        }
      }
      it.clauses.push_back(std::move(k));
    }
    itemEnd(it);
    return it;
  }

  ast::Param param(P::ParamContext* c) {
    ast::Param p;
    p.span = spanOf(c);
    p.name = ident(c->ident());
    p.type = type(c->typeExpr());
    if (c->expr()) p.defaultValue = expr(c->expr());
    return p;
  }

  ast::TypeExpr type(P::TypeExprContext* c) {
    ast::TypeExpr t;
    t.span = spanOf(c);
    t.base = ident(c->ident());
    t.hasDims = c->LBRACK() != nullptr;
    bool inAngle = c->LT() != nullptr;
    size_t nAngle = 0;
    if (inAngle) {
      // expressions inside < > come first in the child list
      size_t ltIndex = c->LT()->getSymbol()->getTokenIndex();
      size_t gtIndex = c->GT()->getSymbol()->getTokenIndex();
      for (auto* e : c->expr())
        if (e->getStart()->getTokenIndex() > ltIndex && e->getStop()->getTokenIndex() < gtIndex) ++nAngle;
    }
    auto es = c->expr();
    for (size_t i = 0; i < es.size(); ++i) (i < nAngle ? t.params : t.dims).push_back(expr(es[i]));
    return t;
  }

  std::vector<ast::Arg> args(P::ArgListContext* c) {
    std::vector<ast::Arg> out;
    for (auto* a : c->arg()) {
      ast::Arg arg;
      arg.span = spanOf(a);
      auto ids = a->ident();
      // `name: value unit`: the name comes first when a ':' is present.
      size_t k = 0;
      if (a->COLON()) arg.name = ident(ids[k++]);
      arg.value = expr(a->expr());
      if (a->unit) arg.unit = ident(a->unit);
      out.push_back(std::move(arg));
    }
    return out;
  }

  struct Depth {
    size_t& d;
    explicit Depth(size_t& x) : d(x) { ++d; }
    ~Depth() { --d; }
  };

  ast::ExprPtr make(ast::ExprKind k, Span s) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = k;
    e->span = s;
    return e;
  }

  ast::ExprPtr expr(P::ExprContext* c) {
    // A pipe chain `x |> a |> b |> …` is a left-deep tree as long as the chain: build it with a loop, so
    // that a 10,000-stage network is not mistaken for deep nesting.
    if (auto* p = dynamic_cast<P::PipeExprContext*>(c); p && dynamic_cast<P::PipeExprContext*>(p->expr(0))) {
      std::vector<P::PipeExprContext*> spine;
      P::ExprContext* left = c;
      while (auto* q = dynamic_cast<P::PipeExprContext*>(left)) {
        spine.push_back(q);
        left = q->expr(0);
      }
      ast::ExprPtr acc = expr(left);
      for (auto it = spine.rbegin(); it != spine.rend(); ++it) {
        auto e = make(ast::ExprKind::Pipe, spanOf(*it));
        e->items.push_back(std::move(acc));
        e->items.push_back(expr((*it)->expr(1)));
        acc = std::move(e);
      }
      return acc;
    }
    Depth guard(depth_);
    if (depth_ > kMaxExprDepth) {
      if (!depthReported_) diags_.report(Code::E0010, spanOf(c), kMaxExprDepth);
      depthReported_ = true;
      throw StopParsing{};
    }
    if (auto* n = dynamic_cast<P::NegExprContext*>(c)) {
      auto e = make(ast::ExprKind::Neg, spanOf(c));
      e->items.push_back(expr(n->expr()));
      return e;
    }
    if (auto* m = dynamic_cast<P::MulExprContext*>(c)) return binary(c, m->op, m->expr(0), m->expr(1));
    if (auto* a = dynamic_cast<P::AddExprContext*>(c)) return binary(c, a->op, a->expr(0), a->expr(1));
    if (auto* p = dynamic_cast<P::PipeExprContext*>(c)) {
      auto e = make(ast::ExprKind::Pipe, spanOf(c));
      e->items.push_back(expr(p->expr(0)));
      e->items.push_back(expr(p->expr(1)));
      return e;
    }
    auto* pe = dynamic_cast<P::PrimaryExprContext*>(c);
    return primary(pe->primary());
  }

  ast::ExprPtr binary(P::ExprContext* c, Token* op, P::ExprContext* l, P::ExprContext* r) {
    auto e = make(ast::ExprKind::Binary, spanOf(c));
    e->op = op->getText()[0];
    e->items.push_back(expr(l));
    e->items.push_back(expr(r));
    return e;
  }

  ast::ExprPtr primary(P::PrimaryContext* c) {
    if (auto* n = dynamic_cast<P::NumberLitContext*>(c)) return number(n->NUMBER()->getSymbol());
    if (auto* s = dynamic_cast<P::StringLitContext*>(c)) return string(s->STRING()->getSymbol());
    if (auto* k = dynamic_cast<P::CallExprContext*>(c)) return call(k->call());
    if (auto* q = dynamic_cast<P::NameRefContext*>(c)) {
      auto e = make(ast::ExprKind::Name, spanOf(c));
      for (auto* i : q->qualified()->ident()) e->path.push_back(ident(i));
      return e;
    }
    if (auto* l = dynamic_cast<P::ListExprContext*>(c)) return list(l->list());
    auto* p = dynamic_cast<P::ParenExprContext*>(c);
    auto e = make(ast::ExprKind::Paren, spanOf(c));
    e->items.push_back(expr(p->expr()));
    return e;
  }

  ast::ExprPtr list(P::ListContext* c) {
    auto e = make(ast::ExprKind::List, spanOf(c));
    for (auto* x : c->expr()) e->items.push_back(expr(x));
    return e;
  }

  ast::ExprPtr call(P::CallContext* c) {
    auto e = make(ast::ExprKind::Call, spanOf(c));
    for (auto* i : c->qualified()->ident()) e->path.push_back(ident(i));
    e->argsSpan = Span::join(spanOf(c->LPAREN()->getSymbol()), spanOf(c->RPAREN()->getSymbol()));
    if (c->argList()) e->args = args(c->argList());
    return e;
  }

public:
  ast::ExprPtr number(Token* t) {
    auto e = make(ast::ExprKind::Number, spanOf(t));
    e->text = t->getText();
    std::string clean;
    for (char ch : e->text)
      if (ch != '_') clean += ch;
    bool isFloat = clean.find_first_of(".eE") != std::string::npos;
    if (!isFloat) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), v);
      if (ec != std::errc() || p != clean.data() + clean.size()) {
        diags_.report(Code::E0017, e->span, e->text.substr(0, 40))
            .note("integers must fit in 64 bits (at most 9223372036854775807)");
        return e;
      }
      e->isInteger = true;
      e->integer = v;
      e->number = static_cast<double>(v);
    } else {
      char* end = nullptr;
      errno = 0;
      double v = std::strtod(clean.c_str(), &end);
      if (errno == ERANGE && std::isinf(v)) {
        diags_.report(Code::E0017, e->span, e->text.substr(0, 40)).note("the value does not fit in a 64-bit float");
        return e;
      }
      e->number = v;
    }
    return e;
  }

  ast::ExprPtr string(Token* t) {
    auto e = make(ast::ExprKind::String, spanOf(t));
    e->raw = t->getText();
    std::string_view s = e->raw;
    s = s.substr(1, s.size() - 2);
    uint32_t base = e->span.begin + 1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\') {
        e->text += s[i];
        continue;
      }
      char n = i + 1 < s.size() ? s[i + 1] : 0;
      switch (n) {
        case 'n': e->text += '\n'; ++i; break;
        case 't': e->text += '\t'; ++i; break;
        case 'r': e->text += '\r'; ++i; break;
        case '0': e->text += '\0'; ++i; break;
        case '"': case '\\': case '/': e->text += n; ++i; break;
        case 'u': {
          size_t close = s.find('}', i);
          uint32_t cp = 0;
          if (i + 2 < s.size() && s[i + 2] == '{' && close != std::string_view::npos && close - i - 3 <= 6) {
            std::from_chars(s.data() + i + 3, s.data() + close, cp, 16);
            if (cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
              appendUtf8(e->text, cp);
              i = close;
              break;
            }
          }
          [[fallthrough]];
        }
        default: {
          Span es{file_, base + static_cast<uint32_t>(i), base + static_cast<uint32_t>(i) + 2};
          diags_.report(Code::E0006, es, std::string(s.substr(i, 2)))
              .help("valid escapes are \\n \\t \\r \\0 \\\" \\\\ \\/ and \\u{hex}");
          ++i;
        }
      }
    }
    return e;
  }

private:
  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  const SourceManager& sm_;
  FileId file_;
  DiagnosticEngine& diags_;
  const OffsetMap& map_;
  std::vector<Comment> comments_;
  size_t depth_ = 0;
  bool depthReported_ = false;
};

}  // namespace

std::unique_ptr<ast::Spec> parseSpec(const SourceManager& sm, FileId file, DiagnosticEngine& diags) {
  std::string_view text = sm.text(file);
  if (size_t bad = invalidUtf8(text); bad != std::string_view::npos) {
    diags.report(Code::E0001, Span{file, static_cast<uint32_t>(bad), static_cast<uint32_t>(bad + 1)},
                 static_cast<unsigned>(static_cast<unsigned char>(text[bad])), bad)
        .note("specs are UTF-8 text; is this a binary file?");
    return nullptr;
  }
  size_t errorsBefore = diags.rawErrorCount();
  OffsetMap map(text);
  antlr4::ANTLRInputStream input(text.data(), text.size());
  DLSpecLexer lexer(&input);
  lexer.removeErrorListeners();
  antlr4::CommonTokenStream raw(&lexer);
  raw.fill();

  auto spanOf = [&](const Token* t) {
    return Span{file, map.byte(t->getStartIndex()), map.byte(t->getStopIndex() + 1)};
  };

  // Lexical pass: report bad tokens, repair them so the parser can go on, and match brackets.
  std::vector<std::unique_ptr<Token>> repaired;
  std::vector<Bracket> stack;
  bool bracketError = false;
  size_t minusRun = 0, prevType = 0;
  bool onlyComments = true;
  for (Token* t : raw.getTokens()) {
    size_t type = t->getType();
    if (t->getChannel() != Token::DEFAULT_CHANNEL) {
      auto copy = std::make_unique<antlr4::CommonToken>(t);
      repaired.push_back(std::move(copy));
      continue;
    }
    if (type != Token::EOF) onlyComments = false;
    auto copy = std::make_unique<antlr4::CommonToken>(t);
    switch (type) {
      case DLSpecLexer::ERROR_CHAR:
        diags.report(Code::E0004, spanOf(t), describeChar(sm.text(spanOf(t))));
        continue;  // dropped
      case DLSpecLexer::BAD_NUMBER:
        diags.report(Code::E0005, spanOf(t), t->getText().substr(0, 40))
            .help("numbers are written 42, 0.5, 1e-8 or 1_000_000; separate a number from a name with a space");
        copy->setType(DLSpecLexer::NUMBER);
        copy->setText("0");
        break;
      case DLSpecLexer::UNTERMINATED_STRING:
        diags.report(Code::E0002, spanOf(t)).primary("this string has no closing `\"` on its line")
            .help("add `\"` at the end of the string; a string cannot span lines (use \\n)");
        copy->setType(DLSpecLexer::STRING);
        copy->setText("\"\"");
        // The string may have swallowed closing brackets: any bracket error after it is a consequence.
        bracketError = true;
        break;
      case DLSpecLexer::UNTERMINATED_COMMENT: {
        Span s = spanOf(t);
        s.end = s.begin + 2;
        diags.report(Code::E0003, s).primary("this comment is never closed").help("close it with `*/`");
        continue;
      }
      case DLSpecLexer::LPAREN:
      case DLSpecLexer::LBRACK:
      case DLSpecLexer::LBRACE:
        stack.push_back({type, spanOf(t), prevType});
        if (stack.size() > kMaxNesting && !bracketError) {
          diags.report(Code::E0010, spanOf(t), kMaxNesting).primary("too deeply nested");
          return nullptr;
        }
        break;
      case DLSpecLexer::RPAREN:
      case DLSpecLexer::RBRACK:
      case DLSpecLexer::RBRACE: {
        size_t open = type == DLSpecLexer::RPAREN ? DLSpecLexer::LPAREN
                      : type == DLSpecLexer::RBRACK ? DLSpecLexer::LBRACK : DLSpecLexer::LBRACE;
        bool openerOpen = std::any_of(stack.begin(), stack.end(), [&](const Bracket& b) { return b.type == open; });
        if (!openerOpen && (stack.empty() || stack.back().type == DLSpecLexer::LBRACE)) {
          // `)` with no `(` open anywhere, directly in a body: an extra closer, not a mismatch with the body.
          if (!bracketError)
            diags.report(Code::E0008, spanOf(t), t->getText(), openerOf(type)).primary("unmatched");
          bracketError = true;
          prevType = type;
          continue;
        } else if (stack.back().type != open) {
          if (!bracketError)
            diags.report(Code::E0009, stack.back().span, closerOf(stack.back().type), bracketWhat(stack.back().type, stack.back().before),
                         t->getText())
                .primary("opened here")
                .label(spanOf(t), fmt::format("expected `{}` before this", closerOf(stack.back().type)));
          bracketError = true;
          stack.pop_back();
        } else {
          stack.pop_back();
        }
        break;
      }
      default: break;
    }
    minusRun = type == DLSpecLexer::MINUS ? minusRun + 1 : 0;
    if (minusRun > 64) {
      diags.report(Code::E0010, spanOf(t), 64).primary("too many signs in a row");
      return nullptr;
    }
    prevType = type;
    repaired.push_back(std::move(copy));
  }
  if (!stack.empty() && !bracketError) {
    const Bracket& b = stack.back();
    Token* eof = raw.get(raw.size() - 1);
    auto& d = diags.report(Code::E0007, b.span, closerOf(b.type), bracketWhat(b.type, b.before)).primary("opened here");
    d.label(spanOf(eof), "the file ends here");
    bracketError = true;
  }
  if (onlyComments) {
    diags.report(Code::E0014, Span{file, 0, 0});
    return nullptr;
  }
  if (bracketError) return nullptr;

  antlr4::ListTokenSource source(std::move(repaired));
  antlr4::CommonTokenStream tokens(&source);
  tokens.fill();
  DLSpecParser parser(&tokens);
  parser.removeErrorListeners();
  P::SpecContext* tree = nullptr;
  // Two-stage parse: fast SLL first, full LL with our error reporting only when SLL fails.
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  try {
    tree = parser.spec();
  } catch (const antlr4::ParseCancellationException&) {
    tree = nullptr;
  }
  if (!tree) {
    // Error path. The brackets are balanced here, so the file splits into top-level declarations, each
    // ending with the `}` that closes its body. Each is parsed on its own, so that an error in one cannot
    // cascade into the next (a keyword like `network` is also a name, so ANTLR's own recovery would
    // happily read the next declaration as statements of the broken one).
    auto strategy = std::make_shared<ErrorStrategy>(diags, file, map);
    strategy->sm = &sm;
    const auto& all = tokens.getTokens();
    size_t begin = 0;
    int depth = 0;
    try {
      for (size_t i = 0; i < all.size(); ++i) {
        Token* t = all[i];
        bool last = t->getType() == Token::EOF;
        if (t->getChannel() == Token::DEFAULT_CHANNEL) {
          size_t ty = t->getType();
          if (ty == DLSpecLexer::LPAREN || ty == DLSpecLexer::LBRACK || ty == DLSpecLexer::LBRACE) ++depth;
          if (ty == DLSpecLexer::RPAREN || ty == DLSpecLexer::RBRACK || ty == DLSpecLexer::RBRACE) --depth;
        }
        bool endsDecl = depth == 0 && t->getType() == DLSpecLexer::RBRACE;
        if (!endsDecl && !last) continue;
        std::vector<std::unique_ptr<Token>> chunk;
        for (size_t k = begin; k <= i && k < all.size(); ++k)
          if (all[k]->getType() != Token::EOF) chunk.push_back(std::make_unique<antlr4::CommonToken>(all[k]));
        begin = i + 1;
        bool onlyHidden = true;
        for (auto& c : chunk)
          if (c->getChannel() == Token::DEFAULT_CHANNEL) onlyHidden = false;
        if (onlyHidden) continue;
        // The chunk's end of input sits just after its last token.
        auto eof = std::make_unique<antlr4::CommonToken>(Token::EOF, "<EOF>");
        Token* back = chunk.back().get();
        eof->setStartIndex(back->getStopIndex() + 1);
        eof->setStopIndex(back->getStopIndex());
        eof->setLine(back->getLine());
        chunk.push_back(std::move(eof));
        antlr4::ListTokenSource chunkSource(std::move(chunk));
        antlr4::CommonTokenStream chunkTokens(&chunkSource);
        chunkTokens.fill();
        DLSpecParser chunkParser(&chunkTokens);
        chunkParser.removeErrorListeners();
        chunkParser.setErrorHandler(strategy);
        chunkParser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::LL);
        strategy->startChunk();
        chunkParser.spec();
        if (last) break;
      }
    } catch (const StopParsing&) {
      return nullptr;
    }
    if (strategy->errors > 0 || diags.rawErrorCount() > errorsBefore) return nullptr;
    // SLL failed where full LL succeeds: parse the whole file again with LL for the tree.
    tokens.seek(0);
    parser.reset();
    parser.setErrorHandler(strategy);
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::LL);
    try {
      tree = parser.spec();
    } catch (const StopParsing&) {
      return nullptr;
    }
    if (strategy->errors > 0) return nullptr;
  }
  if (diags.rawErrorCount() > errorsBefore) return nullptr;
  Builder builder(sm, file, diags, map, tokens);
  std::unique_ptr<ast::Spec> spec;
  try {
    spec = builder.spec(tree);
  } catch (const StopParsing&) {
    return nullptr;
  }
  if (diags.rawErrorCount() > errorsBefore) return nullptr;
  if (!spec->version) {
    Span at{file, 0, 0};
    diags.report(Code::W0016, at).help("start the file with `dlspec 1`").fixit(at, "dlspec 1\n\n", Applicability::MachineApplicable);
  } else if (*spec->version != 1) {
    diags.report(Code::E0015, spec->versionSpan, *spec->version).primary("unknown version");
    return nullptr;
  }
  return spec;
}

}  // namespace dls

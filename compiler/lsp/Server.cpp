#include "lsp/Server.h"

#include <algorithm>
#include <csignal>
#include <fmt/format.h>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lsp/Document.h"
#include "lsp/Transport.h"
#include "sema/OpTable.h"
#include "support/DiagnosticRenderer.h"
#include "syntax/Formatter.h"

namespace dls::lsp {
namespace {

using json = nlohmann::json;

// JSON-RPC and LSP error codes.
constexpr int kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601, kInvalidParams = -32602,
              kInternalError = -32603, kServerNotInitialized = -32002, kRequestFailed = -32803;

struct RpcError {
  int code;
  std::string message;
};

// ---- URIs ------------------------------------------------------------------------------------------

std::string uriToPath(const std::string& uri) {
  std::string_view s = uri;
  if (s.rfind("file://", 0) != 0) return uri;
  s.remove_prefix(7);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ---- ops ---------------------------------------------------------------------------------------------

std::vector<sema::OpCategory> categoriesFor(const ast::Decl* d) {
  using C = sema::OpCategory;
  if (!d) return {};
  switch (d->kind) {
    case ast::DeclKind::Dataset: return {C::DataSource};
    case ast::DeclKind::Pipeline: return {C::Pipeline};
    case ast::DeclKind::Network:
    case ast::DeclKind::Block: return {C::Layer, C::Activation, C::Structural, C::Initializer};
    case ast::DeclKind::Train: return {C::Loss, C::Optimizer, C::Schedule, C::Metric};
  }
  return {};
}

// The op named `name`, preferring the categories that fit where it is written.
const sema::OpInfo* findOpFor(std::string_view name, const std::vector<sema::OpCategory>& cats) {
  for (const sema::OpInfo& op : sema::opTable())
    if (op.name == name && std::find(cats.begin(), cats.end(), op.category) != cats.end()) return &op;
  for (const sema::OpInfo& op : sema::opTable())
    if (op.name == name) return &op;
  return nullptr;
}

std::string attrValueText(const sema::AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return fmt::format("[{}]", fmt::join(x, ", "));
        else if constexpr (std::is_same_v<T, std::vector<double>>) return fmt::format("[{:g}]", fmt::join(x, ", "));
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) return fmt::format("[{}]", fmt::join(x, ", "));
        else return fmt::format("{}", x);
      },
      v);
}

std::string attrDoc(const sema::AttrSpec& a) {
  std::string s = fmt::format("`{}`: {}", a.name, sema::attrTypeName(a.type));
  if (!a.words.empty()) {
    std::string w(a.words);
    std::replace(w.begin(), w.end(), '|', ',');
    s += fmt::format(" ({})", w);
  }
  if (a.min != sema::kNoMin && a.max != sema::kNoMax)
    s += fmt::format(", in {}{}, {}{}", a.minExclusive ? "(" : "[", a.min, a.max, a.maxExclusive ? ")" : "]");
  else if (a.min != sema::kNoMin)
    s += fmt::format(", {} {}", a.minExclusive ? ">" : ">=", a.min);
  else if (a.max != sema::kNoMax)
    s += fmt::format(", {} {}", a.maxExclusive ? "<" : "<=", a.max);
  if (a.dflt) s += fmt::format(", default `{}`", attrValueText(*a.dflt));
  else if (!a.optional) s += ", required";
  if (a.positional >= 0) s += fmt::format(", may be given as argument {} without its name", a.positional + 1);
  if (!a.units.empty()) {
    std::string u(a.units);
    std::replace(u.begin(), u.end(), '|', '/');
    s += fmt::format(", units {}", u);
  }
  return s;
}

std::string opSignature(const sema::OpInfo& op) {
  std::vector<std::string> args;
  for (const sema::AttrSpec& a : op.attrs)
    args.push_back(a.dflt ? fmt::format("{}: {}", a.name, attrValueText(*a.dflt)) : std::string(a.name));
  return fmt::format("{}({})", op.name, fmt::join(args, ", "));
}

std::string opMarkdown(const sema::OpInfo& op) {
  std::string s = fmt::format("```dls\n{}\n```\n**{}** ({})\n\n{}\n", opSignature(op), op.name,
                              sema::categoryName(op.category), op.doc);
  if (!op.attrs.empty()) {
    s += "\nArguments:\n";
    for (const sema::AttrSpec& a : op.attrs) s += "- " + attrDoc(a) + "\n";
  }
  if (!op.replacedBy.empty()) s += fmt::format("\nDeprecated: use `{}`.\n", op.replacedBy);
  return s;
}

// ---- the server ------------------------------------------------------------------------------------

class Server {
public:
  Server(Transport& t, const ServerOptions& opt) : t_(t), opt_(opt) {}
  int run();

private:
  void handle(const json& msg);
  json dispatch(const std::string& method, const json& params);
  void notification(const std::string& method, const json& params);
  void send(const json& msg) {
    if (!t_.write(msg.dump(-1, ' ', false, json::error_handler_t::replace))) exit_ = true;  // the client is gone
  }
  void reply(const json& id, json result) { send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}); }
  void replyError(const json& id, int code, const std::string& message) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
  }

  Document& doc(const json& params);
  Document& checked(const json& params);  // the document, checked if it changed
  json range(const Document& d, Span s) const {
    return {{"start", pos(d.positionOf(s.begin))}, {"end", pos(d.positionOf(s.end))}};
  }
  static json pos(Position p) { return {{"line", p.line}, {"character", p.character}}; }
  static Position position(const json& p) {
    return {p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
  }
  json location(const Document& d, Span s) const { return {{"uri", d.uri}, {"range", range(d, s)}}; }
  json lspDiagnostic(const Document& d, const Diagnostic& diag) const;
  void publish(Document& d);
  void publishDirty();

  json initialize(const json& params);
  json hover(const json& params);
  json definition(const json& params);
  json references(const json& params);
  json documentSymbols(const json& params);
  json completion(const json& params);
  json formatting(const json& params);
  json codeActions(const json& params);
  json inlayHints(const json& params);
  json signatureHelp(const json& params);
  json prepareRename(const json& params);
  json rename(const json& params);

  Transport& t_;
  ServerOptions opt_;
  std::map<std::string, Document> docs_;
  bool initialized_ = false, shutdown_ = false, exit_ = false;
  std::string helpBase_ = defaultHelpUriBase();
};

int Server::run() {
  std::string body, error;
  while (!exit_) {
    // Debounce: check changed documents once the input has been quiet for opt_.debounceMs.
    bool dirty = std::any_of(docs_.begin(), docs_.end(), [](auto& kv) { return kv.second.dirty; });
    if (dirty && !t_.buffered() && !t_.waitReadable(opt_.debounceMs)) {
      publishDirty();
      continue;
    }
    Transport::Status st = t_.read(body, error);
    if (st == Transport::Status::End) break;
    if (st == Transport::Status::FramingError) {
      replyError(nullptr, kParseError, error);
      continue;
    }
    json msg = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (msg.is_discarded()) {
      replyError(nullptr, kParseError, "the message is not JSON");
      continue;
    }
    handle(msg);
  }
  return exit_ && shutdown_ ? 0 : 1;
}

void Server::handle(const json& msg) {
  if (!msg.is_object()) {
    replyError(nullptr, kInvalidRequest, "a message is a JSON object");
    return;
  }
  auto idIt = msg.find("id");
  auto methodIt = msg.find("method");
  bool isRequest = idIt != msg.end();
  json id = isRequest ? *idIt : json(nullptr);
  if (isRequest && !id.is_number_integer() && !id.is_string()) {
    replyError(nullptr, kInvalidRequest, "a request's id is a number or a string");
    return;
  }
  if (methodIt == msg.end() || !methodIt->is_string()) {
    // A response to a request of ours (we send none) or a malformed message.
    if (isRequest && !msg.contains("result") && !msg.contains("error")) replyError(id, kInvalidRequest, "no method");
    return;
  }
  std::string method = methodIt->get<std::string>();
  json params = msg.value("params", json::object());
  if (!isRequest) {
    if (method == "exit") {
      exit_ = true;
      return;
    }
    if (!initialized_ || shutdown_) return;
    try {
      notification(method, params);
    } catch (...) {
      // A notification has no answer: a malformed one is dropped.
    }
    return;
  }
  if (method != "initialize" && !initialized_) {
    replyError(id, kServerNotInitialized, "the server is not initialized");
    return;
  }
  if (shutdown_) {
    replyError(id, kInvalidRequest, "the server is shut down");
    return;
  }
  try {
    reply(id, dispatch(method, params));
  } catch (const RpcError& e) {
    replyError(id, e.code, e.message);
  } catch (const json::exception& e) {
    replyError(id, kInvalidParams, std::string("invalid params: ") + e.what());
  } catch (const std::exception& e) {
    replyError(id, kInternalError, std::string("internal error: ") + e.what());
  } catch (...) {
    replyError(id, kInternalError, "internal error");
  }
}

json Server::dispatch(const std::string& method, const json& params) {
  if (method == "initialize") {
    if (initialized_) throw RpcError{kInvalidRequest, "initialize was already called"};
    return initialize(params);
  }
  if (method == "shutdown") {
    shutdown_ = true;
    return nullptr;
  }
  if (method == "textDocument/hover") return hover(params);
  if (method == "textDocument/definition") return definition(params);
  if (method == "textDocument/references") return references(params);
  if (method == "textDocument/documentSymbol") return documentSymbols(params);
  if (method == "textDocument/completion") return completion(params);
  if (method == "textDocument/formatting") return formatting(params);
  if (method == "textDocument/codeAction") return codeActions(params);
  if (method == "textDocument/inlayHint") return inlayHints(params);
  if (method == "textDocument/signatureHelp") return signatureHelp(params);
  if (method == "textDocument/prepareRename") return prepareRename(params);
  if (method == "textDocument/rename") return rename(params);
  throw RpcError{kMethodNotFound, "no method `" + method + "`"};
}

void Server::notification(const std::string& method, const json& params) {
  if (method == "textDocument/didOpen") {
    const json& td = params.at("textDocument");
    std::string uri = td.at("uri").get<std::string>();
    Document& d = docs_[uri];
    d.uri = uri;
    d.path = uriToPath(uri);
    d.version = td.value("version", int64_t{0});
    d.setText(td.at("text").get<std::string>());
    // A newly opened document is checked at once; edits wait for the debounce.
    publish(d);
  } else if (method == "textDocument/didChange") {
    Document& d = doc(params);
    const json& changes = params.at("contentChanges");
    for (const json& c : changes) {
      if (!c.contains("range")) {
        d.setText(c.at("text").get<std::string>());
        continue;
      }
      // Incremental changes are applied too, although the server asks for full ones.
      uint32_t b = d.offsetOf(position(c.at("range").at("start")));
      uint32_t e = d.offsetOf(position(c.at("range").at("end")));
      if (e < b) std::swap(b, e);
      std::string t = d.text;
      t.replace(b, e - b, c.at("text").get<std::string>());
      d.setText(std::move(t));
    }
    d.version = params.at("textDocument").value("version", d.version);
  } else if (method == "textDocument/didClose") {
    std::string uri = params.at("textDocument").at("uri").get<std::string>();
    if (docs_.erase(uri)) send({{"jsonrpc", "2.0"}, {"method", "textDocument/publishDiagnostics"},
                                {"params", {{"uri", uri}, {"diagnostics", json::array()}}}});
  } else if (method == "textDocument/didSave") {
    // Checked on each change already.
  }
  // initialized, $/cancelRequest, $/setTrace, workspace/didChangeConfiguration …: nothing to do.
}

Document& Server::doc(const json& params) {
  std::string uri = params.at("textDocument").at("uri").get<std::string>();
  auto it = docs_.find(uri);
  if (it == docs_.end()) throw RpcError{kInvalidParams, "the document " + uri + " is not open"};
  return it->second;
}

Document& Server::checked(const json& params) {
  Document& d = doc(params);
  if (d.dirty) publish(d);
  return d;
}

// ---- diagnostics -------------------------------------------------------------------------------------

json Server::lspDiagnostic(const Document& d, const Diagnostic& diag) const {
  bool here = diag.span.valid() && diag.span.file == d.comp->file;
  json r = here ? range(d, diag.span) : json{{"start", pos({0, 0})}, {"end", pos({0, 0})}};
  std::string message = diag.message;
  if (!diag.file.empty()) message = diag.file + ": " + message;
  if (!diag.primaryLabel.empty()) message += "\n" + diag.primaryLabel;
  for (const std::string& n : diag.notes) message += "\nnote: " + n;
  for (const std::string& h : diag.helps) message += "\nhelp: " + h;
  const CodeInfo& info = codeInfo(diag.code);
  int severity = diag.severity == Severity::Error ? 1 : diag.severity == Severity::Warning ? 2 : 3;
  json out = {{"range", r},
              {"severity", severity},
              {"code", std::string(info.id)},
              {"codeDescription", {{"href", helpBase_ + std::string(info.id) + ".md"}}},
              {"source", "dlspec"},
              {"message", message}};
  json related = json::array();
  for (const Label& l : diag.labels)
    if (l.span.valid() && l.span.file == d.comp->file) related.push_back({{"location", location(d, l.span)}, {"message", l.message}});
  if (!related.empty()) out["relatedInformation"] = related;
  if (!diag.fixits.empty()) {
    json fixes = json::array();
    for (const FixIt& f : diag.fixits)
      if (f.span.valid() && f.span.file == d.comp->file) fixes.push_back({{"range", range(d, f.span)}, {"newText", f.replacement}});
    out["data"] = {{"fixits", fixes}};
  }
  if (!info.taxonomy.empty()) out["data"]["taxonomy"] = std::string(info.taxonomy);
  return out;
}

void Server::publish(Document& d) {
  d.check();
  json list = json::array();
  for (const Diagnostic& diag : d.diags) list.push_back(lspDiagnostic(d, diag));
  send({{"jsonrpc", "2.0"},
        {"method", "textDocument/publishDiagnostics"},
        {"params", {{"uri", d.uri}, {"version", d.version}, {"diagnostics", list}}}});
}

void Server::publishDirty() {
  for (auto& [uri, d] : docs_)
    if (d.dirty) publish(d);
}

// ---- requests ----------------------------------------------------------------------------------------

json Server::initialize(const json& params) {
  (void)params;
  initialized_ = true;
  json triggers = json::array({"(", ",", ":"});
  return {{"capabilities",
           {{"positionEncoding", "utf-16"},
            {"textDocumentSync", {{"openClose", true}, {"change", 1}, {"save", false}}},
            {"hoverProvider", true},
            {"definitionProvider", true},
            {"referencesProvider", true},
            {"documentSymbolProvider", true},
            {"documentFormattingProvider", true},
            {"completionProvider", {{"triggerCharacters", triggers}, {"resolveProvider", false}}},
            {"codeActionProvider", {{"codeActionKinds", json::array({"quickfix"})}}},
            {"inlayHintProvider", true},
            {"signatureHelpProvider", {{"triggerCharacters", json::array({"(", ","})}}},
            {"renameProvider", {{"prepareProvider", true}}}}},
          {"serverInfo", {{"name", "dlspec"}, {"version", "0.1.0"}}}};
}

// The call (or op name) whose callee or argument name is at `offset`, in the declaration.
struct CallAt {
  const ast::Expr* call = nullptr;   // Call, or a Name used as an op (`|> relu`)
  const ast::Arg* arg = nullptr;     // the named argument whose name is at offset
  bool onCallee = false;
};

void findCall(const ast::Expr& e, uint32_t offset, CallAt& at) {
  if (offset < e.span.begin || offset > e.span.end) return;
  if ((e.kind == ast::ExprKind::Call || e.kind == ast::ExprKind::Name) && !e.path.empty()) {
    const ast::Ident& callee = e.path.back();
    if (callee.span.begin <= offset && offset <= callee.span.end) {
      at = {&e, nullptr, true};
      return;
    }
  }
  for (const ast::Arg& a : e.args) {
    if (a.name && a.name->span.begin <= offset && offset <= a.name->span.end) {
      at = {&e, &a, false};
      return;
    }
    if (a.value) findCall(*a.value, offset, at);
    if (at.call) return;
  }
  for (const ast::ExprPtr& x : e.items)
    if (x) {
      findCall(*x, offset, at);
      if (at.call) return;
    }
}

// The typed value an item `name = …` of a network or block defined: the last value made by its expression
// (for a block's item, in the first network that uses the block). Null when the expression made none here
// (it ends in a block call, or aliases a name).
const sema::Value* valueOfItem(const sema::Program& prog, const ast::Decl& decl, const ast::Item& it,
                               const sema::Network** netOut) {
  if (!it.value) return nullptr;
  Span e = it.value->span;
  for (const auto& net : prog.networks) {
    if (decl.kind == ast::DeclKind::Network && net->decl != &decl) continue;
    const sema::Value* best = nullptr;
    for (const sema::Value& v : net->values)
      if (v.span.file == e.file && v.span.begin >= e.begin && v.span.end == e.end && (!best || v.id > best->id))
        best = &v;
    if (best) {
      *netOut = net.get();
      return best;
    }
  }
  return nullptr;
}

// The typed value of a network's `name = …` whose expression ends in a block call (its span is in the block):
// sema names each value after the first `name = …` that binds it, so the k-th binding of a name is its k-th
// value of that name.
const sema::Value* blockCallValue(const Document& d, const sema::Program& prog, const ast::Decl& decl,
                                  const ast::Item& item, const sema::Network** netOut) {
  const std::string& name = item.key.name;
  size_t k = 0;
  for (const ast::Item& it : decl.items) {
    if (&it == &item) break;
    if (it.kind == ast::ItemKind::Assign && it.key.name == name) ++k;
  }
  // Values a block's own `name = …` named (inlined into the network) are not the network's.
  auto blockInternal = [&](const sema::Value& x) {
    for (const ast::Decl& b : d.comp->spec->decls)
      if (b.kind == ast::DeclKind::Block && b.span.begin <= x.span.begin && x.span.end <= b.span.end)
        for (const ast::Item& it : b.items)
          if (it.kind == ast::ItemKind::Assign && it.key.name == x.name && it.value && it.value->span.end == x.span.end)
            return true;
    return false;
  };
  for (const auto& n : prog.networks)
    if (n->decl == &decl)
      for (const sema::Value& x : n->values)
        if (x.name == name && x.producer >= 0 && !blockInternal(x) && k-- == 0) {
          *netOut = n.get();
          return &x;
        }
  return nullptr;
}

// A type as a hint shows it: `f32[N, 20, 24, 24]`, with the kind first when it is not plain real numbers
// (`logits f32[N, 10]`).
std::string hintType(const sema::Type& t) {
  const std::string kind = t.kindStr();
  return (kind == "real" ? std::string() : kind + " ") + std::string(sema::dtypeName(t.dtype)) + t.shape.str();
}

// The type an item of a network or pipeline gives, for an inlay hint after it: a network's `name = …` its
// value's, `return …` the network's output's; a pipeline's `field = field |> …` the field's after its last step.
std::optional<std::string> itemType(const Document& d, const sema::Program& prog, const ast::Decl& decl,
                                    const ast::Item& item) {
  if (!item.value) return std::nullopt;
  if (decl.kind == ast::DeclKind::Network) {
    const sema::Network* net = nullptr;
    if (item.kind == ast::ItemKind::Return) {
      for (const auto& n : prog.networks)
        if (n->decl == &decl && n->output >= 0) return hintType(n->values[size_t(n->output)].type);
      return std::nullopt;
    }
    if (item.kind != ast::ItemKind::Assign) return std::nullopt;
    const sema::Value* v = valueOfItem(prog, decl, item, &net);
    if (!v) v = blockCallValue(d, prog, decl, item, &net);
    return v ? std::optional<std::string>(hintType(v->type)) : std::nullopt;
  }
  if (decl.kind == ast::DeclKind::Pipeline && item.kind == ast::ItemKind::Assign) {
    const Span e = item.value->span;
    for (const auto& p : prog.pipelines) {
      if (p->decl != &decl) continue;
      const sema::PipeStep* last = nullptr;
      for (const sema::PipeStep& st : p->steps)
        if (st.field == item.key.name && st.span.file == e.file && st.span.begin >= e.begin && st.span.end <= e.end) last = &st;
      if (last) return hintType(last->after);
    }
  }
  return std::nullopt;
}

std::string valueHover(const sema::Value& v, const sema::Network& net, const std::string& name) {
  std::string s = fmt::format("```dls\n{}: {}\n```\n", name, v.type.str());
  s += fmt::format("dtype `{}`, shape `{}`, kind `{}`, on `{}`", sema::dtypeName(v.type.dtype), v.type.shape.str(),
                   v.type.kindStr(), v.type.device.str());
  if (v.producer >= 0 && v.producer < static_cast<int>(net.nodes.size())) {
    const sema::Node& n = net.nodes[v.producer];
    s += fmt::format("\n\nproduced by `{}` (layer `{}`) in network `{}`", n.op ? std::string(n.op->name) : "?", n.layer, net.name);
  } else {
    s += fmt::format("\n\nan input of network `{}`", net.name);
  }
  if (!net.symbols.empty()) s += fmt::format("; symbolic dims: {}", fmt::join(net.symbols, ", "));
  return s;
}

std::string typedUse(const sema::Program& prog, Span callee) {
  for (const auto& n : prog.networks)
    for (const sema::Node& node : n->nodes)
      if (node.nameSpan.begin == callee.begin && node.nameSpan.end == callee.end && node.output >= 0)
        return fmt::format("\n`{}` → `{}`", node.layer, n->values[node.output].type.str());
  for (const auto& p : prog.pipelines)
    for (const sema::PipeStep& st : p->steps)
      if (st.span.file == callee.file && st.span.begin == callee.begin)
        return fmt::format("\nin pipeline `{}`: sample `{}` → `{}`", p->name, st.before.str(), st.after.str());
  return {};
}

json Server::hover(const json& params) {
  Document& d = checked(params);
  uint32_t off = d.offsetOf(position(params.at("position")));
  const sema::Program* prog = d.comp ? d.comp->program.get() : nullptr;
  std::string md;
  Span span;
  if (const Occurrence* o = d.occurrenceAt(off)) {
    const Symbol& s = d.symbols[o->symbol];
    span = o->span;
    if (s.kind == SymbolKind::Decl) {
      std::string_view text(d.text);
      uint32_t headEnd = s.decl->bodySpan.valid() ? s.decl->bodySpan.begin : s.decl->span.end;
      std::string head(text.substr(s.decl->keywordSpan.begin, headEnd - s.decl->keywordSpan.begin));
      while (!head.empty() && (head.back() == ' ' || head.back() == '\n')) head.pop_back();
      md = fmt::format("```dls\n{}\n```\n", head);
      if (prog) {
        for (const auto& p : prog->pipelines)
          if (p->name == s.name)
          {
            std::string more;  // the further sample fields, as the pipeline leaves them
            for (size_t k = 0; p->dataset && k < p->moreSamples.size() && k < p->dataset->moreSamples.size(); ++k)
              more += fmt::format(", sample `{}: {}`", p->dataset->moreSamples[k].name, p->moreSamples[k].str());
            md += fmt::format("sample `{}`{}, label `{}`{}", p->sample.str(), more, p->label.str(),
                              p->batch ? fmt::format(", batches of {}", *p->batch) : std::string());
          }
        for (const auto& ds : prog->datasets)
          if (ds->name == s.name)
          {
            std::string more;
            for (const auto& f : ds->moreSamples) more += fmt::format(", sample `{}: {}`", f.name, f.type.str());
            md += fmt::format("sample `{}: {}`{}, label `{}: {}`", ds->sampleName, ds->sample.str(), more, ds->labelName, ds->label.str());
          }
        if (const sema::Network* n = prog->findNetwork(s.name)) {
          int64_t params = 0;
          for (const sema::Param& p : n->params)
            if (p.trainable)
              if (auto e = p.shape.elements()) params += *e;
          md += fmt::format("{} layers, {} trainable parameters", n->nodes.size(), params);
          // Several inputs: the sample field each takes, by the train blocks that train the network.
          for (const auto& t : prog->trains)
            if (t->network == n && t->data && t->data->dataset && t->inputFields.size() == n->inputs.size() && n->inputs.size() > 1) {
              const sema::Dataset& ds = *t->data->dataset;
              md += "; inputs";
              for (size_t i = 0; i < n->inputs.size(); ++i) {
                const int k = t->inputFields[i];
                md += fmt::format("{} `{}` ← `{}.{}`", i ? "," : "", n->values[size_t(n->inputs[i])].name, ds.name,
                                  k == 0 ? ds.sampleName : ds.moreSamples[size_t(k - 1)].name);
              }
              break;
            }
          if (!n->outputs.empty()) {
            md += "; outputs";
            for (size_t i = 0; i < n->outputs.size(); ++i)
              md += fmt::format("{} `model.{}: {}`", i ? "," : "", n->outputs[i].name,
                                n->outputs[i].value >= 0 ? n->values[n->outputs[i].value].type.str() : n->outputs[i].declared.str());
          } else if (n->output >= 0) {
            md += fmt::format("; output `{}`", n->values[n->output].type.str());
          }
        }
      }
    } else if (s.kind == SymbolKind::Field) {
      md = fmt::format("```dls\n{}\n```\nfield of data set `{}`", std::string_view(d.text).substr(s.item->span.begin, s.item->span.end - s.item->span.begin),
                       s.decl->name.name);
    } else if (prog) {
      const sema::Network* net = nullptr;
      const sema::Value* v = nullptr;
      if (s.item) v = valueOfItem(*prog, *s.decl, *s.item, &net);
      if (s.param || (!s.item && !s.param)) {
        for (const auto& n : prog->networks)
          if (n->decl == s.decl)
            for (int in : n->inputs)
              if (n->values[in].name == s.name) {
                v = &n->values[in];
                net = n.get();
              }
      }
      if (!v && s.item && s.decl->kind == ast::DeclKind::Network) v = blockCallValue(d, *prog, *s.decl, *s.item, &net);
      if (v && net) md = valueHover(*v, *net, s.name);
      else if (s.decl->kind == ast::DeclKind::Block)
        md = fmt::format("```dls\n{}\n```\n{} of block `{}`, typed at each use of the block", s.name,
                         s.param ? "parameter" : "value", s.decl->name.name);
      else
        md = fmt::format("```dls\n{}\n```\nvalue of `{}` (not typed: an error before it)", s.name, s.decl->name.name);
    }
  }
  if (md.empty()) {
    if (const ast::Decl* decl = d.declAt(off)) {
      CallAt at;
      for (const ast::Item& it : decl->items) {
        if (it.value) findCall(*it.value, off, at);
        for (const ast::Clause& c : it.clauses)
          if (!at.call && c.value) findCall(*c.value, off, at);
        if (at.call) break;
      }
      if (at.call) {
        const sema::OpInfo* op = findOpFor(at.call->path.back().name, categoriesFor(decl));
        if (op && at.arg) {
          if (const sema::AttrSpec* a = op->attr(at.arg->name->name)) {
            md = fmt::format("argument of **{}**: {}", op->name, attrDoc(*a));
            span = at.arg->name->span;
          }
        } else if (op && at.onCallee) {
          md = opMarkdown(*op);
          span = at.call->path.back().span;
          // The typed output of the layer this call made, or the sample type around this pipeline step.
          if (prog) md += typedUse(*prog, span);
        }
      }
    }
  }
  if (md.empty()) return nullptr;
  json r = {{"contents", {{"kind", "markdown"}, {"value", md}}}};
  if (span.valid()) r["range"] = range(d, span);
  return r;
}

json Server::definition(const json& params) {
  Document& d = checked(params);
  const Occurrence* o = d.occurrenceAt(d.offsetOf(position(params.at("position"))));
  if (!o) return nullptr;
  return location(d, d.symbols[o->symbol].def);
}

json Server::references(const json& params) {
  Document& d = checked(params);
  const Occurrence* o = d.occurrenceAt(d.offsetOf(position(params.at("position"))));
  json out = json::array();
  if (!o) return out;
  bool withDecl = params.value("context", json::object()).value("includeDeclaration", true);
  const Symbol& s = d.symbols[o->symbol];
  for (const Occurrence& x : d.occurrences)
    if (x.symbol == o->symbol && (withDecl || x.span.begin != s.def.begin)) out.push_back(location(d, x.span));
  return out;
}

json Server::documentSymbols(const json& params) {
  Document& d = checked(params);
  json out = json::array();
  if (!d.comp || !d.comp->spec) return out;
  // LSP SymbolKind: Module 2, Class 5, Property 7, Field 8, Function 12, Variable 13, Struct 23, Event 24.
  for (const ast::Decl& decl : d.comp->spec->decls) {
    int kind = 5;
    switch (decl.kind) {
      case ast::DeclKind::Dataset: kind = 23; break;
      case ast::DeclKind::Pipeline: kind = 12; break;
      case ast::DeclKind::Block: kind = 2; break;
      case ast::DeclKind::Network: kind = 5; break;
      case ast::DeclKind::Train: kind = 24; break;
    }
    json children = json::array();
    for (const ast::Item& it : decl.items) {
      if (it.key.name.empty() || !it.key.span.valid()) continue;
      int ck = it.kind == ast::ItemKind::Field ? 8 : decl.kind == ast::DeclKind::Train ? 7 : 13;
      children.push_back({{"name", it.key.name}, {"kind", ck}, {"range", range(d, it.span)}, {"selectionRange", range(d, it.key.span)}});
    }
    if (decl.name.name.empty()) continue;
    out.push_back({{"name", decl.name.name},
                   {"detail", std::string(ast::declKeyword(decl.kind))},
                   {"kind", kind},
                   {"range", range(d, decl.span)},
                   {"selectionRange", range(d, decl.name.span)},
                   {"children", children}});
  }
  return out;
}

// What the text before the cursor says about where it is: the declaration keyword of the body it is in and
// the innermost call whose argument list is open. Read from the text, so that it works while the spec does
// not parse (as it mostly does while one types).
struct TextContext {
  std::string declKeyword;
  std::string callee;          // innermost open call
  std::set<std::string> given; // argument names already written in it
  std::string argBeforeColon;  // `name: |`: the argument whose value is being typed
  bool afterDot = false;
  size_t argsBegin = 0;        // where the innermost open call's arguments begin (after its `(`)
};

bool isWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

TextContext textContext(std::string_view text, uint32_t offset) {
  TextContext ctx;
  int depth = 0;
  struct Open { std::string callee; size_t at; };
  std::vector<Open> opens;
  std::string lastKeyword;
  size_t i = 0;
  while (i < offset) {
    char c = text[i];
    if (c == '/' && i + 1 < offset && text[i + 1] == '/') {
      while (i < offset && text[i] != '\n') ++i;
      continue;
    }
    if (c == '"') {
      ++i;
      while (i < offset && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (isWordChar(c)) {
      size_t b = i;
      while (i < offset && isWordChar(text[i])) ++i;
      std::string_view w = text.substr(b, i - b);
      if (depth == 0 && opens.empty() &&
          (w == "dataset" || w == "pipeline" || w == "network" || w == "block" || w == "train"))
        lastKeyword = w;
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}') {
      if (depth > 0) --depth;
      if (depth == 0) lastKeyword.clear();
    }
    if (c == '(') {
      size_t e = i;
      while (e > 0 && text[e - 1] == ' ') --e;
      size_t b = e;
      while (b > 0 && isWordChar(text[b - 1])) --b;
      opens.push_back({std::string(text.substr(b, e - b)), i + 1});
    }
    if (c == ')' && !opens.empty()) opens.pop_back();
    if (c == '\n' && depth > 0 && opens.empty()) {
      // An item ends at its line's end when no call is open.
    }
    ++i;
  }
  ctx.declKeyword = depth > 0 || !opens.empty() ? lastKeyword : "";
  if (!opens.empty()) {
    ctx.callee = opens.back().callee;
    ctx.argsBegin = opens.back().at;
    std::string_view args = text.substr(opens.back().at, offset - opens.back().at);
    for (size_t k = 0; k < args.size(); ++k)
      if (args[k] == ':') {
        size_t e = k;
        while (e > 0 && args[e - 1] == ' ') --e;
        size_t b = e;
        while (b > 0 && isWordChar(args[b - 1])) --b;
        if (b < e) ctx.given.insert(std::string(args.substr(b, e - b)));
      }
  }
  size_t k = offset;
  while (k > 0 && isWordChar(text[k - 1])) --k;
  ctx.afterDot = k > 0 && text[k - 1] == '.';
  size_t c = k;
  while (c > 0 && text[c - 1] == ' ') --c;
  if (c > 0 && text[c - 1] == ':' && !ctx.callee.empty()) {
    size_t e = c - 1;
    while (e > 0 && text[e - 1] == ' ') --e;
    size_t b = e;
    while (b > 0 && isWordChar(text[b - 1])) --b;
    ctx.argBeforeColon = std::string(text.substr(b, e - b));
  }
  return ctx;
}

// The op categories a body takes, from the keyword of the declaration the text is in.
std::vector<sema::OpCategory> categoriesForKeyword(const std::string& keyword) {
  using C = sema::OpCategory;
  if (keyword == "dataset") return {C::DataSource};
  if (keyword == "pipeline") return {C::Pipeline};
  if (keyword == "network" || keyword == "block") return {C::Layer, C::Activation, C::Structural};
  if (keyword == "train") return {C::Loss, C::Optimizer, C::Schedule, C::Metric};
  return {};
}

json Server::completion(const json& params) {
  Document& d = doc(params);
  uint32_t off = d.offsetOf(position(params.at("position")));
  TextContext ctx = textContext(d.text, off);
  using C = sema::OpCategory;
  const std::vector<C> cats = categoriesForKeyword(ctx.declKeyword);
  json items = json::array();
  // LSP CompletionItemKind: Function 3, Field 5, Class 7, Module 9, Property 10, Value 12, Keyword 14, EnumMember 20.
  if (ctx.afterDot) return items;
  if (ctx.declKeyword.empty()) {
    for (const char* k : {"dataset", "pipeline", "block", "network", "train", "allow"})
      items.push_back({{"label", k}, {"kind", 14}});
    return {{"isIncomplete", false}, {"items", items}};
  }
  if (!ctx.callee.empty()) {
    if (const sema::OpInfo* op = findOpFor(ctx.callee, cats)) {
      if (!ctx.argBeforeColon.empty()) {
        // The value of `name:` — the words an enum-like argument takes.
        if (const sema::AttrSpec* a = op->attr(ctx.argBeforeColon); a && !a->words.empty()) {
          std::string_view w = a->words;
          while (!w.empty()) {
            size_t bar = w.find('|');
            items.push_back({{"label", std::string(w.substr(0, bar))}, {"kind", 20}, {"detail", fmt::format("{} of {}", a->name, op->name)}});
            w = bar == std::string_view::npos ? std::string_view{} : w.substr(bar + 1);
          }
        }
        if (ctx.argBeforeColon == "init") {
          for (const std::string& n : sema::opNames({C::Initializer})) items.push_back({{"label", n}, {"kind", 3}});
        }
        return {{"isIncomplete", false}, {"items", items}};
      }
      for (const sema::AttrSpec& a : op->attrs) {
        if (ctx.given.count(std::string(a.name))) continue;
        items.push_back({{"label", std::string(a.name) + ":"},
                         {"kind", 5},
                         {"detail", std::string(sema::attrTypeName(a.type))},
                         {"documentation", {{"kind", "markdown"}, {"value", attrDoc(a)}}},
                         {"insertText", std::string(a.name) + ": "},
                         {"filterText", std::string(a.name)},
                         {"sortText", fmt::format("0{:02}", &a - op->attrs.data())}});
      }
      return {{"isIncomplete", false}, {"items", items}};
    }
  }
  for (const sema::OpInfo& op : sema::opTable()) {
    if (std::find(cats.begin(), cats.end(), op.category) == cats.end()) continue;
    json item = {{"label", std::string(op.name)},
                 {"kind", 3},
                 {"detail", std::string(sema::categoryName(op.category))},
                 {"documentation", {{"kind", "markdown"}, {"value", opMarkdown(op)}}}};
    if (!op.replacedBy.empty()) item["tags"] = json::array({1});  // Deprecated
    items.push_back(item);
  }
  // Names the body can refer to: blocks in networks, declarations in train blocks.
  if (d.comp && d.comp->spec)
    for (const ast::Decl& decl : d.comp->spec->decls) {
      bool fits = (ctx.declKeyword == "network" || ctx.declKeyword == "block") ? decl.kind == ast::DeclKind::Block
                  : ctx.declKeyword == "train" ? decl.kind == ast::DeclKind::Network || decl.kind == ast::DeclKind::Pipeline
                                                 : false;
      if (fits) items.push_back({{"label", decl.name.name}, {"kind", decl.kind == ast::DeclKind::Pipeline ? 9 : 7},
                                 {"detail", std::string(ast::declKeyword(decl.kind))}});
    }
  return {{"isIncomplete", false}, {"items", items}};
}

json Server::formatting(const json& params) {
  Document& d = checked(params);
  json edits = json::array();
  if (!d.comp || !d.comp->spec) return edits;  // not while the spec has syntax errors
  std::string out = formatSpec(*d.comp->spec);
  if (out == d.text) return edits;
  edits.push_back({{"range", range(d, Span{d.comp->file, 0, static_cast<uint32_t>(d.text.size())})}, {"newText", out}});
  return edits;
}

json Server::codeActions(const json& params) {
  Document& d = checked(params);
  const json& r = params.at("range");
  uint32_t b = d.offsetOf(position(r.at("start"))), e = d.offsetOf(position(r.at("end")));
  json actions = json::array();
  for (const Diagnostic& diag : d.diags) {
    if (!diag.span.valid() || diag.span.file != d.comp->file) continue;
    if (diag.span.end < b || diag.span.begin > e) continue;
    json ld = lspDiagnostic(d, diag);
    std::string id(codeInfo(diag.code).id);
    std::vector<FixIt> fixes;
    for (const FixIt& f : diag.fixits)
      if (f.span.valid() && f.span.file == d.comp->file) fixes.push_back(f);
    if (!fixes.empty()) {
      json edits = json::array();
      for (const FixIt& f : fixes) edits.push_back({{"range", range(d, f.span)}, {"newText", f.replacement}});
      const FixIt& f = fixes.front();
      std::string title = f.replacement.empty()                ? "Remove the text"
                          : f.span.begin == f.span.end         ? fmt::format("Insert `{}`", f.replacement)
                                                               : fmt::format("Replace with `{}`", f.replacement);
      actions.push_back({{"title", fmt::format("{} ({})", title, id)},
                         {"kind", "quickfix"},
                         {"diagnostics", json::array({ld})},
                         {"isPreferred", true},
                         {"edit", {{"changes", {{d.uri, edits}}}}}});
    }
    // allow(CODE, reason: "…") before the item (or declaration) that holds the finding, for warnings: errors
    // are fixed, not silenced, and syntax errors cannot be.
    if (diag.severity != Severity::Error && d.comp->spec) {
      const ast::Decl* decl = d.declAt(diag.span.begin);
      if (!decl) continue;
      Span target = decl->span;
      for (const ast::Item& it : decl->items)
        if (it.span.begin <= diag.span.begin && diag.span.end <= it.span.end) target = it.span;
      uint32_t lineStart = target.begin;
      while (lineStart > 0 && d.text[lineStart - 1] != '\n') --lineStart;
      std::string indent = d.text.substr(lineStart, target.begin - lineStart);
      for (char& c : indent)
        if (c != '\t') c = ' ';
      std::string text = fmt::format("allow({}, reason: \"…\")\n{}", id, indent);
      Span at{d.comp->file, target.begin, target.begin};
      actions.push_back({{"title", fmt::format("Allow {} here: allow({}, reason: \"…\")", id, id)},
                         {"kind", "quickfix"},
                         {"diagnostics", json::array({ld})},
                         {"edit", {{"changes", {{d.uri, json::array({{{"range", range(d, at)}, {"newText", text}}})}}}}}});
    }
  }
  return actions;
}

// Inside an op call's parentheses: the op's signature from the op table, each argument with its doc, and the
// argument being written (by name after `name:`, else by position: positional arguments fill the op's
// arguments in order). Read from the text, as completion is, so it works while the spec does not parse.
json Server::signatureHelp(const json& params) {
  Document& d = doc(params);
  const uint32_t off = d.offsetOf(position(params.at("position")));
  TextContext ctx = textContext(d.text, off);
  if (ctx.callee.empty()) return nullptr;
  const sema::OpInfo* op = findOpFor(ctx.callee, categoriesForKeyword(ctx.declKeyword));
  if (!op) return nullptr;
  std::string label = std::string(op->name) + "(";
  json ps = json::array();
  for (const sema::AttrSpec& a : op->attrs) {
    if (&a != op->attrs.data()) label += ", ";
    const size_t b = label.size();
    label += a.dflt ? fmt::format("{}: {}", a.name, attrValueText(*a.dflt)) : std::string(a.name);
    ps.push_back({{"label", json::array({b, label.size()})}, {"documentation", {{"kind", "markdown"}, {"value", attrDoc(a)}}}});
  }
  label += ")";
  // The argument at the cursor: commas and colons outside nested brackets and strings.
  const std::string_view args = std::string_view(d.text).substr(ctx.argsBegin, off - ctx.argsBegin);
  int level = 0;
  size_t index = 0, segment = 0;
  bool inString = false;
  for (size_t k = 0; k < args.size(); ++k) {
    const char c = args[k];
    if (c == '"') inString = !inString;
    if (inString) continue;
    if (c == '(' || c == '[') ++level;
    if ((c == ')' || c == ']') && level > 0) --level;
    if (c == ',' && level == 0) ++index, segment = k + 1;
  }
  int64_t active = index < op->attrs.size() ? int64_t(index) : -1;
  const std::string_view seg = args.substr(segment);
  if (size_t colon = seg.find(':'); colon != std::string_view::npos) {
    size_t e = colon;
    while (e > 0 && seg[e - 1] == ' ') --e;
    size_t b = e;
    while (b > 0 && isWordChar(seg[b - 1])) --b;
    active = -1;
    for (size_t i = 0; i < op->attrs.size(); ++i)
      if (op->attrs[i].name == seg.substr(b, e - b)) active = int64_t(i);
  }
  json sig = {{"label", label}, {"documentation", {{"kind", "markdown"}, {"value", std::string(op->doc)}}}, {"parameters", ps}};
  json r = {{"signatures", json::array({sig})}, {"activeSignature", 0}};
  if (active >= 0) r["activeParameter"] = active;  // none for an unknown name or one positional argument too many
  return r;
}

// The typed shape after each statement of a network (`h = …`, `return …`) and each field transformation of a
// pipeline, at the end of its expression: what `dlspec summary` and hover say, shown inline as the spec is
// written. Nothing for a statement that did not type (an error before it).
json Server::inlayHints(const json& params) {
  Document& d = checked(params);
  json hints = json::array();
  const sema::Program* prog = d.comp ? d.comp->program.get() : nullptr;
  if (!prog || !d.comp->spec) return hints;
  const json& r = params.at("range");
  const uint32_t b = d.offsetOf(position(r.at("start"))), e = d.offsetOf(position(r.at("end")));
  for (const ast::Decl& decl : d.comp->spec->decls) {
    if (decl.kind != ast::DeclKind::Network && decl.kind != ast::DeclKind::Pipeline) continue;
    if (decl.span.end < b || decl.span.begin > e) continue;
    for (const ast::Item& it : decl.items) {
      if (!it.value || it.value->span.end < b || it.value->span.end > e) continue;
      auto type = itemType(d, *prog, decl, it);
      if (!type) continue;
      hints.push_back({{"position", pos(d.positionOf(it.value->span.end))},
                       {"label", ": " + *type},
                       {"kind", 1},  // InlayHintKind.Type
                       {"paddingLeft", true}});
    }
  }
  return hints;
}

// The name under the cursor, if it can be renamed: a declaration, a network's or block's input or value, or a
// data set field.
json Server::prepareRename(const json& params) {
  Document& d = checked(params);
  const Occurrence* o = d.occurrenceAt(d.offsetOf(position(params.at("position"))));
  if (!o) return nullptr;
  return {{"range", range(d, o->span)}, {"placeholder", d.symbols[size_t(o->symbol)].name}};
}

// Every occurrence of the symbol renamed, refused (RequestFailed) when the new name is not a name or when the
// renamed spec would not check as cleanly as this one (a clash with another name, a keyword, a data set
// field that the data files or another declaration bind by name).
json Server::rename(const json& params) {
  Document& d = checked(params);
  const Occurrence* o = d.occurrenceAt(d.offsetOf(position(params.at("position"))));
  if (!o) throw RpcError{kRequestFailed, "nothing to rename here: put the cursor on a declared name"};
  const std::string to = params.at("newName").get<std::string>();
  const Symbol& sym = d.symbols[size_t(o->symbol)];
  bool ident = !to.empty() && (std::isalpha(static_cast<unsigned char>(to[0])) || to[0] == '_');
  for (char c : to) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ident) throw RpcError{kRequestFailed, fmt::format("`{}` is not a name (a letter or _, then letters, digits, _)", to)};
  std::vector<Span> spans;
  for (const Occurrence& x : d.occurrences)
    if (x.symbol == o->symbol) spans.push_back(x.span);
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string text = d.text;
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) text.replace(it->begin, it->end - it->begin, to);
  // The renamed spec must check with no error the current one (checked above) does not have.
  auto errors = [](const std::vector<Diagnostic>& ds) {
    return std::count_if(ds.begin(), ds.end(), [](const Diagnostic& x) { return x.severity == Severity::Error; });
  };
  Document probe;
  probe.path = d.path;
  probe.setText(text);
  probe.check();
  if (errors(probe.diags) > errors(d.diags)) {
    std::string first;
    for (const Diagnostic& x : probe.diags)
      if (x.severity == Severity::Error) {
        first = fmt::format("{}: {}", codeInfo(x.code).id, x.message);
        break;
      }
    throw RpcError{kRequestFailed, fmt::format("renaming `{}` to `{}` would not check: {}", sym.name, to, first)};
  }
  json edits = json::array();
  for (const Span& sp : spans) edits.push_back({{"range", range(d, sp)}, {"newText", to}});
  return {{"changes", {{d.uri, edits}}}};
}


}  // namespace

int runServer(int in, int out, const ServerOptions& opt) {
  // A client that goes away must end the server, not kill it by SIGPIPE halfway through a write.
  std::signal(SIGPIPE, SIG_IGN);
  Transport t(in, out);
  Server s(t, opt);
  return s.run();
}

}  // namespace dls::lsp


// Ast: the syntax tree of one spec file. Every node carries the span of the text it came from.
// Built only by syntax/Parser.cpp (the one file that touches ANTLR); read by every later stage.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/SourceManager.h"

namespace dls::ast {

struct Ident {
  std::string name;
  Span span;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// A call argument: `value`, `name: value` or `name: 5 epochs` (a quantity with a unit).
struct Arg {
  std::optional<Ident> name;
  ExprPtr value;
  std::optional<Ident> unit;
  Span span;
};

enum class ExprKind : uint8_t {
  Number,  // 42, 0.1, 5e-4 (text keeps the spelling)
  String,  // "…" (text is the decoded value, raw the spelling)
  Name,    // x, fashion.test (path)
  Call,    // conv2d(filters: 20), fashion.train.map(…) (path + args)
  List,    // [a, b]
  Neg,     // -x
  Binary,  // a + b, a - b, a * b, a / b (op)
  Pipe,    // a |> f(…): lhs is the value, rhs the call or name applied to it
  Paren    // (a)
};

struct Expr {
  ExprKind kind;
  Span span;
  std::string text;              // Number: spelling; String: decoded value
  std::string raw;               // String: spelling with quotes
  double number = 0;             // Number: value
  bool isInteger = false;        // Number: no fraction or exponent
  int64_t integer = 0;           // Number: value when isInteger
  char op = 0;                   // Binary: + - * /
  std::vector<Ident> path;       // Name, Call
  std::vector<Arg> args;         // Call
  Span argsSpan;                 // Call: from '(' to ')'
  std::vector<ExprPtr> items;    // List elements; Neg/Paren: [0]; Binary/Pipe: [0] lhs, [1] rhs

  std::string dotted() const {
    std::string s;
    for (size_t i = 0; i < path.size(); ++i) s += (i ? "." : "") + path[i].name;
    return s;
  }
};

// Comments kept for `dlspec fmt`: those on lines before a node, and one at the end of its last line.
struct Comments {
  std::vector<std::string> leading;
  std::string trailing;
};

// allow(CODE, reason: "…") before a declaration or an item.
struct Attribute {
  Span span;
  std::vector<Arg> args;
};

// f32[N, 1, 28, 28], class<10>, int, logits[N, 10].
struct TypeExpr {
  Ident base;
  std::vector<ExprPtr> params;  // inside < >
  bool hasDims = false;
  std::vector<ExprPtr> dims;    // inside [ ]
  Span span;
};

struct Device {
  Ident name;                   // cpu, cuda
  std::optional<int64_t> index; // :0
  Span span;
};

enum class ClauseKind : uint8_t { On, Every, Metrics, Keep };
struct Clause {
  ClauseKind kind;
  Span span;
  Span keywordSpan;
  std::vector<Device> devices;  // On
  bool deviceList = false;      // On [a, b]
  ExprPtr value;                // Every (count), Metrics (list), Keep (count)
  std::optional<Ident> unit;    // Every
  // Keep: `keep N best by METRIC` (the three words as written; absent for `keep N`)
  std::optional<Ident> bestWord, byWord, bestMetric;
};

enum class ItemKind : uint8_t {
  Assign,   // key = value [clauses]   (dataset, pipeline, network, block, train)
  Field,    // sample image: u8[28, 28] / label kind: class<10>   (dataset)
  Return,   // return value            (network, block)
  Call,     // shuffle(buffer: all)    (pipeline)
  Augment   // augment random_crop(28, pad: 2)  (pipeline)
};

struct Item {
  ItemKind kind;
  Span span;
  std::vector<Attribute> attrs;
  Ident key;             // Assign: target; Field: the field's name
  Ident role;            // Field: sample | label
  std::optional<TypeExpr> type;  // Field
  ExprPtr value;         // Assign, Return, Call, Augment (the call)
  std::vector<Clause> clauses;   // Assign in train
  std::optional<Ident> unit;     // Assign in train: the unit after the value (accumulate = 4 steps)
  // Return of a network with several outputs, `return (cls: a, box: b)`: value is a List of the values (a, b)
  // spanning the parenthesised tuple, and these are their names, in the same order.
  std::vector<Ident> outputNames;
  Comments comments;
  std::optional<Ident> on = {};  // Augment: `augment random_flip(0.5) on img`, the sample field it augments
};

struct Param {
  Ident name;
  TypeExpr type;
  ExprPtr defaultValue;
  Span span;
};

enum class DeclKind : uint8_t { Dataset, Pipeline, Block, Network, Train };

struct Decl {
  DeclKind kind;
  Span span;
  Span keywordSpan;
  std::vector<Attribute> attrs;
  Ident name;
  std::vector<Ident> source;          // Pipeline: `from fashion.train`
  std::vector<Param> params;          // Block (parameters), Network (inputs)
  std::vector<Ident> inputs;          // Block: the input value names
  std::optional<TypeExpr> returns;    // Network: -> logits[N, 10]
  std::vector<Param> outputs;         // Network with several outputs: -> (cls: logits[N, 10], box: real[N, 4])
  Span outputsSpan;                   // the parenthesised list of outputs
  std::vector<Item> items;
  Span bodySpan;                      // from '{' to '}'
  Comments comments;
  std::vector<std::string> footer;    // comments before the closing brace
};

struct Spec {
  FileId file = Span::kNoFile;
  std::optional<int64_t> version;
  Span versionSpan;
  Comments headerComments;
  std::vector<Decl> decls;
  std::vector<std::string> trailingComments;

  const Decl* find(DeclKind k, const std::string& name) const {
    for (const Decl& d : decls)
      if (d.kind == k && d.name.name == name) return &d;
    return nullptr;
  }
};

std::string_view declKeyword(DeclKind k);

}  // namespace dls::ast

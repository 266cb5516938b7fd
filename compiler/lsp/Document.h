// Document: one open spec — its text, line table (LSP positions are UTF-16 code units), the last
// compilation of that text, and an index of every name in it (declarations, local values, data set fields)
// with where each is defined and used.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Compilation.h"

namespace dls::lsp {

struct Position {
  uint32_t line = 0, character = 0;
};

enum class SymbolKind : uint8_t { Decl, Local, Field };

struct Symbol {
  SymbolKind kind = SymbolKind::Decl;
  std::string name;
  Span def;                           // where it is defined (the name)
  const ast::Decl* decl = nullptr;    // Decl: the declaration; Local, Field: the one it is in
  const ast::Item* item = nullptr;    // Local: the `name = …` item; Field: the `sample x: …` item
  const ast::Param* param = nullptr;  // Local: a network input or block parameter
};

struct Occurrence {
  Span span;
  int symbol = -1;
};

class Document {
public:
  std::string uri, path, text;
  int64_t version = 0;
  bool dirty = true;  // changed since the last check
  std::unique_ptr<Compilation> comp;
  std::vector<Diagnostic> diags;
  std::vector<Symbol> symbols;
  std::vector<Occurrence> occurrences;  // in source order

  void setText(std::string t);
  // Checks the text (parse, analyze, rules, validateLowering) and rebuilds the index.
  void check();

  uint32_t offsetOf(Position p) const;
  Position positionOf(uint32_t offset) const;
  // The occurrence whose span holds `offset` (its end included, where a cursor after a name sits).
  const Occurrence* occurrenceAt(uint32_t offset) const;
  // The declaration whose span holds `offset`.
  const ast::Decl* declAt(uint32_t offset) const;

private:
  void index();
  std::vector<uint32_t> lineStarts_;
};

}  // namespace dls::lsp

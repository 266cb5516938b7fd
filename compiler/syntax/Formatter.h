// Formatter: the canonical layout of a spec (`dlspec fmt`). Comments are kept; formatting the
// formatter's output changes nothing.
#pragma once
#include <cstddef>
#include <string>

#include "syntax/Ast.h"

namespace dls {

struct FormatOptions {
  size_t width = 100;  // the line width lines are kept within where they can be broken
};

std::string formatSpec(const ast::Spec& spec);  // the default options
std::string formatSpec(const ast::Spec& spec, const FormatOptions& options);
std::string formatExpr(const ast::Expr& e);
std::string formatType(const ast::TypeExpr& t);

}  // namespace dls

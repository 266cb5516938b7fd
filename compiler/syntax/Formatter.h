// Formatter: the canonical layout of a spec (`dlspec fmt`). Comments are kept; formatting the
// formatter's output changes nothing.
#pragma once
#include <string>

#include "syntax/Ast.h"

namespace dls {

std::string formatSpec(const ast::Spec& spec);
std::string formatExpr(const ast::Expr& e);
std::string formatType(const ast::TypeExpr& t);

}  // namespace dls

// optable_dump: prints the op table (sema::opTable()) as JSON, for the tests that walk it from Python
// (tests/difffuzz: the op walk, the differential fuzzer, the settings table). One op per element of "ops",
// in table order, with every column a test needs: category, inputs, attributes (type, default, range,
// position, words), backends, differentiability and the runtime opcode ("kernel", "view" or "none").
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <variant>

#include "sema/OpTable.h"

namespace {
using namespace dls::sema;

std::string quote(std::string_view s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
      continue;
    }
    o += c;
  }
  return o + "\"";
}

std::string num(double v) {
  if (std::isinf(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string value(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>) return num(x);
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return quote(x);
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string o = "[";
          for (size_t i = 0; i < x.size(); ++i) o += (i ? "," : "") + quote(x[i]);
          return o + "]";
        }
        else {
          std::string o = "[";
          for (size_t i = 0; i < x.size(); ++i) o += (i ? "," : "") + std::to_string(x[i]);
          return o + "]";
        }
      },
      v);
}

std::string_view typeWord(AttrType t) {
  switch (t) {
    case AttrType::Int: return "int";
    case AttrType::Float: return "float";
    case AttrType::Bool: return "bool";
    case AttrType::String: return "string";
    case AttrType::Enum: return "enum";
    case AttrType::IntOrPair: return "int_or_pair";
    case AttrType::Padding: return "padding";
    case AttrType::IntList: return "int_list";
    case AttrType::FloatList: return "float_list";
    case AttrType::IntOrWord: return "int_or_word";
    case AttrType::IntOrString: return "int_or_string";
    case AttrType::Init: return "init";
  }
  return "unknown";
}
}  // namespace

int main() {
  std::string o = "{\"ops\": [\n";
  bool first = true;
  for (const OpInfo& op : opTable()) {
    o += first ? "  " : ",\n  ";
    first = false;
    const char* opcode = op.opcode == kOpcodeNone ? "none" : op.opcode == kOpcodeView ? "view" : "kernel";
    o += "{\"name\": " + quote(op.name) + ", \"category\": " + quote(categoryName(op.category)) +
         ", \"min_inputs\": " + std::to_string(op.minInputs) + ", \"max_inputs\": " + std::to_string(op.maxInputs) +
         ", \"inputs_from_args\": " + (op.inputsFromArgs ? "true" : "false") + ", \"opcode\": \"" + opcode +
         "\", \"cpu\": " + (op.cpu ? "true" : "false") + ", \"cuda\": " + (op.cuda ? "true" : "false") +
         ", \"cuda_without\": " + quote(op.cudaWithout) + ", \"differentiable\": " +
         (op.differentiable ? "true" : "false") + ", \"replaced_by\": " + quote(op.replacedBy) +
         ", \"doc\": " + quote(op.doc) + ", \"attrs\": [";
    for (size_t i = 0; i < op.attrs.size(); ++i) {
      const AttrSpec& a = op.attrs[i];
      o += std::string(i ? ", " : "") + "{\"name\": " + quote(a.name) + ", \"type\": \"" + std::string(typeWord(a.type)) +
           "\", \"default\": " + (a.dflt ? value(*a.dflt) : "null") + ", \"required\": " +
           (!a.dflt && !a.optional ? "true" : "false") + ", \"min\": " + num(a.min) + ", \"max\": " + num(a.max) +
           ", \"min_exclusive\": " + (a.minExclusive ? "true" : "false") + ", \"positional\": " +
           std::to_string(a.positional) + ", \"words\": " + quote(a.words) + ", \"units\": " + quote(a.units) + "}";
    }
    o += "]}";
  }
  o += "\n]}\n";
  std::fputs(o.c_str(), stdout);
  return 0;
}

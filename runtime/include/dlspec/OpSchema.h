// OpSchema.h: dlspec/ops.def as C++ tables, for the runtime (op names, decode_op's checks) and the compiler
// (op table opcodes and attribute defaults, the lowering's operand marshalling). Header-only; includes no
// compiler code.
#ifndef DLSPEC_OPSCHEMA_H
#define DLSPEC_OPSCHEMA_H
#include <cstdint>
#include <limits>
#include <string_view>

#include "runtime.h"

namespace dls::schema {

enum class AttrType : uint8_t { INT, FLOAT, BOOL, ENUM, INTS, FLOATS };

inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();
inline constexpr int kRequired = 1;  // no default: the compiler always computes the value
inline constexpr int kLoOpen = 2;    // (lo, ...
inline constexpr int kHiOpen = 4;    // ..., hi)

struct AttrRow {
  int32_t op;
  std::string_view name;
  AttrType type;
  double dflt, lo, hi;
  int flags;
  std::string_view words;  // ENUM: "|"-separated, the value is the word's index

  bool required() const { return flags & kRequired; }
  // A trailing list (INTS: one value per axis of the first tensor; FLOATS: none or one per class).
  bool list() const { return type == AttrType::INTS || type == AttrType::FLOATS; }
  // Whether v is in the attribute's range (and an integer for INT, BOOL, ENUM, INTS).
  bool accepts(double v) const {
    if (!(v - v == 0)) return false;  // NaN or infinite
    if (type != AttrType::FLOAT && type != AttrType::FLOATS && v != static_cast<double>(static_cast<int64_t>(v))) return false;
    const bool loOk = (flags & kLoOpen) ? v > lo : v >= lo;
    const bool hiOk = (flags & kHiOpen) ? v < hi : v <= hi;
    return loOk && hiOk;
  }
  // ENUM: the index of `word` among `words`, -1 if absent.
  int wordIndex(std::string_view word) const {
    int i = 0;
    for (size_t s = 0;; ++i) {
      size_t e = words.find('|', s);
      if (words.substr(s, e == std::string_view::npos ? std::string_view::npos : e - s) == word) return i;
      if (e == std::string_view::npos) return -1;
      s = e + 1;
    }
  }
};

inline constexpr AttrRow kAttrs[] = {
#define DLS_ATTR_NO_LIMIT ::dls::schema::kNoLimit
#define DLS_ATTR_REQUIRED ::dls::schema::kRequired
#define DLS_ATTR_LO_OPEN ::dls::schema::kLoOpen
#define DLS_ATTR_HI_OPEN ::dls::schema::kHiOpen
#define DLS_OP_ATTR(ID, NAME, TYPE, DEFAULT, LO, HI, FLAGS, WORDS) \
  {DLS_OP_##ID, NAME, AttrType::TYPE, DEFAULT, (LO) == kNoLimit ? -kNoLimit : (LO), HI, FLAGS, WORDS},
#include "ops.def"
#undef DLS_ATTR_NO_LIMIT
#undef DLS_ATTR_REQUIRED
#undef DLS_ATTR_LO_OPEN
#undef DLS_ATTR_HI_OPEN
};

struct OpRow {
  int32_t code;
  std::string_view name;
  std::string_view tensors;  // ops.def's operand letters: x X p q P t s y
  int32_t kernel;            // the opcode whose backend kernel runs this op

  bool variadic() const { return tensors.find('X') != std::string_view::npos; }
  // Whether the row takes all the op's parameters as one list (`P`: zero or more tensors).
  bool paramList() const { return tensors.find('P') != std::string_view::npos; }
  // The op's attributes, in order.
  const AttrRow* attrsBegin() const {
    for (const AttrRow& a : kAttrs)
      if (a.op == code) return &a;
    return nullptr;
  }
  int nattrs() const {
    int n = 0;
    for (const AttrRow& a : kAttrs) n += a.op == code;
    return n;
  }
  const AttrRow* attr(std::string_view n) const {
    for (const AttrRow& a : kAttrs)
      if (a.op == code && a.name == n) return &a;
    return nullptr;
  }
};

inline constexpr OpRow kOps[] = {
#define DLS_OP(ID, CODE, NAME, TENSORS, KERNEL) {DLS_OP_##ID, NAME, TENSORS, DLS_OP_##KERNEL},
#include "ops.def"
};

// The row of an opcode, or nullptr.
inline const OpRow* find(int32_t code) {
  for (const OpRow& o : kOps)
    if (o.code == code) return &o;
  return nullptr;
}

// Whether an opcode is a loss: its row takes targets (`t`).
inline bool isLoss(int32_t code) {
  const OpRow* r = find(code);
  return r && r->tensors.find('t') != std::string_view::npos;
}

// Mixed precision (ops.def DLS_OP_BF16, DLS_OP_KEEP_F32): whether an op runs its products in bf16 under
// `precision = bf16` on the CPU (through the op whose kernel runs it), and whether it is kept in f32 because it
// is unstable in low precision.
inline bool bf16Kernel(int32_t code) {
  const OpRow* r = find(code);
  if (!r) return false;
#define DLS_OP_BF16(ID) if (r->kernel == DLS_OP_##ID) return true;
#include "ops.def"
  return false;
}
inline bool keepF32(int32_t code) {
  const OpRow* r = find(code);
  if (!r) return false;
#define DLS_OP_KEEP_F32(ID) if (r->kernel == DLS_OP_##ID || code == DLS_OP_##ID) return true;
#include "ops.def"
  return false;
}
// The bytes of the bf16 copies a DLS_OP_BF16 op (opcode `code`) keeps under `precision = bf16` (2 bytes an
// element): its input (made by the forward, read again by the backward), its weights (made by the forward, once
// per step; a convolution's backward-data kernel wants them in another blocked layout: a second copy) and, in
// training, d(output) (made by the backward). Blocked layouts that oneDNN pads may take a little more.
inline int64_t bf16CopyBytes(int32_t code, int64_t inputElements, int64_t weightElements, int64_t outputElements,
                             bool training) {
  const OpRow* r = find(code);
  const int64_t weightCopies = training && r && r->kernel == DLS_OP_CONV2D ? 2 : 1;
  return 2 * (inputElements + weightCopies * weightElements + (training ? outputElements : 0));
}

}  // namespace dls::schema
#endif

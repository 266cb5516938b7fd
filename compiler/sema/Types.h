// Types: what every value in a spec carries — dtype, shape (constant or symbolic dimensions, exact
// checked arithmetic), device and semantic kind. The taxonomy's shape, device and loss faults are
// mismatches between these.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dls::sema {

enum class DType : uint8_t { F32, F16, BF16, I64, I32, U8, Bool, Unknown };
std::string_view dtypeName(DType d);
std::optional<DType> parseDType(std::string_view s);
size_t dtypeBytes(DType d);

// A dimension: a constant, a symbol (N), or unknown (propagates without errors).
struct Dim {
  enum class Kind : uint8_t { Const, Sym, Unknown } kind = Kind::Unknown;
  int64_t value = 0;     // Const
  std::string sym;       // Sym: the symbol's spelling, e.g. "N"
  static Dim constant(int64_t v) { return {Kind::Const, v, {}}; }
  static Dim symbol(std::string s) { return {Kind::Sym, 0, std::move(s)}; }
  static Dim unknown() { return {}; }
  bool isConst() const { return kind == Kind::Const; }
  bool operator==(const Dim& o) const;
  std::string str() const;
  // Equal, or either side unknown (unknown dims never cause a second error).
  static bool compatible(const Dim& a, const Dim& b);
};

struct Shape {
  std::vector<Dim> dims;
  bool unknownRank = false;  // nothing is known, not even the rank (after an error upstream)
  size_t rank() const { return dims.size(); }
  // Product of the dims from `from` on when all are constants; nullopt otherwise or on overflow.
  std::optional<int64_t> elements(size_t from = 0) const;
  bool operator==(const Shape& o) const { return dims == o.dims; }
  std::string str() const;  // "[N, 1, 28, 28]"
  // Same rank and every pair of dims compatible (unknowns match anything).
  static bool compatible(const Shape& a, const Shape& b);
  // Replaces symbols by their values (N -> 64), e.g. with TrainConfig::symbols.
  Shape bind(const std::map<std::string, int64_t>& symbols) const;
};

struct Device {
  enum class Kind : uint8_t { Cpu, Cuda } kind = Kind::Cpu;
  int index = 0;
  bool operator==(const Device& o) const { return kind == o.kind && (kind == Kind::Cpu || index == o.index); }
  std::string str() const;  // "cpu", "cuda:0"
};

// The semantic kind of a value: what its numbers mean.
enum class SemKind : uint8_t {
  Real,          // plain real-valued features / regression targets
  Logits,        // unnormalised class scores
  Probs,         // softmax output
  LogProbs,      // log_softmax output
  SigmoidProbs,  // sigmoid output, per label
  Class,         // integer class index in [0, C)
  OneHot,        // one-hot encoded class
  MultiLabel,    // 0/1 per label
  Mask,          // 0/1 validity mask
  Unknown
};
std::string_view semKindName(SemKind k);
std::optional<SemKind> parseSemKind(std::string_view s);

struct Type {
  DType dtype = DType::F32;
  Shape shape;
  SemKind kind = SemKind::Real;
  int64_t classes = 0;  // C of class<C>, onehot<C>, multilabel<C>, or the class axis size of logits/probs
  Device device;
  bool poisoned = false;  // produced after an error: checks against it are skipped (no cascades)
  // A padded sequence [N, T, …]: its step t of sample n is padding where the network value `maskValue` (the
  // i32 tokens [N, T] an `embedding(mask_token: k)` read) is k at [n, t]; -1: no mask.
  int maskValue = -1;
  int64_t maskToken = 0;
  std::string str() const;    // "logits f32[N, 10]"
  std::string brief() const;  // "f32[N, 10]" for real values, "logits[N, 10]", "class<10>[]" otherwise
  std::string kindStr() const;  // "logits", "class<10>"
};

// Checked arithmetic: false on overflow.
bool mulChecked(int64_t a, int64_t b, int64_t& out);
bool addChecked(int64_t a, int64_t b, int64_t& out);
bool subChecked(int64_t a, int64_t b, int64_t& out);

}  // namespace dls::sema

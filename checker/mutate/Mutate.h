// Mutate: DeepCrime-style mutation operators over a spec's text (`dlspec mutate`). Each operator makes one
// small edit per place it applies to; the result says whether the taxonomy calls the edit a fault and which
// leaf, so that a benchmark can measure how many fault mutants `dlspec check` flags.
#pragma once
#include <string>
#include <vector>

namespace dls::checker {

struct Mutant {
  std::string op;          // operator name: lr_x100, act_remove, …
  int index = 0;           // n-th mutant of this operator in the file
  int line = 0, col = 0;   // 1-based position of the edit in the original text
  bool fault = false;      // the taxonomy calls the mutated spec faulty
  std::string leaf;        // its taxonomy leaf (for faults), or why it is not a fault
  std::string detectedBy;  // "static", "data" or "runtime": where the project reports this fault
  std::string text;        // the mutated spec
  // Data files the mutant needs beside it (name relative to the mutant, bytes): data operators write a
  // modified copy of a small data file and point the spec at it.
  std::vector<std::pair<std::string, std::string>> files;
};

struct MutationOperator {
  std::string_view name, summary;
};
const std::vector<MutationOperator>& mutationOperators();

// Every mutant of `text` (a spec). Operators that do not apply produce nothing.
std::vector<Mutant> mutateSpec(const std::string& text);
// The data operators (data_relabel, data_unbalance) on the training split of each data set, whose files
// are read relative to `specDir`; the modified copies are returned in Mutant::files and the mutated spec
// names them with absolute paths resolved against `outDir` (where the mutants are written).
std::vector<Mutant> mutateData(const std::string& text, const std::string& specDir, const std::string& outDir);

}  // namespace dls::checker

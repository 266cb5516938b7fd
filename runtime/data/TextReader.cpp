// TextReader.cpp: text splits through the readers shared with `dlspec check --data` (data/formats/Text.h):
// windows of token ids with the next token as the label of every step.
#include <fmt/format.h>

#include "Dataset.h"
#include "Text.h"  // data/formats: shared with `dlspec check --data`

namespace dls {

Dataset load_text(const DataDecl& decl, const std::string& split_name) {
  Dataset ds;
  ds.name = split_name;
  ds.label_path = decl.path_a;
  const int64_t T = decl.text_seq;
  ds.rank = 1, ds.dims[0] = T, ds.sample_numel = T;
  if (T < 1 || decl.sample_rank != 1 || decl.dims[0] != T)
    fail(Diag::R0504, decl.path_a, fmt::format("text windows of {} tokens for samples of {} elements", T, decl.dims[0]));
  std::vector<uint8_t> bytes = read_file(decl.path_a);
  std::vector<uint32_t> tokens;
  data::Error e;
  if (!data::decodeText(bytes, decl.text_chars != 0, tokens, e))
    fail(Diag::R0223, fmt::format("{}:byte {}", decl.path_a, e.offset), decl.path_a, e.offset, e.what);
  // The program's vocabulary (the training text's when it was built), or this text's own.
  const std::vector<uint32_t> vocab = decl.vocab.empty() ? data::vocabularyOf(tokens) : decl.vocab;
  if (decl.classes > 0 && int64_t(vocab.size()) + 1 > decl.classes)
    fail(Diag::R0224, decl.path_a, decl.path_a,
         fmt::format("the vocabulary has {} tokens (ids 1..{}, 0 for unknown ones), more than the label's {} classes", vocab.size(),
                     vocab.size(), decl.classes));
  const std::vector<int32_t> ids = data::tokenIds(tokens, vocab);
  // Window i: tokens [i*T, (i+1)*T), labelled with tokens [i*T + 1, (i+1)*T + 1).
  ds.n = ids.size() > 1 ? int64_t(ids.size() - 1) / T : 0;
  ds.label_numel = T;
  ds.x.resize(size_t(ds.n * T));
  ds.labels.resize(size_t(ds.n * T));
  for (int64_t i = 0; i < ds.n; ++i)
    for (int64_t t = 0; t < T; ++t) {
      ds.x[size_t(i * T + t)] = float(ids[size_t(i * T + t)]);
      ds.labels[size_t(i * T + t)] = ids[size_t(i * T + t + 1)];
    }
  if (ds.n == 0)
    fail(Diag::R0213, decl.path_a,
         fmt::format("'{}' holds {} tokens, fewer than one window of {} and its next token, so split '{}' is empty", decl.path_a,
                     tokens.size(), T, split_name));
  return ds;
}

}  // namespace dls

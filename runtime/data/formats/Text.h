// Text.h: text files as token sequences, read by the same code for `dlspec check --data` (checker/data) and
// for the executable's loader (runtime/data). A token is a byte (`bytes`) or a Unicode code point decoded
// from UTF-8 (`chars`); bytes that are not UTF-8 (a stray continuation byte, a sequence cut short, an overlong
// or surrogate encoding, a code point past U+10FFFF) are an error with the byte offset and line they are on.
// The vocabulary is the sorted distinct tokens of the training text; token 0 stands for a token the
// vocabulary lacks (a character of the test text that the training text never has), so a vocabulary of k
// tokens gives the ids 1..k. Like the other readers, nothing here throws or prints.
#ifndef DLSPEC_DATA_TEXT_H
#define DLSPEC_DATA_TEXT_H
#include <cstdint>
#include <string>
#include <vector>

#include "DataFormats.h"

namespace dls::data {

// The tokens of `file` (chars: UTF-8 code points, else bytes). BadHeader with `offset` (the byte) and `what`
// (saying the line) on bad UTF-8.
bool decodeText(const std::vector<uint8_t>& file, bool chars, std::vector<uint32_t>& tokens, Error& err);
// The sorted distinct tokens.
std::vector<uint32_t> vocabularyOf(const std::vector<uint32_t>& tokens);
// Token ids: 1 + the token's place in `vocab`, 0 for a token not in it.
std::vector<int32_t> tokenIds(const std::vector<uint32_t>& tokens, const std::vector<uint32_t>& vocab);
// A token as UTF-8 (chars) or as its byte.
std::string tokenText(uint32_t token, bool chars);

}  // namespace dls::data
#endif

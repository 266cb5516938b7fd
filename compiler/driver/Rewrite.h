// Rewriting a file the user named (`fmt --write`, `fix`): the change shown as a unified diff, and the file
// replaced atomically so that an interrupted rewrite leaves the old text or the new one, never half of each.
#pragma once
#include <string>

namespace dls {

// A unified diff (`diff -u` style, 3 lines of context) from `before` to `after`, with `--- oldName` and
// `+++ newName` headers; empty when the texts are equal.
std::string unifiedDiff(const std::string& oldName, const std::string& newName, const std::string& before,
                        const std::string& after);

// Replaces the contents of `path` (through a symbolic link, the file it names) with `text`: a new temporary
// file beside it (O_EXCL, the old file's permissions), written and synced, then renamed over it. On failure
// the file is unchanged, no temporary is left, and `error` says what failed.
bool writeFileAtomically(const std::string& path, const std::string& text, std::string& error);

}  // namespace dls

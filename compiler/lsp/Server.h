// The dlspec language server: LSP 3.17 over a pair of file descriptors (stdin/stdout for `dlspec lsp`).
// Each open document is checked by the same flow as `dlspec check` (Compilation.h's checkSpec) after each
// change, once the input has been quiet for the debounce delay; hover, inlay hints, definition, references,
// rename, symbols and completion read that compilation's AST, typed program and the op table; formatting is
// `dlspec fmt`'s.
#pragma once

namespace dls::lsp {

struct ServerOptions {
  int debounceMs = 200;  // quiet time after a change before the document is checked again
};

// Serves until `exit` or the end of input. Returns 0 after `shutdown` then `exit`, 1 otherwise (as LSP says).
int runServer(int in, int out, const ServerOptions& opt);

}  // namespace dls::lsp

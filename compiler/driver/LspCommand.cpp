// dlspec lsp: the language server on stdin/stdout (lsp/Server.h).
#include <unistd.h>

#include "driver/Command.h"
#include "lsp/Server.h"

namespace dls {

static const std::string_view kUsage = commandUsage("lsp");

int cmdLsp(const std::vector<std::string>& argv) {
  lsp::ServerOptions opt;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--stdio") continue;  // what editors pass; stdio is the only transport
    if (a.rfind("--debounce-ms=", 0) == 0) {
      try {
        size_t used = 0;
        int ms = std::stoi(a.substr(14), &used);
        if (used != a.size() - 14 || ms < 0 || ms > 10000) throw std::out_of_range(a);
        opt.debounceMs = ms;
        continue;
      } catch (const std::exception&) {
        return usageError("`--debounce-ms` takes a whole number of milliseconds from 0 to 10000", kUsage);
      }
    }
    return usageError("unknown argument `" + a + "`", kUsage);
  }
  return lsp::runServer(STDIN_FILENO, STDOUT_FILENO, opt);
}

}  // namespace dls

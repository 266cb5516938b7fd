// dlspec: the command-line driver. Each subcommand is one function in its own file.
#include <cstdio>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <pthread.h>

#include "driver/Command.h"
#include "support/Suggest.h"

namespace dls {
namespace {

struct CommandEntry {
  std::string_view name;
  CommandFn fn;
  std::string_view summary;
};

const std::vector<CommandEntry>& commands() {
  static const std::vector<CommandEntry> table = {
      {"check", cmdCheck, "type-check a spec and run the fault taxonomy rules"},
      {"fmt", cmdFmt, "print a spec in its canonical layout (--write to rewrite it)"},
      {"explain", cmdExplain, "explain a diagnostic code, with a failing and a fixed example"},
      {"ops", cmdOps, "the reference of every layer, activation, loss, optimiser, … with arguments and an example"},
      {"summary", cmdSummary, "layers, output shapes, parameters, FLOPs and activation memory of each network"},
      {"graph", cmdGraph, "the network as a Graphviz graph with shapes on the edges (-o out.dot|out.svg)"},
      {"build", cmdBuild, "compile a spec's train block to a standalone training executable"},
      {"run", cmdRun, "build a spec and start training"},
      {"import", cmdImport, "translate a Darknet .cfg network into a spec (dlspec import darknet FILE.cfg)"},
      {"mutate", cmdMutate, "write DeepCrime-style mutants of a spec and a manifest (dlspec mutate FILE -o DIR)"},
  };
  return table;
}

void printHelp() {
  fmt::print("dlspec {}: a compiler and checker for declarative deep-learning specs\n\nusage: dlspec COMMAND [OPTIONS] FILE...\n\ncommands:\n",
             "0.1.0");
  for (const CommandEntry& c : commands()) fmt::print("  {:<9} {}\n", c.name, c.summary);
  fmt::print("\nexit status: 0 clean, 1 errors reported, 2 usage or internal error\n");
}

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    printHelp();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    fmt::print("dlspec 0.1.0\n");
    return kExitOk;
  }
  std::vector<std::string> rest(argv + 2, argv + argc);
  for (const CommandEntry& c : commands())
    if (c.name == argv[1]) return c.fn(rest);
  std::string msg = fmt::format("unknown command `{}`", argv[1]);
  std::vector<std::string> names;
  for (const CommandEntry& c : commands()) names.emplace_back(c.name);
  if (auto near = closest(argv[1], names)) msg += fmt::format("; did you mean `{}`?", *near);
  return usageError(msg + " (run `dlspec --help` for the list)", "dlspec COMMAND [OPTIONS] FILE...");
}

struct Job {
  int argc;
  char** argv;
  int rc = kExitUsage;
};

void* runJob(void* p) {
  Job* job = static_cast<Job*>(p);
  try {
    job->rc = run(job->argc, job->argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error[I0001]: internal error: {}\n", e.what());
    job->rc = kExitUsage;
  } catch (...) {
    fmt::print(stderr, "error[I0001]: internal error: unknown exception\n");
    job->rc = kExitUsage;
  }
  return nullptr;
}

}  // namespace
}  // namespace dls

int main(int argc, char** argv) {
  // The compiler runs on a thread with a large stack, so that deeply nested (but bounded) specs never
  // overflow it; the pages are only touched when used.
  dls::Job job{argc, argv};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t{1} << 30);
  pthread_t thread;
  if (pthread_create(&thread, &attr, dls::runJob, &job) != 0) {
    dls::runJob(&job);
  } else {
    pthread_join(thread, nullptr);
  }
  pthread_attr_destroy(&attr);
  std::fflush(stdout);
  return job.rc;
}

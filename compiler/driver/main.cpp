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

// The commands: name, function, one-line summary, usage and options. `dlspec COMMAND --help` prints them;
// each command's usage errors print the same usage line (commandUsage).
struct CommandEntry {
  std::string_view name;
  CommandFn fn;
  std::string_view summary;
  std::string_view usage;
  std::string_view options;  // "  FLAG  description" lines
  bool diagnostics;          // takes the common --format/--color/--deny/--warn/--allow options
};

constexpr std::string_view kCommonOptions =
    "  --format=text|json|sarif    how diagnostics are printed: text (stderr), json (one JSON document on\n"
    "                              stdout, schemas/diagnostics.schema.json) or sarif (one SARIF 2.1.0 log)\n"
    "  --help-uri-base=URL         sarif: base of each rule's helpUri (default: env DLSPEC_HELP_URI_BASE, else\n"
    "                              the project's docs/diagnostics/ on the web)\n"
    "  --color=auto|always|never   colour in text output (auto: when stderr is a terminal and NO_COLOR is unset)\n"
    "  --deny|--warn|--allow CODE|GROUP\n"
    "                              make a code, or every code of a lint group (correctness, suspicious, style,\n"
    "                              pedantic, all), an error, a warning, or silence it (repeatable; the last\n"
    "                              one that applies wins; a group's --warn/--allow leaves errors as they are)\n"
    "  --lint-level=GROUP          print the findings of the groups up to GROUP: correctness, suspicious\n"
    "                              (default), style, pedantic or all; errors are always printed\n";

const std::vector<CommandEntry>& commands() {
  static const std::vector<CommandEntry> table = {
      {"check", cmdCheck, "type-check a spec and run the fault taxonomy rules",
       "dlspec check [--data] [OPTIONS] FILE...",
       "  --data                      also read the data files the spec declares and check them against it\n", true},
      {"fmt", cmdFmt, "print a spec in its canonical layout (--write to rewrite it)",
       "dlspec fmt [--write | --check] [--width N] FILE...",
       "  --write, -w                 rewrite each file in place\n"
       "  --width N                   keep lines within N columns where they can be broken (default 100)\n"
       "  --check                     print the difference from the canonical layout as a unified diff, exit 1\n"
       "                              when there is one; change nothing\n", false},
      {"init", cmdInit, "write a starting spec for a data set: types, normalisation, a baseline network, a train block",
       "dlspec init --data TRAIN [--labels FILE | --label COLUMN] [--test TEST [--test-labels FILE]] [-o FILE.dls]",
       "  --data TRAIN                the training data: a CSV file, an NPY or IDX samples file, or a folder of\n"
       "                              images with one sub-folder per class (PNG, JPEG)\n"
       "  --labels FILE               NPY or IDX: the labels file\n"
       "  --label COLUMN              CSV: the label column (default: the last)\n"
       "  --test TEST                 a test split in the same format (NPY, IDX: --test-labels for its labels); without it\n"
       "                              the spec holds out 10% of the training data for validation\n"
       "  -o, --output FILE.dls       write the spec there (never over a data file; over an existing file only\n"
       "                              with --force); default stdout\n"
       "  --name NAME                 the data set's name (default: from the file name)\n", true},
      {"fix", cmdFix, "apply the fix-its of the diagnostics to the files, then check them again",
       "dlspec fix [--dry-run] [--unsafe-fixes] [OPTIONS] FILE...",
       "  --dry-run, -n               print the change as a unified diff; change nothing\n"
       "  --unsafe-fixes              also apply fix-its that may be wrong (closest-name guesses, changes of\n"
       "                              meaning); by default only machine-applicable ones\n"
       "                              fix applies the fix-its of every lint group (--lint-level pedantic) unless\n"
       "                              --lint-level is given\n", true},
      {"explain", cmdExplain, "explain a diagnostic code (compiler or run time) or an op",
       "dlspec explain CODE | dlspec explain OP | dlspec explain --list",
       "  CODE                        a diagnostic code, E0013 or R0205: what it means, a failing and a fixed example\n"
       "  OP                          an op's reference, as `dlspec ops OP` prints it\n"
       "  --list                      every code with its severity, lint group and name\n", false},
      {"ops", cmdOps, "the reference of every layer, activation, loss, optimiser, … with arguments and an example",
       "dlspec ops [NAME] [--markdown]",
       "  NAME                        one op's arguments, types, defaults, ranges and an example\n"
       "  --markdown                  the whole reference as Markdown (docs/ops.md)\n", false},
      {"summary", cmdSummary, "layers, output shapes, parameters, FLOPs and activation memory of each network",
       "dlspec summary [--data] [--format=text|json] FILE",
       "  --data                      also count the data each training loads (reads the data files)\n", true},
      {"graph", cmdGraph, "the network as a Graphviz graph with shapes on the edges (-o out.dot|.svg|.png|.pdf)",
       "dlspec graph FILE [-o out.dot|out.svg|out.png|out.pdf]",
       "  -o, --output FILE           write the graph there (.dot/.gv, or .svg/.png/.pdf through Graphviz's dot)\n", true},
      {"build", cmdBuild, "compile a spec's train block to a standalone training executable",
       "dlspec build [-o EXE] [--emit=exe|obj|llvm] [--train NAME] [--device cpu|cuda:K] [OPTIONS] FILE",
       "  -o EXE                      the executable's path\n"
       "  --emit=exe|obj|llvm         an executable (default), an object file or LLVM IR\n"
       "  --train NAME                the train block to build, when the spec has several\n"
       "  --device cpu|cuda:K         place the model there instead of the train block's `on …`\n", true},
      {"run", cmdRun, "build a spec and start training",
       "dlspec run [--train NAME] [--device cpu|cuda:K] [OPTIONS] FILE [-- EXECUTABLE-ARGS...]",
       "  --train NAME                the train block to run, when the spec has several\n"
       "  --device cpu|cuda:K         place the model there instead of the train block's `on …`\n"
       "  -- ARGS                     passed to the executable (`-- --epochs 3`, `-- eval`)\n", true},
      {"import", cmdImport, "translate a Darknet .cfg network or an ONNX model into a spec",
       "dlspec import darknet FILE.cfg [-o FILE.dls] [--layers-json FILE] | dlspec import onnx MODEL.onnx [-o FILE.dls] [--weights DIR]",
       "  -o, --output FILE.dls       write the spec there instead of stdout\n"
       "  --layers-json FILE          darknet: also write the layer-by-layer shapes as JSON\n"
       "  --weights DIR               onnx: write the initialisers there, one DIR/PARAM.npy per parameter (default\n"
       "                              with -o FILE.dls: FILE.weights); the built program reads them with --weights DIR\n", true},
      {"export", cmdExport, "write a spec's network with trained weights as an ONNX model (inference form), safetensors or npz",
       "dlspec export FILE (--checkpoint CKPT | --weights DIR) [-o MODEL.onnx] [--safetensors FILE] [--npz FILE] [--network NAME] [--opset N] [--batch N]",
       "  --checkpoint CKPT           the weights of a training run: a .dlsc file, or a run directory's newest\n"
       "  --weights DIR               the weights as DIR/PARAM.npy, one per parameter (as `PROGRAM --weights`)\n"
       "  -o, --output MODEL.onnx     the ONNX model, checked by ONNX's checker and shape inference\n"
       "  --safetensors FILE          the weights alone, by parameter name, as safetensors\n"
       "  --npz FILE                  the weights alone, by parameter name, as .npz (numpy.load reads it)\n"
       "  --network NAME              the network to export, when the spec has several\n"
       "  --opset N                   the ONNX opset the model declares, 13 to 17 (default 14)\n"
       "  --batch N                   a fixed batch size for the model's input and output (default: the symbol,\n"
       "                              N; OpenCV's dnn module needs a fixed one for broadcasts such as SE gates)\n", true},
      {"mutate", cmdMutate, "write DeepCrime-style mutants of a spec and a manifest (dlspec mutate FILE -o DIR)",
       "dlspec mutate FILE -o DIR", "  -o, --output DIR            the directory for the mutants and manifest.json\n",
       false},
      {"lsp", cmdLsp, "the language server: diagnostics, hover, completion, shapes inline, rename, formatting (LSP on stdio)",
       "dlspec lsp [--stdio] [--debounce-ms=MS]",
       "  --stdio                     speak LSP on stdin/stdout (the default and only transport)\n"
       "  --debounce-ms=MS            quiet time after an edit before the document is checked again (default 200)\n",
       false},
  };
  return table;
}

const CommandEntry* findCommand(std::string_view name) {
  for (const CommandEntry& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

void printHelp() {
  fmt::print("dlspec {}: a compiler and checker for declarative deep-learning specs\n\nusage: dlspec COMMAND [OPTIONS] FILE...\n\ncommands:\n",
             "0.1.0");
  for (const CommandEntry& c : commands()) fmt::print("  {:<9} {}\n", c.name, c.summary);
  fmt::print("\n`dlspec COMMAND --help` describes a command's options.\n");
  fmt::print("\nexit status: 0 clean, 1 errors reported, 2 usage or internal error\n");
}

}  // namespace

std::string_view commandUsage(std::string_view name) {
  const CommandEntry* c = findCommand(name);
  return c ? c->usage : std::string_view{};
}

int printCommandHelp(std::string_view name) {
  const CommandEntry* c = findCommand(name);
  if (!c) return kExitUsage;
  fmt::print("dlspec {}: {}\n\nusage: {}\n", c->name, c->summary, c->usage);
  if (!c->options.empty() || c->diagnostics) fmt::print("\noptions:\n{}", c->options);
  if (c->diagnostics) fmt::print("{}", kCommonOptions);
  fmt::print("  -h, --help                  this text\n\nexit status: 0 clean, 1 errors reported, 2 usage or internal error\n");
  return kExitOk;
}

namespace {

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
  if (const CommandEntry* c = findCommand(argv[1])) {
    // `--help` anywhere before a `--` (after it, arguments belong to the executable `run` starts).
    for (const std::string& a : rest) {
      if (a == "--") break;
      if (a == "--help" || a == "-h") return printCommandHelp(c->name);
    }
    return c->fn(rest);
  }
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

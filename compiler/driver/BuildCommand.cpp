// dlspec build FILE [-o EXE] [--emit=exe|obj|llvm] [--train NAME]: check, lower, emit through LLVM, link.
// dlspec run FILE [--train NAME] [-- ARGS...]: build into .dlspec/ and start `EXE train ARGS...`.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

#include "driver/Command.h"
#include "import/OnnxExport.h"

#ifdef DLSPEC_HAVE_CODEGEN
#include "emit/Emit.h"
#endif

namespace dls {

static const std::string_view kBuildUsage = commandUsage("build");
static const std::string_view kRunUsage = commandUsage("run");

namespace {

// Parses `cpu` or `cuda:K` for --device.
std::optional<sema::Device> parseDevice(const std::string& s) {
  if (s == "cpu") return sema::Device{sema::Device::Kind::Cpu, 0};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9 &&
      s.find_first_not_of("0123456789", 5) == std::string::npos)
    return sema::Device{sema::Device::Kind::Cuda, std::stoi(s.substr(5))};
  return std::nullopt;
}

// Takes `--device X` / `--device=X` out of argv into `req`; false (after a usage error) when malformed.
bool takeDevice(std::vector<std::string>& argv, std::optional<sema::Device>& out, std::string_view usage, int& rc) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string v;
    if (argv[i] == "--device" && i + 1 < argv.size()) {
      v = argv[i + 1];
      argv.erase(argv.begin() + static_cast<long>(i), argv.begin() + static_cast<long>(i) + 2);
    } else if (argv[i].rfind("--device=", 0) == 0) {
      v = argv[i].substr(9);
      argv.erase(argv.begin() + static_cast<long>(i));
    } else if (argv[i] == "--device") {
      rc = usageError("`--device` needs a value (cpu or cuda:K)", usage);
      return false;
    } else {
      continue;
    }
    out = parseDevice(v);
    if (!out) {
      rc = usageError(fmt::format("unknown device `{}` (expected cpu or cuda:K)", v), usage);
      return false;
    }
    --i;
  }
  return true;
}

enum class Emit { Exe, Obj, Llvm };

struct BuildRequest {
  std::string file, output, train;
  std::optional<sema::Device> device;  // --device cpu|cuda:K overrides the spec's placement
  Emit emit = Emit::Exe;
};

// Checks, lowers and emits. Returns the exit code; prints diagnostics.
int build(const BuildRequest& req, const CommonOptions& opt, std::string* builtPath) {
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  // The flow up to check, as `dlspec check` runs it (the rules without the data), then lower, emit, link.
  bool ok = c.load(req.file) && parse(c) && check(c, CheckOptions{});
  if (!ok || c.diags.hasErrors()) {
    printDiagnostics(c, opt);
    return kExitErrors;
  }
  auto lowered = lower(c, req.train, req.device);
  if (!lowered) {
    printDiagnostics(c, opt);
    return kExitErrors;
  }
  // The network in ONNX without its weights, for the program's `export` (runtime/train/Export.cpp).
  const sema::TrainConfig* trained = nullptr;
  for (const auto& t : c.program->trains)
    if (req.train.empty() ? c.program->trains.size() == 1 : t->name == req.train) trained = t.get();
  if (trained && trained->network) {
    std::string why;
    if (auto model = import::onnxTemplate(*trained->network, c.program->specPath, c.sources, why)) lowered->plan.onnxTemplate = std::move(*model);
    else lowered->plan.onnxUnavailable = fmt::format("network `{}`: {}", trained->network->name, why);
  }
#ifdef DLSPEC_HAVE_CODEGEN
  std::string output = req.output.empty() ? lowered->plan.programName + (req.emit == Emit::Obj ? ".o" : req.emit == Emit::Llvm ? ".ll" : "")
                                          : req.output;
  const EmitKind kind = req.emit == Emit::Llvm ? EmitKind::LLVM : req.emit == Emit::Obj ? EmitKind::Object : EmitKind::Executable;
  std::string ir;
  if (!emit(c, *lowered, kind, output, &ir)) {
    printDiagnostics(c, opt);
    // An output that names an input is a usage error; writing or linking that failed is the build's.
    for (const Diagnostic& d : c.diags.finish())
      if (d.code == Code::E0903 || d.code == Code::I0001) return kExitUsage;
    return kExitErrors;
  }
  if (kind == EmitKind::LLVM && output == "-") std::fwrite(ir.data(), 1, ir.size(), stdout);
  printDiagnostics(c, opt);
  if (builtPath) *builtPath = output;
  return kExitOk;
#else
  (void)builtPath;
  c.diags.report(Code::E1005, Span{}, "this dlspec was built without the LLVM code generator");
  printDiagnostics(c, opt);
  return kExitUsage;
#endif
}

}  // namespace

int cmdBuild(const std::vector<std::string>& argvIn) {
  CommonOptions opt;
  Args args;
  std::vector<std::string> rest;
  BuildRequest req;
  std::vector<std::string> argv = argvIn;
  int rc = kExitUsage;
  if (!takeDevice(argv, req.device, kBuildUsage, rc)) return rc;
  // -o and --train take a value; pull them out before the common parser sees them.
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if ((a == "-o" || a == "--train") && i + 1 < argv.size()) {
      (a == "-o" ? req.output : req.train) = argv[++i];
    } else if (a == "-o" || a == "--train") {
      return usageError(fmt::format("`{}` needs a value", a), kBuildUsage);
    } else if (a.rfind("--train=", 0) == 0) {
      req.train = a.substr(8);
    } else if (a.rfind("--emit=", 0) == 0) {
      std::string e = a.substr(7);
      if (e == "exe") req.emit = Emit::Exe;
      else if (e == "obj") req.emit = Emit::Obj;
      else if (e == "llvm") req.emit = Emit::Llvm;
      else return usageError(fmt::format("unknown --emit kind `{}` (expected exe, obj or llvm)", e), kBuildUsage);
    } else {
      rest.push_back(a);
    }
  }
  if (!parseCommon(rest, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kBuildUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected exactly one spec file", kBuildUsage);
  req.file = args.positional[0];
  return build(req, opt, nullptr);
}

int cmdRun(const std::vector<std::string>& argvIn) {
  CommonOptions opt;
  Args args;
  BuildRequest req;
  // Only the part before `--` belongs to dlspec; the rest goes to the executable.
  auto sep = std::find(argvIn.begin(), argvIn.end(), "--");
  std::vector<std::string> head(argvIn.begin(), sep);
  std::vector<std::string> exeArgs(sep == argvIn.end() ? sep : sep + 1, argvIn.end());
  int rc0 = kExitUsage;
  if (!takeDevice(head, req.device, kRunUsage, rc0)) return rc0;
  std::vector<std::string> mine;
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == "--train" && i + 1 < head.size()) req.train = head[++i];
    else if (head[i].rfind("--train=", 0) == 0) req.train = head[i].substr(8);
    else mine.push_back(head[i]);
  }
  if (!parseCommon(mine, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kRunUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected exactly one spec file", kRunUsage);
  req.file = args.positional[0];
  std::error_code ec;
  std::filesystem::create_directories(".dlspec", ec);
  if (ec) return usageError(fmt::format("cannot create .dlspec/: {}", ec.message()), kRunUsage);
  std::string stem = std::filesystem::path(req.file).stem().string();
  req.output = ".dlspec/" + (req.train.empty() ? stem : req.train);
  std::string built;
  int rc = build(req, opt, &built);
  if (rc != kExitOk) return rc;
  std::vector<std::string> full = {built, "train"};
  full.insert(full.end(), exeArgs.begin(), exeArgs.end());
  if (!exeArgs.empty() && exeArgs[0][0] != '-') full.erase(full.begin() + 1);  // an explicit subcommand
  std::vector<char*> cargv;
  for (std::string& s : full) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execv(built.c_str(), cargv.data());
  return usageError(fmt::format("cannot start `{}`: {}", built, std::strerror(errno)), kRunUsage);
}

}  // namespace dls

#!/usr/bin/env python3
"""The layering of dlspec, checked on the #include lines of every source file.

Each folder below is one stage (one library, compiler/CMakeLists.txt); a quoted #include names another
stage by its first path component (`sema/Program.h`), or a file of the stage's own folder. A stage may
include only itself and the stages it links, so that no stage reaches a later one: the checker never
includes lowering, sema never includes the checker, the runtime never includes the compiler, and the data
readers (runtime/data/formats) include nothing but the standard library, POSIX, zlib, libpng and libjpeg.

    check_includes.py SOURCE_DIR      exits 1 and lists every include that breaks the table
    check_includes.py --links FILE    the same for the libraries each stage links (FILE: `target: a;b;c` lines
                                      that tests/layering/CMakeLists.txt generates from LINK_LIBRARIES)
"""
import os
import re
import sys

# folder -> the include roots its files may name (first path component of a quoted include)
STAGES = {
    "compiler/support": {"support", "runtime"},  # runtime/core/RuntimeDiagnostics.def, the R-code table
    "compiler/syntax": {"support", "syntax", "DLSpecLexer.h", "DLSpecParser.h"},
    "compiler/sema": {"support", "syntax", "sema", "dlspec"},
    "checker": {"support", "syntax", "sema", "checker", "dlspec", "DataFormats.h", "CsvTable.h", "Images.h", "Text.h"},
    "compiler/plan": {"support", "syntax", "sema", "plan", "dlspec", "DataFormats.h", "CsvTable.h", "Images.h", "Text.h"},
    "compiler/codegen": {"support", "syntax", "sema", "plan", "codegen", "dlspec"},
    "compiler/import": {"support", "syntax", "sema", "import", "dlspec", "DataFormats.h", "CheckpointFile.h", "WeightFiles.h"},
    "compiler/emit": {"support", "syntax", "sema", "checker", "plan", "codegen", "emit", "dlspec", "Compilation.h"},
    "compiler/lsp": {"support", "syntax", "sema", "checker", "plan", "lsp", "dlspec", "Compilation.h"},
    "compiler/driver": {"support", "syntax", "sema", "checker", "plan", "codegen", "import", "emit", "lsp", "driver",
                        "dlspec", "Compilation.h"},
    "runtime/data/formats": {"DataFormats.h", "CsvTable.h", "Images.h", "Text.h", "CheckpointFile.h", "WeightFiles.h"},
}
# Files directly in compiler/: the flow (Compilation.h), which links every stage but codegen.
TOP = {"support", "syntax", "sema", "checker", "plan", "Compilation.h"}
# The rest of the runtime: its own files, never the compiler's.
COMPILER_ROOTS = {"support", "syntax", "sema", "checker", "plan", "codegen", "import", "emit", "lsp", "driver", "Compilation.h",
                  "compiler"}
# The data readers' system headers: the standard library (no extension), C headers, POSIX, zlib, libpng and
# libjpeg.
DATA_SYSTEM = re.compile(r"^([a-z_]+|c[a-z]+|zlib\.h|png\.h|jpeglib\.h|jerror\.h|dirent\.h|fcntl\.h|unistd\.h|sys/[a-z]+\.h)$")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCES = (".cpp", ".h", ".def", ".cu")


def stage_of(rel):
    best = None
    for folder in STAGES:
        if rel.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def check(root):
    problems = []
    checked = 0
    for top in ("compiler", "checker", "runtime"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(SOURCES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                stage = stage_of(rel)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        kind, target = m.groups()
                        first = target.split("/")[0]
                        where = f"{rel}:{lineno}: #include {kind}{target}{'>' if kind == '<' else kind}"
                        if stage == "runtime/data/formats":
                            if kind == '"' and target not in STAGES[stage]:
                                problems.append(f"{where}: the data readers include only their own headers")
                            if kind == "<" and not DATA_SYSTEM.match(target):
                                problems.append(f"{where}: the data readers depend on the standard library, POSIX, zlib, libpng and libjpeg only")
                        elif kind == "<":
                            continue
                        elif stage is not None:
                            local = os.path.exists(os.path.join(dirpath, target))
                            if first not in STAGES[stage] and not local:
                                problems.append(f"{where}: {stage} may include only {', '.join(sorted(STAGES[stage]))}")
                        elif rel.startswith("compiler/") and os.path.dirname(rel) == "compiler":
                            if first not in TOP and not os.path.exists(os.path.join(dirpath, target)):
                                problems.append(f"{where}: the flow may include only {', '.join(sorted(TOP))}")
                        elif rel.startswith("runtime/"):
                            if first in COMPILER_ROOTS:
                                problems.append(f"{where}: the runtime includes nothing of the compiler")
    return problems, checked


# library -> the dlspec libraries it may link (PRIVATE ones included)
LINKS = {
    "dlspec_support": set(),
    "dlspec_syntax": {"dlspec_support", "dlspec_grammar"},
    "dlspec_sema": {"dlspec_syntax", "dlspec_support"},
    "dlspec_checker": {"dlspec_sema", "dlspec_syntax", "dlspec_support", "dlspec_data"},
    "dlspec_plan": {"dlspec_sema", "dlspec_syntax", "dlspec_support", "dlspec_data"},
    "dlspec_codegen": {"dlspec_plan", "dlspec_sema", "dlspec_syntax", "dlspec_support"},
    "dlspec_import": {"dlspec_sema", "dlspec_syntax", "dlspec_support", "dlspec_data"},
    "dlspec_data": {"dlspec_data_objects"},
    "dlspec_flow": {"dlspec_checker", "dlspec_plan", "dlspec_sema", "dlspec_syntax", "dlspec_support"},
    "dlspec_emit": {"dlspec_flow", "dlspec_codegen"},
    "dlspec_lsp": {"dlspec_flow"},
}


def check_links(path):
    problems = []
    seen = 0
    with open(path) as f:
        for line in f:
            if ":" not in line:
                continue
            lib, deps = line.split(":", 1)
            lib = lib.strip()
            names = {re.sub(r"^\$<LINK_ONLY:(.*)>$", r"\1", d.strip()) for d in deps.strip().split(";") if d.strip()}
            ours = {n for n in names if n.startswith("dlspec")}
            if lib not in LINKS:
                problems.append(f"{lib}: not in the table of stages")
                continue
            seen += 1
            for n in sorted(ours - LINKS[lib]):
                problems.append(f"{lib} links {n}: {lib} may link only {', '.join(sorted(LINKS[lib])) or 'no dlspec library'}")
    return problems, seen


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--links":
        problems, seen = check_links(sys.argv[2])
        for p in problems:
            print(p)
        if seen < 8:
            print(f"only {seen} libraries in {sys.argv[2]}")
            return 1
        print(f"{seen} libraries' links checked, {len(problems)} break the layering")
        return 1 if problems else 0
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems, checked = check(root)
    for p in problems:
        print(p)
    if checked < 200:
        print(f"only {checked} #include lines found under {root}: wrong source directory?")
        return 1
    print(f"{checked} #include lines checked, {len(problems)} break the layering")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Builds the VS Code extension (editors/vscode) and tests its grammar: installs its npm packages from
# package-lock.json (needs the network once), compiles the TypeScript, runs vscode-tmgrammar-test and
# tokenizes every spec. After it, ctest's editors/vscode-grammar runs instead of being skipped.
# Usage: scripts/vscode-extension.sh [--package]   (--package also writes dlspec-VERSION.vsix with vsce)
set -euo pipefail
cd "$(dirname "$0")/../editors/vscode"
command -v npm >/dev/null || { echo "vscode-extension.sh: npm is missing (scripts/deps.sh editor)" >&2; exit 2; }
npm ci --no-audit --no-fund
npm run build
npm run test:grammar
if [ "${1:-}" = "--package" ]; then
  npx --yes @vscode/vsce package --allow-missing-repository --skip-license
fi

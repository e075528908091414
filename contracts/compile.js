#!/usr/bin/env node
// Compiles contracts/src/**/*.sol with the pinned solc-js (standard JSON) and writes one artifact
// per contract to contracts/artifacts/ (or to --out DIR). Output is byte-identical across runs:
// sources are read in sorted order, keys are relative paths, JSON is written with fixed
// formatting. `make contracts` runs this; tests/contracts recompiles and compares.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const SRC = path.join(ROOT, "src");
const NODE_MODULES = path.join(ROOT, "node_modules");

// Settings are part of the build's identity: change them and the artifacts change.
const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10000 },
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"] },
  },
};

function listSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full));
    else if (entry.name.endsWith(".sol")) out.push(full);
  }
  return out;
}

function findImport(importPath) {
  const candidates = [path.join(NODE_MODULES, importPath), path.join(ROOT, importPath)];
  for (const c of candidates) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, "utf8") };
  }
  return { error: `not found: ${importPath}` };
}

function main() {
  const args = process.argv.slice(2);
  let outDir = path.join(ROOT, "artifacts");
  const i = args.indexOf("--out");
  if (i >= 0) outDir = path.resolve(args[i + 1]);

  const files = listSources(SRC).sort();
  const sources = {};
  for (const f of files) {
    const key = path.relative(ROOT, f).split(path.sep).join("/");
    sources[key] = { content: fs.readFileSync(f, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) {
    // OpenZeppelin's own notes (e.g. on transient storage) are not ours to fix.
    const file = e.sourceLocation ? e.sourceLocation.file : "";
    if (e.severity === "error" || !file.startsWith("@openzeppelin/")) {
      process.stderr.write(e.formattedMessage + "\n");
    }
  }
  if (errors.length) process.exit(1);

  fs.mkdirSync(outDir, { recursive: true });
  const written = [];
  for (const sourceName of Object.keys(output.contracts).sort()) {
    if (!sourceName.startsWith("src/")) continue; // OpenZeppelin's own contracts
    for (const name of Object.keys(output.contracts[sourceName]).sort()) {
      const c = output.contracts[sourceName][name];
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      const artifact = {
        contractName: name,
        sourceName,
        compiler: { version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        storageLayout: c.storageLayout,
      };
      fs.writeFileSync(path.join(outDir, name + ".json"), JSON.stringify(artifact, null, 2) + "\n");
      written.push(`${name} (${c.evm.deployedBytecode.object.length / 2} bytes)`);
    }
  }
  process.stdout.write(`compiled ${files.length} sources with solc ${solc.version()}: ${written.join(", ")}\n`);
}

main();

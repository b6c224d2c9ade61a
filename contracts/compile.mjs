// Compiles every contracts/*.sol offline with solcjs and writes {name: {abi, bytecode}} as JSON.
// Usage: node contracts/compile.mjs OUTPUT.json   (the Python side caches by a hash of the sources)
import { createRequire } from "node:module";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "package.json"));
const solc = require("solc");

const output = process.argv[2];
if (!output) {
  console.error("usage: node compile.mjs OUTPUT.json");
  process.exit(2);
}

const sources = {};
for (const file of readdirSync(here).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: readFileSync(join(here, file), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const artifacts = {};
for (const [file, contracts] of Object.entries(result.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces have no bytecode
    if (artifacts[name]) {
      console.error(`duplicate contract name ${name} in ${file}`);
      process.exit(1);
    }
    artifacts[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, source: file };
  }
}
// Write then rename, so a concurrent reader never sees half a file.
const tmp = `${output}.${process.pid}.tmp`;
writeFileSync(tmp, JSON.stringify(artifacts));
renameSync(tmp, output);
console.log(`compiled ${Object.keys(artifacts).length} contracts (solc ${solc.version()})`);

// Fails (exit 1) when src/schema.ts is not what openapi-typescript generates from the contract now: the committed
// types drifted from openapi/voxscriber.yaml. Regenerates into a temporary file with the same command as
// `npm run generate:types` and compares the two byte for byte. `--contract PATH` generates from another document
// instead (the tests use it to show that a change to the contract is caught).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("../", import.meta.url));
const committed = join(packageDir, "src", "schema.ts");
const generateScript = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).scripts["generate:types"];
const contractFlag = process.argv.indexOf("--contract");
const contract = contractFlag === -1 ? undefined : process.argv[contractFlag + 1];
const scratch = mkdtempSync(join(tmpdir(), "voxscriber-types-"));
const fresh = join(scratch, "schema.ts");

try {
  // The same command as generate:types, its --output pointed at the scratch file.
  const args = generateScript.replace(/^openapi-typescript\s+/, "").replace(/--output\s+\S+/, "").trim().split(/\s+/);
  if (contract !== undefined) args[0] = contract;
  const cli = join(packageDir, "node_modules", "openapi-typescript", "bin", "cli.js");
  execFileSync(process.execPath, [cli, ...args, "--output", fresh], { cwd: packageDir, stdio: ["ignore", "ignore", "inherit"] });
  const want = readFileSync(fresh);
  const have = readFileSync(committed);
  if (!want.equals(have)) {
    const line = firstDifferentLine(want.toString("utf8"), have.toString("utf8"));
    console.error(`src/schema.ts drifted from openapi/voxscriber.yaml (first difference at line ${line.number}):`);
    console.error(`  generated: ${line.want}\n  committed: ${line.have}`);
    console.error("Run `npm run generate:types` in clients/js and commit src/schema.ts.");
    process.exitCode = 1;
  } else {
    console.log("src/schema.ts matches openapi/voxscriber.yaml");
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function firstDifferentLine(want, have) {
  const wantLines = want.split("\n");
  const haveLines = have.split("\n");
  for (let index = 0; index < Math.max(wantLines.length, haveLines.length); index++) {
    if (wantLines[index] !== haveLines[index]) {
      return { number: index + 1, want: wantLines[index] ?? "<end of file>", have: haveLines[index] ?? "<end of file>" };
    }
  }
  return { number: 0, want: "", have: "" };
}

// Read a folder's .dev.vars exactly as `wrangler dev` and getPlatformProxy() do: the pinned
// wrangler's own getVarsForDev (its bundled dotenv), on a config path in that folder.
// The expected values come on standard input and are compared here; only the verdicts are printed.
// Usage: node dev_vars_harness.mjs FOLDER   (stdin: {"NAME": "expected value", ...})
import { unstable_getVarsForDev } from "wrangler";
import { join } from "node:path";

const [folder] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const expected = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const vars = unstable_getVarsForDev(join(folder, "wrangler.toml"), undefined, {}, undefined, true);
const seen = {};
for (const [name, value] of Object.entries(expected)) {
  const binding = vars[name];
  seen[name] = binding === undefined ? "absent" : binding.value === value ? "equal" : "different";
}
process.stdout.write(JSON.stringify(seen) + "\n");

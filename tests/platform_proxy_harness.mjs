// Read a Worker's bindings the way its local development does: the pinned wrangler's
// getPlatformProxy() on its config and wrangler env, with the local state under .wrangler/state.
// The expected values come on standard input and are compared here; only the verdicts are printed.
// Usage: node platform_proxy_harness.mjs CONFIG ENV   (stdin: {"NAME": "expected value", ...})
import { getPlatformProxy } from "wrangler";
import { dirname, join } from "node:path";

const [configPath, environment] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const expected = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const { env, dispose } = await getPlatformProxy({
  configPath, environment: environment || undefined,
  persist: { path: join(dirname(configPath), ".wrangler", "state", "v3") },
  remoteBindings: false,
});
try {
  const seen = {};
  for (const [name, value] of Object.entries(expected)) {
    const binding = env[name];
    if (typeof binding === "string") {
      seen[name] = { kind: "string", equal: binding === value };
    } else if (binding && typeof binding.get === "function") {
      seen[name] = { kind: "store", equal: (await binding.get()) === value };
    } else {
      seen[name] = { kind: binding === undefined ? "absent" : typeof binding, equal: false };
    }
  }
  process.stdout.write(JSON.stringify(seen) + "\n");
} finally {
  await dispose();
}

// Run the compiled accessor (secrets.js) inside workerd under miniflare, with a Secrets Store
// binding that works, one whose secret does not exist (its .get() throws), a fallback copy beside
// each, and bindings that are absent. Prints each route's answer and every warning the isolate
// logged, as JSON. Usage: node accessor_harness.mjs DIR_WITH_SECRETS_JS VALUES_JSON
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [dir, valuesJson] = process.argv.slice(2);
const values = JSON.parse(readFileSync(valuesJson, "utf8"));
const worker = `
import { readSecret, MissingSecretError } from "./secrets.js";
export default {
  async fetch(request, env) {
    const route = new URL(request.url).pathname.slice(1);
    const [name] = route.split("/");
    try {
      const value = await readSecret(env[name], name, env[name + "_FALLBACK"]);
      return new Response(value === env.EXPECT_STORE ? "store" : value === env[name + "_FALLBACK"] ? "fallback" : "other");
    } catch (err) {
      return new Response(JSON.stringify([err.name, err.message, err instanceof MissingSecretError]), { status: 500 });
    }
  },
};`;
const warnings = [];
const mf = new Miniflare({
  modules: [
    { type: "ESModule", path: join(dir, "worker.js"), contents: worker },
    { type: "ESModule", path: join(dir, "secrets.js"), contents: readFileSync(join(dir, "secrets.js"), "utf8") },
  ],
  modulesRoot: dir,
  compatibilityDate: "2025-09-01",
  secretsStoreSecrets: {
    STORE_OK: { store_id: "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e", secret_name: "STORE_OK_STAGING" },
    STORE_BROKEN: { store_id: "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e", secret_name: "NEVER_CREATED" },
  },
  bindings: {
    EXPECT_STORE: values.store,
    STORE_OK_FALLBACK: values.copy,
    STORE_BROKEN_FALLBACK: values.copy,
    ABSENT_FALLBACK: values.copy,
  },
  structuredWorkerdLogs: true,
  handleStructuredLogs: (entry) => {
    if (entry.level === "warn") warnings.push(entry.message);
  },
});
try {
  await (await mf.getSecretsStoreSecretAPI("STORE_OK"))().create(values.store);
  const answers = {};
  for (const route of ["STORE_OK", "STORE_BROKEN", "STORE_BROKEN", "ABSENT", "ABSENT", "NOTHING"]) {
    const res = await mf.dispatchFetch(`http://localhost/${route}`);
    (answers[route] ??= []).push(`${res.status} ${await res.text()}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));  // let the last log lines arrive
  process.stdout.write(JSON.stringify({ answers, warnings }) + "\n");
} finally {
  await mf.dispose();
}

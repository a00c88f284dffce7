// Run a bundled Worker under miniflare with legacy (string) or Secrets Store bindings and print
// each route's answer as JSON. Usage: node worker_harness.mjs BUNDLE legacy|store VALUES_JSON ROUTES_JSON
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";

const [bundle, mode, valuesJson, routesJson] = process.argv.slice(2);
const values = JSON.parse(readFileSync(valuesJson, "utf8"));
const routes = JSON.parse(routesJson);
const options = {
  modules: true,
  scriptPath: bundle,
  modulesRoot: dirname(bundle),
  compatibilityDate: "2025-09-01",
  kvNamespaces: ["CACHE"],
  bindings: { ENVIRONMENT: "production" },
};
if (mode === "legacy") {
  Object.assign(options.bindings, values);
} else {
  options.secretsStoreSecrets = Object.fromEntries(
    Object.keys(values).map((name) => [name, { store_id: "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e", secret_name: `${name}_STAGING` }]),
  );
}
const mf = new Miniflare(options);
try {
  if (mode === "store") {
    for (const [name, value] of Object.entries(values)) {
      const admin = await mf.getSecretsStoreSecretAPI(name);
      await admin().create(value);
    }
  }
  const answers = {};
  for (const route of routes) {
    const res = await mf.dispatchFetch(`http://localhost${route}`);
    answers[route] = `${res.status} ${await res.text()}`;
  }
  process.stdout.write(JSON.stringify(answers) + "\n");
} finally {
  await mf.dispose();
}

// Run the compiled accessor and the worked webhook example (worker-kit/examples/verify-webhook.ts)
// inside workerd under miniflare, for a secret rotated with overlap bound both ways: from the
// store (WEBHOOK: the binding and its _PREVIOUS are store secrets) and as strings (SLACK), plus
// one outside a window (SAME: _PREVIOUS equals the current value). Prints, as JSON, what
// readSecretCandidates gave for each and which key verified each signature.
// Usage: node overlap_harness.mjs DIR_WITH_COMPILED_JS VALUES_JSON
import { Miniflare } from "miniflare";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [dir, valuesJson] = process.argv.slice(2);
const v = JSON.parse(readFileSync(valuesJson, "utf8"));
const worker = `
import { readSecretCandidates } from "./secrets.js";
import { verifySignature, sign } from "./examples/verify-webhook.js";
import example from "./examples/verify-webhook.js";
export default {
  async fetch(request, env) {
    const [what, name] = new URL(request.url).pathname.slice(1).split("/");
    if (what === "candidates") return Response.json(await readSecretCandidates(env, name));
    if (what === "verify") {
      return Response.json(await verifySignature(env, name, await request.text(), request.headers.get("x-signature")));
    }
    if (what === "sign") return new Response(await sign(env, name, await request.text()));
    return example.fetch(request, { WEBHOOK_SIGNING_SECRET: env.WEBHOOK, WEBHOOK_SIGNING_SECRET_PREVIOUS: env.WEBHOOK_PREVIOUS });
  },
};`;
const store = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e";
const mf = new Miniflare({
  modules: [
    { type: "ESModule", path: join(dir, "worker.js"), contents: worker },
    { type: "ESModule", path: join(dir, "secrets.js"), contents: readFileSync(join(dir, "secrets.js"), "utf8") },
    { type: "ESModule", path: join(dir, "examples", "verify-webhook.js"),
      contents: readFileSync(join(dir, "examples", "verify-webhook.js"), "utf8") },
  ],
  modulesRoot: dir,
  compatibilityDate: "2025-09-01",
  secretsStoreSecrets: {
    WEBHOOK: { store_id: store, secret_name: "WEBHOOK_SIGNING_SECRET_STAGING" },
    WEBHOOK_PREVIOUS: { store_id: store, secret_name: "WEBHOOK_SIGNING_SECRET_STAGING_PREVIOUS" },
  },
  bindings: { SLACK: v.new, SLACK_PREVIOUS: v.old, SAME: v.new, SAME_PREVIOUS: v.new },
});
try {
  await (await mf.getSecretsStoreSecretAPI("WEBHOOK"))().create(v.new);
  await (await mf.getSecretsStoreSecretAPI("WEBHOOK_PREVIOUS"))().create(v.old);
  const out = { candidates: {}, verified: {}, example: {} };
  for (const name of ["WEBHOOK", "SLACK", "SAME"]) {
    out.candidates[name] = await (await mf.dispatchFetch(`http://localhost/candidates/${name}`)).json();
    for (const [label, key] of Object.entries({ new: v.new, old: v.old, other: v.other })) {
      const signature = createHmac("sha256", key).update(v.body).digest("hex");
      const res = await mf.dispatchFetch(`http://localhost/verify/${name}`,
        { method: "POST", body: v.body, headers: { "x-signature": signature } });
      out.verified[`${name}:${label}`] = await res.json();
    }
  }
  const signed = await (await mf.dispatchFetch("http://localhost/sign/WEBHOOK", { method: "POST", body: v.body })).text();
  out.signedWithNew = signed === createHmac("sha256", v.new).update(v.body).digest("hex");
  for (const [label, key] of Object.entries({ new: v.new, old: v.old, other: v.other })) {
    const res = await mf.dispatchFetch("http://localhost/hook", { method: "POST", body: v.body,
      headers: { "x-signature": createHmac("sha256", key).update(v.body).digest("hex") } });
    out.example[label] = `${res.status} ${await res.text()}`;
  }
  process.stdout.write(JSON.stringify(out) + "\n");
} finally {
  await mf.dispose();
}

// Seed wrangler's local Secrets Store (what `wrangler secrets-store secret create` writes without
// --remote), exactly the way wrangler does it: its own miniflare, its own persistence root
// (`<dir>/.wrangler/state/v3`), one `create` per secret through the binding's admin API
// (wrangler 4.164.0, usingLocalSecretsStoreSecretAPI in src/secrets-store/commands.ts). Values
// arrive on standard input as JSON, never on the command line, and are never printed.
// Usage: node seed_local_store.mjs WORKER_DIR   (stdin: {"secrets": [{store_id, secret_name, value}]})
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const dir = resolve(process.argv[2]);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { secrets } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

// wrangler's own miniflare, so `wrangler dev` and getPlatformProxy read what was written.
const fromDir = createRequire(join(dir, "package.json"));
let miniflare;
try {
  miniflare = createRequire(fromDir.resolve("wrangler/package.json"))("miniflare");
} catch {
  miniflare = fromDir("miniflare");
}
const root = join(dir, ".wrangler", "state", "v3");
const bindings = Object.fromEntries(secrets.map((s, i) => [`SECRET_${i}`, { store_id: s.store_id, secret_name: s.secret_name }]));
const script = 'addEventListener("fetch", (e) => e.respondWith(new Response(null, { status: 404 })))';
const options = miniflare.convertV4MiniflareOptions
  ? miniflare.convertV4MiniflareOptions({ script, resourcePersistencePath: root, secretsStoreSecrets: bindings })
  : { script, defaultPersistRoot: root, secretsStoreSecrets: bindings };
const mf = new miniflare.Miniflare(options);
try {
  for (const [i, s] of secrets.entries()) {
    const admin = await mf.getSecretsStoreSecretAPI(`SECRET_${i}`);
    await admin().create(s.value);
  }
} finally {
  await mf.dispose();
}
process.stdout.write(JSON.stringify({ seeded: secrets.length, root }) + "\n");

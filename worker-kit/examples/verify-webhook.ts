// A worked example of rotation with overlap: verify an HMAC-SHA256 webhook signature against the
// signing secret's current value and, during an overlap window, its previous one. A sender still
// signing with the old key keeps working until the window retires; then only the new key verifies.
//
// Bind WEBHOOK_SIGNING_SECRET with `overlap_days` in secrets_manifest.yaml: the plane also binds
// WEBHOOK_SIGNING_SECRET_PREVIOUS (store or string, as the binding), and readSecretCandidates reads
// both. Sign with the current value only: the first candidate.
import { readSecretCandidates } from "../secrets.js";

const encoder = new TextEncoder();

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false,
    ["sign", "verify"]);
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const out = new Uint8Array(new ArrayBuffer(hex.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Which candidate verified the signature ("current" or "previous"), or null when none did. */
export async function verifySignature(env: object, name: string, body: string,
                                      signatureHex: string): Promise<"current" | "previous" | null> {
  const signature = fromHex(signatureHex);
  if (signature === null) return null;
  const candidates = await readSecretCandidates(env, name);
  for (let i = 0; i < candidates.length; i++) {
    // crypto.subtle.verify compares in constant time.
    if (await crypto.subtle.verify("HMAC", await hmacKey(candidates[i]), signature, encoder.encode(body))) {
      return i === 0 ? "current" : "previous";
    }
  }
  return null;
}

/** A signature made with the current value: what this Worker sends. */
export async function sign(env: object, name: string, body: string): Promise<string> {
  const [current] = await readSecretCandidates(env, name);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(current), encoder.encode(body)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

export default {
  async fetch(request: Request, env: object): Promise<Response> {
    const body = await request.text();
    const verified = await verifySignature(env, "WEBHOOK_SIGNING_SECRET", body,
      request.headers.get("x-signature") ?? "");
    // Never say which key matched to the caller; log it for the rotation's progress instead.
    if (verified === null) return new Response("bad signature", { status: 401 });
    if (verified === "previous") console.log("webhook verified with the previous signing secret");
    return new Response("ok");
  },
};

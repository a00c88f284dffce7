/**
 * secrets-plane accessor: read a Worker secret the same way whichever backend bound it.
 *
 * - legacy backend: `secret_text` bindings arrive as plain strings;
 * - store backend: `secrets_store_secret` bindings arrive as `{ get(): Promise<string> }`.
 *
 * Deploy code that reads through `readSecret` first; after that the backend flip (and the flip
 * back) needs no code change. Copy this file into the Worker project (for example
 * `src/lib/secrets.ts`) and run `python -m stacks codemod` to route reads through it.
 *
 * Phased adoption: where the manifest asks for a fallback copy, the Worker also has a secret_text
 * binding `<NAME>_FALLBACK` with the same value. Pass it as the third argument: when the store
 * binding's `.get()` throws (a Secrets Store incident, a pending secret) or the binding is absent
 * (a `wrangler deploy` dropped it), the copy is returned and one warning per isolate names the
 * binding (never the value).
 *
 * Rotation with overlap: a secret with `overlap_days` in the manifest also has `<NAME>_PREVIOUS`,
 * holding the value before the last rotation during its overlap window (the current value outside
 * one). `readSecretCandidates(env, "NAME")` gives the current value first and the previous one
 * second while they differ: verify a signature, or decrypt, with each in turn; sign and encrypt
 * with the first only.
 */

export interface SecretsStoreSecret {
  get(): Promise<string>;
}

export type SecretBinding = string | SecretsStoreSecret;

// Bindings already warned about in this isolate: one warning each, not one per request.
const warnedFallback = new Set<string>();

function useFallback(name: string, why: string): void {
  if (!warnedFallback.has(name)) {
    warnedFallback.add(name);
    console.warn(`secrets-plane: ${name}: ${why}; using its fallback copy ${name}_FALLBACK`);
  }
}

/** Thrown when a binding is absent or its store secret does not exist; names the binding. */
export class MissingSecretError extends Error {
  readonly binding: string;

  constructor(binding: string, detail: string) {
    super(`secret binding ${binding}: ${detail}`);
    this.name = "MissingSecretError";
    this.binding = binding;
  }
}

/**
 * The secret's value. Call it inside a request handler (never at module scope: a store secret is
 * read at request time, which is what makes rotation take effect without a deploy).
 */
export async function readSecret(
  binding: SecretBinding | null | undefined,
  name = "(unnamed)",
  fallback?: string | null,
): Promise<string> {
  if (typeof binding === "string") {
    return binding;
  }
  if (binding !== null && binding !== undefined && typeof binding.get === "function") {
    try {
      return await binding.get();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (typeof fallback === "string") {
        useFallback(name, `the store secret could not be read (${reason})`);
        return fallback;
      }
      throw new MissingSecretError(name, `the store secret could not be read (${reason}); check the Secrets Store and the binding's secret_name`);
    }
  }
  if (typeof fallback === "string") {
    useFallback(name, "no such binding on this Worker");
    return fallback;
  }
  throw new MissingSecretError(name, "no such binding on this Worker; check secrets_manifest.yaml and the deploy");
}

// Previous values that could not be read, warned about once per isolate.
const warnedPrevious = new Set<string>();

/**
 * The values a secret rotated with overlap may hold right now: the current one first, then the
 * previous one while it differs (during the overlap window). Each is read as `readSecret` reads
 * it, with its fallback copy (`<NAME>_FALLBACK`, `<NAME>_PREVIOUS_FALLBACK`) where there is one.
 * A Worker without `<NAME>_PREVIOUS`, or one whose previous value cannot be read, gets the current
 * value alone (one warning per isolate names the binding, never a value): the current value is
 * never withheld because the previous one failed.
 */
export async function readSecretCandidates(env: object, name: string): Promise<string[]> {
  const bindings = env as Record<string, unknown>;
  const current = await readSecret(bindings[name] as SecretBinding | undefined, name,
    bindings[`${name}_FALLBACK`] as string | undefined);
  const previousName = `${name}_PREVIOUS`;
  const previousBinding = bindings[previousName] as SecretBinding | null | undefined;
  if (previousBinding === undefined || previousBinding === null) {
    return [current];
  }
  let previous: string;
  try {
    previous = await readSecret(previousBinding, previousName, bindings[`${previousName}_FALLBACK`] as string | undefined);
  } catch (err) {
    if (!warnedPrevious.has(previousName)) {
      warnedPrevious.add(previousName);
      const reason = err instanceof Error ? err.message : String(err);
      console.warn(`secrets-plane: ${previousName} could not be read (${reason}); using ${name} alone`);
    }
    return [current];
  }
  return previous === current ? [current] : [current, previous];
}

/**
 * A per-request view of `env` in which each named Secrets Store binding's `.get()` runs at most
 * once and is reused for the rest of the request. Create it at the top of each handler:
 *
 *   async fetch(request, env, ctx) { env = withSecretMemo(env, SECRET_BINDINGS); ... }
 *
 * Only the listed names are wrapped (a KV namespace also has a `.get`); strings pass through.
 */
export function withSecretMemo<E extends object>(env: E, names: readonly string[]): E {
  const wanted = new Set<PropertyKey>(names);
  const cache = new Map<PropertyKey, SecretsStoreSecret>();
  return new Proxy(env, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (!wanted.has(prop) || typeof value === "string" || value === null || typeof value !== "object"
          || typeof (value as SecretsStoreSecret).get !== "function") {
        return value;
      }
      let memo = cache.get(prop);
      if (memo === undefined) {
        const binding = value as SecretsStoreSecret;
        let pending: Promise<string> | undefined;
        memo = { get: () => (pending ??= binding.get()) };
        cache.set(prop, memo);
      }
      return memo;
    },
  });
}

"""The codemod over Worker sources from public repositories (tests/fixtures/corpus/sources, with
their provenance): each Worker's files under a manifest that names the secrets it reads, run
through the command line. Every read of a named secret is rewritten or listed with its place and
reason, exactly as written down here; nothing else changes (no `process.env`, no string, no
binding that is not a secret); a store read keeps one call; a second run changes nothing; and the
rewritten files compile with the pinned TypeScript and @cloudflare/workers-types, against an Env
that types each secret as both shapes (`string | SecretsStoreSecret`, what `types` generates),
which the unrouted originals fail where they use a secret as a string."""

from __future__ import annotations

import difflib
import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import NODE_BIN, NODE_ENV, ROOT, need_node

from stacks.cli import main

SOURCES = ROOT / "tests" / "fixtures" / "corpus" / "sources"
# The corpus names public addresses (links in comments, URLs as vars): text only, never reached.
pytestmark = pytest.mark.usefixtures("loopback_only")
DUAL = "string | SecretsStoreSecret"


@dataclass
class Worker:
    files: list[str]
    secrets: list[str]
    rewritten: dict[str, list[str]] = field(default_factory=dict)  # file -> each rewritten line, whole
    left: list[str] = field(default_factory=list)  # "file:line:col: NAME: the start of the reason"
    store: int = 0  # store reads (`.get()`) among the rewritten
    stubs: dict[str, str] = field(default_factory=dict)  # what the sources import, typed, by path in the Worker
    options: dict[str, object] = field(default_factory=dict)  # compiler options beside the strict ones
    fails_unrouted: bool = False  # the original uses a secret as a string: it must fail the same check


AGENTS = """declare module "agents" {
  export class Agent<E, S = unknown> { env: E; state: S; setState(state: S): void; }
  export function callable(): <T>(target: T, context: ClassMethodDecoratorContext) => T;
}
declare module "node:buffer" {
  export const Buffer: { from(data: ArrayBuffer): { toString(encoding: string): string } };
}
"""
HONO = """declare module "hono" {
  export interface Context<E extends { Bindings?: object } = { Bindings: object }> {
    env: E["Bindings"]; req: { path: string }; json(body: unknown, status?: number): Response;
    set(key: string, value: unknown): void;
  }
  export type Next = () => Promise<void>;
  export type MiddlewareHandler = (c: Context, next: Next) => Promise<Response | void>;
}
declare module "hono/cookie" { export function getCookie(c: unknown, name: string): string | undefined; }
declare module "x402-hono" {
  export function paymentMiddleware(payTo: string, routes: unknown, facilitator?: unknown): import("hono").MiddlewareHandler;
}
"""

WORKERS: dict[str, Worker] = {
    "agents-elevenlabs": Worker(
        ["agents-elevenlabs-music.ts"], ["ELEVENLABS_API_KEY"],
        rewritten={"agents-elevenlabs-music.ts": [
            '    const client = createClient(await readSecret(this.env.ELEVENLABS_API_KEY, "ELEVENLABS_API_KEY"));']},
        stubs={"shims.d.ts": AGENTS,
               "env.d.ts": f"interface Env {{ ELEVENLABS_API_KEY: {DUAL}; AUDIO_BUCKET: R2Bucket }}\n",
               "lib/elevenlabs.ts": "export function createClient(apiKey: string) {\n"
                                    "  return { apiKey, music: { compose: async (o: object) => new Blob([]).stream() } };\n}\n"},
        fails_unrouted=True),
    "agents-x402": Worker(
        ["agents-x402-server.ts"], ["CLIENT_TEST_PK", "SERVER_ADDRESS"],
        left=["agents-x402-server.ts:87:50: (env): env object passed to `routeAgentRequest()`"]),
    "discord-awwbot": Worker(
        ["discord-awwbot-register.js", "discord-awwbot-server.js"],
        ["DISCORD_TOKEN", "DISCORD_APPLICATION_ID", "DISCORD_PUBLIC_KEY"],
        rewritten={"discord-awwbot-server.js": [
            '        const applicationId = await readSecret(env.DISCORD_APPLICATION_ID, "DISCORD_APPLICATION_ID");',
            '    (await verifyKey(body, signature, timestamp, await readSecret(env.DISCORD_PUBLIC_KEY, "DISCORD_PUBLIC_KEY")));']},
        left=["discord-awwbot-server.js:33:31: DISCORD_APPLICATION_ID: inside non-async function `<anonymous>`"]),
    "hacs-bot": Worker(
        ["hacs-bot-index.ts"], ["PRIVATE_KEY", "WEBHOOK_SECRET", "SLACK_WEBHOOK", "DISCORD_WEBHOOK", "SENTRY_DSN"],
        left=["hacs-bot-index.ts:19:10: SENTRY_DSN: inside non-async function `<anonymous>`",
              "hacs-bot-index.ts:46:39: (env): env object passed to `handleRequest()`"]),
    "llm-bots": Worker(
        ["llm-bots-telegram-gpt-index.js", "llm-bots-telegram-gpt-telegram.js"], ["OPENAI_API_KEY", "ADMIN_CHAT_ID"],
        left=["llm-bots-telegram-gpt-index.js:6:37: (env): env spread into another object (`...env`)"]),
    "mcp-dex": Worker(
        ["mcp-dex-warp-diag-reader.ts"], ["DEV_CLOUDFLARE_API_TOKEN"],
        rewritten={"mcp-dex-warp-diag-reader.ts": [
            "\t\t\t\tAuthorization: `Bearer ${await readSecret(this.env.DEV_CLOUDFLARE_API_TOKEN, "
            "\"DEV_CLOUDFLARE_API_TOKEN\")}`,"]},
        stubs={"shims.d.ts": 'declare module "jszip" {\n  export default class JSZip {\n'
                             "    files: Record<string, { dir: boolean }>;\n"
                             "    file(path: string): { async(kind: \"text\"): Promise<string> } | null;\n"
                             "    loadAsync(data: ArrayBuffer): Promise<JSZip>;\n  }\n}\n",
               "src/dex-analysis.context.ts": f"export interface Env {{ DEV_CLOUDFLARE_API_TOKEN: {DUAL}; "
                                              "DEV_DISABLE_OAUTH?: string; WARP_DIAG_READER: DurableObjectNamespace }\n"}),
    "orange": Worker(
        ["orange-getIceServers.server.ts", "orange-room-route.tsx"], ["TURN_SERVICE_ID", "TURN_SERVICE_TOKEN"],
        left=["orange-getIceServers.server.ts:3:37: TURN_SERVICE_ID: destructured in the parameters of `getIceServers`",
              "orange-getIceServers.server.ts:3:37: TURN_SERVICE_TOKEN: destructured in the parameters of `getIceServers`"]),
    "philosify": Worker(
        ["philosify-check-stripe-production.js", "philosify-models-openai.js"], ["STRIPE_SECRET_KEY", "OPENAI_API_KEY"],
        rewritten={"philosify-check-stripe-production.js": [
                       '        const stripeKey = await readSecret(env.STRIPE_SECRET_KEY, "STRIPE_SECRET_KEY");'],
                   "philosify-models-openai.js": [
                       '  const apiKey = await getSecret(await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY"));']},
        store=1),
    "serverless-registry": Worker(
        ["serverless-registry-authentication-method.ts"],
        ["JWT_REGISTRY_TOKENS_PUBLIC_KEY", "USERNAME", "PASSWORD", "READONLY_USERNAME", "READONLY_PASSWORD"],
        # The presence tests (`if (env.X)`, `env.A && env.B`) stay: the same for both shapes.
        rewritten={"serverless-registry-authentication-method.ts": [
            '    return await newRegistryTokens(await readSecret(env.JWT_REGISTRY_TOKENS_PUBLIC_KEY, '
            '"JWT_REGISTRY_TOKENS_PUBLIC_KEY"));',
            '      credentials.push({ username: await readSecret(env.USERNAME, "USERNAME"), password: await '
            'readSecret(env.PASSWORD, "PASSWORD"), capabilities: ["pull", "push"] });',
            '      credentials.push({ username: await readSecret(env.READONLY_USERNAME, "READONLY_USERNAME"), password: '
            'await readSecret(env.READONLY_PASSWORD, "READONLY_PASSWORD"), capabilities: ["pull"] });']},
        stubs={"index.ts": "export interface Env {\n" + "".join(
                   f"  {n}?: {DUAL};\n" for n in ["JWT_REGISTRY_TOKENS_PUBLIC_KEY", "USERNAME", "PASSWORD",
                                                  "READONLY_USERNAME", "READONLY_PASSWORD"]) + "}\n",
               "src/token.ts": "export async function newRegistryTokens(publicKey: string) { return publicKey; }\n",
               "src/user.ts": "export interface AuthenticatorCredentials { username: string; password: string; "
                              "capabilities: string[] }\n"
                              "export class UserAuthenticator { constructor(readonly credentials: "
                              "AuthenticatorCredentials[]) {} }\n"},
        fails_unrouted=True),
    "tpl-builds": Worker(
        ["tpl-workers-builds-notifications-api.ts"], ["CLOUDFLARE_API_TOKEN"],
        rewritten={"tpl-workers-builds-notifications-api.ts": [
            '\t\t\t\theaders: { Authorization: `Bearer ${await readSecret(env.CLOUDFLARE_API_TOKEN, '
            '"CLOUDFLARE_API_TOKEN")}` },'] * 3},
        stubs={"src/types.ts": f"export interface Env {{ CLOUDFLARE_API_TOKEN?: {DUAL} }}\n"
                               "export interface CloudflareEvent { source?: { workerName?: string }; metadata: "
                               "{ accountId?: string }; payload: { buildUuid: string; buildTriggerMetadata?: "
                               "{ repoName?: string } } }\n"
                               "export interface BuildDetailsResponse { result?: { preview_url?: string } }\n"
                               "export interface SubdomainResponse { result?: { subdomain?: string } }\n"
                               "export interface LogsResponse { result?: { lines?: [number, string][]; "
                               "truncated?: boolean; cursor?: string } }\n"}),
    "tpl-x402": Worker(
        ["tpl-x402-proxy-auth.ts"], ["JWT_SECRET"],
        rewritten={"tpl-x402-proxy-auth.ts": ['\t\t\tconst jwtSecret = await readSecret(c.env.JWT_SECRET, "JWT_SECRET");']},
        stubs={"shims.d.ts": HONO,
               "src/jwt.ts": "export async function verifyJWT(token: string, secret: string): Promise<object | null> "
                             "{\n  return token === secret ? {} : null;\n}\n",
               "src/env.ts": f"export interface Env {{ JWT_SECRET: {DUAL}; PAY_TO: string; NETWORK: string; "
                             "FACILITATOR_URL?: string }\nexport type AppContext = { Bindings: Env };\n"},
        fails_unrouted=True),
    "wsdk-auth": Worker(
        ["wsdk-auth-service-index.ts"], ["AUTH_PUBLIC_KEY"],
        rewritten={"wsdk-auth-service-index.ts": [
            '\t\t\tconst publicKey = await importSPKI(await readSecret(env.AUTH_PUBLIC_KEY, "AUTH_PUBLIC_KEY"), alg);']},
        stubs={"shims.d.ts": 'declare module "jose" {\n'
                             "  export function importSPKI(spki: string, alg: string): Promise<CryptoKey>;\n"
                             "  export function jwtVerify(token: string, key: CryptoKey, options?: object): "
                             "Promise<{ payload: object }>;\n}\n",
               "env.d.ts": f"interface Env {{ AUTH_PUBLIC_KEY: {DUAL} }}\n"},
        fails_unrouted=True),
    "wsdk-triage": Worker(
        ["wsdk-auto-triage-github-channel.ts"], ["GITHUB_TOKEN", "GITHUB_WEBHOOK_SECRET"],
        left=["wsdk-auto-triage-github-channel.ts:29:8: GITHUB_TOKEN: module scope",
              "wsdk-auto-triage-github-channel.ts:74:17: GITHUB_WEBHOOK_SECRET: module scope"]),
    "wsdk-format-errors": Worker(
        ["wsdk-format-errors-index.ts"], ["PROMETHEUS_TOKEN", "SENTRY_ACCESS_CLIENT_ID", "SENTRY_ACCESS_CLIENT_SECRET"],
        rewritten={"wsdk-format-errors-index.ts": [
            '\t\t\t\t\tAuthorization: `Bearer ${await readSecret(env.PROMETHEUS_TOKEN, "PROMETHEUS_TOKEN")}`,',
            '\t\t\t\t\t"CF-Access-Client-ID": await readSecret(env.SENTRY_ACCESS_CLIENT_ID, "SENTRY_ACCESS_CLIENT_ID"),',
            '\t\t\t\t\t"CF-Access-Client-Secret": await readSecret(env.SENTRY_ACCESS_CLIENT_SECRET, '
            '"SENTRY_ACCESS_CLIENT_SECRET"),']},
        stubs={"shims.d.ts": 'declare module "@cloudflare/workers-utils/prometheus-metrics" {\n'
                             "  export class MetricsRegistry { createCounter(name: string, help: string): "
                             "{ inc(): void }; metrics(): string; }\n}\n"
                             'declare module "toucan-js" {\n  export class Toucan { constructor(options: object); '
                             "captureException(error: unknown): void; }\n}\n"
                             'declare module "zod" {\n  export namespace z { type ZodType<T> = { parse(value: unknown): T; '
                             "optional(): unknown }; }\n  export const z: any;\n}\n",
               "src/Youch.ts": "export default class Youch {\n  constructor(readonly error: unknown, readonly request: "
                               "object) {}\n  addLink(link: () => string): void {}\n"
                               "  async toHTML(): Promise<string> { return \"\"; }\n}\n"}),
    "wsdk-interactive": Worker(["wsdk-interactive-worker-a.mjs"], ["API_TOKEN"]),
    "wsdk-pages": Worker(
        # VAR1 is a plain var in its config; named a secret here to route a Pages Function's `context.env`.
        ["wsdk-pages-holiday.ts"], ["VAR1"],
        rewritten={"wsdk-pages-holiday.ts": ['\t\t\t`If we took a ${await readSecret(context.env.VAR1, "VAR1")}\\n` +']},
        options={"noImplicitAny": False}),  # `onRequest(context)` is untyped in the source
    "wsdk-secrets-store": Worker(
        ["wsdk-secrets-store-index.ts"], ["SECRET"],
        rewritten={"wsdk-secrets-store-index.ts": ['\t\t\tconst value = await readSecret(env.SECRET, "SECRET");']},
        store=1),
    "wsdk-vite-dev-vars": Worker(
        ["wsdk-vite-dev-vars-index.ts"], ["MY_DEV_VAR_A", "MY_DEV_VAR_B", "MY_DEV_VAR_C"],
        left=["wsdk-vite-dev-vars-index.ts:10:21: (env): the rest element `...dotDevDotVarsVariables` holds the env's "
              "other bindings"]),
}


def test_the_corpus_is_every_source_file_once() -> None:
    listed = {f for w in WORKERS.values() for f in w.files}
    on_disk = {p.name for p in SOURCES.iterdir() if p.name != "PROVENANCE.md"}
    assert sorted(listed) == sorted(on_disk)
    provenance = (SOURCES / "PROVENANCE.md").read_text()
    assert all(f"| `{name}` |" in provenance for name in on_disk)


@pytest.fixture(scope="module")
def corpus_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("corpus") / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    secrets = sorted({s for w in WORKERS.values() for s in w.secrets})
    manifest = {"version": 1, "backend": "legacy",
                "secrets": {s: {"description": "read by a corpus Worker", "owner": "corpus", "provider": "corpus",
                                "rotation_days": 90} for s in secrets},
                "workers": {name: {"script_name": name, "stacks": ["staging"], "secrets": w.secrets}
                            for name, w in WORKERS.items()}}
    (project / "secrets_manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return project


def codemod(project: Path, worker: str, *extra: str) -> tuple[int, str, str]:
    src = project / worker / "src"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), "codemod", str(src), "--worker", worker,
                     "--accessor", str(src / "lib" / "secrets.ts"), *extra])
    return code, out.getvalue().replace(f"{src}/", ""), err.getvalue().replace(f"{src}/", "")


def place(project: Path, worker: str) -> Path:
    root = project / worker
    if root.exists():
        shutil.rmtree(root)
    (root / "src" / "lib").mkdir(parents=True)
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", root / "src" / "lib" / "secrets.ts")
    for name in WORKERS[worker].files:
        shutil.copyfile(SOURCES / name, root / "src" / name)
    return root


def tsc(root: Path, worker: Worker) -> subprocess.CompletedProcess[str]:
    """`tsc --noEmit`, strict, with @cloudflare/workers-types and the stubs; JavaScript is parsed
    and resolved but not type-checked (allowJs, checkJs off)."""
    for path, text in worker.stubs.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    config = {"compilerOptions": {"target": "es2022", "module": "es2022", "moduleResolution": "bundler",
                                  "lib": ["es2022"], "types": ["@cloudflare/workers-types"], "strict": True,
                                  "noEmit": True, "skipLibCheck": True, "allowJs": True, "checkJs": False,
                                  "jsx": "preserve", **worker.options},
              "include": ["**/*.ts", "**/*.tsx", "**/*.js", "**/*.mjs"]}
    (root / "tsconfig.json").write_text(json.dumps(config))
    if not (root / "node_modules").exists():
        (root / "node_modules").symlink_to(ROOT / "node_modules")
    return subprocess.run([str(NODE_BIN / "tsc"), "-p", str(root)], cwd=root, capture_output=True, text=True,
                          timeout=300, env=NODE_ENV)


def changed_lines(before: str, after: str) -> list[str]:
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    out: list[str] = []
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out += after.splitlines()[j1:j2]
    return out


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_every_named_read_is_rewritten_or_listed_and_nothing_else_changes(corpus_project: Path, name: str) -> None:
    worker = WORKERS[name]
    root = place(corpus_project, name)
    code, out, _ = codemod(corpus_project, name, "--write")
    assert code == 0, out
    summary, *listed = out.splitlines()
    rewritten = sum(line.count("readSecret(") for lines in worker.rewritten.values() for line in lines)
    named_left = [entry for entry in worker.left if ": (env): " not in entry]
    reads = rewritten + len(named_left)
    if reads:
        assert f": {reads} secret read(s) found in {len(worker.files)} file(s), {rewritten} rewritten now" in summary
    else:
        assert (f"0 secret read(s) found in {len(worker.files)} file(s)" in summary
                or summary.endswith(f"no secret read found in {len(worker.files)} file(s)"))
    assert (f"({worker.store} a store read `.get()`" in summary) == bool(worker.store)
    assert len(listed) == len(worker.left) and all(line.startswith(f"  {entry}")
                                                   for line, entry in zip(listed, worker.left, strict=True)), listed

    for file in worker.files:
        before, after = (SOURCES / file).read_text(), (root / "src" / file).read_text()
        expected = worker.rewritten.get(file, [])
        if not expected:
            assert after == before, f"{file}: nothing to route, nothing changed"
            continue
        assert sorted(changed_lines(before, after)) == sorted(['import { readSecret } from "./lib/secrets";', *expected])
        assert after.count("readSecret(") - before.count("readSecret(") == sum(line.count("readSecret(") for line in expected)
        for secret in worker.secrets:
            assert f"{secret}.get()" not in after, "a store read keeps one call, the accessor's"
        kept = [line for line in before.splitlines() if "process.env" in line]
        assert [line for line in after.splitlines() if "process.env" in line] == kept

    code, out, _ = codemod(corpus_project, name, "--write")
    assert code == 0 and (" 0 rewritten now" in out or "no secret read found" in out or "nothing to change" in out)
    assert " 0 file(s) changed" in out or "nothing to change" in out or "no secret read found" in out


@pytest.mark.parametrize("name", sorted(n for n, w in WORKERS.items() if w.rewritten))
def test_the_rewritten_sources_compile_with_typescript_and_workers_types(corpus_project: Path, name: str) -> None:
    need_node()
    worker = WORKERS[name]
    root = place(corpus_project, name)
    if worker.fails_unrouted:
        unrouted = tsc(root, worker)
        assert unrouted.returncode != 0 and "SecretsStoreSecret" in unrouted.stdout, \
            "the check fails on a read the accessor does not route"
    assert codemod(corpus_project, name, "--write")[0] == 0
    proc = tsc(root, worker)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    javascript = [f for f in worker.files if f.endswith((".js", ".mjs")) and f in worker.rewritten]
    for file in javascript:
        # The JavaScript check is a real one: TypeScript-only syntax in a .js file fails it.
        text = (root / "src" / file).read_text()
        (root / "src" / file).write_text('import type { Env } from "./lib/secrets";\n' + text)
        assert tsc(root, worker).returncode != 0
        (root / "src" / file).write_text(text)


SHAPES_TS = """import { DurableObject } from "cloudflare:workers";

interface Env {
  TOKEN: string | SecretsStoreSecret;
  NOTES: KVNamespace;
}

async function sign(request: Request, bindings: Env): Promise<string> {
  return request.url + bindings.TOKEN.length;
}

export function later(env: Env): Promise<string> {
  return env.TOKEN.get().then((value) => value.trim());
}

export class Room extends DurableObject<Env> {
  async fetch(request: Request): Promise<Response> {
    const note = await this.env.NOTES.get("k");
    return new Response(this.env.TOKEN.length + (note ?? ""));
  }
}

export default {
  async fetch(request, e) {
    if (!e.TOKEN) return new Response("unset", { status: 500 });
    return new Response((await sign(request, e)) + (await later(e)) + process.env.TOKEN);
  },
} satisfies ExportedHandler<Env>;

declare const process: { env: Record<string, string | undefined> };
"""

SHAPES_MJS = """export default {
  async fetch(request, env) {
    const key = await env.TOKEN.get();
    return new Response(key + (await helper(env)));
  },
};

async function helper(bindings) {
  return bindings.TOKEN;
}
"""


def test_each_shape_of_env_rewritten_type_checks(corpus_project: Path) -> None:
    """A handler's env under another name, a helper handed it, a Durable Object's this.env, a store
    read kept as a promise in a function that is not async, a presence test, process.env beside
    them: the rewrite compiles under the dual-shape Env that the original fails."""
    need_node()
    manifest = corpus_project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["TOKEN"] = {"description": "shapes", "owner": "corpus", "provider": "corpus", "rotation_days": 90}
    data["workers"]["shapes"] = {"script_name": "shapes", "stacks": ["staging"], "secrets": ["TOKEN"]}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    root = corpus_project / "shapes"
    (root / "src" / "lib").mkdir(parents=True)
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", root / "src" / "lib" / "secrets.ts")
    (root / "src" / "index.ts").write_text(SHAPES_TS)
    (root / "src" / "worker.mjs").write_text(SHAPES_MJS)
    shapes = Worker(["index.ts", "worker.mjs"], ["TOKEN"])
    unrouted = tsc(root, shapes)
    assert unrouted.returncode != 0 and "SecretsStoreSecret" in unrouted.stdout
    code, out, _ = codemod(corpus_project, "shapes", "--write")
    assert code == 0 and out.startswith("codemod worker shapes: 5 secret read(s) found in 2 file(s), 5 rewritten now "
                                        "(2 a store read `.get()`, the call replaced)"), out
    ts = (root / "src" / "index.ts").read_text()
    assert 'return request.url + (await readSecret(bindings.TOKEN, "TOKEN")).length;' in ts
    assert 'return readSecret(env.TOKEN, "TOKEN").then((value) => value.trim());' in ts
    assert 'return new Response((await readSecret(this.env.TOKEN, "TOKEN")).length + (note ?? ""));' in ts
    assert "if (!e.TOKEN) return" in ts and "+ process.env.TOKEN);" in ts
    mjs = (root / "src" / "worker.mjs").read_text()
    assert 'const key = await readSecret(env.TOKEN, "TOKEN");' in mjs
    assert 'return await readSecret(bindings.TOKEN, "TOKEN");' in mjs
    proc = tsc(root, shapes)
    assert proc.returncode == 0, proc.stdout + proc.stderr

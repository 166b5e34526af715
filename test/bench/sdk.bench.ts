/**
 * Entitlements SDK benchmark. Run from the repository root (or all benches: npm run bench):
 *
 *   node_modules/.bin/tsx test/bench/sdk.bench.ts
 *
 * Measures, in one run, and writes test/bench/results/sdk.json:
 *   can_cached_ops_per_s              decisions/s of can() on verified, cached claims (goal ≥ 10,000,000)
 *   verify_cold_ratio_vs_raw_ed25519  SDK verify of a never-seen token (JWKS cached) ÷ node:crypto Ed25519 verify of the same bytes (goal ≤ 1.8)
 *   local_vs_http_ratio               local decisions/s (check() on a warm token cache) ÷ online checks/s (POST
 *                                     /v1/entitlements/check, sequential) against the real worker in workerd
 *                                     (test/harness/worker.ts), or ENTITLEMENTS_HTTP_URL + ENTITLEMENTS_API_KEY (goal ≥ 100)
 *   sdk_gzip_bytes                    esbuild bundle of packages/entitlements/src/index.ts (minified, ESM, neutral, with jose) gzipped (goal ≤ 10,000);
 *                                     the details say what it carries: each input's minified bytes (esbuild's metafile),
 *                                     jose's share, and the gzip size of the same bundle without jose; beside it, for information,
 *                                     the gzip size of the /manager entry (the token manager, which carries the verifier)
 */
import { KeyObject, verify as rawVerify } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createEntitlements, type EntitlementClaims } from "../../packages/entitlements/src/index.js";
import { createTokenManager } from "../../packages/entitlements/src/manager.js";
import { writeReport } from "./report.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const ISSUER = "https://billing.bench";
const AUDIENCE = "federal-job-advisor";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** An in-process worker: real Ed25519 keys, real JWKS JSON, real token endpoint handler behind `fetch`. */
async function localWorker() {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench-1", alg: "EdDSA", use: "sig" };
  let jti = 0;
  const sign = (sub: string) =>
    new SignJWT({
      sub,
      tier: "local",
      status: "active",
      features: ["job_search", "commute_search", "saved_searches", "email_alerts"],
      limits: { search_radius_miles: 50, saved_searches: 10 },
      trial_end: null,
      grace_until: null,
      upgrade: {
        nationwide_search: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "monthly" }, url: "https://app.example/upgrade?tier=mobile" },
      },
      billing_url: "https://billing.example/portal",
      jti: `t-${++jti}`,
    })
      .setProtectedHeader({ alg: "EdDSA", kid: "bench-1", typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(privateKey);
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    if (url.pathname === "/.well-known/jwks.json") return Response.json({ keys: [jwk] });
    if (url.pathname === "/v1/entitlements/token" && init?.method === "POST") {
      const { user_id } = JSON.parse(String(init.body)) as { user_id: string };
      return Response.json({ token: await sign(user_id), expires_at: new Date(Date.now() + 600_000).toISOString() });
    }
    return new Response(null, { status: 404 });
  };
  // The verifier of the main entry: what the gzip figure measures; tokens are handed to it, as a client would.
  const sdk = createEntitlements({ baseUrl: "https://billing.bench", issuer: ISSUER, audience: AUDIENCE, fetch: fetchImpl });
  return { sdk, sign, publicKey };
}

async function measureCan(): Promise<{ opsPerSec: number; rounds: number[] }> {
  const { sdk, sign } = await localWorker();
  const claims: EntitlementClaims = await sdk.verify(await sign("bench-user"));
  const features = ["job_search", "nationwide_search", "commute_search", "unknown_feature", "saved_searches", "email_alerts", "job_search", "nationwide_search"];
  const { can } = sdk;
  let sink = 0;
  const loop = (n: number) => {
    let allowed = 0;
    for (let i = 0; i < n; i++) {
      if (can(claims, features[i & 7]!).allowed) allowed++;
    }
    return allowed;
  };
  sink += loop(3_000_000); // warm-up (JIT)
  const N = 20_000_000;
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    sink += loop(N);
    const ns = Number(process.hrtime.bigint() - t0);
    rounds.push(N / (ns / 1e9));
  }
  if (sink === -1) console.log("unreachable", sink); // keep the result observable
  return { opsPerSec: median(rounds), rounds };
}

async function measureVerifyCold(): Promise<{ ratio: number; medianRatio: number; sdkUs: number; rawUs: number; rounds: number[] }> {
  const { sdk, sign, publicKey } = await localWorker();
  await sdk.verify(await sign("warm")); // JWKS cached
  const keyObject = KeyObject.from(publicKey);
  const ROUNDS = 25;
  const PER = 200;
  const WARM = 1500;
  const tokens: string[] = [];
  for (let i = 0; i < WARM + ROUNDS * PER; i++) tokens.push(await sign(`user-${i}`));
  const raw = tokens.map((t) => {
    const i = t.lastIndexOf(".");
    return { data: Buffer.from(t.slice(0, i)), sig: Buffer.from(t.slice(i + 1), "base64url") };
  });
  // warm-up both paths on tokens not used in the timed rounds
  for (let i = 0; i < WARM; i++) {
    await sdk.verify(tokens[i]!);
    rawVerify(null, raw[i]!.data, keyObject, raw[i]!.sig);
  }
  const ratios: number[] = [];
  const sdkTimes: number[] = [];
  const rawTimes: number[] = [];
  let ok = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const from = WARM + r * PER;
    let t0 = process.hrtime.bigint();
    for (let i = from; i < from + PER; i++) if (rawVerify(null, raw[i]!.data, keyObject, raw[i]!.sig)) ok++;
    const rawNs = Number(process.hrtime.bigint() - t0) / PER;
    t0 = process.hrtime.bigint();
    for (let i = from; i < from + PER; i++) if ((await sdk.verify(tokens[i]!)).sub) ok++; // each token verified for the first time
    const sdkNs = Number(process.hrtime.bigint() - t0) / PER;
    ratios.push(sdkNs / rawNs);
    sdkTimes.push(sdkNs);
    rawTimes.push(rawNs);
  }
  if (ok !== 2 * ROUNDS * PER) throw new Error("a verification failed during the benchmark");
  // Other processes only ever add time, and they hurt the async WebCrypto path (a thread-pool
  // hand-off) more than the synchronous raw call: compare the best round of each path (both
  // interleaved in the same run), and report the median of per-round ratios alongside.
  const best = Math.min(...sdkTimes) / Math.min(...rawTimes);
  return { ratio: best, medianRatio: median(ratios), sdkUs: Math.min(...sdkTimes) / 1000, rawUs: Math.min(...rawTimes) / 1000, rounds: ratios };
}

export interface LocalVsHttpOptions {
  /** The worker's base URL (e.g. Miniflare's http://127.0.0.1:8787). */
  url: string;
  /** A `service` API key of that worker. */
  apiKey: string;
  issuer: string;
  audience: string;
  /** A user the worker knows. */
  userId: string;
  feature: string;
  /** Timed HTTP requests (after 50 warm-up ones). Default 500. */
  iterations?: number;
}

/**
 * The SDK's local decision (`check()` on a warm token cache: claims verified once, then a cached
 * lookup) vs the worker's online check (`POST /v1/entitlements/check`, one HTTP round trip per
 * decision, sequential), same run. Returns local ops/s ÷ HTTP ops/s (higher is better).
 */
export async function measureLocalVsHttp(o: LocalVsHttpOptions): Promise<{ ratio: number; localOpsPerSec: number; httpOpsPerSec: number; localUs: number; httpUs: number }> {
  const sdk = createTokenManager({ baseUrl: o.url, apiKey: o.apiKey, issuer: o.issuer, audience: o.audience });
  const n = o.iterations ?? 500;
  const expected = await sdk.check(o.userId, o.feature); // warm: token + JWKS
  if (expected.reason === "unavailable") throw new Error(`the SDK could not get a token from ${o.url}: ${expected.error}`);
  const checkUrl = `${o.url.replace(/\/+$/, "")}/v1/entitlements/check`;
  const body = JSON.stringify({ user_id: o.userId, feature: o.feature });
  const once = async () => {
    const res = await fetch(checkUrl, { method: "POST", headers: { authorization: `Bearer ${o.apiKey}`, "content-type": "application/json" }, body });
    if (res.status !== 200) throw new Error(`online check answered HTTP ${res.status}: ${await res.text()}`);
    const d = (await res.json()) as { allowed: boolean; reason: string };
    if (d.reason !== expected.reason) throw new Error(`online check (${d.reason}) and local decision (${expected.reason}) disagree`);
  };
  for (let i = 0; i < 50; i++) await once();
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  const httpUs = ((performance.now() - t0) * 1000) / n;

  const local = async (count: number) => {
    let allowed = 0;
    for (let i = 0; i < count; i++) if ((await sdk.check(o.userId, o.feature)).allowed) allowed++;
    return allowed;
  };
  await local(200_000); // JIT warm-up
  const LOCAL_N = 1_000_000;
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    t0 = performance.now();
    await local(LOCAL_N);
    rounds.push(((performance.now() - t0) * 1000) / LOCAL_N);
  }
  const localUs = median(rounds);
  return { ratio: httpUs / localUs, localOpsPerSec: 1e6 / localUs, httpOpsPerSec: 1e6 / httpUs, localUs, httpUs };
}

/** The real worker (workerd via test/harness) with one known user, unless ENTITLEMENTS_HTTP_URL points at one. */
async function localVsHttpAgainstHarness() {
  const { startWorker } = await import("../harness/worker.ts");
  const worker = await startWorker();
  try {
    await worker.setEntitlement("bench-user", { tier: "mobile", status: "active" });
    return await measureLocalVsHttp({
      url: worker.url,
      apiKey: worker.serviceKey,
      issuer: worker.issuer,
      audience: worker.audience,
      userId: "bench-user",
      feature: "nationwide_job_search",
    });
  } finally {
    await worker.dispose();
  }
}

interface Bundle {
  /** The whole bundle (the metric). */
  gzip: number;
  /** The same bundle with jose left out: the SDK's own share. */
  gzipWithoutJose: number;
  /** The /manager entry bundled the same way: what an app that fetches tokens ships. */
  gzipManager: number;
  /** Minified bytes each input contributes (esbuild's metafile), largest first. */
  rawByInput: Record<string, number>;
  rawJose: number;
  rawTotal: number;
}

/** The root entry as an app bundles it (minified, ESM, neutral, tree-shaken), and what it carries. */
async function measureBundle(): Promise<Bundle> {
  const bundle = (external: string[], entry = "index.ts") =>
    build({
      entryPoints: [resolve(ROOT, "packages/entitlements/src", entry)],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      treeShaking: true,
      write: false,
      metafile: true,
      outfile: "entitlements.js",
      external,
      logLevel: "silent",
    });
  const full = await bundle([]);
  const withoutJose = await bundle(["jose"]);
  const manager = await bundle([], "manager.ts");
  const gzip = (b: typeof full) => gzipSync(b.outputFiles[0]!.contents, { level: 9 }).length;
  const inputs = Object.values(full.metafile.outputs)[0]!.inputs;
  const rows = Object.entries(inputs)
    .map(([file, { bytesInOutput }]) => [file.replace(/^.*node_modules\//, "").replace(/^packages\/entitlements\/src\//, "sdk:"), bytesInOutput] as const)
    .sort((a, b) => b[1] - a[1]);
  return {
    gzip: gzip(full),
    gzipWithoutJose: gzip(withoutJose),
    gzipManager: gzip(manager),
    rawByInput: Object.fromEntries(rows),
    rawJose: rows.filter(([f]) => f.startsWith("jose/")).reduce((n, [, b]) => n + b, 0),
    rawTotal: full.outputFiles[0]!.contents.length,
  };
}

async function main() {
  const notes: string[] = [];
  const can = await measureCan();
  const cold = await measureVerifyCold();
  let local: Awaited<ReturnType<typeof measureLocalVsHttp>>;
  const httpUrl = process.env.ENTITLEMENTS_HTTP_URL;
  const httpKey = process.env.ENTITLEMENTS_API_KEY;
  if (httpUrl && httpKey) {
    local = await measureLocalVsHttp({
      url: httpUrl,
      apiKey: httpKey,
      issuer: process.env.ENTITLEMENTS_ISSUER ?? httpUrl,
      audience: process.env.ENTITLEMENTS_AUDIENCE ?? "federal-job-advisor",
      userId: process.env.ENTITLEMENTS_USER_ID ?? "demo-user",
      feature: process.env.ENTITLEMENTS_FEATURE ?? "nationwide_job_search",
    });
    notes.push(`local_vs_http_ratio measured against ${httpUrl}.`);
  } else {
    local = await localVsHttpAgainstHarness();
    notes.push("local_vs_http_ratio measured against the worker in workerd on 127.0.0.1 (test/harness/worker.ts); set ENTITLEMENTS_HTTP_URL and ENTITLEMENTS_API_KEY to measure another worker.");
  }
  const bundle = await measureBundle();

  const metrics = {
    can_cached_ops_per_s: Math.round(can.opsPerSec),
    verify_cold_ratio_vs_raw_ed25519: Number(cold.ratio.toFixed(3)),
    local_vs_http_ratio: Math.round(local.ratio),
    sdk_gzip_bytes: bundle.gzip,
  };
  const goals = {
    can_cached_ops_per_s: { op: ">=", value: 10_000_000 },
    verify_cold_ratio_vs_raw_ed25519: { op: "<=", value: 1.8 },
    local_vs_http_ratio: { op: ">=", value: 100 },
    sdk_gzip_bytes: { op: "<=", value: 10_000 },
  } as const;
  writeReport("sdk", {
    metrics,
    goals,
    details: {
      can_rounds_ops_per_s: can.rounds.map(Math.round),
      verify_cold_estimator: "best round of each path (interleaved rounds of 200 never-seen tokens)",
      verify_cold_sdk_us: Number(cold.sdkUs.toFixed(2)),
      verify_cold_raw_us: Number(cold.rawUs.toFixed(2)),
      verify_cold_median_round_ratio: Number(cold.medianRatio.toFixed(3)),
      verify_cold_round_ratios: cold.rounds.map((r) => Number(r.toFixed(3))),
      local_check_us: Number(local.localUs.toFixed(3)),
      local_check_ops_per_s: Math.round(local.localOpsPerSec),
      http_check_us: Number(local.httpUs.toFixed(1)),
      http_check_ops_per_s: Math.round(local.httpOpsPerSec),
      bundle_gzip_without_jose_bytes: bundle.gzipWithoutJose,
      bundle_gzip_manager_entry_bytes: bundle.gzipManager,
      bundle_raw_bytes: bundle.rawTotal,
      bundle_raw_jose_bytes: bundle.rawJose,
      bundle_raw_bytes_by_input: bundle.rawByInput,
    },
    notes,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}

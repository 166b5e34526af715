import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { Core, type EmulatorOptions, API_VERSION } from "./core.ts";
import { createEmulatorServer, tickRealTime } from "./server.ts";
import { deserializeState, emptyState, serializeState } from "./store.ts";
import { addWebhookEndpoint } from "./resources/webhook-endpoints.ts";
import { runDue } from "./billing/scheduler.ts";
import type { ChaosOptions, DeliveryJob } from "./webhooks/deliver.ts";

export type { EmulatorOptions, SmartRetryOptions } from "./core.ts";
export type { ChaosOptions, DeliveryJob, DeliveryAttempt } from "./webhooks/deliver.ts";
export { signPayload } from "./webhooks/sign.ts";
export { seededRandom } from "./webhooks/rng.ts";
export { prorate } from "./proration.ts";
export { API_VERSION };

export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:12111 */
  url: string;
  host: string;
  port: number;
  /** The API key clients should use. */
  secretKey: string;
  /** Secret of the endpoint created by `forwardTo`, if any. */
  webhookSecret: string | null;
  webhookEndpointId: string | null;
  /** Resolves when no webhook delivery is pending or in flight (all delivered or parked). */
  idle(): Promise<void>;
  /** Resolves when every webhook delivery queued until now is delivered or parked (later ones may still be pending). */
  flushed(): Promise<void>;
  /** Runs everything due for objects not on a test clock, up to now() (or `ts`, seconds). */
  advanceTo(ts?: number): void;
  setChaos(chaos: ChaosOptions | null): void;
  setRetrySchedule(ms: number[]): void;
  deliveries(): DeliveryJob[];
  /** API requests served since start, by HTTP method (`{ GET: 3, POST: 1 }`), as `GET /_emulator/requests` answers. */
  requests(): Record<string, number>;
  /** Drops all state (and pending deliveries). */
  reset(): void;
  /** Writes the state snapshot now (also done on stop when stateFile is set). */
  save(): void;
  stop(): Promise<void>;
  /** The in-process core, for white-box tests. */
  core: Core;
}

const DEFAULT_KEY = "sk_test_emulator";

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const core = new Core(options);
  if (options.stateFile && existsSync(options.stateFile)) core.replaceState(deserializeState(readFileSync(options.stateFile, "utf8")));
  const server = createEmulatorServer(core);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? (address satisfies AddressInfo).port : 0;
  const url = `http://${host}:${port}`;
  core.baseUrl = url;
  let webhookSecret: string | null = null;
  let webhookEndpointId: string | null = null;
  if (options.forwardTo) {
    const existing = [...core.state.webhookEndpoints.values()].find((r) => r.endpoint.url === options.forwardTo);
    if (existing) {
      webhookSecret = existing.secret;
      webhookEndpointId = existing.endpoint.id;
    } else {
      const ep = addWebhookEndpoint(core, options.forwardTo, ["*"], options.webhookSecret, "emulator --forward-to");
      webhookEndpointId = ep.id;
      webhookSecret = core.state.webhookEndpoints.get(ep.id)?.secret ?? null;
    }
  }
  // Real-time objects (not on a test clock) renew on their own as time passes.
  const timer = setInterval(() => {
    try {
      tickRealTime(core);
    } catch (err) {
      if (options.verbose) console.error(err);
    }
  }, 1000);
  timer.unref();
  const save = (): void => {
    if (options.stateFile) writeFileSync(options.stateFile, serializeState(core.state));
  };
  return {
    url,
    host,
    port,
    secretKey: options.secretKey ?? DEFAULT_KEY,
    webhookSecret,
    webhookEndpointId,
    idle: () => core.deliverer.idle(),
    flushed: () => core.deliverer.flushed(),
    advanceTo: (ts?: number) => void runDue(core, null, ts ?? core.realNow()),
    setChaos: (chaos) => core.deliverer.setChaos(chaos),
    setRetrySchedule: (ms) => core.deliverer.setRetrySchedule(ms),
    deliveries: () => core.deliverer.log(),
    requests: () => Object.fromEntries(core.requestCounts),
    reset: () => {
      core.deliverer.clear();
      core.replaceState(emptyState());
    },
    save,
    stop: async () => {
      clearInterval(timer);
      save();
      core.deliverer.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    core,
  };
}

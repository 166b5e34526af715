/**
 * The compliance report: evidence gathered from the running system at the moment it is asked
 * for (configuration as the worker parsed it, the database as SQLite has it, requests sent
 * through the worker's own middleware), each item mapped to the PCI DSS / NIST SP 800-53
 * controls it supports and judged pass or fail. A check that cannot gather its evidence fails
 * and says why: an auditor must never read "pass" for something nobody looked at.
 */
import { desc, eq } from "drizzle-orm";
import { verifyAuditChain } from "../audit";
import { PERMISSIONS, type Permission } from "../auth";
import { apiKeys, backups, type Role } from "../db/schema";
import { coreConfig, webhookConfig, type Env } from "../env";
import { isDomainError } from "../errors";
import { dunningBacklog, parkedEvents, webhookLag, cronStatuses, MONITORING_THRESHOLDS } from "../monitoring";
import { instant, instantOrNull } from "../instant";
import type { Services } from "../services";
import { cardLikeColumn, scanForCardNumbers, tableColumns } from "./card-data";
import { CONTROLS, type ControlRef } from "./controls";
import { defaultPolicy, type CompliancePolicy } from "./policy";

const DAY = 86_400_000;
const HOUR = 3_600_000;

export const EVIDENCE_IDS = [
  "webhook_signatures",
  "no_card_data_columns",
  "no_card_data_stored",
  "audit_chain",
  "api_key_rotation",
  "signing_key_age",
  "rate_limits",
  "transport_security",
  "least_privilege",
  "backups",
  "failed_events",
  "dunning_backlog",
] as const;
export type EvidenceId = (typeof EVIDENCE_IDS)[number];

export interface EvidenceItem {
  id: EvidenceId;
  title: string;
  status: "pass" | "fail";
  /** One sentence on what was found. */
  detail: string;
  controls: ControlRef[];
  /** Why this evidence supports those controls (and where it only supports, not satisfies). */
  rationale: string;
  evidence: Record<string, unknown>;
}

export interface ComplianceReport {
  generated_at: string;
  environment: string;
  status: "pass" | "fail";
  summary: { pass: number; fail: number; failing: EvidenceId[] };
  policy: CompliancePolicy;
  items: EvidenceItem[];
}

export interface RouteDeclaration {
  method: string;
  path: string;
  permission: Permission;
}

export interface ComplianceInputs {
  env: Env;
  /**
   * Sends a request through this worker, every middleware included (the runtime's loopback to
   * its own fetch handler); null where the runtime offers none, and the checks that need it fail.
   */
  probe: ((request: Request) => Promise<Response>) | null;
  policy?: Partial<CompliancePolicy>;
}

/** What the checks share: the inputs, and the route table as the worker publishes it. */
interface Context extends ComplianceInputs {
  routes: RouteDeclaration[];
  routesError: string | null;
}

/**
 * The routes as the running worker serves them: its OpenAPI document, generated from each
 * route's declaration, carries the method, path and `x-permission` of every operation.
 */
async function publishedRoutes(input: ComplianceInputs): Promise<{ routes: RouteDeclaration[]; error: string | null }> {
  if (!input.probe) return { routes: [], error: "no loopback to read /openapi.json" };
  const res = await input.probe(new Request("https://compliance.probe/openapi.json"));
  if (!res.ok) return { routes: [], error: `GET /openapi.json answered ${res.status}` };
  const doc = (await res.json()) as { paths?: Record<string, Record<string, { "x-permission"?: string }>> };
  const routes: RouteDeclaration[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      if (typeof op !== "object" || op === null || !["get", "post", "put", "patch", "delete"].includes(method)) continue;
      routes.push({ method, path, permission: (op["x-permission"] ?? "undeclared") as Permission });
    }
  }
  return { routes, error: null };
}

type Deps = Pick<Services, "db" | "clock" | "checkpointKey">;
type Check = Omit<EvidenceItem, "id" | "title" | "controls" | "rationale">;

interface Definition {
  id: EvidenceId;
  title: string;
  controls: ControlRef[];
  rationale: string;
  run(s: Deps, input: Context, policy: CompliancePolicy): Promise<Check>;
}

const days = (ms: number) => Math.floor(ms / DAY);
const verdict = (ok: boolean): "pass" | "fail" => (ok ? "pass" : "fail");

/** A probe's answer as evidence: the status, the problem code if any, and chosen headers. */
async function probed(input: ComplianceInputs, request: Request, headers: string[] = []) {
  if (!input.probe) return null;
  const res = await input.probe(request);
  const text = await res.text();
  let code: string | null = null;
  try {
    code = (JSON.parse(text) as { code?: string }).code ?? null;
  } catch {
    // Not JSON: no problem code to report.
  }
  return { status: res.status, code, headers: Object.fromEntries(headers.map((h) => [h, res.headers.get(h)])) };
}

const WEBHOOK_PATH = "/webhooks/stripe";
const REPORT_PATH = "/v1/compliance/report";

const definitions: Definition[] = [
  {
    id: "webhook_signatures",
    title: "Stripe webhooks are accepted only with a valid signature",
    controls: [CONTROLS.si7, CONTROLS.sc8, CONTROLS.sc13],
    rationale:
      "Stripe's events change what customers may use; the HMAC-SHA256 signature (SC-13) checked on the raw body before parsing is what shows an event came from Stripe unaltered (SI-7, SC-8 integrity). " +
      "Evidence is the secrets as the worker parses them (count only), the route's declared permission, and a request with a wrong signature sent through the worker, which must be refused.",
    async run(s, input) {
      let secrets = 0;
      let configError: string | null = null;
      try {
        secrets = webhookConfig(input.env).STRIPE_WEBHOOK_SECRETS.length;
      } catch (e) {
        configError = isDomainError(e) ? e.message : String(e);
      }
      const route = input.routes.find((r) => r.path === WEBHOOK_PATH && r.method === "post");
      const body = JSON.stringify({ id: "evt_compliance_probe", object: "event", type: "compliance.probe", created: Math.floor(s.clock.now() / 1000), data: { object: {} } });
      const probe = await probed(
        input,
        new Request(`https://compliance.probe${WEBHOOK_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", "stripe-signature": `t=${Math.floor(s.clock.now() / 1000)},v1=${"0".repeat(64)}` },
          body,
        }),
      );
      const refused = probe !== null && probe.status === 400 && probe.code === "invalid_signature";
      const ok = configError === null && secrets > 0 && route?.permission === "stripe_signature" && refused;
      const detail = configError
        ? `Webhook secrets are not configured: ${configError}`
        : !probe
          ? "The worker could not send itself a probe request (no loopback in this runtime), so signature enforcement was not observed."
          : route?.permission !== "stripe_signature"
            ? `POST ${WEBHOOK_PATH} does not declare the stripe_signature permission (${route ? route.permission : input.routesError ? `route table unreadable: ${input.routesError}` : "no such route"}).`
            : !refused
              ? `A wrongly signed event was answered ${probe.status} ${probe.code ?? ""}, not refused with invalid_signature.`
              : `${secrets} webhook secret(s) configured; a wrongly signed event was refused (400 invalid_signature).`;
      return {
        status: verdict(ok),
        detail,
        evidence: { secrets_configured: secrets, config_error: configError, route: route ? { method: "POST", path: WEBHOOK_PATH, permission: route.permission } : null, probe },
      };
    },
  },
  {
    id: "no_card_data_columns",
    title: "The database schema has no column for card numbers, security codes, PINs or track data",
    controls: [CONTROLS.saqA_eligibility, CONTROLS.saqA_3_1_1, CONTROLS.pci_3_2_1],
    rationale:
      "SAQ A applies only while the merchant stores no account data: Checkout collects cards on Stripe's pages. The columns are read from SQLite itself (sqlite_master and pragma_table_info), so a column added outside the migrations shows too.",
    async run(s) {
      const columns = await tableColumns(s.db);
      const flagged = columns.flatMap((c) => {
        const why = cardLikeColumn(c.column);
        return why ? [{ table: c.table, column: c.column, type: c.type, why }] : [];
      });
      const tables = new Set(columns.map((c) => c.table)).size;
      return {
        status: verdict(flagged.length === 0 && columns.length > 0),
        detail: flagged.length
          ? `${flagged.length} column(s) look like card data: ${flagged.map((f) => `${f.table}.${f.column}`).join(", ")}.`
          : `${columns.length} columns in ${tables} tables, none named like card data.`,
        evidence: { tables, columns: columns.length, flagged },
      };
    },
  },
  {
    id: "no_card_data_stored",
    title: "No stored text (Stripe's event payloads included) holds a card number",
    controls: [CONTROLS.saqA_eligibility, CONTROLS.pci_3_2_1, CONTROLS.sc28, CONTROLS.si12],
    rationale:
      "A card number can arrive inside data the schema does not name (a description or metadata in a Stripe payload). Every text column of every table is scanned in bounded batches for 13–19 digit numbers that pass the Luhn check and carry a card issuer's prefix; findings are shown masked (first six, last four).",
    async run(s, _input, policy) {
      const scan = await scanForCardNumbers(s.db, await tableColumns(s.db), { batch: policy.cardScanBatch, maxRows: policy.cardScanMaxRows });
      const detail =
        scan.findings_total > 0
          ? `${scan.findings_total} card number(s) found, first in ${scan.findings[0]!.table}.${scan.findings[0]!.column} (rowid ${scan.findings[0]!.rowid}, ${scan.findings[0]!.masked}).`
          : !scan.complete
            ? `The scan stopped at its limit of ${policy.cardScanMaxRows} rows before reading every table; nothing found so far.`
            : `${scan.rows_scanned} rows of ${scan.tables} tables scanned (${scan.columns} text columns, ${scan.queries} queries): no card number.`;
      return { status: verdict(scan.findings_total === 0 && scan.complete), detail, evidence: { ...scan } };
    },
  },
  {
    id: "audit_chain",
    title: "The audit log's hash chain and its latest signed checkpoint verify",
    controls: [CONTROLS.au9, CONTROLS.au9_3, CONTROLS.au10, CONTROLS.pci_10_3_2],
    rationale:
      "Each audit row carries the SHA-256 of its content and of the row before it, so a changed or deleted row shows (AU-9); the head is signed by HMAC under a secret D1 writers do not hold, so a cut tail or a recomputed chain shows too (AU-9(3)); every entry names its actor (AU-10).",
    async run(s) {
      const result = await verifyAuditChain(s);
      const after = result.head && result.checkpoint ? result.head.seq - result.checkpoint.seq : null;
      const ok = result.ok && result.checkpointing === "enabled" && (result.head === null || result.checkpoint !== null);
      const detail = !result.ok
        ? `Broken at row ${result.first_broken!.seq} (${result.first_broken!.reason}): ${result.first_broken!.detail}`
        : result.checkpointing !== "enabled"
          ? "AUDIT_CHECKPOINT_SECRET is unset: the chain's head is never signed, so a rewritten chain would verify."
          : result.head && !result.checkpoint
            ? "The chain has rows but no signed checkpoint yet: the minute cron has not signed its head."
            : `${result.rows_checked} rows verified${result.checkpoint ? ` against the checkpoint at row ${result.checkpoint.seq} signed ${instantOrNull(result.checkpoint.at)}` : " (empty log)"}.`;
      return {
        status: verdict(ok),
        detail,
        evidence: {
          rows_checked: result.rows_checked,
          head: result.head,
          checkpoint: result.checkpoint ? { ...result.checkpoint, at: instantOrNull(result.checkpoint.at) } : null,
          rows_after_checkpoint: after,
          first_broken: result.first_broken,
          checkpointing: result.checkpointing,
        },
      };
    },
  },
  {
    id: "api_key_rotation",
    title: "Every active API key is younger than the rotation policy",
    controls: [CONTROLS.saqA_8_3_9, CONTROLS.pci_8_6_3, CONTROLS.ia5],
    rationale:
      "API keys are the only factor that authenticates a caller, like a password used alone: PCI DSS 8.3.9 and 8.6.3 ask for a change at least every 90 days, IA-5(1) for lifetime limits. A key being replaced (rotated, expiring within its overlap) is counted as rotated.",
    async run(s, _input, policy) {
      const now = s.clock.now();
      const rows = await s.db
        .select({
          id: apiKeys.id,
          name: apiKeys.name,
          role: apiKeys.role,
          prefix: apiKeys.prefix,
          createdAt: apiKeys.createdAt,
          expiresAt: apiKeys.expiresAt,
          rotatedFrom: apiKeys.rotatedFrom,
          revokedAt: apiKeys.revokedAt,
        })
        .from(apiKeys)
        .all();
      const active = rows.filter((k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now));
      const replaced = new Set(rows.map((k) => k.rotatedFrom).filter((id): id is string => id !== null));
      const maxAge = policy.apiKeyMaxAgeDays * DAY;
      const view = (k: (typeof rows)[number]) => ({
        id: k.id,
        name: k.name,
        role: k.role as Role,
        prefix: k.prefix,
        created_at: instantOrNull(k.createdAt),
        age_days: days(now - k.createdAt),
        expires_at: instantOrNull(k.expiresAt),
      });
      const overdue = active.filter((k) => now - k.createdAt > maxAge && !(replaced.has(k.id) && k.expiresAt !== null));
      const rotating = active.filter((k) => now - k.createdAt > maxAge && replaced.has(k.id) && k.expiresAt !== null);
      const oldest = active.reduce<number | null>((m, k) => (m === null || k.createdAt < m ? k.createdAt : m), null);
      return {
        status: verdict(overdue.length === 0),
        detail: overdue.length
          ? `${overdue.length} active key(s) older than ${policy.apiKeyMaxAgeDays} days: ${overdue.map((k) => `${k.prefix} (${k.name}, ${days(now - k.createdAt)} days)`).join(", ")}; rotate them (POST /v1/keys/{id}/rotate).`
          : `${active.length} active key(s), the oldest ${oldest === null ? "—" : `${days(now - oldest)} days old`}; policy ${policy.apiKeyMaxAgeDays} days.`,
        evidence: {
          policy_days: policy.apiKeyMaxAgeDays,
          active: active.length,
          oldest_age_days: oldest === null ? null : days(now - oldest),
          overdue: overdue.map(view),
          rotating: rotating.map(view),
        },
      };
    },
  },
  {
    id: "signing_key_age",
    title: "The entitlements signing key is within its cryptoperiod",
    controls: [CONTROLS.sc12, CONTROLS.sc13, CONTROLS.pci_3_7_4],
    rationale:
      "Entitlement tokens are Ed25519 signatures that grant access; the current private key must be changed at the end of its cryptoperiod (SC-12, PCI DSS 3.7.4; NIST SP 800-57 suggests 1–3 years for signing keys). Its creation date is the key's `created` member or the date `npm run keys:generate` puts in its kid.",
    async run(s, input, policy) {
      const raw = input.env.ENTITLEMENTS_SIGNING_KEYS;
      if (!raw) return { status: "fail", detail: "ENTITLEMENTS_SIGNING_KEYS is unset: no key signs entitlement tokens.", evidence: { keys: [] } };
      let keys: { kid?: unknown; status?: unknown; created?: unknown }[];
      try {
        keys = (JSON.parse(raw) as { keys: typeof keys }).keys;
        if (!Array.isArray(keys)) throw new Error("no keys array");
      } catch {
        return { status: "fail", detail: "ENTITLEMENTS_SIGNING_KEYS is not a JSON key set.", evidence: { keys: [] } };
      }
      const now = s.clock.now();
      const created = (k: (typeof keys)[number]): number | null => {
        if (typeof k.created === "number") return k.created < 1e11 ? k.created * 1000 : k.created;
        if (typeof k.created === "string" && !Number.isNaN(Date.parse(k.created))) return Date.parse(k.created);
        const m = typeof k.kid === "string" ? /(\d{4}-\d{2}-\d{2})/.exec(k.kid) : null;
        return m ? Date.parse(`${m[1]}T00:00:00Z`) : null;
      };
      // Public facts only: never the key material.
      const listed = keys.map((k) => ({ kid: String(k.kid), status: String(k.status), created_at: instantOrNull(created(k)), age_days: created(k) === null ? null : days(now - created(k)!) }));
      const current = listed.filter((k) => k.status === "current");
      const c = current[0];
      const ok = current.length === 1 && c!.age_days !== null && c!.age_days <= policy.signingKeyMaxAgeDays;
      const detail =
        current.length !== 1
          ? `${current.length} keys have status current; exactly one must.`
          : c!.age_days === null
            ? `The current key ${c!.kid} carries no creation date (add \`created\` to it, or generate keys with npm run keys:generate).`
            : `The current key ${c!.kid} is ${c!.age_days} days old; policy ${policy.signingKeyMaxAgeDays} days.`;
      return { status: verdict(ok), detail, evidence: { policy_days: policy.signingKeyMaxAgeDays, keys: listed } };
    },
  },
  {
    id: "rate_limits",
    title: "Rate limits per API key and per client IP are configured",
    controls: [CONTROLS.sc5, CONTROLS.ac7, CONTROLS.pci_8_3_4],
    rationale:
      "The per-IP limit applies before authentication, so guessing keys is slowed (AC-7, PCI DSS 8.3.4 in part: requests are limited, not accounts locked); the per-key limit bounds what one caller can take (SC-5). Evidence is the Rate Limiting bindings present in the running worker.",
    async run(_s, input) {
      const has = (b: unknown) => typeof b === "object" && b !== null && typeof (b as { limit?: unknown }).limit === "function";
      const bindings = { RATE_LIMIT_KEY: has(input.env.RATE_LIMIT_KEY), RATE_LIMIT_IP: has(input.env.RATE_LIMIT_IP) };
      const missing = Object.entries(bindings)
        .filter(([, v]) => !v)
        .map(([k]) => k);
      return {
        status: verdict(missing.length === 0),
        detail: missing.length ? `Missing rate limiting binding(s): ${missing.join(", ")} ([[ratelimits]] in wrangler.toml).` : "Both rate limiting bindings are bound.",
        evidence: { bindings },
      };
    },
  },
  {
    id: "transport_security",
    title: "HTTPS only, and security headers on every response",
    controls: [CONTROLS.sc8, CONTROLS.pci_4_2_1],
    rationale:
      "Cloudflare terminates TLS for the worker; what the deployment decides is that the URLs it hands out (Checkout and portal returns, token issuer) are https and that browsers are told to stay on https (HSTS) and not to sniff or frame responses. Evidence is the parsed settings and a request sent through the worker's middleware.",
    async run(s, input) {
      let environment = "unknown";
      let appBaseUrl: string | null = null;
      let configError: string | null = null;
      try {
        const core = coreConfig(input.env);
        environment = core.ENVIRONMENT;
        appBaseUrl = core.APP_BASE_URL;
      } catch (e) {
        configError = isDomainError(e) ? e.message : String(e);
      }
      const urls = { APP_BASE_URL: appBaseUrl, ENTITLEMENTS_ISSUER: input.env.ENTITLEMENTS_ISSUER ?? null, STRIPE_API_BASE: input.env.STRIPE_API_BASE ?? null };
      const loopback = (u: URL) => ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
      // Outside production only a loopback address may be plain http (wrangler dev, the emulator).
      const insecure = Object.entries(urls).filter(([, v]) => {
        if (v === null) return false;
        const u = URL.parse(v);
        return !u || (u.protocol !== "https:" && (environment === "production" || !loopback(u)));
      });
      const wanted = ["strict-transport-security", "x-content-type-options", "x-frame-options", "referrer-policy"];
      const probe = await probed(input, new Request(`https://compliance.probe${REPORT_PATH}`), wanted);
      const missingHeaders = probe ? wanted.filter((h) => !probe.headers[h]) : wanted;
      const ok = configError === null && insecure.length === 0 && probe !== null && missingHeaders.length === 0 && probe.headers["x-content-type-options"] === "nosniff";
      const detail = configError
        ? configError
        : insecure.length
          ? `Not https: ${insecure.map(([k, v]) => `${k}=${v}`).join(", ")}.`
          : !probe
            ? "The worker could not send itself a probe request, so its response headers were not observed."
            : missingHeaders.length
              ? `Responses lack ${missingHeaders.join(", ")}: the security headers middleware is not on.`
              : `Every configured URL is https (${environment}); responses carry HSTS (${probe.headers["strict-transport-security"]}), nosniff, frame and referrer policies.`;
      return { status: verdict(ok), detail, evidence: { environment, urls, insecure: insecure.map(([k]) => k), probe } };
    },
  },
  {
    id: "least_privilege",
    title: "Every route declares a permission; only admins and services write",
    controls: [CONTROLS.ac3, CONTROLS.ac6],
    rationale:
      "Each route is checked against its declared permission before its input is read (AC-3); analysts read and never write, and the only routes without a key are public reads and Stripe's signed webhook (AC-6). Evidence is the route table the worker serves and the role table it enforces.",
    async run(_s, input) {
      const writes = (m: string) => !["get", "head", "options"].includes(m.toLowerCase());
      const openWrites = input.routes.filter((r) => writes(r.method) && r.permission === "public");
      // A `*:read` permission reads whatever the method (a POST that queries); any other is a write.
      const analystWrites = input.routes.filter((r) => writes(r.method) && !r.permission.endsWith(":read") && ((PERMISSIONS[r.permission] ?? []) as readonly Role[]).includes("analyst"));
      const undeclared = input.routes.filter((r) => !(r.permission in PERMISSIONS));
      const byPermission: Record<string, { roles: readonly string[]; routes: number }> = {};
      for (const r of input.routes) byPermission[r.permission] = { roles: PERMISSIONS[r.permission] ?? [], routes: (byPermission[r.permission]?.routes ?? 0) + 1 };
      const bad = [...openWrites, ...analystWrites, ...undeclared];
      return {
        status: verdict(bad.length === 0 && input.routes.length > 0),
        detail: input.routesError
          ? `The route table could not be read: ${input.routesError}.`
          : bad.length
            ? `Routes that break the rule: ${bad.map((r) => `${r.method.toUpperCase()} ${r.path} (${r.permission})`).join(", ")}.`
            : `${input.routes.length} routes, each with a declared permission; no keyless or analyst write.`,
        evidence: {
          routes: input.routes.length,
          by_permission: byPermission,
          keyless: input.routes.filter((r) => r.permission === "public" || r.permission === "stripe_signature").map((r) => `${r.method.toUpperCase()} ${r.path}`),
        },
      };
    },
  },
  {
    id: "backups",
    title: "A recent backup of the database exists",
    controls: [CONTROLS.cp9, CONTROLS.cp10, CONTROLS.saqA_12_10_1],
    rationale:
      "CP-9 asks for backups at a set frequency, CP-10 for a tested way back: `npm run backup` exports D1 and records the file's time, size and SHA-256 here once the export is complete; `npm run restore` brings it back and a resync from Stripe restores what changed since. Stripe stays the source of truth for money.",
    async run(s, _input, policy) {
      const now = s.clock.now();
      const [last] = await s.db.select().from(backups).where(eq(backups.kind, "backup")).orderBy(desc(backups.at)).limit(1).all();
      const [restore] = await s.db.select().from(backups).where(eq(backups.kind, "restore")).orderBy(desc(backups.at)).limit(1).all();
      const ageHours = last ? Math.floor((now - last.at) / HOUR) : null;
      const ok = last !== undefined && now - last.at <= policy.backupMaxAgeHours * HOUR;
      return {
        status: verdict(ok),
        detail: !last ? "No backup has been recorded (run `npm run backup`)." : `The last backup (${last.file}, ${last.target}) finished ${ageHours} h ago; policy ${policy.backupMaxAgeHours} h.`,
        evidence: {
          policy_hours: policy.backupMaxAgeHours,
          last_backup: last ? { at: instantOrNull(last.at), age_hours: ageHours, file: last.file, target: last.target, bytes: last.bytes, sha256: last.sha256 } : null,
          last_restore: restore ? { at: instantOrNull(restore.at), file: restore.file, target: restore.target } : null,
        },
      };
    },
  },
  {
    id: "failed_events",
    title: "No Stripe event is stuck: none parked, processing keeps up",
    controls: [CONTROLS.si4, CONTROLS.ir4],
    rationale:
      "A parked event is a change at Stripe the mirror has not applied (access or dunning may be wrong until it is replayed); SI-4 asks that such failures are seen, IR-4 that they are handled. Evidence is the event inbox's backlog and the retry cron's last run (monitoring/).",
    async run(s, _input, policy) {
      const [parked, lag, crons] = await Promise.all([parkedEvents(s), webhookLag(s), cronStatuses(s)]);
      const sweep = crons.find((c) => c.cron === "sweep") ?? null;
      const lagging = lag.oldest_pending_age_s !== null && lag.oldest_pending_age_s > MONITORING_THRESHOLDS.webhookLagS;
      const ok = parked.parked <= policy.parkedEventsMax && !lagging && !sweep?.overdue;
      const detail =
        parked.parked > policy.parkedEventsMax
          ? `${parked.parked} event(s) parked after their retries; replay them (POST /v1/events/{id}/replay) once the cause is fixed.`
          : lagging
            ? `${lag.pending} event(s) pending, the oldest for ${lag.oldest_pending_age_s} s (limit ${MONITORING_THRESHOLDS.webhookLagS} s).`
            : sweep?.overdue
              ? "The retry cron (sweep) has not run within its gap."
              : `No parked event; ${lag.pending} pending${lag.oldest_pending_age_s === null ? "" : `, the oldest ${lag.oldest_pending_age_s} s`}.`;
      return {
        status: verdict(ok),
        detail,
        evidence: {
          parked: parked.parked,
          parked_max: policy.parkedEventsMax,
          pending: lag.pending,
          oldest_pending_age_s: lag.oldest_pending_age_s,
          lag_limit_s: MONITORING_THRESHOLDS.webhookLagS,
          sweep_cron: sweep && { ...sweep, last_started_at: instantOrNull(sweep.last_started_at), last_finished_at: instantOrNull(sweep.last_finished_at) },
        },
      };
    },
  },
  {
    id: "dunning_backlog",
    title: "Dunning keeps up: no case is overdue for its next step",
    controls: [CONTROLS.si4],
    rationale:
      "An overdue dunning case means a failed payment is not being chased (or a suspension not applied) on schedule; SI-4 asks that the system's own processing is monitored. Evidence is the open and overdue cases and the dunning cron's last run (monitoring/).",
    async run(s, _input, policy) {
      const [backlog, crons] = await Promise.all([dunningBacklog(s), cronStatuses(s)]);
      const tick = crons.find((c) => c.cron === "dunning") ?? null;
      const ok = backlog.overdue <= policy.dunningOverdueMax && !tick?.overdue;
      return {
        status: verdict(ok),
        detail:
          backlog.overdue > policy.dunningOverdueMax
            ? `${backlog.overdue} of ${backlog.open} open dunning case(s) are overdue for their next step.`
            : tick?.overdue
              ? "The dunning cron has not run within its gap."
              : `${backlog.open} open case(s), none overdue.`,
        evidence: {
          open: backlog.open,
          overdue: backlog.overdue,
          overdue_max: policy.dunningOverdueMax,
          dunning_cron: tick && { ...tick, last_started_at: instantOrNull(tick.last_started_at), last_finished_at: instantOrNull(tick.last_finished_at) },
        },
      };
    },
  },
];

export async function complianceReport(s: Deps, input: ComplianceInputs): Promise<ComplianceReport> {
  const policy = { ...defaultPolicy, ...input.policy };
  const published = await publishedRoutes(input).catch((e: unknown) => ({ routes: [], error: e instanceof Error ? e.message : String(e) }));
  const context: Context = { ...input, routes: published.routes, routesError: published.error };
  // One after another: the card scan is the heavy one, and the rest are a few queries each.
  const items: EvidenceItem[] = [];
  for (const d of definitions) {
    let check: Check;
    try {
      check = await d.run(s, context, policy);
    } catch (e) {
      // drizzle wraps D1's error: its cause says what SQLite refused.
      const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : "";
      check = { status: "fail", detail: `The evidence could not be gathered: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}${cause}`, evidence: {} };
    }
    items.push({ id: d.id, title: d.title, status: check.status, detail: check.detail, controls: d.controls, rationale: d.rationale, evidence: check.evidence });
  }
  const failing = items.filter((i) => i.status === "fail").map((i) => i.id);
  let environment = "unknown";
  try {
    environment = coreConfig(input.env).ENVIRONMENT;
  } catch {
    // Reported by transport_security.
  }
  return {
    generated_at: instant(s.clock.now()),
    environment,
    status: failing.length ? "fail" : "pass",
    summary: { pass: items.length - failing.length, fail: failing.length, failing },
    policy,
    items,
  };
}

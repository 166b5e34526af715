/**
 * Property-based fuzzing of every route, with fast-check, through the real worker (SELF.fetch).
 *
 * The route list comes from GET /openapi.json at test time, not from a hand-kept list, so a
 * route added to the worker is fuzzed without touching this file, whichever way the routes
 * declare their method and path. The document's request schemas (bodies, query and path
 * parameters) drive the generators: valid values first, then mutated ones.
 *
 * For every request, whatever it is:
 * - the status is never 5xx;
 * - every non-2xx answer is RFC 9457 problem+json whose `status` is the HTTP status;
 * - a rejected request (4xx) changed no row in any D1 table (every table, listed from
 *   sqlite_master, logs its writes through triggers; see installWriteLog).
 * A write route that declares no body never acts (2xx) on a request that carries one.
 * For the webhook, also: a request without a valid signature is refused; a validly signed body
 * that is not a well-formed event is refused; a well-formed event it accepts is then stored.
 *
 * Seeds are fixed, so a run is reproducible; a failure prints the request, the answer and
 * fast-check's seed and path to replay it.
 */
import { env, SELF } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { dunningTick } from "../../worker/src/dunning/tick";
import { noEntitlement, setEntitlementState } from "../../worker/src/entitlements/state";
import { BASE, freshIp, makeKey, svc } from "./helpers";
import { deliver, deliverAll, drained, eventsFor, settled, sign, stripe, subscriber } from "./stripe-helpers";
import { failedRenewal } from "./dunning-helpers";

const SEED = 20_261_117;
/** Requests per JSON route. */
const RUNS_PER_ROUTE = 30;
const TEST_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// The routes, from the OpenAPI document

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
}

interface Param {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  method: string;
  path: string;
  params: Param[];
  body?: Schema;
  /** The document asks for an API key. */
  keyed: boolean;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content?: Record<string, { schema?: Schema }> }; security?: unknown[] }>>;
  components?: { schemas?: Record<string, Schema> };
}

const HTTP_METHODS = ["get", "post", "put", "patch", "delete"];

async function loadDoc(): Promise<OpenApiDoc> {
  const res = await SELF.fetch(`${BASE}/openapi.json`, { headers: { "cf-connecting-ip": freshIp() } });
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: the fuzz test derives its routes from it`);
  return res.json<OpenApiDoc>();
}

// Top-level await: the routes must be known when vitest collects the tests, one test per route.
const doc = await loadDoc();

function resolve(schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (let i = 0; s.$ref && i < 10; i++) {
    const name = s.$ref.replace("#/components/schemas/", "");
    s = doc.components?.schemas?.[name] ?? {};
  }
  return s;
}

function operationsOf(d: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(d.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const body = op.requestBody?.content?.["application/json"]?.schema;
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], keyed: (op.security?.length ?? 0) > 0, ...(body ? { body: resolve(body) } : {}) });
    }
  }
  // The document describes every route but the one that serves it.
  if (!ops.some((o) => o.path === "/openapi.json")) ops.push({ method: "GET", path: "/openapi.json", params: [], keyed: false });
  return ops;
}

const OPERATIONS = operationsOf(doc);
// The webhook takes a signed raw body, not a JSON schema: it gets generators of its own below.
const isWebhook = (op: Operation) => op.path.startsWith("/webhooks/");
const JSON_ROUTES = OPERATIONS.filter((op) => !isWebhook(op));
const WEBHOOK_ROUTES = OPERATIONS.filter(isWebhook);

/** A stable seed per route, so adding a route does not change what the others are fed. */
function seedFor(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return (SEED ^ h) | 0;
}

// ---------------------------------------------------------------------------------------------
// What the database holds, to prove a rejected request wrote nothing

/**
 * Columns whose change is not a write of the request, and why. Authenticating a valid key
 * refreshes its `api_keys.last_used_at` (at most once a minute, in waitUntil after the answer),
 * even when the request is then refused (a role without the permission, bad input): that is
 * bookkeeping of the authentication, not a write of the refused request, and it may land before
 * or after the check. Only that one column is excluded; every other column of api_keys, and
 * its inserts and deletes, still count.
 */
const VOLATILE_COLUMNS: Record<string, string[]> = { api_keys: ["last_used_at"] };
/**
 * SQLite's, Cloudflare's and the migration runner's own tables, and the write log below; and
 * `access_checks`, the access log an allowed check or token writes in waitUntil after its 2xx
 * (entitlements/access-log.ts), which may land while the next, refused, request runs. A refusal
 * never writes it: test/worker/access-log.test.ts checks that a denied check leaves no row.
 */
const INTERNAL_TABLE = /^(sqlite_|_cf_|d1_migrations$|fuzz_write_log$|access_checks$)/;
const WRITE_LOG = "fuzz_write_log";

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Triggers on every table log each row a statement inserts, deletes or changes (as its old and
 * new content), so whether a request wrote anything is one read of the log's position instead
 * of a read of every table (which was a quarter of the suite's time). SQLite fires a trigger
 * for every row a statement touches (it turns off its truncate shortcut for tables with
 * triggers). An update is logged only when a column other than a volatile one changes value,
 * and a row deleted and put back as it was (a REPLACE) nets out: as a comparison of the tables'
 * contents would see it. Tables are listed when the log is made, so a migration's are covered.
 */
async function installWriteLog(): Promise<void> {
  const { results } = await env.DB.prepare("select name from sqlite_master where type = 'table' order by name").all<{ name: string }>();
  const tables = results.map((r) => r.name).filter((n) => !INTERNAL_TABLE.test(n));
  const infos = await env.DB.batch<{ name: string }>(tables.map((t) => env.DB.prepare("select name from pragma_table_info(?)").bind(t)));
  const statements = [`create table if not exists ${WRITE_LOG} (seq integer primary key autoincrement, tbl text not null, op text not null, content text not null)`];
  for (const [i, table] of tables.entries()) {
    const columns = infos[i]!.results.map((c) => c.name).filter((c) => !VOLATILE_COLUMNS[table]?.includes(c));
    // quote() renders every SQLite value as a literal, blobs included, so equal rows give equal text.
    const content = (row: "old" | "new") => columns.map((c) => `quote(${row}.${quoteIdent(c)})`).join(" || ',' || ") || "''";
    const log = (op: "insert" | "delete", row: "old" | "new") => `insert into ${WRITE_LOG} (tbl, op, content) values ('${table.replaceAll("'", "''")}', '${op}', ${content(row)});`;
    const changed = columns.map((c) => `old.${quoteIdent(c)} is not new.${quoteIdent(c)}`).join(" or ") || "0";
    const name = (op: string) => quoteIdent(`fuzz_${op}_${table}`);
    statements.push(
      `create trigger if not exists ${name("insert")} after insert on ${quoteIdent(table)} begin ${log("insert", "new")} end`,
      `create trigger if not exists ${name("delete")} after delete on ${quoteIdent(table)} begin ${log("delete", "old")} end`,
      `create trigger if not exists ${name("update")} after update on ${quoteIdent(table)} when ${changed} begin ${log("delete", "old")} ${log("insert", "new")} end`,
    );
  }
  await env.DB.batch(statements.map((sql) => env.DB.prepare(sql)));
}

/**
 * Drops the triggers and the log. The worker suite's files share a D1 per slot, and a trigger
 * left behind would add its rows to D1's `meta.changes` and copy every later write into the log.
 */
async function removeWriteLog(): Promise<void> {
  const { results } = await env.DB.prepare("select name from sqlite_master where type = 'trigger' and name like 'fuzz\\_%' escape '\\'").all<{ name: string }>();
  await env.DB.batch([...results.map((r) => env.DB.prepare(`drop trigger if exists ${quoteIdent(r.name)}`)), env.DB.prepare(`drop table if exists ${WRITE_LOG}`)]);
  lastPosition = undefined;
}

/** The log's last sequence number: the database's write position. */
async function writePosition(): Promise<number> {
  const read = () => env.DB.prepare(`select coalesce(max(seq), 0) as seq from ${WRITE_LOG}`).first<{ seq: number }>();
  try {
    return (await read())!.seq;
  } catch {
    // Not there yet (or a test's storage was reset with it): make it, with the triggers.
    await installWriteLog();
    return (await read())!.seq;
  }
}

/** One line per table whose content changed since a position, naming a few added and removed rows. */
async function changesSince(position: number): Promise<string[]> {
  const { results } = await env.DB.prepare(`select tbl, op, content from ${WRITE_LOG} where seq > ? order by seq`).bind(position).all<{ tbl: string; op: "insert" | "delete"; content: string }>();
  const net = new Map<string, Map<string, number>>();
  for (const r of results) {
    const rows = net.get(r.tbl) ?? new Map<string, number>();
    rows.set(r.content, (rows.get(r.content) ?? 0) + (r.op === "insert" ? 1 : -1));
    net.set(r.tbl, rows);
  }
  const out: string[] = [];
  for (const [table, rows] of net) {
    const added = [...rows].filter(([, n]) => n > 0).map(([c]) => c.slice(0, 300));
    const removed = [...rows].filter(([, n]) => n < 0).map(([c]) => c.slice(0, 300));
    if (added.length + removed.length > 0) out.push(`${table}: added ${JSON.stringify(added.slice(0, 3))}; removed ${JSON.stringify(removed.slice(0, 3))}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sending a request and checking the answer

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
}

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

const BODYLESS = new Set(["GET", "HEAD"]);

async function send(req: FuzzRequest): Promise<Answer> {
  // A fresh client IP per request keeps the per-IP rate limit from turning the run into 429s.
  const headers = { ...req.headers, "cf-connecting-ip": freshIp() };
  const res = await SELF.fetch(`${BASE}${req.path}${req.query}`, { method: req.method, headers, body: BODYLESS.has(req.method) ? undefined : req.body });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describeExchange(req: FuzzRequest, answer: Answer): string {
  const body = req.body === undefined ? "(none)" : typeof req.body === "string" ? JSON.stringify(clip(req.body)) : `bytes [${[...req.body.slice(0, 64)].join(",")}]`;
  return [
    `${req.method} ${clip(req.path + req.query, 300)}`,
    `headers ${clip(JSON.stringify(req.headers), 600)}`,
    `body ${body}`,
    `-> ${answer.status} ${answer.contentType ?? "(no content-type)"} ${clip(answer.text)}`,
  ].join("\n  ");
}

const is2xx = (status: number) => status >= 200 && status < 300;

function expectProblem(answer: Answer, where: string): void {
  expect(answer.contentType ?? "", `non-2xx without problem+json content type:\n  ${where}`).toMatch(/^application\/problem\+json\s*(;|$)/i);
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    throw new Error(`problem+json body is not JSON:\n  ${where}`);
  }
  expect(problem, `problem body is not an object:\n  ${where}`).toBeTypeOf("object");
  expect(typeof problem.type === "string" && problem.type.length > 0, `problem without type:\n  ${where}`).toBe(true);
  expect(typeof problem.title === "string" && problem.title.length > 0, `problem without title:\n  ${where}`).toBe(true);
  expect(typeof problem.detail === "string" && problem.detail.length > 0, `problem without detail:\n  ${where}`).toBe(true);
  expect(problem.status, `problem status differs from the HTTP status:\n  ${where}`).toBe(answer.status);
}

/**
 * The write position the last rejected request left. The next request compares against it
 * instead of a fresh one, so a write that lands late (after a refusal was answered) is still
 * caught, by the next comparison. Anything else that writes (a test's setup, an accepted
 * request) clears it.
 */
let lastPosition: number | undefined;
const forgetPosition = () => {
  lastPosition = undefined;
};

/**
 * Sends one request and checks the properties every answer must have. `mayHaveQueued`: the
 * request could have reached the webhook queue, whose consumer writes after the answer; the
 * queue is drained before the check (so a rejected event that was queued anyway is caught), and
 * after an accepted one (so its late write is not blamed on the next request).
 */
async function exercise(req: FuzzRequest, opts: { mayHaveQueued?: boolean } = {}): Promise<Answer> {
  const before = lastPosition ?? (await writePosition());
  lastPosition = undefined;
  const answer = await send(req);
  if (opts.mayHaveQueued) await drained();
  const where = describeExchange(req, answer);
  expect(answer.status, `5xx answer:\n  ${where}`).toBeLessThan(500);
  if (!is2xx(answer.status)) expectProblem(answer, where);
  if (answer.status >= 400) {
    const after = await writePosition();
    if (after !== before) expect(await changesSince(before), `a rejected request changed stored rows (this one, or the rejected one before it, late):\n  ${where}`).toEqual([]);
    lastPosition = after;
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Generators: values

/** Builds nesting without recursion, so depth is limited by the worker, not by this test. */
function nested(depth: number, kind: "array" | "object"): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = kind === "array" ? [v] : { a: v };
  return v;
}

function safeEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate: send the bytes a broken client would (CESU-8 of U+D800).
    return "%ED%A0%80";
  }
}

/**
 * Printable ASCII: header values cannot carry control characters, and workerd sends anything
 * above 0x7E as UTF-8 with a warning per request, which would only add noise, not new input.
 */
const headerGarbage = fc.string({ unit: "grapheme-ascii", maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, ""));

const nastyString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\uFEFF",
    "\uD800",
    "\u202Eevil",
    "𝕏𝔶𝔷",
    "Z̷̢͎a̸l̶g̵o",
    "null",
    "undefined",
    "NaN",
    "0",
    "-1",
    "true",
    "[]",
    "{}",
    "__proto__",
    "constructor",
    "' OR 1=1 --",
    '"; drop table api_keys; --',
    "../../etc/passwd",
    "%00",
    "%zz",
    "<script>alert(1)</script>",
    "\\",
    "\r\n",
    "2026-13-45T25:61:61Z",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-01-01",
    "2026-01-01T00:00:00",
    "+275760-09-13T00:00:00.000Z",
  ),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  // Over each length limit the schemas have (100, 128, 200) and over the 64 KiB body limit.
  fc.constantFrom(101, 129, 201, 5_000, 70 * 1024).map((n) => "x".repeat(n)),
  fc.constantFrom(34, 50, 23_000).map((n) => "€".repeat(n)),
);

const nastyNumber = fc.oneof(
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, 21, 201, 1e21, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, 8.64e15 + 1),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const deepValue = fc.tuple(fc.integer({ min: 2, max: 3_000 }), fc.constantFrom("array" as const, "object" as const)).map(([d, k]) => nested(d, k));

const nasty: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 3, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepValue },
);

function timestampArb(): fc.Arbitrary<string> {
  const now = Date.now();
  const date = fc.date({ min: new Date(now - 365 * 86_400_000), max: new Date(now + 2 * 365 * 86_400_000), noInvalidDate: true });
  return fc.tuple(date, fc.constantFrom(0, 0, 330, -480, 840)).map(([d, offsetMin]) => {
    if (offsetMin === 0) return d.toISOString();
    const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 19);
    const sign = offsetMin < 0 ? "-" : "+";
    const abs = Math.abs(offsetMin);
    return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  });
}

/** Values a schema accepts (as far as a JSON schema says: the handler may still refuse them). */
function valid(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  if (s.enum) return fc.constantFrom(...s.enum);
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return fc.oneof(...variants.map((v) => valid(v, depth + 1)));
  switch (s.type) {
    case "string": {
      if (s.format === "date-time") return timestampArb();
      if (s.format === "uri") return fc.webUrl({ validSchemes: ["https"] });
      const min = s.minLength ?? 0;
      const max = s.maxLength ?? Number.MAX_SAFE_INTEGER;
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= min && v.length <= max);
      return fc.string({ minLength: min, maxLength: Math.min(max, 40) });
    }
    case "integer":
    case "number": {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1_000_000_000_000);
      return s.type === "integer" ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
    }
    case "boolean":
      return fc.boolean();
    case "array":
      return depth > 4 ? fc.constant([]) : fc.array(valid(s.items, depth + 1), { maxLength: 3 });
    case "object": {
      const props = s.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = valid(v, depth + 1);
      return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

type Mutation = { kind: "set"; key: string; value: unknown } | { kind: "delete"; key: string } | { kind: "extra"; key: string; value: unknown } | { kind: "replace"; value: unknown };

function mutationArb(keys: string[]): fc.Arbitrary<Mutation> {
  const key = keys.length > 0 ? fc.constantFrom(...keys) : fc.constant("x");
  const extraKey = fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "id", "role", "admin", "", " "), fc.string({ maxLength: 12 }));
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("set" as const), key, value: nasty }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), key }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("extra" as const), key: extraKey, value: nasty }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), value: nasty }) },
  );
}

function applyMutations(value: unknown, mutations: Mutation[]): unknown {
  let v: unknown = value !== null && typeof value === "object" && !Array.isArray(value) ? { ...value } : value;
  for (const m of mutations) {
    if (m.kind === "replace") {
      v = m.value;
      continue;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) v = {};
    const obj = v as Record<string, unknown>;
    // defineProperty, so "__proto__" becomes an own key that JSON.stringify sends.
    if (m.kind === "delete") delete obj[m.key];
    else Object.defineProperty(obj, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return v;
}

/** The forms of a union body (anyOf / oneOf), each resolved; an object schema is its one form. */
function formsOf(schema: Schema | undefined): Schema[] {
  const s = resolve(schema);
  const variants = s.anyOf ?? s.oneOf;
  return variants ? variants.flatMap((v) => formsOf(v)) : [s];
}

/** The properties a body may have: those of its object schema, or of every form of a union. */
function bodyProperties(schema: Schema | undefined): Record<string, Schema> {
  const forms = objectForms(schema);
  return forms.length > 0 ? Object.assign({}, ...forms.map((f) => f.properties)) : (resolve(schema).properties ?? {});
}

/** The forms of a union whose forms are all objects (a tool's user and organization forms); [] for any other schema. */
function objectForms(schema: Schema | undefined): Schema[] {
  const forms = formsOf(schema);
  return forms.length > 1 && forms.every((f) => f.type === "object" && f.properties) ? forms : [];
}

/** Which form of the body schema a sent body is (its required keys present, no key of another form): -1 for none. */
function formIndex(schema: Schema | undefined, body: unknown): number {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return -1;
  const keys = Object.keys(body);
  return formsOf(schema).findIndex((f) => (f.required ?? []).every((k) => keys.includes(k)) && keys.every((k) => k in (f.properties ?? {})));
}

/**
 * A body its schema accepts, whose fields take, half the time, values that exist (in D1 or in
 * Stripe, see knownValues): a random user id or promotion code only ever finds nothing. A union
 * is one of its forms, each built so (a form's random mix of both would only be refused). Known
 * values of a nested field are named by their dotted path (`organization.term_months`): an
 * object with some is built field by field too.
 */
function validBody(schema: Schema | undefined, known: Known, prefix = "", knownWeight = 1): fc.Arbitrary<unknown> {
  const forms = objectForms(schema);
  // Each form gets a share of the well-formed requests only: its fields take the values that
  // exist three times in four, or a form with several optional fields naming Stripe's state
  // (return URLs, a promotion code, a test clock) would almost never have all of them right.
  if (forms.length > 1) return fc.oneof(...forms.map((f) => validBody(f, known, prefix, 3)));
  const s = resolve(schema);
  const props = s.properties;
  if (s.type !== "object" || !props) return valid(schema);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) {
    const name = `${prefix}${k}`;
    const values = known.get(name) ?? [];
    const nested = [...known.keys()].some((key) => key.startsWith(`${name}.`));
    const generated = nested ? validBody(v, known, `${name}.`, knownWeight) : valid(v, 1);
    model[k] = values.length > 0 ? fc.oneof({ weight: 1, arbitrary: generated }, { weight: knownWeight, arbitrary: fc.constantFrom(...values) }) : generated;
  }
  return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in props) });
}

/** A valid body with 1-3 mutations: wrong types, missing and extra fields, odd values. */
function mutatedBody(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const keys = Object.keys(bodyProperties(schema));
  return fc.tuple(valid(schema), fc.array(mutationArb(keys), { minLength: 1, maxLength: 3 })).map(([v, ms]) => applyMutations(v, ms));
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** JSON.stringify that cannot throw on the values above (deep values stay within V8's limits). */
const serialize = (v: unknown): string => JSON.stringify(v) ?? "null";

const NUMBER_LITERALS = ["1e400", "-1e400", "-0", "01", "1.0", "0x10", "Infinity", "NaN", "123456789012345678901234567890", ".5", "1e-400"];

/** Bodies that are not JSON, or JSON that JSON.stringify would never write. */
function rawBody(schema: Schema | undefined): fc.Arbitrary<string> {
  const keys = Object.keys(bodyProperties(schema));
  return fc.oneof(
    fc.constantFrom(
      "",
      " ",
      "null",
      "true",
      "0",
      '"x"',
      "[]",
      "{",
      "}",
      "[",
      '{"a":1,}',
      "{'a':1}",
      "NaN",
      "\uFEFF{}",
      '{"a":1}{"b":2}',
      "[1,2",
      '"unterminated',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"admin":true}}}',
      "\u0000",
      "{}garbage",
    ),
    fc.tuple(valid(schema).map(serialize), fc.nat()).map(([s, n]) => s.slice(0, s.length > 0 ? n % s.length : 0)),
    fc.tuple(keys.length > 0 ? fc.constantFrom(...keys) : fc.constant("x"), fc.constantFrom(...NUMBER_LITERALS)).map(([k, lit]) => `{${JSON.stringify(k)}:${lit}}`),
    // Deeply nested, still under the 64 KiB body limit, closed and unclosed.
    fc.integer({ min: 1_000, max: 30_000 }).map((d) => "[".repeat(d) + "]".repeat(d)),
    fc.integer({ min: 1_000, max: 30_000 }).map((d) => '{"a":'.repeat(d / 5) + "1" + "}".repeat(d / 5)),
    fc.integer({ min: 1_000, max: 60_000 }).map((d) => "[".repeat(d)),
    // Duplicate keys: JSON.parse keeps the last one.
    keys.length > 0 ? fc.tuple(fc.constantFrom(...keys), valid(schema).map(serialize)).map(([k, s]) => s.replace(/^\{/, `{${JSON.stringify(k)}:[],`)) : fc.constant('{"x":1,"x":2}'),
  );
}

/** Bytes that are not UTF-8, sent as they are. */
const invalidUtf8 = fc.oneof(
  fc.constantFrom(new Uint8Array([0xff, 0xfe]), new Uint8Array([0xc3, 0x28]), new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), new Uint8Array([0xed, 0xa0, 0x80])),
  fc.uint8Array({ maxLength: 64 }),
);

function bodyArb(op: Operation): fc.Arbitrary<string | Uint8Array | undefined> {
  const s = op.body;
  return fc.oneof(
    { weight: s ? 4 : 1, arbitrary: valid(s).map(serialize) },
    { weight: 5, arbitrary: mutatedBody(s).map(serialize) },
    { weight: 2, arbitrary: fc.jsonValue().map(serialize) },
    { weight: 3, arbitrary: rawBody(s) },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );
}

// ---------------------------------------------------------------------------------------------
// Generators: URL and headers

const JUNK_SEGMENTS = [
  "",
  ".",
  "..",
  "%2e%2e",
  "%2E%2E%2F",
  "..%2F..%2Fetc%2Fpasswd",
  "../../etc/passwd",
  "..\\..\\windows",
  "%2F",
  "%5C",
  "%00",
  "%",
  "%zz",
  "%E0%A4%A",
  "%ED%A0%80",
  "key_%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00",
  "evt_%0A",
  "evt_..%2F..",
  ";",
  "%3B",
  ";jsessionid=1",
  "~",
  "%7E",
  "%20",
  "%C3%A9",
  "%F0%9F%92%A9",
  "é",
  "💩",
  "%25",
  "%2525",
  "*",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "x".repeat(300),
  "x".repeat(2_000),
];

const junkSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...JUNK_SEGMENTS) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map(safeEncode) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 20 }).map(safeEncode) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 20 }) },
);

const validSegment = (schema: Schema | undefined) => valid(schema).map((v) => safeEncode(String(v)));

/** The path with its parameters filled in; `junk` adds traversal-looking and encoded junk. */
function pathArb(op: Operation, known: Known, junk: boolean): fc.Arbitrary<string> {
  const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  if (names.length === 0) return fc.constant(op.path);
  const values = names.map((name) => {
    const schema = op.params.find((p) => p.in === "path" && p.name === name)?.schema;
    const ids = known.get(name) ?? [];
    // Mostly ids that exist: a random id matching the pattern only ever finds nothing.
    const good =
      ids.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids).map((id) => safeEncode(String(id))) }, { weight: 1, arbitrary: validSegment(schema) }) : validSegment(schema);
    return junk ? fc.oneof({ weight: 7, arbitrary: good }, { weight: 3, arbitrary: junkSegment }) : good;
  });
  return fc.tuple(...values).map((vals) => {
    let i = 0;
    return op.path.replace(/\{[^}]+\}/g, () => vals[i++]!);
  });
}

const RAW_QUERIES = [
  "?",
  "??",
  "?&&",
  "?=",
  "?%",
  "?%zz=1",
  "?a=%E0%A4%A",
  "?limit=1&limit=2",
  "?limit=1e400",
  "?limit=-0",
  "?limit=0x10",
  "?;",
  "?a=b#frag",
  "?a[b]=c",
  "?a[]=1&a[]=2",
  "?__proto__[x]=1",
  "?constructor=1",
  "?x=" + "y".repeat(4_000),
];

/** Each query parameter of the document, present or not, with a value its schema accepts. */
function validQueryPairs(op: Operation): fc.Arbitrary<(readonly [string, string])[]> {
  const params = op.params.filter((p) => p.in === "query");
  return fc
    .tuple(
      ...params.map((p) =>
        fc.option(
          valid(p.schema).map((v) => [p.name, safeEncode(String(v))] as const),
          { nil: undefined },
        ),
      ),
    )
    .map((pairs) => pairs.filter((p) => p !== undefined));
}

const toQuery = (pairs: (readonly [string, string])[]) => (pairs.length > 0 ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : "");

/** Valid pairs plus unknown, repeated and junk-valued ones, or a raw malformed query string. */
function queryArb(op: Operation): fc.Arbitrary<string> {
  const names = op.params.filter((p) => p.in === "query").map((p) => p.name);
  const junkName = fc.oneof(fc.constantFrom(...names, "bogus", "__proto__", "", "limit[]", "a[b]", "%00", "%zz"), fc.string({ maxLength: 8 }).map(safeEncode));
  const junkValue = fc.oneof(
    nastyString.map((s) => safeEncode(s.slice(0, 5_000))),
    fc.constantFrom("%zz", "%", "%00", "%E0%A4%A", "1e400", "-1", "NaN", "", "+", "%2B", "true", "1.5"),
    nastyNumber.map(String),
  );
  const junkPairs = fc.array(fc.tuple(junkName, junkValue), { maxLength: 3 });
  const built = fc.tuple(validQueryPairs(op), junkPairs).map(([good, bad]) => toQuery([...good, ...bad]));
  return fc.oneof({ weight: 6, arbitrary: built }, { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES) });
}

const CONTENT_TYPES = [
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/vnd.api+json",
  "application/merge-patch+json",
  "application/json;charset=latin1",
  "application/jsonp",
  "application/json5",
  "text/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  "*/*",
  "application/problem+json",
  "application/json, text/plain",
  "json",
  "application/",
];

const contentTypeArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant<string | undefined>("application/json") },
  { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  { weight: 1, arbitrary: headerGarbage },
  { weight: 2, arbitrary: fc.constant(undefined) },
);

const SIGNATURE_GARBAGE = [
  "",
  "t=",
  "v1=",
  "t=1,v1=",
  "t=abc,v1=deadbeef",
  "t=99999999999999999999,v1=00",
  "t=-1,v1=00",
  "v1=00,t=1",
  ",,,",
  "t=1,v0=00",
  "t=1 ,v1= 00",
  "t=1,t=2,v1=00",
  "t=1e3,v1=00",
];

const signatureGarbage = fc.oneof(
  fc.constantFrom(...SIGNATURE_GARBAGE),
  fc.tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{64}$/)).map(([t, h]) => `t=${t},v1=${h}`),
  fc.tuple(fc.integer({ min: -300, max: 300 }), fc.stringMatching(/^[0-9a-f]{64}$/)).map(([d, h]) => `t=${Math.floor(Date.now() / 1000) + d},v1=${h}`),
  headerGarbage,
);

/** Headers a client might add; not ones the runtime manages (host, length, encoding of the transfer). */
const EXTRA_HEADER_NAMES = [
  "x-request-id",
  "accept",
  "accept-encoding",
  "content-encoding",
  "origin",
  "x-http-method-override",
  "x-forwarded-for",
  "cookie",
  "range",
  "if-none-match",
  "x-stripe-signature",
];
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "expect",
  "te",
  "trailer",
  "keep-alive",
  "cf-connecting-ip",
  "authorization",
  "content-type",
  "stripe-signature",
]);
const extraHeaders = fc.dictionary(
  fc.oneof(fc.constantFrom(...EXTRA_HEADER_NAMES), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)).filter((n) => !RESERVED_HEADERS.has(n)),
  fc.oneof(headerGarbage, fc.constantFrom("gzip", "br", "*/*", "https://evil.test", "DELETE", "bytes=0-1", "a".repeat(300))),
  { maxKeys: 3 },
);

interface Keys {
  admin: string;
  service: string;
  analyst: string;
}

/** Every kind of Authorization: each role's key, none, revoked, expired, malformed. */
function authArb(keys: Keys): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 7, arbitrary: fc.constant<string | undefined>(`Bearer ${keys.admin}`) },
    { weight: 2, arbitrary: fc.constantFrom(`Bearer ${keys.service}`, `Bearer ${keys.analyst}`) },
    { weight: 1, arbitrary: fc.constantFrom(`Bearer ${fixtures.revokedKey}`, `Bearer ${fixtures.expiredKey}`) },
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom(
          "Bearer",
          "Bearer ",
          `bearer ${keys.admin}`,
          `BEARER ${keys.admin}`,
          "Basic YWRtaW46YWRtaW4=",
          `Bearer ${keys.admin} extra`,
          `Bearer ${keys.admin.slice(0, -1)}`,
          `Bearer ${keys.admin}x`,
          "Bearer fja_",
          `Token ${keys.admin}`,
          `Bearer\t${keys.admin}`,
          `Bearer  ${keys.admin}`,
          `Bearer ${keys.admin},Bearer ${keys.admin}`,
        ),
        fc.stringMatching(/^fja_[A-Za-z0-9_-]{43}$/).map((k) => `Bearer ${k}`),
        headerGarbage,
        headerGarbage.map((s) => `Bearer ${s}`),
      ),
    },
  );
}

const OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function requestArb(op: Operation, keys: Keys, known: Known): fc.Arbitrary<FuzzRequest> {
  const fuzzed = fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
      path: pathArb(op, known, true),
      query: queryArb(op),
      auth: authArb(keys),
      contentType: contentTypeArb,
      signature: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: signatureGarbage }),
      extra: extraHeaders,
      body: bodyArb(op),
    })
    .map(({ method, path, query, auth, contentType, signature, extra, body }): FuzzRequest => {
      const headers: Record<string, string> = { ...extra };
      if (auth !== undefined) headers.authorization = auth;
      if (contentType !== undefined) headers["content-type"] = contentType;
      if (signature !== undefined) headers["stripe-signature"] = signature;
      return { method, path, query, headers, body };
    });
  // A share of requests that should pass every check (admin key, JSON, valid path, query and
  // body), so the fuzz reaches the handlers and their writes, not only the validators in front.
  const wellFormed = fc.record({ path: pathArb(op, known, false), query: validQueryPairs(op).map(toQuery), body: op.body ? validBody(op.body, known).map(serialize) : fc.constant(undefined) }).map(
    ({ path, query, body }): FuzzRequest => ({
      method: op.method,
      path,
      query,
      headers: { authorization: `Bearer ${keys.admin}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body,
    }),
  );
  return fc.oneof({ weight: 1, arbitrary: wellFormed }, { weight: 2, arbitrary: fuzzed });
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const fixtures = { revokedKey: "", expiredKey: "" };
/**
 * Values that exist in Stripe (the emulator), by parameter or body field name, made in
 * beforeAll: a promotion code, a test clock, a user with a customer (mirrored in D1 too).
 */
const stripeKnown = new Map<string, string[]>();
/** Keys the fuzzer itself authenticates with: never offered as a path id to rotate or revoke. */
const ownKeyIds = new Set<string>();

async function setUp(): Promise<void> {
  const admin = await makeKey("admin", { name: "fuzz-fixtures" });
  ownKeyIds.add(admin.id);
  const revoked = await makeKey("admin", { name: "fuzz-revoked" });
  const res = await SELF.fetch(`${BASE}/v1/keys/${revoked.id}/revoke`, { method: "POST", headers: { authorization: `Bearer ${admin.key}`, "cf-connecting-ip": freshIp() } });
  if (res.status !== 200) throw new Error(`could not revoke the fixture key: HTTP ${res.status}`);
  const expiring = await makeKey("admin", { name: "fuzz-expired", expiresAt: Date.now() + 50 });
  await new Promise((r) => setTimeout(r, 60));
  fixtures.revokedKey = revoked.key;
  fixtures.expiredKey = expiring.key;
  // Stored events, so replaying by id can find one (their ids are offered as path values).
  for (const i of [1, 2]) {
    const event = {
      id: `evt_fuzzfixture${i}_${Date.now()}`,
      object: "event",
      type: "charge.succeeded",
      created: Math.floor(Date.now() / 1000) - 3_600 * i,
      livemode: false,
      data: { object: { id: `ch_fuzz_${i}`, object: "charge" } },
    };
    if ((await deliver(event)).status !== 200) throw new Error("could not store a fixture event");
  }
  // A mirrored subscriber, so a route looking a user's subscription up finds one (its user_id is
  // then offered as a path value).
  const { customer: subscribed, sub } = await subscriber({ userId: `user_fuzzfixture_${Date.now()}` });
  const invoiceIds = (await stripe().invoices.list({ customer: subscribed.id, limit: 100 })).data.map((i) => i.id);
  for (const e of await eventsFor([subscribed.id, sub.id, ...invoiceIds])) {
    if ((await deliver(e)).status !== 200) throw new Error("could not deliver a fixture subscriber's event");
    await settled(e.id);
  }
  const tag = Date.now().toString(36);
  const coupon = await stripe().coupons.create({ percent_off: 10, duration: "once" });
  const promo = await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code: `FUZZ${tag.toUpperCase()}` });
  const clock = await stripe().testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
  const customer = await stripe().customers.create({ email: `fuzz_${tag}@example.test`, metadata: { user_id: `user_fuzz_${tag}` } });
  for (const event of await eventsFor([customer.id])) if ((await deliver(event)).status !== 200) throw new Error("could not deliver a fixture customer");
  stripeKnown.set("code", [promo.code]);
  stripeKnown.set("promotion_code", [promo.code]);
  stripeKnown.set("test_clock", [clock.id]);
  await drained();
}

/** Values that exist, by parameter or body field name: ids (path and body) and amounts (body). */
type Known = Map<string, unknown[]>;

/** A fresh subscriber whose every event the worker has processed. */
async function mirroredSubscriber(lookupKey: "local_monthly" | "mobile_monthly" = "local_monthly"): Promise<string> {
  const { userId, customer, sub } = await subscriber({ userId: `user_fuzzroute_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`, lookupKey });
  const invoiceIds = (await stripe().invoices.list({ customer: customer.id, limit: 100 })).data.map((i) => i.id);
  for (const e of await eventsFor([customer.id, sub.id, ...invoiceIds])) {
    if ((await deliver(e)).status !== 200) throw new Error("could not deliver a fixture subscriber's event");
    await settled(e.id);
  }
  return userId;
}

/** The paid first invoice of a fresh mirrored subscriber. */
async function paidInvoice(): Promise<string> {
  const userId = await mirroredSubscriber();
  const customer = (await stripe().customers.search({ query: `metadata['user_id']:'${userId}'` })).data[0];
  const invoice = (await stripe().invoices.list({ customer: customer!.id, status: "paid", limit: 1 })).data[0];
  if (!invoice) throw new Error("the fixture subscriber has no paid invoice");
  return invoice.id;
}

/**
 * Open disputes for POST /v1/disputes/{id}/evidence, from Stripe's dispute test card (reason
 * product_not_received, which keeps access), and a closed one: well-formed requests then hit
 * staging, submission and the 409 of a closed dispute, not only 404s.
 */
async function disputes(): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { customer } = await subscriber({ lookupKey: "mobile_monthly", card: "pm_card_createDisputeProductNotReceived" });
    const invoice = (await stripe().invoices.list({ customer: customer.id, status: "paid", limit: 1 })).data[0]!;
    const pi = (await stripe().invoicePayments.list({ invoice: invoice.id, limit: 1 })).data[0]!.payment.payment_intent as string;
    const dispute = (await stripe().disputes.list({ payment_intent: pi, limit: 1 })).data[0];
    if (!dispute) throw new Error("the dispute test card opened no dispute");
    ids.push(dispute.id);
  }
  await stripe().disputes.close(ids[1]!);
  return ids;
}

/** A fixture's own request, as an admin: to put a user in the state a route needs. */
function adminPost(keys: Keys, path: string, body: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${keys.admin}`, "content-type": "application/json", "cf-connecting-ip": freshIp() },
    body: JSON.stringify(body),
  });
}

/**
 * Routes that succeed only on a user in a given state, which the routes fuzzed before may have
 * used up (a cancellation declines the open retention offer): each gets its own fresh state,
 * offered as the known values of the named fields, so its well-formed share can succeed.
 */
const ROUTE_FIXTURES: Record<string, (keys: Keys) => Promise<Record<string, unknown[]>>> = {
  // Return URLs must be on the app's origins (APP_BASE_URL https://app.test, or localhost in
  // test): the random https URLs the schema allows are refused (400 naming the field), these are
  // taken; with two such fields in one body, the route needs the fixture's extra runs to see both.
  // Users with no subscription yet: the users the files run before left in the database may all
  // subscribe by now (checkout then answers with a 409), and which ones depends on the file order.
  "POST /v1/checkout": async () => ({
    success_url: APP_URLS,
    cancel_url: APP_URLS,
    user_id: ["fuzz_checkout_a", "fuzz_checkout_b", "fuzz_checkout_c"].map((u) => `${u}_${crypto.randomUUID().slice(0, 8)}`),
  }),
  "POST /v1/portal": async () => ({ return_url: APP_URLS }),
  // A declined renewal: its customer, the amount due as dollars (number and text) and its attempts.
  "POST /v1/tools/manage_dunning_process": async () => {
    const { customer } = await failedRenewal();
    return { customer_id: [customer.id], amount: [29, "29.00"], failure_count: [1] };
  },
  // A subscriber suspended by dunning: the view then asks Stripe for the open invoice to pay.
  "GET /v1/subscriptions/{user_id}": async () => {
    const { userId, at, ids, seen } = await failedRenewal();
    await at(21.1);
    await dunningTick(svc());
    await deliverAll(ids, seen);
    return { user_id: [userId] };
  },
  // Events Stripe has (a subscriber's), by id, so the tool finds them there.
  "POST /v1/tools/process_webhook": async () => {
    const { customer, sub } = await subscriber({ userId: `user_fuzztool_${Date.now().toString(36)}` });
    return { id: (await eventsFor([customer.id, sub.id])).map((e) => e.id) };
  },
  // A confirmed change carries the preview's amount and moment: offer the real ones too.
  "POST /v1/subscriptions/{user_id}/change": async (keys) => {
    const userId = await mirroredSubscriber();
    const res = await adminPost(keys, `/v1/subscriptions/${userId}/change/preview`, { tier: "mobile" });
    const preview = await res.json<{ amount_due_now?: number; proration_date?: string }>();
    if (res.status !== 200 || preview.amount_due_now === undefined || preview.proration_date === undefined) throw new Error(`could not preview a change: HTTP ${res.status}`);
    return { user_id: [userId], expected_amount_due_now: [preview.amount_due_now], proration_date: [preview.proration_date] };
  },
  "POST /v1/subscriptions/{user_id}/change/preview": async () => ({ user_id: [await mirroredSubscriber()] }),
  // Paid invoices with all of them left to refund (a full refund uses one up), and amounts within them and past them.
  "POST /v1/refunds": async () => ({ invoice_id: [await paidInvoice(), await paidInvoice(), await paidInvoice()], amount: [100, 200, 1_000_000] }),
  "POST /v1/disputes/{id}/evidence": async () => ({ id: await disputes() }),
  "POST /v1/tools/dispute_summary": async () => ({ dispute_id: await disputes() }),
  "POST /v1/tools/process_refund": async () => ({ invoice_id: [await paidInvoice(), await paidInvoice(), await paidInvoice()], amount: [100, 200, 1_000_000] }),
  "POST /v1/subscriptions/{user_id}/cancel": async () => ({ user_id: [await mirroredSubscriber()] }),
  "POST /v1/subscriptions/{user_id}/reactivate": async (keys) => {
    const userId = await mirroredSubscriber();
    const res = await adminPost(keys, `/v1/subscriptions/${userId}/cancel`, { reason: "other", skip_offer: true });
    if (res.status !== 200) throw new Error(`could not cancel a fixture subscriber: HTTP ${res.status} ${await res.text()}`);
    return { user_id: [userId] };
  },
  "POST /v1/subscriptions/{user_id}/pause": async () => ({ user_id: [await mirroredSubscriber()] }),
  "POST /v1/subscriptions/{user_id}/resume": async (keys) => {
    const userId = await mirroredSubscriber();
    const res = await adminPost(keys, `/v1/subscriptions/${userId}/pause`, {});
    if (res.status !== 200) throw new Error(`could not pause a fixture subscriber: HTTP ${res.status} ${await res.text()}`);
    return { user_id: [userId] };
  },
  // Outbound webhook endpoints: event types the domain knows (random strings are all refused),
  // and an endpoint to read, change, rotate, delete; the retry's delivery goes to the suite's
  // local receiver (http to 127.0.0.1 is allowed in test).
  "POST /v1/webhook-endpoints": async () => ({ url: [HOOK_URL], events: EVENT_LISTS }),
  "GET /v1/webhook-endpoints/{id}": async (keys) => ({ id: [await webhookEndpoint(keys)] }),
  "PATCH /v1/webhook-endpoints/{id}": async (keys) => ({ id: [await webhookEndpoint(keys)], url: [HOOK_URL], events: EVENT_LISTS }),
  "DELETE /v1/webhook-endpoints/{id}": async (keys) => ({ id: [await webhookEndpoint(keys), await webhookEndpoint(keys)] }),
  "POST /v1/webhook-endpoints/{id}/rotate-secret": async (keys) => ({ id: [await webhookEndpoint(keys)] }),
  "GET /v1/webhook-endpoints/{id}/deliveries": async (keys) => ({ id: [await webhookEndpoint(keys)] }),
  "POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry": async (keys) => {
    const id = await webhookEndpoint(keys);
    await setEntitlementState(svc(), { ...noEntitlement(`user_fuzzhook_${Date.now().toString(36)}`), tier: "local", status: "active" }, { type: "system", id: "fuzz" });
    const row = await env.DB.prepare("select id from webhook_deliveries where endpoint_id = ?").bind(id).first<{ id: string }>();
    return { id: [id], delivery_id: [row!.id] };
  },
  // Disabled: a replay then makes deliveries (2xx) that no consumer sends after the answer.
  "POST /v1/webhook-endpoints/{id}/replay": async (keys) => {
    const id = await webhookEndpoint(keys);
    await env.DB.prepare("update webhook_endpoints set enabled = 0 where id = ?").bind(id).run();
    return { id: [id] };
  },
  // Organizations: a term the catalog prices and an address the US rules take (random ones are
  // all refused), and a live organization (with a member, an open invoice) for the routes on one.
  "POST /v1/organizations": async () => ({ term_months: [12, 24, 36], seats: [1, 2], address: [FUZZ_ADDRESS] }),
  // Both forms: a user's (return URLs on the app's origins, fresh users, as POST /v1/checkout) and
  // an organization's, whose nested fields take the values POST /v1/organizations is given above.
  "POST /v1/tools/create_subscription": async () => ({
    success_url: APP_URLS,
    cancel_url: APP_URLS,
    user_id: ["fuzz_tool_a", "fuzz_tool_b"].map((u) => `${u}_${crypto.randomUUID().slice(0, 8)}`),
    // Only what this suite made: the codes and clocks other files left in D1 may be used up or gone.
    promotion_code: stripeKnown.get("promotion_code") ?? [],
    test_clock: stripeKnown.get("test_clock") ?? [],
    "organization.term_months": [12, 24, 36],
    "organization.seats": [1, 2],
    "organization.address": [FUZZ_ADDRESS],
    "organization.name": ["Fuzz Agency"],
    "organization.billing_email": ["ap@fuzz.example.gov"],
    "organization.test_clock": stripeKnown.get("test_clock") ?? [],
  }),
  "GET /v1/organizations/{org_id}": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId] }),
  "GET /v1/organizations/{org_id}/members": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId] }),
  "PUT /v1/organizations/{org_id}/members/{user_id}": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId] }),
  "DELETE /v1/organizations/{org_id}/members/{user_id}": async (keys) => {
    const { orgId } = await fuzzOrganization(keys);
    const userId = `user_fuzzseat_${Date.now().toString(36)}`;
    const res = await SELF.fetch(`${BASE}/v1/organizations/${orgId}/members/${userId}`, { method: "PUT", headers: { authorization: `Bearer ${keys.admin}`, "cf-connecting-ip": freshIp() } });
    if (res.status !== 200) throw new Error(`could not assign a fixture seat: HTTP ${res.status} ${await res.text()}`);
    return { org_id: [orgId], user_id: [userId] };
  },
  "POST /v1/organizations/{org_id}/seats": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId], seats: [91, 95] }),
  "POST /v1/tools/manage_seats": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId], action: ["assign"] }),
  "POST /v1/organizations/{org_id}/renew": async (keys) => ({ org_id: [(await fuzzOrganization(keys)).orgId], term_months: [12, 24], po_number: ["PO-FUZZ-1"] }),
  "POST /v1/organizations/{org_id}/invoices/{invoice_id}/payments": async (keys) => {
    const { orgId, invoiceId } = await fuzzOrganization(keys);
    return { org_id: [orgId], invoice_id: [invoiceId], method: ["ach", "check"], reference: ["ACH-TRACE-1"] };
  },
  "POST /v1/subscriptions/{user_id}/offer/accept": async (keys) => {
    const userId = await mirroredSubscriber("mobile_monthly");
    const res = await adminPost(keys, `/v1/subscriptions/${userId}/cancel`, { reason: "too_expensive" });
    const body = await res.json<{ offer?: { id: string } }>();
    if (res.status !== 200 || !body.offer) throw new Error(`could not get a retention offer: HTTP ${res.status}`);
    return { user_id: [userId], offer_id: [body.offer.id] };
  },
};

/** Keys for one route's run: each key has its own rate limit, and a route gets its own budget. */
async function keysFor(label: string): Promise<Keys> {
  const [admin, service, analyst] = await Promise.all((["admin", "service", "analyst"] as const).map((role) => makeKey(role, { name: `fuzz ${label}`.slice(0, 100) })));
  for (const k of [admin!, service!, analyst!]) ownKeyIds.add(k.id);
  // Keys to rotate and revoke: created here, so they are not the fuzzer's own.
  await makeKey("analyst", { name: "fuzz-victim" });
  await makeKey("service", { name: "fuzz-victim" });
  return { admin: admin!.key, service: service!.key, analyst: analyst!.key };
}

const HOOK_URL = `${inject("alertReceiverBase")}/ok/fuzz`;
const EVENT_LISTS = [["*"], ["entitlement.changed"], ["invoice.paid", "dunning.recovered"]];

async function webhookEndpoint(keys: Keys): Promise<string> {
  const res = await adminPost(keys, "/v1/webhook-endpoints", { url: HOOK_URL, events: ["entitlement.changed"] });
  if (res.status !== 201) throw new Error(`could not create a webhook endpoint: HTTP ${res.status} ${await res.text()}`);
  return (await res.json<{ id: string }>()).id;
}

const FUZZ_ADDRESS = { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" };

/** A live organization with room for many seats, and its open first invoice. */
async function fuzzOrganization(keys: Keys): Promise<{ orgId: string; invoiceId: string }> {
  const orgId = `org_fuzz_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const res = await adminPost(keys, "/v1/organizations", {
    org_id: orgId,
    name: "Fuzz Agency",
    billing_email: "ap@fuzz.example.gov",
    address: FUZZ_ADDRESS,
    seats: 90,
    term_months: 12,
  });
  if (res.status !== 201) throw new Error(`could not create a fixture organization: HTTP ${res.status} ${await res.text()}`);
  const body = await res.json<{ invoices: { id: string }[] }>();
  return { orgId, invoiceId: body.invoices[0]!.id };
}

/** Return URLs on the suite's app origins: see ROUTE_FIXTURES. */
const APP_URLS = ["https://app.test/billing", "http://localhost:3000/billing/success"];

/**
 * Values that exist in the database for each path parameter (a column of the same name in any
 * table, or any table's `id` for `{id}`), that the parameter's pattern accepts: so a route that
 * looks something up also gets hits, not only misses. The fuzzer's own keys are left out.
 */
async function knownValues(op: Operation): Promise<Known> {
  const out: Known = new Map();
  const { results } = await env.DB.prepare("select name from sqlite_master where type = 'table'").all<{ name: string }>();
  const tables = results.map((r) => r.name).filter((n) => !INTERNAL_TABLE.test(n));
  const bodyFields = Object.entries(bodyProperties(op.body)).map(([name, schema]) => ({ name, schema }));
  for (const p of [...op.params.filter((x) => x.in === "path"), ...bodyFields]) {
    const { pattern, enum: members } = resolve(p.schema);
    // A column of the same name may hold values the field refuses (`tier` holds the agency's, which checkout does not sell).
    const accepts = members ? { test: (v: string) => members.includes(v) } : pattern ? new RegExp(pattern) : /./;
    const values = new Set<string>();
    for (const t of tables) {
      const cols = (await env.DB.prepare("select name from pragma_table_info(?)").bind(t).all<{ name: string }>()).results.map((c) => c.name);
      if (!cols.includes(p.name)) continue;
      const rows = await env.DB.prepare(`select distinct ${quoteIdent(p.name)} as v from ${quoteIdent(t)} where ${quoteIdent(p.name)} is not null limit 50`).all<{ v: unknown }>();
      for (const r of rows.results) if (typeof r.v === "string" && accepts.test(r.v) && !ownKeyIds.has(r.v)) values.add(r.v);
    }
    for (const v of stripeKnown.get(p.name) ?? []) if (accepts.test(v)) values.add(v);
    out.set(p.name, [...values].sort());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The JSON routes

function describeJsonRoutes(shard: { index: number; of: number }): void {
  describe("fuzz: every route in /openapi.json", () => {
    // The endpoints a route's run made stop taking events, so no delivery of a later route's
    // change writes after its answer (and is blamed on the refusal after it).
    afterEach(async () => {
      await env.DB.batch([env.DB.prepare("update webhook_endpoints set enabled = 0"), env.DB.prepare("delete from webhook_deliveries where status = 'pending'")]);
    });

    it("finds the routes to fuzz in the OpenAPI document", () => {
      // A broken or empty document would make the fuzz below cover nothing and pass.
      expect(JSON_ROUTES.length).toBeGreaterThanOrEqual(10);
      expect(WEBHOOK_ROUTES.map((op) => `${op.method} ${op.path}`)).toContain("POST /webhooks/stripe");
    });

    for (const op of JSON_ROUTES.filter((_, i) => i % shard.of === shard.index)) {
      const label = `${op.method} ${op.path}`;
      it(
        `${label}: random and mutated requests never get a 5xx, get problem+json when refused, and a refusal writes nothing`,
        async () => {
          const keys = await keysFor(label);
          const known = await knownValues(op);
          for (const [name, values] of Object.entries((await ROUTE_FIXTURES[label]?.(keys)) ?? {})) known.set(name, values);
          forgetPosition();
          const statuses: number[] = [];
          /** The forms of a union body that some request of that form got a 2xx for. */
          const formsTaken = new Set<number>();
          await fc.assert(
            fc.asyncProperty(requestArb(op, keys, known), async (req) => {
              const answer = await exercise(req);
              statuses.push(answer.status);
              if (is2xx(answer.status) && op.body && typeof req.body === "string") formsTaken.add(formIndex(op.body, parseOrUndefined(req.body)));
              // A write route that declares no body must not act on one it was sent anyway.
              if (!op.body && !BODYLESS.has(op.method) && req.method === op.method && req.body !== undefined && req.body.length > 0) {
                expect(is2xx(answer.status), `a route that takes no body acted on one:\n  ${describeExchange(req, { ...answer })}`).toBe(false);
              }
            }),
            // A route that needs a prepared state also needs its body to agree with it: more tries;
            // a body of several forms gets as many for each form as a route of one.
            { seed: seedFor(label), numRuns: (ROUTE_FIXTURES[label] ? 2 * RUNS_PER_ROUTE : RUNS_PER_ROUTE) * Math.max(1, objectForms(op.body).length) },
          );
          // The generators must reach both sides of the route, or the properties above prove little.
          expect(statuses.some(is2xx), `no request to ${label} succeeded: the generators only produce refusals`).toBe(true);
          // A body of several forms (create_subscription's user and organization): each form must succeed too.
          const forms = objectForms(op.body);
          for (const [i, f] of forms.entries()) expect(formsTaken.has(i), `no request to ${label} of the form {${(f.required ?? []).join(", ")}} succeeded`).toBe(true);
          // A public route without parameters or body has no input to refuse (only a wrong method).
          if (op.keyed || op.params.length > 0 || op.body)
            expect(
              statuses.some((s) => s >= 400),
              `every request to ${label} succeeded: the generators produce no bad input`,
            ).toBe(true);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The webhook

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** What the endpoint may accept: an evt_ id, a dotted type, a numeric created and an object. */
function isWellFormedEvent(text: string): boolean {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return false;
  }
  const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);
  if (!isObject(v)) return false;
  return (
    typeof v.id === "string" &&
    v.id.startsWith("evt_") &&
    typeof v.type === "string" &&
    /^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(v.type) &&
    typeof v.created === "number" &&
    isObject(v.data) &&
    isObject(v.data.object)
  );
}

const EVENT_TYPES = [
  "charge.succeeded",
  "customer.created",
  "customer.updated",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "invoice.paid",
  "invoice.payment_failed",
  "checkout.session.completed",
  "payment_intent.succeeded",
  "refund.created",
  "charge.dispute.created",
  "charge.dispute.closed",
  "issuing_card.created",
  "v2.core.event_destination.ping",
];

const eventType = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...EVENT_TYPES) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z_]{1,12}(\.[a-z_]{1,12}){1,3}$/) });

const eventObject = fc.oneof(
  fc.record(
    { id: fc.oneof(fc.stringMatching(/^(ch|cus|sub|in|pi|cs|re|dp)_[A-Za-z0-9]{4,14}$/), nastyString), object: fc.constantFrom("charge", "customer", "subscription", "invoice", "refund", "dispute") },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** Padding that pushes some events past the queue's message size, onto the direct-store path. */
const padding = fc.constantFrom(0, 0, 0, 0, 0, 0, 130_000);

const wellFormedEvent = fc
  .record(
    {
      id: fc.oneof(fc.stringMatching(/^evt_[A-Za-z0-9_]{8,24}$/), fc.constantFrom("evt_", "evt_" + "x".repeat(300), "evt_ü", "evt_%00")),
      object: fc.constant("event"),
      type: eventType,
      created: fc.oneof({ weight: 4, arbitrary: fc.constant(-1).map(() => nowSeconds()) }, { weight: 1, arbitrary: nastyNumber }),
      livemode: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: nasty }),
      api_version: fc.oneof({ weight: 4, arbitrary: fc.constant("2026-10-28.endive") }, { weight: 1, arbitrary: nasty }),
      data: fc.record({ object: eventObject, previous_attributes: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: ["object"] }),
      pad: padding,
    },
    { requiredKeys: ["id", "type", "created", "data", "pad"] },
  )
  .map(({ pad, ...event }) => (pad > 0 ? { ...event, data: { ...event.data, object: { ...event.data.object, description: "p".repeat(pad) } } } : event));

/** One of the four parts an endpoint must check, broken; or the whole body not an object. */
const breakage = fc.oneof(
  fc.record({ field: fc.constant("id"), value: fc.oneof(nasty, fc.constantFrom("evt", "EVT_1", "ev_1", " evt_1", undefined)) }),
  fc.record({ field: fc.constant("type"), value: fc.oneof(nasty, fc.constantFrom("charge", "Charge.Succeeded", "charge.", ".charge", "charge..succeeded", "charge succeeded", undefined)) }),
  fc.record({ field: fc.constant("created"), value: fc.oneof(nastyString, fc.constantFrom(null, true, [], {}, "1700000000", undefined)) }),
  fc.record({
    field: fc.constant("data"),
    value: fc.oneof(
      fc.constantFrom(
        null,
        undefined,
        0,
        "",
        [],
        {},
        { object: null },
        { object: 0 },
        { object: 1 },
        { object: "" },
        { object: "x" },
        { object: false },
        { object: true },
        { object: [] },
        { object: [1] },
      ),
      nasty,
    ),
  }),
  fc.record({ field: fc.constant("*"), value: fc.constantFrom(null, 0, 1, "evt_1", true, [], [{}]) }),
);

const malformedEvent = fc.tuple(wellFormedEvent, fc.array(breakage, { minLength: 1, maxLength: 2 })).map(([event, breaks]) => {
  let v: unknown = { ...event };
  for (const b of breaks) {
    if (b.field === "*") v = b.value;
    else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      if (b.value === undefined) delete (v as Record<string, unknown>)[b.field];
      else (v as Record<string, unknown>)[b.field] = b.value;
    }
  }
  return v;
});

/** Bodies that are not a well-formed event: broken events, other JSON, not JSON, too large. */
const notAnEventBody = fc.oneof(
  { weight: 6, arbitrary: malformedEvent.map(serialize) },
  { weight: 1, arbitrary: fc.jsonValue().map(serialize) },
  { weight: 2, arbitrary: rawBody(undefined) },
  { weight: 1, arbitrary: wellFormedEvent.map((e) => serialize(e).slice(0, -1)) },
  // Over the 1 MiB webhook limit.
  { weight: 1, arbitrary: fc.constant(0).map(() => serialize({ id: "evt_huge", type: "charge.succeeded", created: nowSeconds(), data: { object: { description: "h".repeat(1_100_000) } } })) },
);

const anyWebhookBody = fc.oneof(wellFormedEvent.map(serialize), notAnEventBody);

type Signing =
  | { kind: "valid"; secret: "whsec_test_current" | "whsec_test_previous" }
  | { kind: "wrong-secret"; secret: string }
  | { kind: "stale"; secondsAgo: number }
  | { kind: "other-body" }
  | { kind: "garbage"; header: string }
  | { kind: "none" };

// The secrets of test/worker/vitest.config.ts: either is valid during a rotation.
const validSigning: fc.Arbitrary<Signing> = fc.record({ kind: fc.constant("valid" as const), secret: fc.constantFrom("whsec_test_current" as const, "whsec_test_previous" as const) });

const badSigning: fc.Arbitrary<Signing> = fc.oneof(
  fc.record({ kind: fc.constant("wrong-secret" as const), secret: fc.constantFrom("whsec_test_other", "whsec_test_current ", "WHSEC_TEST_CURRENT", "whsec_test_") }),
  // Only the past: Stripe's verifier bounds a signature's age, not how far ahead its clock is.
  fc.record({ kind: fc.constant("stale" as const), secondsAgo: fc.integer({ min: 301, max: 10_000_000 }) }),
  fc.record({ kind: fc.constant("other-body" as const) }),
  fc.record({ kind: fc.constant("garbage" as const), header: signatureGarbage }),
  fc.record({ kind: fc.constant("none" as const) }),
);

async function signatureHeader(s: Signing, body: string): Promise<string | undefined> {
  switch (s.kind) {
    case "valid":
    case "wrong-secret":
      return sign(body, s.secret);
    case "stale":
      return sign(body, "whsec_test_current", nowSeconds() - s.secondsAgo);
    case "other-body":
      return sign(`${body} `, "whsec_test_current");
    case "garbage":
      return s.header;
    case "none":
      return undefined;
  }
}

interface WebhookCase {
  what: string;
  body: fc.Arbitrary<string>;
  signing: fc.Arbitrary<Signing>;
  /** Other methods and query strings too, or only what Stripe sends. */
  anyMethod: boolean;
  runs: number;
  /** The extra property of this case, checked after the common ones. */
  check: (answer: Answer, body: string, where: string) => Promise<void>;
  /** Which answers the generators must produce at least once, or they prove little. */
  mustSee: { what: string; test: (status: number) => boolean }[];
}

const refused = { what: "a refusal", test: (s: number) => s >= 400 };

const WEBHOOK_CASES: WebhookCase[] = [
  {
    what: "without a valid signature, any body is refused",
    body: anyWebhookBody,
    signing: badSigning,
    anyMethod: true,
    runs: 50,
    check: async (answer, _body, where) => {
      expect(answer.status, `accepted without a valid signature:\n  ${where}`).toBeGreaterThanOrEqual(400);
    },
    mustSee: [refused],
  },
  {
    what: "with a valid signature, a body that is not a well-formed event is refused",
    body: notAnEventBody,
    signing: validSigning,
    anyMethod: false,
    runs: 40,
    check: async (answer, body, where) => {
      // The generator breaks events; the oracle, not the generator, decides what is malformed.
      if (!isWellFormedEvent(body)) expect(answer.status, `a validly signed malformed event was not refused:\n  ${where}`).toBeGreaterThanOrEqual(400);
    },
    mustSee: [refused],
  },
  {
    what: "with a valid signature, a well-formed event never gets a 5xx, and once accepted it is stored",
    body: wellFormedEvent.map(serialize),
    signing: validSigning,
    anyMethod: false,
    runs: 40,
    // Which event types the endpoint takes is its own choice: the status is not asserted. The 200
    // promises the event is durably accepted, so once the queue is drained (done in exercise)
    // its row must be there; otherwise the queue retries it into the dead letter queue and drops
    // it, while Stripe believes it was delivered.
    check: async (answer, body, where) => {
      if (!is2xx(answer.status)) return;
      const id = (JSON.parse(body) as { id: string }).id;
      const row = await env.DB.prepare("select id from stripe_events where id = ?").bind(id).first();
      expect(row, `an accepted event was not stored:\n  ${where}`).not.toBeNull();
    },
    mustSee: [{ what: "an accepted event", test: is2xx }],
  },
];

function describeWebhook(): void {
  describe("fuzz: the Stripe webhook", () => {
    for (const op of WEBHOOK_ROUTES) {
      for (const c of WEBHOOK_CASES) {
        const label = `${op.method} ${op.path}`;
        it(
          `${label} ${c.what}; never a 5xx, problem+json when refused, and a refusal stores nothing`,
          async () => {
            forgetPosition();
            const statuses: number[] = [];
            const arb = fc.record({
              method: c.anyMethod ? fc.oneof({ weight: 6, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }) : fc.constant(op.method),
              query: fc.oneof({ weight: 6, arbitrary: fc.constant("") }, { weight: 1, arbitrary: queryArb(op) }),
              body: c.body,
              signing: c.signing,
              contentType: contentTypeArb,
              extra: extraHeaders,
            });
            await fc.assert(
              fc.asyncProperty(arb, async ({ method, query, body, signing: s, contentType, extra }) => {
                const headers: Record<string, string> = { ...extra };
                if (contentType !== undefined) headers["content-type"] = contentType;
                const signature = await signatureHeader(s, body);
                if (signature !== undefined) headers["stripe-signature"] = signature;
                const req: FuzzRequest = { method, path: op.path, query, headers, body };
                // Only a validly signed request can reach the queue; drain only then (it takes a round trip).
                const answer = await exercise(req, { mayHaveQueued: s.kind === "valid" });
                statuses.push(answer.status);
                await c.check(answer, body, describeExchange(req, answer));
              }),
              { seed: seedFor(`${label} ${c.what}`), numRuns: c.runs },
            );
            for (const m of c.mustSee) expect(statuses.some(m.test), `no run got ${m.what}: the generators need a look`).toBe(true);
          },
          TEST_TIMEOUT_MS,
        );
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The suite, in shards

/** What one test file fuzzes: a share of the JSON routes (by position), or the webhook. */
export type Shard = { json: { index: number; of: number } } | { webhook: true };

/**
 * The fuzz tests of one shard, for a test file to call: the shards run as separate files, so
 * vitest runs them side by side (the whole fuzz took about a minute as one file).
 */
export function fuzzSuite(shard: Shard): void {
  beforeAll(setUp);
  // The files after this one in the same slot share its D1: they must not find the triggers.
  afterAll(removeWriteLog);
  if ("json" in shard) describeJsonRoutes(shard.json);
  else describeWebhook();
}

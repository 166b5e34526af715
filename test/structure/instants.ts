/**
 * Which fields of a JSON Schema are instants, and whether each is written as the API's one wire
 * format of time: an RFC 3339 string (`type: string, format: date-time`; see
 * worker/src/instant.ts). Used on /openapi.json, on each agent tool's input and output
 * schemas and on MCP's tool list, so a field that carries Unix seconds cannot come back unseen.
 *
 * The rule is the field's name. An instant is a field named
 * - `at`, or ending in `_at` (`created_at`, `cancel_at`, `effective_at`, `changed_at`);
 * - ending in `_until` (`grace_until`);
 * - ending in `_start` or `_end` (`period_start`, `current_period_end`, `trial_end`, Stripe's names kept);
 * - ending in `_date` (`proration_date`, `due_date`);
 * - `as_of`, `date`, `created`, `timestamp`.
 * Not instants although the name says so: `cancel_at_period_end` (Stripe's boolean flag).
 * Not judged by name: `before`, `after`, `from`, `to`, which are cursors, months, audit summaries
 * or instants depending on the route; where they are instants their schema says `date-time`.
 * A duration names its unit instead (`latency_ms`, `trial_days`) and is not an instant.
 */

export const INSTANT_NAME = /^(at|as_of|date|created|timestamp)$|_(at|until|start|end|date)$/;
export const NOT_INSTANTS = new Set(["cancel_at_period_end"]);

export const isInstantName = (name: string) => INSTANT_NAME.test(name) && !NOT_INSTANTS.has(name);

type Schema = Record<string, unknown>;

export interface InstantViolation {
  where: string;
  found: string;
}

/** Resolves a local `$ref` (`#/components/schemas/X`, `#/$defs/X`) against its document. */
function resolver(root: unknown) {
  return (ref: string): Schema | undefined => {
    if (!ref.startsWith("#")) return undefined;
    let node: unknown = root;
    for (const part of ref.slice(1).split("/").filter(Boolean)) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return node as Schema | undefined;
  };
}

/** The variants a value of this schema can take, refs followed, through anyOf/oneOf (nullable). */
function variants(s: Schema, resolve: (ref: string) => Schema | undefined, seen = new Set<string>()): Schema[] {
  if (typeof s.$ref === "string") {
    if (seen.has(s.$ref)) return [];
    const target = resolve(s.$ref);
    return target ? variants(target, resolve, new Set([...seen, s.$ref])) : [s];
  }
  const alternatives = [...((s.anyOf as Schema[] | undefined) ?? []), ...((s.oneOf as Schema[] | undefined) ?? [])];
  if (alternatives.length > 0) return alternatives.flatMap((a) => variants(a, resolve, seen));
  return [s];
}

/** Whether a schema admits only RFC 3339 date-time strings (and null). */
function isDateTime(s: Schema, resolve: (ref: string) => Schema | undefined): boolean {
  const vs = variants(s, resolve);
  const nonNull = vs.filter((v) => !(v.type === "null" || (v as { const?: unknown }).const === null));
  if (nonNull.length === 0) return false;
  return nonNull.every((v) => {
    const types = Array.isArray(v.type) ? (v.type as string[]).filter((t) => t !== "null") : [v.type];
    return types.length === 1 && types[0] === "string" && v.format === "date-time";
  });
}

const describe = (s: Schema, resolve: (ref: string) => Schema | undefined) => JSON.stringify(variants(s, resolve).map((v) => ({ type: v.type ?? "any", ...(v.format ? { format: v.format } : {}) })));

/**
 * Every instant field under `schema` that is not a date-time string.
 * @param root the document `$ref`s point into (the OpenAPI document, or the schema itself)
 */
export function instantViolations(schema: unknown, where: string, root: unknown = schema): InstantViolation[] {
  const resolve = resolver(root);
  const out: InstantViolation[] = [];
  const walk = (s: Schema | undefined, at: string, name: string | null, refs: Set<string>) => {
    if (!s || typeof s !== "object") return;
    if (typeof s.$ref === "string") {
      if (refs.has(s.$ref)) return;
      walk(resolve(s.$ref), at, name, new Set([...refs, s.$ref]));
      return;
    }
    if (name !== null && isInstantName(name) && !isDateTime(s, resolve)) out.push({ where: at, found: describe(s, resolve) });
    for (const [k, v] of Object.entries((s.properties as Record<string, Schema> | undefined) ?? {})) walk(v, `${at}.${k}`, k, refs);
    if (s.items && typeof s.items === "object") walk(s.items as Schema, `${at}[]`, null, refs);
    for (const key of ["anyOf", "oneOf", "allOf"]) for (const v of (s[key] as Schema[] | undefined) ?? []) walk(v, at, null, refs);
    if (s.additionalProperties && typeof s.additionalProperties === "object") walk(s.additionalProperties as Schema, `${at}{}`, null, refs);
  };
  walk(schema as Schema, where, null, new Set());
  return out;
}

interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

/** Every instant of an OpenAPI document's parameters, request bodies and responses that is not a date-time string. */
export function openApiInstantViolations(doc: { paths: Record<string, Record<string, Operation>> }): InstantViolation[] {
  const out: InstantViolation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const at = `${method} ${path}`;
      for (const p of op.parameters ?? []) {
        const param = { type: "object", properties: { [p.name]: p.schema ?? {} } };
        out.push(...instantViolations(param, `${at} ${p.in}`, doc));
      }
      for (const [type, c] of Object.entries(op.requestBody?.content ?? {})) out.push(...instantViolations(c.schema, `${at} body(${type})`, doc));
      for (const [status, r] of Object.entries(op.responses ?? {})) for (const [type, c] of Object.entries(r.content ?? {})) out.push(...instantViolations(c.schema, `${at} ${status}(${type})`, doc));
    }
  }
  return out;
}

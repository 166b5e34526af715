import qs from "qs";
import { invalidRequest, missingParameter, unknownParameter } from "./errors.ts";

/**
 * Request parameters: Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and
 * query strings) with bracket notation, `items[0][price]=...`, `metadata[user_id]=...`,
 * `expand[]=...`. Every value arrives as a string; each endpoint declares a schema so the
 * emulator can reject what Stripe rejects (unknown, missing, wrongly typed parameters) with the
 * same `param` path, and hand the handler JSON values of the right type.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Params = { [key: string]: Json };

export type Spec =
  | { t: "string"; enum?: readonly string[]; emptyable?: boolean; required?: boolean }
  | { t: "integer"; min?: number; max?: number; emptyable?: boolean; required?: boolean }
  | { t: "boolean"; required?: boolean }
  | { t: "timestamp"; allowNow?: boolean; emptyable?: boolean; required?: boolean }
  | { t: "metadata"; required?: boolean }
  | { t: "object"; fields: Fields; emptyable?: boolean; required?: boolean; open?: boolean }
  | { t: "array"; of: Spec; emptyable?: boolean; required?: boolean }
  | { t: "range"; required?: boolean };
export type Fields = { [name: string]: Spec };

export const s = {
  str: (o: { enum?: readonly string[]; emptyable?: boolean } = {}): Spec => ({ t: "string", ...o }),
  enum: (...values: string[]): Spec => ({ t: "string", enum: values }),
  int: (o: { min?: number; max?: number; emptyable?: boolean } = {}): Spec => ({ t: "integer", ...o }),
  bool: (): Spec => ({ t: "boolean" }),
  ts: (o: { allowNow?: boolean; emptyable?: boolean } = {}): Spec => ({ t: "timestamp", ...o }),
  meta: (): Spec => ({ t: "metadata" }),
  obj: (fields: Fields, o: { emptyable?: boolean; open?: boolean } = {}): Spec => ({ t: "object", fields, ...o }),
  arr: (of: Spec, o: { emptyable?: boolean } = {}): Spec => ({ t: "array", of, ...o }),
  range: (): Spec => ({ t: "range" }),
  req: (spec: Spec): Spec => ({ ...spec, required: true }),
};

export function parseForm(text: string): Record<string, unknown> {
  if (text === "") return {};
  // arrayLimit: Stripe accepts up to hundreds of indexed items; qs would otherwise turn
  // `items[25]` into an object with a "25" key.
  return qs.parse(text, { depth: 20, arrayLimit: 1000, parameterLimit: 10_000, allowDots: false });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function toArray(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (isRecord(v) && Object.keys(v).every((k) => /^\d+$/.test(k))) {
    return Object.keys(v)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => v[k]);
  }
  return undefined;
}

function coerce(value: unknown, spec: Spec, path: string): Json {
  if (value === "" && "emptyable" in spec && spec.emptyable) return null;
  switch (spec.t) {
    case "string": {
      if (typeof value !== "string") throw invalidRequest(`Invalid string: ${describe(value)}`, path);
      if (spec.enum && !spec.enum.includes(value)) {
        throw invalidRequest(`Invalid ${path}: must be one of ${spec.enum.join(", ")}`, path);
      }
      return value;
    }
    case "integer": {
      if (typeof value !== "string" || !/^-?\d+$/.test(value)) throw invalidRequest(`Invalid integer: ${describe(value)}`, path);
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${value}`, path);
      if (spec.min !== undefined && n < spec.min) throw invalidRequest(`This value must be greater than or equal to ${spec.min}.`, path);
      if (spec.max !== undefined && n > spec.max) throw invalidRequest(`This value must be less than or equal to ${spec.max}.`, path);
      return n;
    }
    case "boolean": {
      if (value === "true") return true;
      if (value === "false") return false;
      throw invalidRequest(`Invalid boolean: ${describe(value)}`, path);
    }
    case "timestamp": {
      if (spec.allowNow && value === "now") return "now";
      if (typeof value !== "string" || !/^\d+$/.test(value)) throw invalidRequest(`Invalid timestamp: must be an integer Unix timestamp.`, path);
      return Number(value);
    }
    case "metadata": {
      if (value === "") return null;
      if (!isRecord(value)) throw invalidRequest(`Invalid object`, path);
      const out: { [k: string]: Json } = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw invalidRequest(`Invalid value for metadata key ${k}`, `${path}[${k}]`);
        if (k.length > 40) throw invalidRequest(`Metadata keys must be at most 40 characters.`, `${path}[${k}]`);
        if (v.length > 500) throw invalidRequest(`Metadata values must be at most 500 characters.`, `${path}[${k}]`);
        // An empty string deletes the key (Stripe's convention); null marks it for deletion.
        out[k] = v === "" ? null : v;
      }
      if (Object.keys(out).length > 50) throw invalidRequest(`Metadata can have at most 50 keys.`, path);
      return out;
    }
    case "object": {
      if (!isRecord(value)) throw invalidRequest(`Invalid object`, path);
      return validateFields(value, spec.fields, path, spec.open ?? false);
    }
    case "array": {
      const arr = toArray(value);
      if (arr === undefined) throw invalidRequest(`Invalid array`, path);
      return arr.map((item, i) => coerce(item, spec.of, `${path}[${i}]`));
    }
    case "range": {
      if (typeof value === "string") return coerce(value, { t: "integer" }, path);
      if (!isRecord(value)) throw invalidRequest(`Invalid integer: ${describe(value)}`, path);
      return validateFields(value, { gt: s.int(), gte: s.int(), lt: s.int(), lte: s.int() }, path, false);
    }
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return v;
  return Array.isArray(v) ? "array" : typeof v === "object" ? "object" : String(v);
}

function validateFields(input: Record<string, unknown>, fields: Fields, prefix: string, open: boolean): Params {
  const out: Params = {};
  for (const [key, value] of Object.entries(input)) {
    const path = prefix === "" ? key : `${prefix}[${key}]`;
    const spec = fields[key];
    if (spec === undefined) {
      if (open) {
        out[key] = typeof value === "string" ? value : null;
        continue;
      }
      throw unknownParameter(path);
    }
    out[key] = coerce(value, spec, path);
  }
  for (const [key, spec] of Object.entries(fields)) {
    if (spec.required && !(key in input)) throw missingParameter(prefix === "" ? key : `${prefix}[${key}]`);
  }
  return out;
}

/** Validates top-level params against a schema; `expand` is accepted everywhere, as on Stripe. */
export function validate(input: Record<string, unknown>, fields: Fields): Params {
  return validateFields(input, { expand: s.arr(s.str()), ...fields }, "", false);
}

export const listFields: Fields = {
  limit: s.int({ min: 1, max: 100 }),
  starting_after: s.str(),
  ending_before: s.str(),
  created: s.range(),
};

// Typed readers over validated params: the schema guarantees the JSON type, these narrow it
// for the compiler without casts.
export function str(p: Params | undefined, k: string): string | undefined {
  const v = p?.[k];
  return typeof v === "string" ? v : undefined;
}
export function int(p: Params | undefined, k: string): number | undefined {
  const v = p?.[k];
  return typeof v === "number" ? v : undefined;
}
export function bool(p: Params | undefined, k: string): boolean | undefined {
  const v = p?.[k];
  return typeof v === "boolean" ? v : undefined;
}
export function obj(p: Params | undefined, k: string): Params | undefined {
  const v = p?.[k];
  return isJsonRecord(v) ? v : undefined;
}
export function arr(p: Params | undefined, k: string): Json[] | undefined {
  const v = p?.[k];
  return Array.isArray(v) ? v : undefined;
}
export function objs(p: Params | undefined, k: string): Params[] | undefined {
  const a = arr(p, k);
  return a?.filter(isJsonRecord);
}
export function strs(p: Params | undefined, k: string): string[] | undefined {
  const a = arr(p, k);
  return a?.filter((x): x is string => typeof x === "string");
}
export function has(p: Params | undefined, k: string): boolean {
  return p !== undefined && k in p;
}
export function isNull(p: Params | undefined, k: string): boolean {
  return p !== undefined && k in p && p[k] === null;
}
export function isJsonRecord(v: Json | undefined): v is Params {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Applies a metadata update the way Stripe does: merge, and null/"" deletes a key. */
export function mergeMetadata(current: { [k: string]: string } | null, update: Params | undefined, clear: boolean): { [k: string]: string } {
  const out: { [k: string]: string } = clear ? {} : { ...(current ?? {}) };
  if (update === undefined) return out;
  for (const [k, v] of Object.entries(update)) {
    if (v === null) delete out[k];
    else if (typeof v === "string") out[k] = v;
  }
  return out;
}

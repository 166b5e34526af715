import { invalidRequest } from "./errors.ts";
import type { Json } from "./form.ts";

/**
 * `expand[]`: replaces an id string at a dotted path with the object it names (recursively for
 * deeper segments). Works on the JSON clone of a response; `data.` walks into list items, and an
 * array field (e.g. `discounts`) expands each element. A path Stripe could not expand (field
 * absent or not an id) is rejected as Stripe does.
 *
 * A last segment may also name an includable property: one Stripe computes and returns only when
 * asked through `expand[]` (e.g. an invoice's `amount_paid_off_stripe`); `include` answers it for
 * an object, or undefined when the object has no such property.
 */
export function expandPaths(root: Json, paths: string[], lookup: (id: string) => Json | undefined, include: Include = () => undefined): Json {
  let out = root;
  for (const path of paths) {
    if (path.split(".").length > 4) throw invalidRequest(`You cannot expand more than 4 levels of a property. Property: ${path}`, "expand");
    out = expandOne(out, path.split("."), path, lookup, include);
  }
  return out;
}

/** The value of an includable property of an object (its JSON), or undefined if it has none of that name. */
export type Include = (node: { [key: string]: Json }, property: string) => Json | undefined;

function expandOne(node: Json, segments: string[], full: string, lookup: (id: string) => Json | undefined, include: Include): Json {
  const [head, ...rest] = segments;
  if (head === undefined) return node;
  if (Array.isArray(node)) return node.map((n) => expandOne(n, segments, full, lookup, include));
  if (node === null || typeof node !== "object") return node;
  // A deleted object is a stub (`{id, object, deleted}`): Stripe returns it as it is, whatever was asked to expand.
  if (node.deleted === true && !(head in node)) return node;
  if (!(head in node)) {
    const included = rest.length === 0 ? include(node, head) : undefined;
    if (included !== undefined) return { ...node, [head]: included };
  }
  if (!(head in node)) throw invalidRequest(`This property cannot be expanded (${full}).`, "expand");
  const current = node[head];
  if (current === undefined) return node;
  const expandItem = (v: Json): Json => {
    if (typeof v === "string") {
      const found = lookup(v);
      if (found === undefined) return v;
      return rest.length > 0 ? expandOne(found, rest, full, lookup, include) : found;
    }
    if (v === null) return v;
    if (rest.length > 0) return expandOne(v, rest, full, lookup, include);
    if (typeof v === "object" && !Array.isArray(v) && "id" in v) return v;
    throw invalidRequest(`This property cannot be expanded (${full}).`, "expand");
  };
  const replaced = Array.isArray(current) ? current.map(expandItem) : expandItem(current);
  return { ...node, [head]: replaced };
}

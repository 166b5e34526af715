import type Stripe from "stripe";
import type { Core } from "../core.ts";
import { resourceMissing } from "../errors.ts";
import { obj, s, str, type Fields, type Params } from "../form.ts";

export const addressFields: Fields = {
  city: s.str(),
  country: s.str(),
  line1: s.str(),
  line2: s.str(),
  postal_code: s.str(),
  state: s.str(),
};

export function addressFrom(p: Params | undefined): Stripe.Address | null {
  if (p === undefined) return null;
  return {
    city: str(p, "city") ?? null,
    country: str(p, "country") ?? null,
    line1: str(p, "line1") ?? null,
    line2: str(p, "line2") ?? null,
    postal_code: str(p, "postal_code") ?? null,
    state: str(p, "state") ?? null,
  };
}

export function metadataFrom(p: Params | undefined, key = "metadata"): { [k: string]: string } {
  const m = obj(p, key);
  const out: { [k: string]: string } = {};
  if (m) for (const [k, v] of Object.entries(m)) if (typeof v === "string") out[k] = v;
  return out;
}

export function requireCustomer(core: Core, id: string, param = "customer"): Stripe.Customer {
  const c = core.state.customers.get(id);
  if (!c) throw resourceMissing("customer", id, param);
  return c;
}

export function requirePrice(core: Core, id: string, param = "price"): Stripe.Price {
  const p = core.state.prices.get(id);
  if (!p) throw resourceMissing("price", id, param);
  return p;
}

export function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : v.id;
}

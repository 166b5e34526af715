import type Stripe from "stripe";
import { diff, type Core } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest } from "../errors.ts";
import { has, obj, s, str, validate } from "../form.ts";
import { clone } from "../store.ts";

/**
 * Stripe Tax settings: a new account's are `pending`, naming what is missing, until its head
 * office and default tax code are set; then `active`. (The emulator's automatic tax reads the
 * `taxRates` option whatever they say: see the README's known differences.)
 */
function current(core: Core): Stripe.Tax.Settings {
  if (!core.state.taxSettings) {
    core.state.taxSettings = {
      object: "tax.settings",
      defaults: { provider: "stripe", tax_behavior: null, tax_code: null },
      head_office: null,
      livemode: false,
      status: "pending",
      status_details: { pending: { missing_fields: ["head_office", "defaults.tax_code"] } },
    };
  }
  return core.state.taxSettings;
}

function settle(settings: Stripe.Tax.Settings): void {
  const missing = [...(settings.head_office ? [] : ["head_office"]), ...(settings.defaults.tax_code ? [] : ["defaults.tax_code"])];
  settings.status = missing.length === 0 ? "active" : "pending";
  settings.status_details = missing.length === 0 ? { active: {} } : { pending: { missing_fields: missing } };
}

export function retrieveTaxSettings(ctx: Ctx): Stripe.Tax.Settings {
  validate(ctx.raw, {});
  return current(ctx.core);
}

const addressSpec = s.obj({ line1: s.str(), line2: s.str(), city: s.str(), state: s.str(), postal_code: s.str(), country: s.str() });

export function updateTaxSettings(ctx: Ctx): Stripe.Tax.Settings {
  const p = validate(ctx.raw, {
    defaults: s.obj({ tax_behavior: s.enum("exclusive", "inclusive", "inferred_by_currency"), tax_code: s.str() }),
    head_office: s.obj({ address: s.req(addressSpec) }),
  });
  const settings = current(ctx.core);
  const before = clone(settings);
  const defaults = obj(p, "defaults");
  if (defaults) {
    const behavior = str(defaults, "tax_behavior");
    if (behavior === "exclusive" || behavior === "inclusive" || behavior === "inferred_by_currency") settings.defaults.tax_behavior = behavior;
    const code = str(defaults, "tax_code");
    if (code !== undefined) {
      if (!/^txcd_\d{8}$/.test(code)) throw invalidRequest(`Invalid tax code: ${code}`, "defaults[tax_code]");
      settings.defaults.tax_code = code;
    }
  }
  const office = obj(p, "head_office");
  if (office) {
    const address = obj(office, "address");
    const country = str(address, "country");
    if (!country || !/^[A-Za-z]{2}$/.test(country)) throw invalidRequest("A head office address needs a two-letter `country`.", "head_office[address][country]");
    settings.head_office = {
      address: {
        city: str(address, "city") ?? null,
        country: country.toUpperCase(),
        line1: str(address, "line1") ?? null,
        line2: str(address, "line2") ?? null,
        postal_code: str(address, "postal_code") ?? null,
        state: str(address, "state") ?? null,
      },
    };
  }
  settle(settings);
  if (has(p, "defaults") || has(p, "head_office")) {
    ctx.core.emit({ type: "tax.settings.updated", data: { object: settings, previous_attributes: diff(before, settings) } }, ctx.core.realNow(), ctx.request);
  }
  return settings;
}

import type Stripe from "stripe";
import type { Core, RequestInfo } from "../core.ts";
import { invalidRequest } from "../errors.ts";
import { newId } from "../ids.ts";
import { arr, isJsonRecord, s, str, type Params } from "../form.ts";
import { DAY_SECONDS } from "./periods.ts";

/**
 * Invoicing terms a business customer needs: custom fields (a purchase order number) on its
 * invoices, its tax IDs, and net payment terms (send_invoice with a due date).
 */

/** `custom_fields` (or `invoice_settings[custom_fields]`): an array of {name, value}, or "" to clear. */
export const customFieldsSpec = s.arr(s.obj({ name: s.req(s.str()), value: s.req(s.str()) }), { emptyable: true });

/** Stripe's limits on invoice custom fields (API reference: "up to 4", name ≤ 40, value ≤ 140). */
export const CUSTOM_FIELD_LIMITS = { count: 4, name: 40, value: 140 } as const;

/** Stripe quotes a long rejected string by its first and last ten characters. */
function quoted(v: string): string {
  return v.length > 23 ? `${v.slice(0, 10)}...${v.slice(-10)}` : v;
}

/**
 * The custom fields given under `key` of `p`: undefined when absent, null when cleared with "",
 * else the list, checked against Stripe's limits; `param` is the path errors name.
 */
export function customFieldsFrom(p: Params | undefined, key: string, param: string): Stripe.Invoice.CustomField[] | null | undefined {
  if (p === undefined || !(key in p)) return undefined;
  const list = arr(p, key);
  if (list === undefined) return null;
  if (list.length > CUSTOM_FIELD_LIMITS.count) throw invalidRequest(`Invalid array: ${param} must have at most ${CUSTOM_FIELD_LIMITS.count} elements`, param);
  return list.map((raw, i) => {
    const f = isJsonRecord(raw) ? raw : {};
    const name = str(f, "name") ?? "";
    const value = str(f, "value") ?? "";
    if (name.length > CUSTOM_FIELD_LIMITS.name) throw invalidRequest(`Invalid string: ${quoted(name)}; must be at most ${CUSTOM_FIELD_LIMITS.name} characters`, `${param}[${i}][name]`);
    if (value.length > CUSTOM_FIELD_LIMITS.value) throw invalidRequest(`Invalid string: ${quoted(value)}; must be at most ${CUSTOM_FIELD_LIMITS.value} characters`, `${param}[${i}][value]`);
    if (name === "") throw invalidRequest("Invalid string: must not be empty", `${param}[${i}][name]`);
    if (value === "") throw invalidRequest("Invalid string: must not be empty", `${param}[${i}][value]`);
    return { name, value };
  });
}

/** The tax ID types stripe-node 23 lists for `tax_id_data[][type]` and `customers.createTaxId`. */
const TAX_ID_TYPES = new Set(
  "ad_nrt ae_trn al_tin am_tin ao_tin ar_cuit au_abn au_acn au_arn au_wpn aw_tin az_tin ba_tin bb_tin bd_bin bf_ifu bg_uic bh_vat bj_ifu bo_tin br_cnpj br_cpf bs_tin bw_vat by_tin ca_bn ca_gst_hst ca_pst_bc ca_pst_mb ca_pst_sk ca_qst cd_nif ch_uid ch_vat ci_vat cl_tin cm_niu cn_tin co_nit cr_tin cv_nif cz_dic de_stn do_rcn ec_ruc eg_tin es_cif et_tin eu_oss_vat eu_vat fo_vat fr_siren fr_siret fr_spi gb_vat ge_vat gh_tin gi_tin gn_nif hk_br hr_oib hu_tin ic_nif id_npwp il_vat in_gst is_kt is_vat it_cf jp_cn jp_rn jp_trn ke_pin kg_tin kh_tin kr_brn kz_bin la_tin li_uid li_vat lk_vat ma_vat md_cf md_vat me_pib mk_vat mr_nif mu_vat mx_rfc my_frp my_itn my_sst mz_nuit ng_tin no_vat no_voec np_pan nz_bn nz_gst om_vat pe_ruc ph_tin pl_nip pt_nif py_ruc ro_tin rs_pib ru_inn ru_kpp sa_vat sg_gst sg_uen si_tin sm_coe sn_ninea sr_fin sv_nit th_vat tj_tin tr_tin tt_bir tt_vat tw_vat tz_vat ua_vat ug_tin us_ein uy_ruc uz_tin uz_vat ve_rif vn_tin za_vat zm_tin zw_tin".split(
    " ",
  ),
);

/** Formats Stripe checks locally (it validates more types against government registries). */
const TAX_ID_FORMATS: Record<string, RegExp> = {
  us_ein: /^\d{2}-?\d{7}$/,
};

function isTaxIdType(t: string): t is Stripe.TaxId.Type {
  return TAX_ID_TYPES.has(t);
}

/** Checks one tax ID (type, value) before anything is stored; `param` is its path, e.g. `tax_id_data[0]`. */
export function checkTaxId(type: string, value: string, param: string | null): Stripe.TaxId.Type {
  const at = (k: string): string => (param === null ? k : `${param}[${k}]`);
  if (!isTaxIdType(type)) throw invalidRequest(`Invalid value for ${at("type")}: ${type} is not a supported tax ID type.`, at("type"));
  const format = TAX_ID_FORMATS[type];
  if (value.trim() === "" || (format && !format.test(value))) throw invalidRequest(`Invalid value for ${type}.`, at("value"), "tax_id_invalid");
  return type;
}

/** Stores a checked tax ID on a customer and emits `customer.tax_id.created`. */
export function addTaxId(core: Core, customerId: string, type: Stripe.TaxId.Type, value: string, now: number, request: RequestInfo | null): Stripe.TaxId {
  const prefix = type.slice(0, 2).toUpperCase();
  // eu_vat values start with their member state (DE123456789); the other types name their country.
  const country = type === "eu_vat" || type === "eu_oss_vat" ? value.slice(0, 2).toUpperCase() : prefix;
  const taxId: Stripe.TaxId = {
    id: newId("txi"),
    object: "tax_id",
    country,
    created: now,
    customer: customerId,
    customer_account: null,
    livemode: false,
    owner: { type: "customer", customer: customerId, customer_account: null },
    type,
    value,
    // Stripe verifies only some types (EU VAT, GB VAT, AU ABN ...) against a registry; the emulator verifies none.
    verification: { status: "unavailable", verified_address: null, verified_name: null },
  };
  core.state.taxIds.set(taxId.id, taxId);
  core.emit({ type: "customer.tax_id.created", data: { object: taxId } }, now, request);
  return taxId;
}

/** A customer's tax IDs as an invoice shows them (`customer_tax_ids`), oldest first. */
export function invoiceTaxIds(core: Core, customerId: string): Stripe.Invoice.CustomerTaxId[] {
  return [...core.state.taxIds.values()].filter((t) => t.customer === customerId).map((t) => ({ type: t.type, value: t.value }));
}

/** The due date of a send_invoice invoice created at `created` with `daysUntilDue` days of terms. */
export function dueDateFor(created: number, daysUntilDue: number): number {
  return created + daysUntilDue * DAY_SECONDS;
}

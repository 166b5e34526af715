/**
 * A payment an organization made outside Stripe, recorded on its invoice (POST
 * /v1/organizations/{org_id}/invoices/{invoice_id}/payments): paid out of band in Stripe with no
 * charge, audited with who recorded it, the method and the reference. Stripe is the emulator
 * through the official client; D1 is real.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, invoices } from "../../worker/src/db/schema";
import { call, makeKey } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";
import { buyOrganization } from "./organization-term-helpers";
import { db, stripe } from "./stripe-helpers";

let service: { id: string; key: string };
let analyst: string;
beforeAll(async () => {
  service = await makeKey("service");
  analyst = (await makeKey("analyst")).key;
});

const pay = (orgId: string, invoiceId: string, body: unknown, key = service.key) => call("POST", `/v1/organizations/${orgId}/invoices/${invoiceId}/payments`, { key, body });

describe("POST /v1/organizations/{org_id}/invoices/{invoice_id}/payments", () => {
  it("an ACH payment closes the invoice without a charge, and the audit log says who recorded it, how, and its reference", async () => {
    const { orgId, org, row } = await buyOrganization(service.key, { seats: 3 });
    const invoiceId = org.invoices[0]!.id;
    const res = await pay(orgId, invoiceId, { method: "ach", reference: "TRACE 021000021-0000042" });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await res.json<{ invoice: { id: string; status: string }; payment: Record<string, unknown> }>();
    expect(body.invoice).toMatchObject({ id: invoiceId, status: "paid" });
    expect(body.payment).toMatchObject({ method: "ach", reference: "TRACE 021000021-0000042", amount: 117_000, currency: "usd", recorded_by: { type: "api_key", id: service.id } });

    const inv = await stripe().invoices.retrieve(invoiceId);
    expect([inv.status, inv.metadata?.payment_method_out_of_band, inv.metadata?.payment_reference]).toEqual(["paid", "ach", "TRACE 021000021-0000042"]);
    expect((await stripe().charges.list({ customer: row.customerId! })).data).toEqual([]);
    expect((await db().select().from(invoices).where(eq(invoices.id, invoiceId)).get())?.status).toBe("paid");
    const audit = (await db()
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, orgId), eq(auditLog.action, "organization.payment_recorded")))
      .all())!;
    expect(audit).toHaveLength(1);
    expect([audit[0]!.actorType, audit[0]!.actorId]).toEqual(["api_key", service.id]);
    expect(JSON.parse(audit[0]!.after!)).toMatchObject({ invoice: invoiceId, status: "paid", method: "ach", reference: "TRACE 021000021-0000042", amount: 117_000 });
  });

  it("paying a paid invoice is a 409 naming invoice_id, and nothing more is recorded", async () => {
    const { orgId, org } = await buyOrganization(service.key, { seats: 1 });
    const invoiceId = org.invoices[0]!.id;
    expect((await pay(orgId, invoiceId, { method: "check", reference: "1042" })).status).toBe(200);
    await expectProblem(await pay(orgId, invoiceId, { method: "check", reference: "1043" }), 409, "conflict", "path.invoice_id");
    expect(
      await db()
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.subjectId, orgId), eq(auditLog.action, "organization.payment_recorded")))
        .all(),
    ).toHaveLength(1);
    expect((await stripe().invoices.retrieve(invoiceId)).metadata?.payment_reference).toBe("1042");
  });

  it("another organization's invoice, or none, is a 404 naming invoice_id, and the invoice stays open", async () => {
    const mine = await buyOrganization(service.key, { seats: 1 });
    const theirs = await buyOrganization(service.key, { seats: 1 });
    const theirInvoice = theirs.org.invoices[0]!.id;
    await expectProblem(await pay(mine.orgId, theirInvoice, { method: "treasury", reference: "IPP-1" }), 404, "not_found", "path.invoice_id");
    expect((await stripe().invoices.retrieve(theirInvoice)).status).toBe("open");
    await expectProblem(await pay(mine.orgId, "in_nothing", { method: "treasury", reference: "IPP-1" }), 404, "not_found", "path.invoice_id");
    await expectProblem(await pay("org_nobody", theirInvoice, { method: "treasury", reference: "IPP-1" }), 404, "not_found", "path.org_id");
  });

  it.each([
    ["an unknown method", { method: "wire", reference: "1" }, "body.method"],
    ["no reference", { method: "ach" }, "body.reference"],
    ["a reference over 100 characters", { method: "ach", reference: "R".repeat(101) }, "body.reference"],
    ["a reference with a control character", { method: "ach", reference: "12\n34" }, "body.reference"],
  ])("%s is a 400 naming the field", async (_what, body, field) => {
    await expectProblem(await pay("org_any", "in_any", body), 400, "validation_failed", field);
  });

  it("an analyst may not record a payment", async () => {
    expect((await pay("org_any", "in_any", { method: "ach", reference: "1" }, analyst)).status).toBe(403);
  });
});

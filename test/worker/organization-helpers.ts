/** An agency's purchase as POST /v1/organizations takes it: 25 seats for 12 months with a PO number, unless changed. */
export const agencyBody = (orgId: string, extra: Record<string, unknown> = {}) => ({
  org_id: orgId,
  name: "Office of Personnel Transition",
  billing_email: "ap@agency.example.gov",
  address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
  tax_id: "12-3456789",
  po_number: "PO-2026-0042",
  seats: 25,
  term_months: 12,
  ...extra,
});

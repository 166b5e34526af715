// What other folders use of organizations: buying seats for a term, the organization's view, and its members.
export { createOrganization, customFields, type Address, type OrganizationDeps, type OrganizationInput } from "./create";
export { organizationView, requireOrganization, type OrganizationInvoice, type OrganizationView } from "./view";
export { assignSeat, listMembers, releaseSeat, type Member, type MemberPage } from "./members";
export { PAYMENT_METHODS, recordPayment, type OutOfBandMethod, type RecordedPayment } from "./payments";
export { addSeats } from "./seats";
export { sendOrganizationReminders } from "./reminders";

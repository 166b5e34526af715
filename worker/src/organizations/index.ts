// What other folders use of organizations: buying seats for a term, the organization's view, and its members.
export { createOrganization, customFields, organizationInput, type Address, type OrganizationDeps, type OrganizationInput } from "./create";
export { organizationView, requireOrganization, type OrganizationInvoice, type OrganizationView } from "./view";
export { assignSeat, listMembers, releaseSeat, type Member, type MemberPage } from "./members";
export { changeSeats, SEATS_NEXT_TERM, seatsNextTerm, type SeatsChange, type SeatsInput } from "./seats";
export { PAYMENT_METHODS, recordPayment, type OutOfBandMethod, type RecordedPayment } from "./payments";
export { renewOrganization, TERM_MONTHS, type Renewal, type RenewInput } from "./renew";
export { organizationReminders, overdueStep, renewalStep, type ReminderRun } from "./reminders";

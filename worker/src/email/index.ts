export { enqueueEmail, isEmailAddress, listEmails } from "./outbox";
export { sendDueEmails } from "./sweep";
export type { EmailInput } from "./templates";
export { emailTransport, type EmailTransport } from "./transports";
export { suppressEmailStatements, type Suppression } from "./suppress";
export { EMAIL_CATEGORY } from "./templates";

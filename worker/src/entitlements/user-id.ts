import { USER_ID_PATTERN } from "../fields";

export const isUserId = (value: unknown): value is string => typeof value === "string" && USER_ID_PATTERN.test(value);

/**
 * A user id read from Stripe (metadata anyone with dashboard access can edit, or what a Checkout
 * session was tagged with): the value when it is one the API can take, else null, so an invalid
 * one makes the object user-less (and visible as such) instead of becoming nobody's user id.
 */
export const userIdFrom = (value: unknown): string | null => (isUserId(value) ? value : null);

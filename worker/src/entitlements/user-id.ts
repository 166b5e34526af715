/**
 * What a user id of the app looks like: the API takes only these, so an id from elsewhere
 * (a Checkout session's client_reference_id, `metadata.user_id` on a Stripe object) that is not
 * one could never be looked up.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

export const isUserId = (value: unknown): value is string => typeof value === "string" && USER_ID_PATTERN.test(value);

/**
 * A user id read from Stripe (metadata anyone with dashboard access can edit, or what a Checkout
 * session was tagged with): the value when it is one the API can take, else null, so an invalid
 * one makes the object user-less (and visible as such) instead of becoming nobody's user id.
 */
export const userIdFrom = (value: unknown): string | null => (isUserId(value) ? value : null);

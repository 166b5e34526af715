/**
 * What a user id of the app looks like: the API takes only these, so an id from elsewhere
 * (a Checkout session's client_reference_id) that is not one could never be looked up.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

export const isUserId = (value: unknown): value is string => typeof value === "string" && USER_ID_PATTERN.test(value);

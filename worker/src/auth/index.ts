export { authenticate, createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from "./api-keys";
export { KEYLESS, type Permission, PERMISSIONS } from "./permissions";
export { readSession, SESSION_TTL_MS, SIGN_IN_REFUSED, signIn, signOut } from "./session";
export { actorHas } from "./permissions";

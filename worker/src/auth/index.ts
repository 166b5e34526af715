export { authenticate, createApiKey, listApiKeys, type Principal, revokeApiKey, rotateApiKey } from "./api-keys";
export { KEYLESS, type Permission, PERMISSIONS, roleHas } from "./permissions";
export { readSession, SESSION_TTL_MS, SIGN_IN_REFUSED, signIn, signOut } from "./session";

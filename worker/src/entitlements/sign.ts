import { SignJWT } from "jose";
import type { EntitlementClaims } from "./claims";
import type { LoadedKeys } from "./keys";

export async function signClaims(claims: EntitlementClaims, keys: LoadedKeys): Promise<string> {
  const { iss, aud, sub, iat, exp, ...rest } = claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: "EdDSA", kid: keys.current.kid, typ: "JWT" })
    .setIssuer(iss)
    .setAudience(aud as string)
    .setSubject(sub)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keys.current.key);
}

import type { Context } from "hono";
import { coreConfig, signingConfig } from "../env";
import type { ClaimsConfig } from "../entitlements/claims";
import type { AppEnv } from "./context";

export function claimsConfig(c: Context<AppEnv>): ClaimsConfig {
  const signing = signingConfig(c.env);
  return {
    issuer: signing.ENTITLEMENTS_ISSUER,
    audience: signing.ENTITLEMENTS_AUDIENCE,
    ttlSeconds: signing.ENTITLEMENTS_TOKEN_TTL_SECONDS,
    appBaseUrl: coreConfig(c.env).APP_BASE_URL,
  };
}

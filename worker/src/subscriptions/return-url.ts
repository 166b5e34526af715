/**
 * Where Checkout and the billing portal may send a user back to (`success_url`, `cancel_url`,
 * `return_url`): only the app's own origins, so a session started through this API cannot be
 * used to bounce a paying user to a look-alike site after Stripe's trusted page. The route and
 * the tools that take such URLs go through the domain calls that use this one check.
 */
import { invalidInput } from "../errors";

export interface ReturnUrlPolicy {
  /** Allowed origins (`https://app.example.com`): APP_BASE_URL's and APP_ORIGINS'. */
  readonly origins: readonly string[];
  /** Any localhost port too: in development and test, where the app runs on the developer's machine. */
  readonly localhost: boolean;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

const isLocal = (host: string) => LOCAL_HOSTS.has(host) || host.endsWith(".localhost");

/** Whether `url` is an http(s) URL on one of the policy's origins. */
export function isAllowedReturnUrl(policy: ReturnUrlPolicy, url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return false;
  return policy.origins.includes(parsed.origin) || (policy.localhost && isLocal(parsed.hostname));
}

/** @throws validation_failed naming `field` when `url` is given and not on an allowed origin. */
export function checkReturnUrl(policy: ReturnUrlPolicy, field: string, url: string | undefined): void {
  if (url === undefined || isAllowedReturnUrl(policy, url)) return;
  const allowed = [...policy.origins, ...(policy.localhost ? ["http(s)://localhost (development)"] : [])].join(", ");
  const origin = URL.canParse(url) ? new URL(url).origin : url;
  throw invalidInput(
    field,
    `must be on one of the app's origins: ${allowed}`,
    `${field} must lead back to the app, on one of ${allowed}; ${origin} is not one of them (APP_ORIGINS lists the app's other origins).`,
  );
}

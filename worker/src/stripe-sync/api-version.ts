import Stripe from "stripe";

/**
 * The API version the worker's requests and its webhook endpoint use: STRIPE_API_VERSION when
 * set, else the one the installed `stripe` package is built for. `npm run stripe:setup` creates
 * the endpoint with it, so events arrive in the shape the client reads. (A file of its own, with
 * no binding types, so the Node scripts can import it.)
 */
export function pinnedApiVersion(cfg: { STRIPE_API_VERSION?: string | undefined }): string {
  return cfg.STRIPE_API_VERSION ?? Stripe.API_VERSION;
}

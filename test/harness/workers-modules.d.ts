/**
 * The workerd built-in modules that worker source imports (email/transports.ts loads
 * `cloudflare:email` when the Cloudflare Email transport sends), for Node-side type checks;
 * the worker's own project takes them from @cloudflare/workers-types.
 */
declare module "cloudflare:email" {
  export const EmailMessage: new (from: string, to: string, raw: ReadableStream | string) => { readonly from: string; readonly to: string };
}

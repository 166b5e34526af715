import type { Core, RequestInfo } from "./core.ts";

/** What a route handler gets: the shared core, raw (unvalidated) params, path ids, request info. */
export interface Ctx {
  core: Core;
  raw: Record<string, unknown>;
  path: Record<string, string>;
  request: RequestInfo;
  method: string;
}

export type Handler = (ctx: Ctx) => unknown;

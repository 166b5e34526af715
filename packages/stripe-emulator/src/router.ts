import type { Handler } from "./context.ts";

/** Minimal method + path-pattern router; `:name` segments become `ctx.path.name`. */
interface Route {
  method: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const source = pattern.replace(/:([a-z_]+)/g, (_m, key: string) => {
      keys.push(key);
      return "([^/]+)";
    });
    this.routes.push({ method, regex: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  get(p: string, h: Handler): this {
    return this.add("GET", p, h);
  }
  post(p: string, h: Handler): this {
    return this.add("POST", p, h);
  }
  del(p: string, h: Handler): this {
    return this.add("DELETE", p, h);
  }

  /** The handler for a request; `pathMatched` distinguishes 405-ish misses from 404s. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | { handler: null; pathMatched: boolean } {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1] ?? "");
      });
      return { handler: r.handler, params };
    }
    return { handler: null, pathMatched };
  }
}

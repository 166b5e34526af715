/**
 * A D1 handle whose every query waits for the test's permission: a writer on it can be stopped
 * after exactly n queries while another writer, on its own handle, runs to the end.
 */
export interface GatedD1 {
  d1: D1Database;
  /** Queries started so far (each waits at the gate first). */
  readonly started: number;
  /** Let the next `n` queries through (Infinity: all of them). */
  allow(n: number): void;
  /** Resolves once `n` queries have reached the gate. */
  reached(n: number): Promise<void>;
}

export function gatedD1(inner: D1Database): GatedD1 {
  let allowed = 0;
  let started = 0;
  const waiting: (() => void)[] = [];
  const watchers: { n: number; resolve: () => void }[] = [];
  const wake = () => {
    while (allowed > 0 && waiting.length > 0) {
      allowed--;
      waiting.shift()!();
    }
  };
  const gate = () => {
    started++;
    for (const w of watchers.filter((w) => started >= w.n)) {
      watchers.splice(watchers.indexOf(w), 1);
      w.resolve();
    }
    return new Promise<void>((resolve) => {
      waiting.push(resolve);
      wake();
    });
  };
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (prop === "all" || prop === "run" || prop === "first" || prop === "raw") {
          return async (...args: unknown[]) => {
            await gate();
            return (target[prop] as (...a: unknown[]) => unknown)(...args);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  const d1 = new Proxy(inner, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => wrap(target.prepare(query));
      if (prop === "batch") {
        return async (stmts: D1PreparedStatement[]) => {
          await gate();
          return target.batch(stmts.map((s) => real.get(s) ?? s));
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    d1,
    get started() {
      return started;
    },
    allow(n) {
      allowed += n;
      wake();
    },
    reached(n) {
      return started >= n ? Promise.resolve() : new Promise((resolve) => watchers.push({ n, resolve }));
    },
  };
}

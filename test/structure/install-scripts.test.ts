import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { hasInstallScript?: boolean; link?: boolean }> };
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };

describe("dependency install scripts", () => {
  // npm runs a dependency's install script only when allowScripts covers it (it warns today and
  // will skip later): without node's and workerd's there is no Node 22 and no workerd.
  it("approves every dependency in the lockfile that has an install script, by name", () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([where, p]) => where.includes("node_modules/") && p.hasInstallScript)
      .map(([where]) => where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length));
    expect(withScripts).toEqual(expect.arrayContaining(["node", "workerd"]));
    const approved = new Set(
      Object.entries(pkg.allowScripts ?? {})
        .filter(([, ok]) => ok)
        .map(([name]) => name),
    );
    expect([...new Set(withScripts)].filter((name) => !approved.has(name))).toEqual([]);
  });
});

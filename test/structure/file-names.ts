/**
 * Source file names are kebab-case (`payment-methods.ts`, `vitest.config.ts`): one spelling
 * across the worker, the packages and the scripts, so a path can be guessed from its name.
 */
import { readdirSync } from "node:fs";
import path from "node:path";

const SOURCE = /\.(?:[cm]?[jt]sx?)$/;
/** Lowercase words joined by hyphens; dots separate suffixes such as `.test` or `.d`. */
const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*$/;

/** The paths (as given) whose file name is not kebab-case, e.g. camelCase or PascalCase. */
export function misnamedFiles(paths: string[]): string[] {
  return paths.filter((p) => {
    const name = path.posix.basename(p);
    return SOURCE.test(name) && !KEBAB.test(name.replace(SOURCE, ""));
  });
}

/** Every file under `dir` (recursive), as a posix path relative to `root`. */
export function filesUnder(root: string, dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"));
}

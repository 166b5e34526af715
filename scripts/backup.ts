/**
 * npm run backup                          the local D1 (wrangler dev's) to backups/billing-local-<time>.sql
 * npm run backup -- --remote              the deployed D1 (wrangler d1 export --remote)
 *   --out-dir DIR     where the file goes (default backups/, gitignored)
 *   --config FILE     another wrangler config (its local D1 is .wrangler/state beside it)
 *
 * A plain SQL dump (schema and rows, as `wrangler d1 export` writes it). Once the file is
 * complete its time, size and SHA-256 are recorded in the database's `backups` table, where the
 * compliance report's backup control reads them; the record is not in the dump itself.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { backupFileName, fileFacts, record, ROOT, wrangler, type D1Options } from "./backup-common.ts";

export async function backup(o: D1Options & { outDir: string; now?: () => number }): Promise<{ file: string; at: number; bytes: number; sha256: string }> {
  // The time the export starts is the moment the dump shows; it names the file and the record.
  const at = (o.now ?? Date.now)();
  await mkdir(o.outDir, { recursive: true });
  const file = path.join(o.outDir, backupFileName(o.target, at));
  await wrangler(["export", "--output", file, ...(o.target === "remote" ? ["--skip-confirmation"] : [])], o);
  const facts = await fileFacts(file);
  await record([{ kind: "backup", at, file: path.basename(file), target: o.target, ...facts }], o);
  return { file, at, ...facts };
}

async function main() {
  const { values } = parseArgs({ options: { remote: { type: "boolean", default: false }, local: { type: "boolean", default: false }, "out-dir": { type: "string" }, config: { type: "string" } } });
  if (values.remote && values.local) throw new Error("pass --local or --remote, not both");
  const target = values.remote ? "remote" : "local";
  const started = Date.now();
  const done = await backup({ target, config: values.config, outDir: path.resolve(values["out-dir"] ?? path.join(ROOT, "backups")) });
  console.log(
    `Backed up the ${target} database to ${path.relative(process.cwd(), done.file)} (${done.bytes} bytes, sha256 ${done.sha256}) in ${((Date.now() - started) / 1000).toFixed(1)} s; recorded in its backups table.`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

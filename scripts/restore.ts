/**
 * npm run restore -- FILE                              wipe the local D1 and load FILE into it
 * npm run restore -- FILE --remote --confirm-remote    the same on the deployed D1
 *   --config FILE     another wrangler config (its local D1 is .wrangler/state beside it)
 *
 * Wipes every table, view and trigger (D1's own _cf_ tables aside), then runs the dump with
 * `wrangler d1 execute --file`. Stop the worker (or expect errors) while it runs. Afterwards:
 * `npm run resync` brings the Stripe mirror up to date with everything that changed at Stripe
 * since the backup; the audit chain and its checkpoints come back as they were in the dump.
 * The restored backup is recorded again (the dump's backups table predates it) with a `restore` row.
 */
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileFacts, query, record, timeFromFileName, wrangler, type D1Options } from "./backup-common.ts";

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function wipe(o: D1Options): Promise<number> {
  const objects = await query<{ type: string; name: string }>(
    "select type, name from sqlite_master where type in ('table', 'view', 'trigger') and name not like 'sqlite_%' and name not like '\\_cf\\_%' escape '\\'",
    o,
  );
  if (objects.length === 0) return 0;
  // Triggers and views first; dropping a table drops its indexes.
  const order = { trigger: 0, view: 1, table: 2 } as Record<string, number>;
  const sql = objects
    .sort((a, b) => order[a.type]! - order[b.type]!)
    .map((x) => `DROP ${x.type.toUpperCase()} IF EXISTS ${ident(x.name)};`)
    .join("\n");
  await wrangler(["execute", "--command", sql, ...(o.target === "remote" ? ["--yes"] : [])], o);
  return objects.length;
}

/** The first statement of every `wrangler d1 export` (local and remote alike). */
const DUMP_HEADER = "PRAGMA defer_foreign_keys=TRUE;";

/**
 * The wipe cannot be undone, so the file is checked first: a wrong file (not an export, another
 * database's) or an export cut short would otherwise leave the database empty or half loaded.
 */
export async function checkDump(file: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const problems: string[] = [];
  if (!text.startsWith(DUMP_HEADER)) problems.push(`it does not begin as wrangler d1 export writes (${DUMP_HEADER})`);
  if (!/CREATE TABLE (?:IF NOT EXISTS )?[`"']?audit_log[`"']?/.test(text)) problems.push("it creates no audit_log table, so it is not a dump of this worker's database");
  if (!/;\s*$/.test(text)) problems.push("it does not end with a complete statement, so the export was cut short");
  if (problems.length) throw new Error(`${file} is not a complete D1 export of this database; nothing was dropped: ${problems.join("; ")}.`);
}

export async function restore(file: string, o: D1Options & { now?: () => number }): Promise<{ dropped: number; bytes: number; sha256: string }> {
  await access(file);
  await checkDump(file);
  const facts = await fileFacts(file);
  const dropped = await wipe(o);
  await wrangler(["execute", "--file", path.resolve(file), ...(o.target === "remote" ? ["--yes"] : [])], o);
  const at = (o.now ?? Date.now)();
  const backupAt = timeFromFileName(file);
  const restored = { kind: "restore" as const, at, file: path.basename(file), target: o.target, ...facts };
  await record(backupAt === null ? [restored] : [{ ...restored, kind: "backup", at: backupAt }, restored], o);
  return { dropped, ...facts };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { remote: { type: "boolean", default: false }, local: { type: "boolean", default: false }, "confirm-remote": { type: "boolean", default: false }, config: { type: "string" } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new Error("usage: npm run restore -- FILE [--remote --confirm-remote] [--config wrangler.toml]");
  if (values.remote && values.local) throw new Error("pass --local or --remote, not both");
  const target = values.remote ? "remote" : "local";
  if (target === "remote" && !values["confirm-remote"]) {
    throw new Error("Restoring the remote database deletes everything in it first. Run again with --confirm-remote if that is what you mean.");
  }
  const started = Date.now();
  const done = await restore(file, { target, config: values.config });
  console.log(
    `Restored ${file} (${done.bytes} bytes, sha256 ${done.sha256}) into the ${target} database (dropped ${done.dropped} tables, views and triggers first) in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
  console.log("Next: start the worker and run `npm run resync` so the Stripe mirror catches up with what changed since the backup; `npm run db:migrate` if the dump predates a migration.");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

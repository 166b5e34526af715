/**
 * npm run apikey -- create --role admin --name ops [--expires-in-days 90] [--remote] [--if-none]
 * npm run apikey -- list [--remote]
 * npm run apikey -- revoke --id key_... [--remote]
 *
 * Works on D1 directly (local by default, --remote for the deployed database), so the first
 * admin key can be made before the API can be called. Every change is chained into the audit
 * log exactly as the worker does it.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { chainRow, type AuditEntry } from "../worker/src/audit/chain.ts";
import { generateKey } from "../worker/src/auth/keys.ts";
import { randomId } from "../worker/src/crypto.ts";
import { ROLES, type Role } from "../worker/src/db/schema.ts";
import { d1, lit, ROOT, type Target } from "./d1.ts";

export const LOCAL_ADMIN_KEY_FILE = path.join(ROOT, ".wrangler", "local-admin-key");

/** Keeps the local admin key where npm start and npm run resync find it (gitignored, owner-only). */
export async function saveLocalAdminKey(key: string): Promise<void> {
  await mkdir(path.dirname(LOCAL_ADMIN_KEY_FILE), { recursive: true });
  await writeFile(LOCAL_ADMIN_KEY_FILE, key + "\n", { mode: 0o600 });
}

export async function readLocalAdminKey(): Promise<string> {
  return (await readFile(LOCAL_ADMIN_KEY_FILE, "utf8").catch(() => "")).trim();
}

const actor = { type: "cli" as const, id: process.env.USER ?? "cli" };

/** The audit log's INSERT for an entry chained after `head` (undefined: the log is empty). */
async function auditStatement(head: { seq: number; hash: string } | undefined, entry: AuditEntry): Promise<string> {
  const row = await chainRow(head, entry, Date.now());
  return `INSERT INTO audit_log (seq, at, actor_type, actor_id, action, subject_type, subject_id, before, after, request_id, prev_hash, hash) VALUES (${[
    row.seq,
    row.at,
    row.actorType,
    row.actorId,
    row.action,
    row.subjectType,
    row.subjectId,
    row.before,
    row.after,
    row.requestId,
    row.prevHash,
    row.hash,
  ]
    .map(lit)
    .join(", ")})`;
}

async function appendWithAudit(target: Target, change: string[], entry: AuditEntry): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const [head] = await d1<{ seq: number; hash: string }>(target, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    try {
      await d1(target, [...change, await auditStatement(head, entry)].join(";\n"));
      return;
    } catch (e) {
      if (!/UNIQUE constraint failed: audit_log/.test(String(e)) || attempt === 5) throw e;
    }
  }
}

type KeyOptions = { role: Role; name: string; expiresInDays?: number };

/** A new key's row and its audit entry. */
async function newKey(opts: KeyOptions): Promise<{ id: string; key: string; insert: string; entry: AuditEntry }> {
  const material = await generateKey();
  const id = randomId("key");
  const now = Date.now();
  const expiresAt = opts.expiresInDays ? now + opts.expiresInDays * 86_400_000 : null;
  const insert = `INSERT INTO api_keys (id, name, role, prefix, hash, created_at, expires_at, created_by) VALUES (${[
    id,
    opts.name,
    opts.role,
    material.prefix,
    material.hash,
    now,
    expiresAt,
    `cli:${actor.id}`,
  ]
    .map(lit)
    .join(", ")})`;
  const entry: AuditEntry = {
    actor,
    action: "api_key.created",
    subject: { type: "api_key", id },
    after: { name: opts.name, role: opts.role, prefix: material.prefix, expires_at: expiresAt, revoked_at: null },
  };
  return { id, key: material.key, insert, entry };
}

export async function createKey(target: Target, opts: KeyOptions): Promise<{ id: string; key: string }> {
  const { id, key, insert, entry } = await newKey(opts);
  await appendWithAudit(target, [insert], entry);
  return { id, key };
}

/**
 * The statements that create a key in a database whose audit log is still empty, for a caller
 * that runs them in its own batch: npm start makes the local admin key in the same wrangler
 * process as a fresh database's migrations.
 */
export async function firstKeyStatements(opts: KeyOptions): Promise<{ id: string; key: string; statements: string[] }> {
  const { id, key, insert, entry } = await newKey(opts);
  return { id, key, statements: [insert + ";", (await auditStatement(undefined, entry)) + ";"] };
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      role: { type: "string" },
      name: { type: "string" },
      id: { type: "string" },
      "expires-in-days": { type: "string" },
      remote: { type: "boolean", default: false },
      "if-none": { type: "boolean", default: false },
    },
  });
  const target: Target = values.remote ? "remote" : "local";
  if (command === "create") {
    const role = values.role as Role | undefined;
    if (!role || !ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
    if (!values.name) throw new Error("--name is required");
    if (values["if-none"]) {
      const [existing] = await d1<{ n: number }>(target, `SELECT count(*) AS n FROM api_keys WHERE role = ${lit(role)} AND revoked_at IS NULL`);
      if ((existing?.n ?? 0) > 0) {
        console.log(`An active ${role} key exists already; nothing created.`);
        return;
      }
    }
    const days = values["expires-in-days"] ? Number(values["expires-in-days"]) : undefined;
    if (days !== undefined && !(Number.isInteger(days) && days > 0)) throw new Error("--expires-in-days must be a positive whole number");
    const { id, key } = await createKey(target, { role, name: values.name, ...(days ? { expiresInDays: days } : {}) });
    if (target === "local" && role === "admin") {
      await saveLocalAdminKey(key);
    }
    console.log(`Created ${role} key ${id} (${target}). It is shown this once:\n\n  ${key}\n`);
  } else if (command === "list") {
    const rows = await d1(target, "SELECT id, name, role, prefix, created_at, last_used_at, expires_at, revoked_at FROM api_keys ORDER BY created_at DESC");
    console.table(rows);
  } else if (command === "revoke") {
    if (!values.id) throw new Error("--id is required");
    const [row] = await d1<{ name: string; role: string; prefix: string; expires_at: number | null; revoked_at: number | null }>(
      target,
      `SELECT name, role, prefix, expires_at, revoked_at FROM api_keys WHERE id = ${lit(values.id)}`,
    );
    if (!row) throw new Error(`no key ${values.id}`);
    if (row.revoked_at !== null) return console.log(`${values.id} is already revoked.`);
    const now = Date.now();
    await appendWithAudit(target, [`UPDATE api_keys SET revoked_at = ${now} WHERE id = ${lit(values.id)} AND revoked_at IS NULL`], {
      actor,
      action: "api_key.revoked",
      subject: { type: "api_key", id: values.id },
      before: { name: row.name, role: row.role, prefix: row.prefix, expires_at: row.expires_at, revoked_at: null },
      after: { name: row.name, role: row.role, prefix: row.prefix, expires_at: row.expires_at, revoked_at: now },
    });
    console.log(`Revoked ${values.id}.`);
  } else {
    console.log(
      "usage: npm run apikey -- create --role admin|service|analyst --name NAME [--expires-in-days N] [--if-none] [--remote]\n       npm run apikey -- list [--remote]\n       npm run apikey -- revoke --id key_... [--remote]",
    );
    process.exitCode = command ? 2 : 0;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

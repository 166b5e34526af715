/**
 * The record of a backup or restore, as SQL: scripts/backup.ts and scripts/restore.ts run it
 * with `wrangler d1 execute` (they reach D1 the way the export did, with no API key or running
 * worker needed), and the compliance report reads the table.
 */
export interface BackupRecord {
  kind: "backup" | "restore";
  /** Epoch ms the export or import finished. */
  at: number;
  file: string;
  target: "local" | "remote";
  bytes: number;
  sha256: string;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function backupRecordSql(r: BackupRecord): string {
  if (!/^[0-9a-f]{64}$/.test(r.sha256)) throw new Error("sha256 must be 64 lowercase hex characters");
  if (!Number.isSafeInteger(r.at) || !Number.isSafeInteger(r.bytes)) throw new Error("at and bytes must be integers");
  const id = `${r.kind}_${r.at}_${r.sha256.slice(0, 16)}`;
  // OR IGNORE: recording the same backup twice (a restore re-recording it) keeps one row.
  return `INSERT OR IGNORE INTO backups (id, kind, at, file, target, bytes, sha256) VALUES (${literal(id)}, ${literal(r.kind)}, ${r.at}, ${literal(r.file)}, ${literal(r.target)}, ${r.bytes}, ${literal(r.sha256)});`;
}

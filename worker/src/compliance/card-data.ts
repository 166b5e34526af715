/**
 * Evidence that the database holds no card data, read from the database itself rather than from
 * schema.ts: the columns as SQLite has them (a column added by hand would show here), and every
 * text value in every table scanned for card numbers, Stripe's stored event payloads first.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { findPans, PAN_GLOBS } from "./pan";

/** Tables that are not the application's: SQLite's, D1's own, and the migrations ledger. */
const SYSTEM_TABLE = /^(sqlite_|_cf_|d1_)/;

export interface Column {
  table: string;
  column: string;
  type: string;
}

export async function tableColumns(db: Db): Promise<Column[]> {
  const rows = await db.all<{ tbl: string; col: string; type: string }>(
    // D1 refuses to describe its own _cf_ tables, so they are left out before the pragma runs.
    sql`select m.name as tbl, p.name as col, p.type as type
        from (select name from sqlite_master where type = 'table' and substr(name, 1, 7) <> 'sqlite_' and substr(name, 1, 4) <> '_cf_' and substr(name, 1, 3) <> 'd1_') m
        join pragma_table_info(m.name) p order by m.name, p.cid`,
  );
  return rows.filter((r) => !SYSTEM_TABLE.test(r.tbl)).map((r) => ({ table: r.tbl, column: r.col, type: r.type }));
}

/**
 * Column names that would hold a card number, its security code, PIN or track data (PCI DSS's
 * sensitive authentication data). Truncated card data (`last4`, `brand`, `exp_month`) is allowed
 * under SAQ A and is not flagged.
 */
const CARD_TOKENS = new Set([
  "pan",
  "cvc",
  "cvc2",
  "cvv",
  "cvv2",
  "cid",
  "cav2",
  "cvn",
  "pin",
  "pinblock",
  "track1",
  "track2",
  "trackdata",
  "magstripe",
  "cardnumber",
  "cardnum",
  "ccnumber",
  "ccnum",
  "securitycode",
  "cardsecuritycode",
]);
const CARD_PHRASES = [
  "card_number",
  "card_num",
  "cc_number",
  "cc_num",
  "credit_card",
  "security_code",
  "verification_code",
  "primary_account",
  "account_number",
  "track_data",
  "pin_block",
  "full_card",
];

export function cardLikeColumn(name: string): string | null {
  const lower = name.toLowerCase().replace(/([a-z])([A-Z])/g, "$1_$2");
  const tokens = lower.split(/[^a-z0-9]+/).filter(Boolean);
  const token = tokens.find((t) => CARD_TOKENS.has(t)) ?? (CARD_TOKENS.has(tokens.join("")) ? tokens.join("") : undefined);
  if (token) return `the name has \`${token}\``;
  const phrase = CARD_PHRASES.find((p) => tokens.join("_").includes(p));
  return phrase ? `the name has \`${phrase}\`` : null;
}

export interface CardFinding {
  table: string;
  column: string;
  rowid: number;
  masked: string;
  brand: string;
}

export interface ScanResult {
  tables: number;
  columns: number;
  rows_scanned: number;
  /** Rows whose text matched the SQL prefilter and were checked digit by digit. */
  candidate_rows: number;
  queries: number;
  complete: boolean;
  findings_total: number;
  /** The first few findings (masked); `findings_total` counts them all. */
  findings: CardFinding[];
}

/** Stripe's payloads first: they are what came from outside, and the most likely place. */
const FIRST = ["stripe_events"];

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Scans every text column of every application table in rowid batches: each query reads at
 * most `batch` rows in SQLite and returns only those whose text matches the GLOB prefilter, so
 * a table of millions of events is read in bounded steps and few rows reach the worker.
 * Stops (complete: false) after `maxRows` rows, so a report always answers.
 */
export async function scanForCardNumbers(db: Db, columns: Column[], opts: { batch: number; maxRows: number; maxFindings?: number }): Promise<ScanResult> {
  const byTable = new Map<string, string[]>();
  for (const c of columns) {
    if (!/CHAR|CLOB|TEXT|^$/i.test(c.type)) continue;
    byTable.set(c.table, [...(byTable.get(c.table) ?? []), c.column]);
  }
  const tables = [...byTable.keys()].sort((a, b) => (FIRST.includes(b) ? 1 : 0) - (FIRST.includes(a) ? 1 : 0) || a.localeCompare(b));
  const result: ScanResult = {
    tables: tables.length,
    columns: [...byTable.values()].reduce((n, c) => n + c.length, 0),
    rows_scanned: 0,
    candidate_rows: 0,
    queries: 0,
    complete: true,
    findings_total: 0,
    findings: [],
  };
  const maxFindings = opts.maxFindings ?? 20;

  for (const table of tables) {
    const cols = byTable.get(table)!;
    const aliases = cols.map((_, i) => `c${i}`);
    const match = cols.map((_, i) => PAN_GLOBS.map((g) => `c${i} glob '${g}'`).join(" or ")).join(" or ");
    // The first row is the batch's extent (how far it reached, how many rows); the rest are candidates.
    const query =
      `with batch as not materialized (select rowid as r, ${cols.map((c, i) => `${quote(c)} as c${i}`).join(", ")} from ${quote(table)} where rowid > ? order by rowid limit ?) ` +
      `select 0 as hit, max(r) as r, count(*) as n, ${aliases.map((a) => `null as ${a}`).join(", ")} from batch ` +
      `union all select 1, r, null, ${aliases.join(", ")} from batch where ${match}`;
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      if (result.rows_scanned >= opts.maxRows) {
        result.complete = false;
        return result;
      }
      const limit = Math.min(opts.batch, opts.maxRows - result.rows_scanned);
      const rows = await db.all<Record<string, unknown> & { hit: number; r: number | null; n: number | null }>(
        sql.raw(query.replace("rowid > ?", `rowid > ${after}`).replace("limit ?", `limit ${limit}`)),
      );
      result.queries++;
      const extent = rows.find((r) => r.hit === 0);
      const n = extent?.n ?? 0;
      result.rows_scanned += n;
      for (const row of rows) {
        if (row.hit !== 1) continue;
        result.candidate_rows++;
        cols.forEach((column, i) => {
          const value = row[`c${i}`];
          if (typeof value !== "string") return;
          for (const pan of findPans(value)) {
            result.findings_total++;
            if (result.findings.length < maxFindings) result.findings.push({ table, column, rowid: Number(row.r), masked: pan.masked, brand: pan.brand });
          }
        });
      }
      if (n < limit || extent?.r == null) break;
      after = Number(extent.r);
    }
  }
  return result;
}

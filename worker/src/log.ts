/**
 * Structured logs: one JSON object per line, which `wrangler tail` and Logpush keep as fields.
 * Nothing here may receive card data or secrets; callers pass `describeError(e)`, not raw errors.
 */
export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry these fields (a request id, a queue name). */
  with(fields: Record<string, unknown>): Logger;
}

export function jsonLogger(base: Record<string, unknown> = {}): Logger {
  return {
    log(level, message, fields) {
      const line = JSON.stringify({ level, message, ...base, ...fields });
      if (level === "info") console.log(line);
      else console.error(line);
    },
    with: (fields) => jsonLogger({ ...base, ...fields }),
  };
}

/**
 * One line about an error that is safe to log or show an admin. drizzle's query errors carry
 * the bound parameters (an API key's hash, a webhook's customer data): keep the query and the
 * driver's reason, drop the parameters.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "DrizzleQueryError" || "params" in error) {
    const query = (error as { query?: unknown }).query;
    const reason = error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : "query failed";
    return `${reason}${typeof query === "string" ? ` (in: ${query.slice(0, 200)})` : ""}`;
  }
  return `${error.name}: ${error.message}`;
}

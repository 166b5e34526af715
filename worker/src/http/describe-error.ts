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

import { and, eq, lte } from "drizzle-orm";
import { idempotencyKeys } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { ABANDONED_CLAIM_MS, IDEMPOTENCY_TTL_MS } from "./policy";

export interface IdempotentRequest {
  apiKeyId: string;
  key: string;
  method: string;
  path: string;
  requestHash: string;
}

export interface StoredResponse {
  status: number;
  contentType: string | null;
  /** Headers a retry must see again (REPLAYED_HEADERS), by lower-case name. */
  headers: Record<string, string>;
  body: string;
}

export type Claim = { kind: "claimed"; token: string } | { kind: "replay"; response: StoredResponse };

/**
 * Claims the key for this request, or says what the first request with it answered. The claim is
 * a single conditional write (the primary key decides between racing isolates), never a read then
 * a write. Throws `idempotency_key_reused` when the key was first sent with another request,
 * `idempotency_key_in_use` while that first request is still running, and
 * `idempotency_outcome_unknown` once its claim is old enough that its worker must have stopped.
 */
export async function claimIdempotencyKey(s: Pick<Services, "db" | "clock">, request: IdempotentRequest): Promise<Claim> {
  const now = s.clock.now();
  const token = crypto.randomUUID();
  const fresh = {
    method: request.method,
    path: request.path,
    requestHash: request.requestHash,
    state: "started" as const,
    claimToken: token,
    createdAt: now,
    claimedAt: now,
    responseStatus: null,
    responseContentType: null,
    responseHeaders: null,
    responseBody: null,
  };
  const whereKey = and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key));

  // Two tries: a claim released (its request failed) between our write and our read is free again.
  for (let attempt = 0; attempt < 2; attempt++) {
    const inserted = await s.db
      .insert(idempotencyKeys)
      .values({ apiKeyId: request.apiKeyId, key: request.key, ...fresh })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (inserted.length) return { kind: "claimed", token };

    // An expired key is free for any request.
    const taken = await s.db
      .update(idempotencyKeys)
      .set(fresh)
      .where(and(whereKey, lte(idempotencyKeys.createdAt, now - IDEMPOTENCY_TTL_MS)))
      .returning({ key: idempotencyKeys.key });
    if (taken.length) return { kind: "claimed", token };

    const [row] = await s.db.select().from(idempotencyKeys).where(whereKey);
    if (!row) continue;
    if (row.requestHash !== request.requestHash) {
      throw new DomainError("idempotency_key_reused", `This Idempotency-Key was first sent with another request (${row.method} ${row.path}, with its own body); send a new key for a new request.`, {
        errors: [{ field: "idempotency-key", message: "already used for another request" }],
        extensions: { first_request: { method: row.method, path: row.path } },
      });
    }
    if (row.state === "started" || row.responseStatus === null) {
      // Its worker stopped without an answer (evicted, crashed): whether it acted is unknown, and
      // running it again could act twice. The caller decides, on what it reads now.
      if (row.claimedAt <= now - ABANDONED_CLAIM_MS) {
        throw new DomainError(
          "idempotency_outcome_unknown",
          "The first request with this Idempotency-Key stopped without an answer, so whether it acted is unknown. Read the current state (GET the subscription), then send a new key if it still needs doing.",
          {
            errors: [{ field: "idempotency-key", message: "its request stopped without an answer" }],
          },
        );
      }
      throw new DomainError("idempotency_key_in_use", "The first request with this Idempotency-Key is still running; retry in a second to get its answer.", {
        errors: [{ field: "idempotency-key", message: "its request is still running" }],
      });
    }
    return { kind: "replay", response: { status: row.responseStatus, contentType: row.responseContentType, headers: parseHeaders(row.responseHeaders), body: row.responseBody ?? "" } };
  }
  throw new DomainError("idempotency_key_in_use", "Another request with this Idempotency-Key keeps taking and releasing it; retry in a second.", {
    errors: [{ field: "idempotency-key", message: "contended" }],
  });
}

function parseHeaders(json: string | null): Record<string, string> {
  if (!json) return {};
  const parsed: unknown = JSON.parse(json);
  return typeof parsed === "object" && parsed !== null ? Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string")) : {};
}

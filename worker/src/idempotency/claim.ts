import { and, eq, lte, or } from "drizzle-orm";
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
  body: string;
}

export type Claim = { kind: "claimed"; token: string } | { kind: "replay"; response: StoredResponse };

/**
 * Claims the key for this request, or says what the first request with it answered. The claim is
 * a single conditional write (the primary key decides between racing isolates), never a read then
 * a write. Throws `idempotency_key_reused` when the key was first sent with another request, and
 * `idempotency_key_in_use` while that first request is still running.
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

    // An expired key is free for any request; an abandoned claim only for the same request.
    const taken = await s.db
      .update(idempotencyKeys)
      .set(fresh)
      .where(
        and(
          whereKey,
          or(
            lte(idempotencyKeys.createdAt, now - IDEMPOTENCY_TTL_MS),
            and(eq(idempotencyKeys.state, "started"), lte(idempotencyKeys.claimedAt, now - ABANDONED_CLAIM_MS), eq(idempotencyKeys.requestHash, request.requestHash)),
          ),
        ),
      )
      .returning({ key: idempotencyKeys.key });
    if (taken.length) return { kind: "claimed", token };

    const [row] = await s.db.select().from(idempotencyKeys).where(whereKey);
    if (!row) continue;
    if (row.requestHash !== request.requestHash) {
      throw new DomainError(
        "idempotency_key_reused",
        `This Idempotency-Key was first sent with ${row.method} ${row.path} and another body; send a new key for a new request.`,
        { errors: [{ field: "idempotency-key", message: "already used for another request" }], extensions: { first_request: { method: row.method, path: row.path } } },
      );
    }
    if (row.state === "started" || row.responseStatus === null) {
      throw new DomainError("idempotency_key_in_use", "The first request with this Idempotency-Key is still running; retry in a second to get its answer.", {
        errors: [{ field: "idempotency-key", message: "its request is still running" }],
      });
    }
    return { kind: "replay", response: { status: row.responseStatus, contentType: row.responseContentType, body: row.responseBody ?? "" } };
  }
  throw new DomainError("idempotency_key_in_use", "Another request with this Idempotency-Key keeps taking and releasing it; retry in a second.", {
    errors: [{ field: "idempotency-key", message: "contended" }],
  });
}

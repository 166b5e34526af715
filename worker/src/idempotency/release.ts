import { and, eq } from "drizzle-orm";
import { idempotencyKeys } from "../db/schema";
import type { Services } from "../services";
import type { IdempotentRequest } from "./claim";

/** Frees the key after a failure worth retrying (5xx): the client's retry runs the request again. */
export async function releaseIdempotencyKey(s: Pick<Services, "db">, request: Pick<IdempotentRequest, "apiKeyId" | "key">, token: string): Promise<void> {
  await s.db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key), eq(idempotencyKeys.claimToken, token), eq(idempotencyKeys.state, "started")));
}

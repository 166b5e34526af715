import { and, eq } from "drizzle-orm";
import { idempotencyKeys } from "../db/schema";
import type { Services } from "../services";
import type { IdempotentRequest, StoredResponse } from "./claim";

/** Stores the answer to replay; only the request that holds the claim may. */
export async function completeIdempotencyKey(s: Pick<Services, "db">, request: Pick<IdempotentRequest, "apiKeyId" | "key">, token: string, response: StoredResponse): Promise<void> {
  await s.db
    .update(idempotencyKeys)
    .set({ state: "done", responseStatus: response.status, responseContentType: response.contentType, responseHeaders: JSON.stringify(response.headers), responseBody: response.body })
    .where(and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key), eq(idempotencyKeys.claimToken, token), eq(idempotencyKeys.state, "started")));
}

import { z } from "@hono/zod-openapi";

export const Replayed = z.object({ requeued: z.int(), processed: z.int(), failed: z.int() });

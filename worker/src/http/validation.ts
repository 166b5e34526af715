import type { Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import { inputIssues } from "../fields";
import { ApiError, type FieldError } from "./errors";

const TARGET_NAMES: Record<string, string> = { json: "body", query: "query", param: "path", header: "header", form: "body", cookie: "cookie" };

export function fieldErrors(error: z.ZodError, target: string): FieldError[] {
  const prefix = TARGET_NAMES[target] ?? target;
  return inputIssues(error.issues).map((i) => ({ field: [prefix, ...i.path].join("."), message: i.message, code: i.code }));
}

/** The zod-openapi hook: every validation failure becomes one problem that names the fields. */
export const validationHook: Hook<unknown, never, string, unknown> = (result, _c) => {
  if (result.success) return;
  const errors = fieldErrors(result.error as z.ZodError, result.target);
  throw new ApiError("validation_failed", `Check ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}.`, { errors });
};

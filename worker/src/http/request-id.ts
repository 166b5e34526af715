/**
 * Every request gets an id the worker makes itself: it goes into audit rows and logs, and back
 * to the caller in `x-request-id` and a problem's `request_id`. A caller's own `x-request-id` is
 * never adopted: anyone could otherwise choose the id an audit row is filed under, or collide
 * with another request's. A caller's id that is short and plain is kept apart, as
 * `clientRequestId`, so an error line can still be found by it; any other is dropped.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context";

export const REQUEST_ID_HEADER = "x-request-id";
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestIds: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = crypto.randomUUID();
  c.set("requestId", id);
  const sent = c.req.header(REQUEST_ID_HEADER);
  if (sent !== undefined && CLIENT_ID.test(sent)) c.set("clientRequestId", sent);
  await next();
  // After the handler, so the problem responses onError builds carry it too.
  c.header(REQUEST_ID_HEADER, id);
};

import { createRoute } from "@hono/zod-openapi";
import { signOut } from "../../auth";
import { handle } from "../../http/route";
import * as session from "../../http/session";

const route = createRoute({
  method: "post",
  path: "/dashboard/logout",
  ...session.guard("analytics:read"),
  summary: "Sign out of the dashboard: the session is deleted and its cookie cleared",
  responses: { 303: { description: "Signed out: on to the sign-in form" } },
});

export default handle(route, async (c) => {
  await signOut(c.get("services"), session.sessionToken(c), c.get("requestId"));
  session.endSession(c);
  return c.redirect(session.LOGIN_PATH, 303);
});

import { createRoute, z } from "@hono/zod-openapi";
import { readSession } from "../../auth";
import { handle } from "../../http/route";
import * as session from "../../http/session";
import { loginPage } from "./views/login";

const route = createRoute({
  method: "get",
  path: "/dashboard/login",
  ...session.guard("public"),
  summary: "The dashboard's sign-in form",
  responses: { 200: { description: "The form", content: { "text/html": { schema: z.string() } } }, 303: { description: "Already signed in: to the dashboard" } },
});

export default handle(route, async (c) => {
  if (await readSession(c.get("services"), session.sessionToken(c))) return c.redirect("/dashboard", 303);
  return c.html(loginPage({}), 200);
});

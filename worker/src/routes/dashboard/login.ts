import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { SIGN_IN_REFUSED, signIn } from "../../auth";
import { isDomainError } from "../../errors";
import { ApiError } from "../../http/errors";
import { handle } from "../../http/route";
import * as session from "../../http/session";
import { loginPage } from "./views/login";

const tooLarge = () => {
  throw new ApiError("payload_too_large", "The sign-in form is at most 4 KiB.");
};

const Form = z.object({ key: z.string().max(1000).default("") });

const route = createRoute({
  method: "post",
  path: "/dashboard/login",
  // A form posted from another site is refused (Origin check): it could only sign the browser into someone else's session.
  ...session.guard("public", bodyLimit({ maxSize: 4096, onError: tooLarge })),
  summary: "Sign in to the dashboard with an analyst or admin API key (form post); sets the session cookie",
  request: { body: { required: true, content: { "application/x-www-form-urlencoded": { schema: Form } } } },
  responses: {
    303: { description: "Signed in: the session cookie is set, on to the dashboard" },
    401: { description: "Refused, without saying why", content: { "text/html": { schema: z.string() } } },
  },
});

export default handle(route, async (c) => {
  const { key } = c.req.valid("form");
  try {
    const { token, session: s } = await signIn(c.get("services"), key.trim(), "analytics:read", c.get("requestId"));
    session.startSession(c, token, s.expiresAt);
    return c.redirect("/dashboard", 303);
  } catch (e) {
    if (!isDomainError(e, "unauthenticated")) throw e;
    return c.html(loginPage({ refused: SIGN_IN_REFUSED }), 401);
  }
});

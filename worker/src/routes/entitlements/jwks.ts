import { createRoute, z } from "@hono/zod-openapi";
import { publicKeys } from "../../entitlements";
import { guard, handle } from "../../http/route";
import { json, publicErrors } from "../../http/schemas";

const Jwks = z
  .object({ keys: z.array(z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string(), alg: z.literal("EdDSA"), use: z.literal("sig") })) })
  .openapi("Jwks");

const route = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  ...guard("public"),
  summary: "Public keys that verify entitlement tokens",
  tags: ["entitlements"],
  responses: { 200: json(Jwks, "The JWK set: current, next and retired public keys"), ...publicErrors },
});

export default handle(route, async (c) => {
  const jwks = await publicKeys(c.get("services"));
  // Short enough that a `next` key published before a switch reaches verifiers in time.
  c.header("cache-control", "public, max-age=300");
  return c.json(jwks, 200);
});

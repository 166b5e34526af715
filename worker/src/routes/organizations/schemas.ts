import { z } from "@hono/zod-openapi";
import { OrgId, UserId } from "../../fields";

export const OrgIdParam = z.object({ org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }) });

export const MemberParams = z.object({
  org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }),
  user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }),
});

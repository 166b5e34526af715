import { z } from "@hono/zod-openapi";
import { named } from "../../http/schemas";
import { CancelResult as CancelResultWire, ChangePreview as ChangePreviewWire, RetentionOffer, Subscription } from "../../presenters";
import { BillingCycle, TierKey, UserId } from "../../fields";

export const UserIdParam = z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) });

export const SubscriptionView = named(Subscription, "SubscriptionView");

export const ChangeFields = {
  tier: TierKey,
  billing_cycle: BillingCycle.optional().describe("`monthly`, `annual`, `two_year` or `three_year`; default: the subscription's current cycle"),
};

export const ChangeBody = z.strictObject(ChangeFields).openapi("ChangeRequest");

export const ChangePreview = named(ChangePreviewWire, "ChangePreview");

export const Offer = named(RetentionOffer, "RetentionOffer");

export const CancelResult = named(CancelResultWire, "CancelResult");

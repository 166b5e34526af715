import { z } from "@hono/zod-openapi";
import { BILLING_CYCLES } from "../../billing/cycle";
import { catalog } from "../../catalog";
import { named } from "../../http/schemas";
import { RetentionOffer } from "../../presenters/offer";
import { CancelResult as CancelResultWire, ChangePreview as ChangePreviewWire, Subscription } from "../../presenters/subscription";
import { UserId } from "../entitlements/schemas";

export const BillingCycle = z.enum(BILLING_CYCLES);
export const TierKey = z.enum(catalog.tiers.map((t) => t.key) as [string, ...string[]]);

export const UserIdParam = z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) });

export const SubscriptionView = named(Subscription, "SubscriptionView");

export const ChangeFields = {
  tier: TierKey,
  billing_cycle: BillingCycle.optional().openapi({ description: "`monthly` or `annual`; default: the subscription's current cycle" }),
};

export const ChangeBody = z.strictObject(ChangeFields).openapi("ChangeRequest");

export const ChangePreview = named(ChangePreviewWire, "ChangePreview");

export const Offer = named(RetentionOffer, "RetentionOffer");

export const CancelResult = named(CancelResultWire, "CancelResult");

/**
 * What an early fraud warning makes the worker do, as data (like the refund and dunning
 * policies). An issuer's warning says the card's owner reports the charge as fraud, and most
 * such charges become disputes ($15 each, and past about 0.75 % of charges, the card networks'
 * monitoring programs); refunding first closes the dispute's way. So, by default, an actionable
 * warning refunds the charge in full (a credit note with a refund, so the invoice agrees),
 * cancels the subscription at once (charging the card again invites the dispute the refund
 * avoided) and suppresses the customer's dunning, lifecycle and marketing email (nothing asks
 * the card's owner for money or reminds them of the service). A warning Stripe says is not
 * actionable (the charge is refunded in full or disputed already) is only mirrored.
 * Validated with zod when the module loads, so a bad edit fails the build and every test.
 */
import { z } from "zod";

const Policy = z.strictObject({
  actionable: z.strictObject({
    /** `full`: refund what is left of the charge; `none`: leave the money as it is. */
    refund: z.enum(["full", "none"]),
    /** `now`: cancel the charge's subscription at once, without proration; `keep`: leave it. */
    cancel: z.enum(["now", "keep"]),
    /** The kinds of email (email/templates.ts EMAIL_CATEGORY) the customer no longer gets. */
    suppressEmail: z.array(z.enum(["dunning", "lifecycle", "marketing"])),
  }),
});

export type FraudWarningPolicy = z.infer<typeof Policy>;

export const fraudWarningPolicy: FraudWarningPolicy = Policy.parse({
  actionable: { refund: "full", cancel: "now", suppressEmail: ["dunning", "lifecycle", "marketing"] },
});

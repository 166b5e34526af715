/**
 * The product catalog as data: adding a tier, a billing interval or a feature is an edit here, not a
 * code change. It is validated with zod when the module loads, so a bad edit fails the build
 * and every test instead of reaching a customer.
 */
import { z } from "zod";
/** How often a price bills: Stripe's `recurring.interval`, and the SDK's `BillingInterval`. */
declare const Interval: z.ZodEnum<{
    month: "month";
    year: "year";
}>;
export type Interval = z.infer<typeof Interval>;
declare const Price: z.ZodObject<{
    interval: z.ZodEnum<{
        month: "month";
        year: "year";
    }>;
    unit: z.ZodObject<{
        amount: z.ZodInt;
        currency: z.ZodString;
    }, z.core.$strict>;
    lookupKey: z.ZodString;
}, z.core.$strict>;
declare const Tier: z.ZodObject<{
    key: z.ZodString;
    name: z.ZodString;
    rank: z.ZodInt;
    trialDays: z.ZodInt;
    prices: z.ZodArray<z.ZodObject<{
        interval: z.ZodEnum<{
            month: "month";
            year: "year";
        }>;
        unit: z.ZodObject<{
            amount: z.ZodInt;
            currency: z.ZodString;
        }, z.core.$strict>;
        lookupKey: z.ZodString;
    }, z.core.$strict>>;
    features: z.ZodArray<z.ZodString>;
    limits: z.ZodRecord<z.ZodString, z.ZodNullable<z.ZodInt>>;
}, z.core.$strict>;
declare const Catalog: z.ZodObject<{
    currency: z.ZodString;
    tiers: z.ZodArray<z.ZodObject<{
        key: z.ZodString;
        name: z.ZodString;
        rank: z.ZodInt;
        trialDays: z.ZodInt;
        prices: z.ZodArray<z.ZodObject<{
            interval: z.ZodEnum<{
                month: "month";
                year: "year";
            }>;
            unit: z.ZodObject<{
                amount: z.ZodInt;
                currency: z.ZodString;
            }, z.core.$strict>;
            lookupKey: z.ZodString;
        }, z.core.$strict>>;
        features: z.ZodArray<z.ZodString>;
        limits: z.ZodRecord<z.ZodString, z.ZodNullable<z.ZodInt>>;
    }, z.core.$strict>>;
    features: z.ZodArray<z.ZodObject<{
        key: z.ZodString;
        description: z.ZodString;
    }, z.core.$strict>>;
    limits: z.ZodArray<z.ZodObject<{
        key: z.ZodString;
        description: z.ZodString;
        unit: z.ZodString;
    }, z.core.$strict>>;
    policy: z.ZodObject<{
        upgrade: z.ZodEnum<{
            immediate_always_invoice: "immediate_always_invoice";
        }>;
        downgrade: z.ZodEnum<{
            immediate_credit: "immediate_credit";
            period_end: "period_end";
        }>;
    }, z.core.$strict>;
}, z.core.$strict>;
export type Catalog = z.infer<typeof Catalog>;
export type Tier = z.infer<typeof Tier>;
export type Price = z.infer<typeof Price>;
export declare const CATALOG_DATA: {
    currency: string;
    features: {
        key: string;
        description: string;
    }[];
    limits: {
        key: string;
        description: string;
        unit: string;
    }[];
    tiers: ({
        key: string;
        name: string;
        rank: number;
        trialDays: number;
        prices: ({
            interval: "month";
            unit: {
                amount: number;
                currency: string;
            };
            lookupKey: string;
        } | {
            interval: "year";
            unit: {
                amount: number;
                currency: string;
            };
            lookupKey: string;
        })[];
        features: string[];
        limits: {
            search_radius_miles: number;
        };
    } | {
        key: string;
        name: string;
        rank: number;
        trialDays: number;
        prices: ({
            interval: "month";
            unit: {
                amount: number;
                currency: string;
            };
            lookupKey: string;
        } | {
            interval: "year";
            unit: {
                amount: number;
                currency: string;
            };
            lookupKey: string;
        })[];
        features: string[];
        limits: {
            search_radius_miles: null;
        };
    })[];
    policy: {
        upgrade: "immediate_always_invoice";
        downgrade: "period_end";
    };
};
export declare const catalog: Catalog;
export declare function findTier(key: string, from?: Catalog): Tier | undefined;
export declare function findPriceByLookupKey(lookupKey: string, from?: Catalog): {
    tier: Tier;
    price: Price;
} | undefined;
/** The cheapest (lowest-rank) tier that unlocks a feature: the upgrade a denied user is offered. */
export declare function cheapestTierWith(feature: string, from?: Catalog): Tier | undefined;
export {};

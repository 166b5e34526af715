/**
 * The demo data's script: who subscribes when, to what, and what happens to them over a year.
 * Pure and deterministic (a seeded generator), so every `npm start -- --fresh` makes the same
 * history, and tests can check the mix without running it.
 */

import { seededRandom } from "../../packages/stripe-emulator/src/index.ts";

export type DemoTier = "local" | "mobile";
export type DemoCycle = "monthly" | "annual";

/** What a subscriber does on a day of their life (days count from their checkout). */
export type DemoAction =
  | { kind: "remove_card" }
  | { kind: "upgrade" }
  | { kind: "downgrade" }
  | { kind: "to_annual" }
  | { kind: "cancel"; reason: CancelReason; then: "accept_offer" | "refuse_offer" | "skip_offer" }
  | { kind: "card_fails" }
  | { kind: "card_fixed" }
  | { kind: "pause" }
  | { kind: "resume" };

export type CancelReason = "too_expensive" | "missing_features" | "switched_service" | "unused" | "other";

export type Story = "stays" | "trial_lapses" | "upgrades" | "downgrades" | "goes_annual" | "takes_offer" | "refuses_offer" | "cancels" | "recovers_payment" | "suspended" | "pauses";

export interface DemoCustomer {
  index: number;
  userId: string;
  email: string;
  name: string;
  tier: DemoTier;
  cycle: DemoCycle;
  /** Days after the year's start on which they check out. */
  joinDay: number;
  promotionCode: boolean;
  /** A Californian address (taxed) or none (untaxed). */
  taxed: boolean;
  story: Story;
  actions: { day: number; action: DemoAction }[];
}

export interface DemoPlanOptions {
  customers: number;
  /** How long the history runs, in days (12 months: 365). */
  days: number;
  seed?: number;
}

const STORIES: [Story, number][] = [
  ["stays", 38],
  ["trial_lapses", 6],
  ["upgrades", 10],
  ["downgrades", 7],
  ["goes_annual", 4],
  ["takes_offer", 8],
  ["refuses_offer", 8],
  ["cancels", 5],
  ["recovers_payment", 7],
  ["suspended", 4],
  ["pauses", 3],
];

const FIRST = ["Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Gray", "Harper", "Indy", "Jordan", "Kai", "Logan", "Morgan", "Noel", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Val"];
const LAST = ["Adams", "Brooks", "Carter", "Diaz", "Ellis", "Flores", "Garcia", "Hughes", "Irwin", "Jones", "Kim", "Lopez", "Miller", "Nguyen", "Ortiz", "Patel", "Reed", "Smith", "Turner", "Young"];
const REASONS: CancelReason[] = ["too_expensive", "missing_features", "switched_service", "unused", "other"];

function pick<T>(r: () => number, weighted: [T, number][]): T {
  const total = weighted.reduce((a, [, w]) => a + w, 0);
  let x = r() * total;
  for (const [v, w] of weighted) {
    x -= w;
    if (x < 0) return v;
  }
  return weighted[weighted.length - 1]![0];
}

export function demoPlan(opts: DemoPlanOptions): DemoCustomer[] {
  const r = seededRandom(opts.seed ?? 20261130);
  const out: DemoCustomer[] = [];
  for (let i = 0; i < opts.customers; i++) {
    // Signups spread over the year, a little denser lately (the business grows).
    const joinDay = Math.min(opts.days - 3, Math.floor(opts.days * Math.sqrt((i + r()) / opts.customers)));
    const story = pick(r, STORIES);
    let tier: DemoTier = r() < 0.6 ? "local" : "mobile";
    if (story === "upgrades") tier = "local";
    if (story === "downgrades") tier = "mobile";
    const monthlyOnly: Story[] = ["goes_annual", "upgrades", "downgrades", "recovers_payment", "suspended"];
    const cycle: DemoCycle = monthlyOnly.includes(story) || r() > 0.12 ? "monthly" : "annual";
    const trial = tier === "local" ? 7 : 14;
    const left = opts.days - joinDay;
    // A day in their life after the trial, at least `after` days in, or null when the year ends first.
    const at = (after: number, spread: number) => {
      const day = trial + after + Math.floor(r() * spread);
      return day < left - 1 ? day : null;
    };
    const actions: DemoCustomer["actions"] = [];
    const add = (day: number | null, action: DemoAction) => {
      if (day !== null) actions.push({ day, action });
    };
    const reason = REASONS[Math.floor(r() * REASONS.length)]!;
    switch (story) {
      case "trial_lapses":
        actions.push({ day: Math.max(1, trial - 2), action: { kind: "remove_card" } });
        break;
      case "upgrades":
        add(at(5, 60), { kind: "upgrade" });
        break;
      case "downgrades":
        add(at(10, 60), { kind: "downgrade" });
        break;
      case "goes_annual":
        add(at(20, 60), { kind: "to_annual" });
        break;
      case "takes_offer":
      case "refuses_offer":
      case "cancels":
        add(at(25, 120), { kind: "cancel", reason, then: story === "takes_offer" ? "accept_offer" : story === "refuses_offer" ? "refuse_offer" : "skip_offer" });
        break;
      case "recovers_payment":
      case "suspended": {
        // The card fails a few days before a renewal (k months after the trial), so that
        // renewal's payment fails; a recovering user fixes it 5 to 15 days later, inside the grace.
        // A suspended one never does: suspended on day 21, cancelled on day 27 (dunning policy).
        const k = 1 + Math.floor(r() * 4);
        const fails = trial + Math.round(k * 30.44) - 3;
        if (fails >= left - 1) break;
        add(fails, { kind: "card_fails" });
        const fixed = fails + 8 + Math.floor(r() * 10);
        if (story === "recovers_payment" && fixed < left - 1) add(fixed, { kind: "card_fixed" });
        break;
      }
      case "pauses": {
        const pause = at(30, 60);
        add(pause, { kind: "pause" });
        if (pause !== null) add(pause + 45 < left - 1 ? pause + 45 : null, { kind: "resume" });
        break;
      }
      default:
        break;
    }
    const name = `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]}`;
    out.push({
      index: i,
      userId: `demo_${String(i + 1).padStart(3, "0")}`,
      email: `demo_${String(i + 1).padStart(3, "0")}@demo.example`,
      name,
      tier,
      cycle,
      joinDay,
      promotionCode: r() < 0.12,
      taxed: r() < 0.5,
      story,
      actions: actions.sort((a, b) => a.day - b.day),
    });
  }
  return out;
}

import path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each long file took in the last fresh-clone CI run on 2 cores (vitest's JSON report),
 * for the order of a run that has no durations of its own yet (CI's fresh clone; vitest keeps
 * them in node_modules/.vite after a run). Only the order depends on them: a stale figure makes a
 * run slower, never wrong. Files not listed count as short.
 */
const MEASURED_SECONDS: Record<string, number> = {
  // The end-to-end, browser and package files over 10 s in the CI run of f468c9c. Seven were
  // missing (doctor's 35 s among them), so a fresh clone started them among the short files, late.
  "test/e2e/dunning-test-clock.e2e.test.ts": 62,
  "test/e2e/backup.e2e.test.ts": 56,
  "test/e2e/webhooks-chaos.e2e.test.ts": 53,
  "test/e2e/doctor.e2e.test.ts": 35,
  "test/e2e/stripe-setup.e2e.test.ts": 27,
  "packages/stripe-emulator/test/pack.test.ts": 22,
  "test/e2e/refunds.e2e.test.ts": 21,
  "test/e2e/job-board.e2e.test.ts": 19,
  "test/e2e/agency-terms.e2e.test.ts": 18,
  "packages/stripe-emulator/test/scale.test.ts": 17,
  "test/e2e/disputes.e2e.test.ts": 12,
  "test/e2e/early-fraud-warning.e2e.test.ts": 12,
  "test/browser/journey.test.ts": 11,
  "test/e2e/seed-client.e2e.test.ts": 11,
  // An earlier CI run: the worker suite (its order among the files that share a runtime) and the rest.
  "packages/entitlements/test/freshness.test.ts": 10,
  "test/worker/lifecycle-cancel.test.ts": 45,
  "test/worker/lifecycle-changes.test.ts": 42,
  "test/worker/dunning.test.ts": 36,
  "test/worker/fuzz-1.test.ts": 34,
  "test/worker/webhooks.test.ts": 29,
  "test/worker/fuzz-2.test.ts": 28,
  "test/worker/lifecycle-emails.test.ts": 25,
  "test/worker/dunning-cancel.test.ts": 24,
  "test/worker/dunning-retries.test.ts": 23,
  "test/worker/dunning-test-clock.test.ts": 22,
  "test/worker/test-clock-time.test.ts": 18,
  "test/worker/churn-risk-card-expiry.test.ts": 16,
  "test/worker/rate-limit.test.ts": 16,
  "test/worker/subscriptions.test.ts": 15,
  "test/worker/dunning-paid-meanwhile.test.ts": 14,
  "test/worker/tools-dunning.test.ts": 13,
  "test/worker/grace.test.ts": 11,
  "test/worker/dunning-emails.test.ts": 10,
};

/** A file of its own runtime that takes this long starts before the shared-runtime files. */
const LONG_SECONDS = 30;

/**
 * The order of one run across every project. vitest runs all projects' files in one queue, three
 * at a time, in the order this returns; its own order runs the projects one after another (by
 * name), so the longest end-to-end files started mid-run and the worker suite's started at the
 * end, and a few long files finished alone while the other slots sat idle. Here:
 * 1. files with a runtime of their own that take over LONG_SECONDS, longest first (they set the
 *    run's length unless they start at once);
 * 2. the files that share a runtime per slot (`isolate: false`: the worker project), longest
 *    first, back to back: vitest keeps a slot's runtime only while the next queued file is of the
 *    same project, so another project's file between them would cost a workerd start;
 * 3. everything else, longest first, so the run ends on its shortest files.
 * A file's length is its duration in the previous run, else MEASURED_SECONDS, else zero (then
 * vitest's own order: larger files first).
 */
export class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const seconds = (f: TestSpecification) => {
      const last = this.ctx.cache.getTestSpecificationResult(f);
      if (last) return last.duration / 1000;
      return MEASURED_SECONDS[path.relative(this.ctx.config.root, f.moduleId).split(path.sep).join("/")] ?? 0;
    };
    // Stable: equal lengths keep vitest's order.
    const longestFirst = (list: TestSpecification[]) =>
      list
        .map((f, i) => ({ f, i, s: seconds(f) }))
        .sort((a, b) => b.s - a.s || a.i - b.i)
        .map((x) => x.f);
    const shared = (f: TestSpecification) => f.project.config.isolate === false;
    const long = base.filter((f) => !shared(f) && seconds(f) >= LONG_SECONDS);
    return [...longestFirst(long), ...longestFirst(base.filter(shared)), ...longestFirst(base.filter((f) => !shared(f) && !long.includes(f)))];
  }
}

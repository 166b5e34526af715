// The fuzz of every route (test/worker/fuzz-suite.ts): the Stripe webhook.
import { fuzzSuite } from "./fuzz-suite";

fuzzSuite({ webhook: true });

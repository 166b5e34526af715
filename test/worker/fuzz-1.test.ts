// The fuzz of every route (test/worker/fuzz-suite.ts): the first half of the JSON routes.
import { fuzzSuite } from "./fuzz-suite";

fuzzSuite({ json: { index: 0, of: 2 } });

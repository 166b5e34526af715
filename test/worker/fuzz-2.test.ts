// The fuzz of every route (test/worker/fuzz-suite.ts): the second half of the JSON routes.
import { fuzzSuite } from "./fuzz-suite";

fuzzSuite({ json: { index: 1, of: 2 } });

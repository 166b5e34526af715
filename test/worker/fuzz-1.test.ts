// The fuzz of every route (test/worker/fuzz-suite.ts), shard 1 of 2: files run side by side.
import { fuzzSuite } from "./fuzz-suite";

fuzzSuite({ index: 0, of: 2 });

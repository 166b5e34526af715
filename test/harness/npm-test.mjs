// npm test's last step: the type check (`tsc -b`) and the suites (`vitest run`) side by side, not
// one after the other. On a fresh clone tsc has no build info and takes over a minute on 2 cores,
// while vitest's first minute mostly waits on workerd starts and timers; run in turn, every suite
// waited for it. tsc's output is held back and printed after vitest's, so a type error is not
// lost among the test lines. The step fails if either fails; arguments go to vitest.
import { spawn } from "node:child_process";
import path from "node:path";

const bin = (name) => path.resolve(import.meta.dirname, "../../node_modules/.bin", name);

function run(command, args, stdio) {
  const child = spawn(command, args, { stdio });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  return new Promise((resolve) => {
    child.on("error", (e) => resolve({ code: 1, output: `${output}${e.message}\n` }));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

const typecheck = run(bin("tsc"), ["-b"], ["ignore", "pipe", "pipe"]);
const tests = run(bin("vitest"), ["run", ...process.argv.slice(2)], "inherit");
const [t, v] = await Promise.all([typecheck, tests]);
if (t.output) process.stdout.write(`\ntsc -b:\n${t.output}`);
if (t.code !== 0) console.error(`tsc -b failed (exit status ${t.code})`);
process.exit(v.code || t.code);

#!/usr/bin/env node
// Launcher: runs the JavaScript that `npm run build` (the package's prepare script) writes to dist/.
const cli = new URL("../dist/cli.js", import.meta.url);
try {
  await import(cli.href);
} catch (err) {
  // Only a missing dist/ gets the hint; any other failure is the emulator's own and is rethrown.
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes(cli.pathname)) throw err;
  console.error(`stripe-emulator: ${cli.pathname} is missing; build it with \`npm run build\` in ${new URL("..", import.meta.url).pathname}`);
  process.exit(1);
}

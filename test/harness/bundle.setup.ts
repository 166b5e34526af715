/**
 * vitest globalSetup of the projects whose tests start the worker in Miniflare (e2e, browser):
 * bundles worker/src/index.ts once for the run and hands its path to every test process through
 * the environment (they are forked after this runs). A watch run keeps bundling per process, so
 * an edit to the worker is in the next run.
 */
import type { TestProject } from "vitest/node";
import { bundleWorker, SHARED_BUNDLE_ENV } from "./worker.ts";

export default async function setup(project: TestProject): Promise<void> {
  if (project.config.watch || process.env[SHARED_BUNDLE_ENV]) return;
  // The temp directory goes when this (vitest's main) process exits, after every test process.
  process.env[SHARED_BUNDLE_ENV] = await bundleWorker();
}

import { workerProject } from "./project.ts";

// The worker suite's files that share one runtime per slot; vitest.isolated.config.ts has the rest.
export default workerProject(false);

import { workerProject } from "./project.ts";

// The worker suite's files that need a database of their own (WHOLE_DATABASE_FILES).
export default workerProject(true);

export { createMcpServer, type ProblemLike } from "./server";

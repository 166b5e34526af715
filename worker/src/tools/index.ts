/** The agent tools (§9): the registry and its types. */
export { TOOLS, findTool, type Tool, type ToolAccess } from "./registry";

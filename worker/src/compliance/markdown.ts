/**
 * The report as Markdown, for an auditor's file: a summary table, then each item with its
 * controls, why it supports them, and the evidence as gathered (JSON, so nothing is lost).
 */
import type { ComplianceReport } from "./report";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

export function reportMarkdown(r: ComplianceReport): string {
  const out: string[] = [];
  out.push("# Compliance evidence report", "");
  out.push(`Generated ${r.generated_at} from the running system (environment: ${r.environment}).`, "");
  out.push(`**Overall: ${r.status.toUpperCase()}** — ${r.summary.pass} passed, ${r.summary.fail} failed${r.summary.failing.length ? ` (${r.summary.failing.join(", ")})` : ""}.`, "");
  out.push("| Evidence | Status | Controls | Finding |", "|---|---|---|---|");
  for (const i of r.items) {
    out.push(`| ${cell(i.title)} (\`${i.id}\`) | ${i.status === "pass" ? "PASS" : "**FAIL**"} | ${cell(i.controls.map((c) => `${c.framework} ${c.id}`).join("; "))} | ${cell(i.detail)} |`);
  }
  out.push("");
  for (const i of r.items) {
    out.push(`## ${i.title}`, "");
    out.push(`- **Status:** ${i.status === "pass" ? "PASS" : "FAIL"}`, `- **Id:** \`${i.id}\``, `- **Finding:** ${i.detail}`);
    out.push("- **Controls:**");
    for (const c of i.controls) out.push(`  - ${c.framework} ${c.id} — ${c.title}`);
    out.push(`- **Rationale:** ${i.rationale}`, "");
    out.push("```json", JSON.stringify(i.evidence, null, 2), "```", "");
  }
  out.push("## Policy", "", "```json", JSON.stringify(r.policy, null, 2), "```", "");
  return out.join("\n");
}

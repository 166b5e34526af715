import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Files that run longest while being small: their code lives in a module they share. */
const LONG_SMALL_FILES = [/\/test\/worker\/fuzz-\d\.test\.ts$/];

/**
 * vitest's order (the previous run's durations, else larger files first), except that without
 * a previous run (CI's fresh clone) the fuzz shards, tiny files that each run for half a minute,
 * go first in their project instead of last, where they would be the tail of the whole run.
 */
export class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const unknown = (f: TestSpecification) => LONG_SMALL_FILES.some((re) => re.test(f.moduleId)) && !this.ctx.cache.getTestSpecificationResult(f);
    const groups = new Map<string, TestSpecification[]>();
    for (const f of sorted) groups.set(f.project.name, [...(groups.get(f.project.name) ?? []), f]);
    return [...groups.values()].flatMap((g) => [...g.filter(unknown), ...g.filter((f) => !unknown(f))]);
  }
}

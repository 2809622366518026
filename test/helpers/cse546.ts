/**
 * The CSE546 workload for tests: the loader is shared with the benchmarks, which may not
 * import from `test/`, so it lives in `scripts/lib/cse546.ts`.
 */
export { cse546Dir, distinctCse546, loadCse546, type Cse546Image } from '../../scripts/lib/cse546.js';

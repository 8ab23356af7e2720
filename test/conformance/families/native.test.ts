/** The family conformance suite (suite.ts) on the native backend; skipped only where its addon is not built (never under CI). */
import { familySuite } from './suite.ts';

await familySuite('native');

/** The family conformance suite (suite.ts) on tfjs's pure-JavaScript cpu backend. */
import { familySuite } from './suite.ts';

await familySuite('cpu');

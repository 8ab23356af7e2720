/**
 * The tfjs every genloom module imports. In Node, `@tensorflow/tfjs-core` alone (its CommonJS
 * bundle) registers neither the gradients nor the chained tensor methods (x.add(y)); the union
 * package `@tensorflow/tfjs` does both against the same core, so it is imported here once, for its
 * side effects.
 */
import '@tensorflow/tfjs';

export * from '@tensorflow/tfjs-core';

/**
 * Test helper run in a child process (the GEMM path is chosen once per process, from
 * GENLOOM_NATIVE_ISA): prints the path in use and the largest relative difference from the cpu
 * backend over products with ragged edges and transposes.
 */
import * as tf from '../tf.ts';
import { loadNativeAddon } from './addon.ts';
import { registerNativeBackend } from './backend.ts';

registerNativeBackend();
let maxError = 0;
for (const [m, k, n, ta, tb] of [[13, 300, 65, false, false], [130, 257, 97, true, false], [7, 33, 41, false, true], [1, 5, 3, true, true]] as const) {
  const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', 1), b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, 'float32', 2);
  const results: Float32Array[] = [];
  for (const backend of ['native', 'cpu']) {
    await tf.setBackend(backend);
    results.push(tf.matMul(a, b, ta, tb).dataSync() as Float32Array);
  }
  results[1]!.forEach((expected, i) => { maxError = Math.max(maxError, Math.abs(results[0]![i]! - expected) / (1 + Math.abs(expected))); });
}
process.stdout.write(JSON.stringify({ isa: loadNativeAddon()!.isa(), maxError }));

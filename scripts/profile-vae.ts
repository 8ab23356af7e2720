// Kernel-time breakdown of one VAE training step (a development aid, not a benchmark).
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { gradientsOf } from '../src/core/params.ts';
import { fromSeed } from '../src/core/random.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { Vae } from '../src/models/vae/vae.ts';

await initEngine({ backend: process.argv[2] });
const vae = new Vae(parseVaeConfig({}), fromSeed(1));
const images = tf.randomUniform([128, 28, 28, 1]) as tf.Tensor4D;
const step = () => {
  const { value, grads } = gradientsOf(vae.params, () => vae.loss(images, fromSeed(2)).total);
  value.dataSync();
  tf.dispose([value, grads] as tf.TensorContainer);
};
step();
const t0 = performance.now();
for (let i = 0; i < 3; i++) step();
console.log('ms/step', ((performance.now() - t0) / 3).toFixed(1));
const profile = await tf.profile(step);
const byKernel = new Map<string, number>();
for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, t]) => `${n} ${t.toFixed(1)}`).join('\n'));

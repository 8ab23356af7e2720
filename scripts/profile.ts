// Kernel-time breakdown of one training step of a family's default model (a development aid, not a
// benchmark): npx tsx scripts/profile.ts vae|gan|diffusion|transformer [backend] ['{"patchSize":1}' diffusion config overrides]
// (transformer: nanoGPT's baby character model at batch 12, the step of `npm run bench -- transformer`)
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { gradientsOf, type Params } from '../src/core/params.ts';
import { fromSeed } from '../src/core/random.ts';
import { parseDiffusionConfig } from '../src/models/diffusion/config.ts';
import { Diffusion } from '../src/models/diffusion/diffusion.ts';
import { parseGanConfig } from '../src/models/gan/config.ts';
import { Gan } from '../src/models/gan/gan.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { Vae } from '../src/models/vae/vae.ts';
import { parseTransformerConfig } from '../src/models/transformer/config.ts';
import { Gpt } from '../src/models/transformer/gpt.ts';

type Phase = { params: Params; loss: () => tf.Scalar };

function vaeStep(): Phase[] {
  const vae = new Vae(parseVaeConfig({}), fromSeed(1));
  const images = tf.randomUniform([128, 28, 28, 1]) as tf.Tensor4D;
  return [{ params: vae.params, loss: () => vae.loss(images, fromSeed(2)).total }];
}

function ganStep(): Phase[] {
  const gan = new Gan(parseGanConfig({ classes: 10 }), fromSeed(1));
  const batch = { images: tf.randomUniform([64, 28, 28, 1]) as tf.Tensor4D, labels: tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32') };
  return gan.phases(2).map((phase) => ({ params: phase.params, loss: () => phase.loss(batch, fromSeed(2)).total }));
}

function diffusionStep(): Phase[] {
  const model = new Diffusion(parseDiffusionConfig({ classes: 10, ...JSON.parse(process.argv[4] ?? '{}') }), fromSeed(1));
  const batch = { images: tf.randomUniform([64, 28, 28, 1]) as tf.Tensor4D, labels: tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32') };
  return [{ params: model.unet.params, loss: () => model.loss(batch, fromSeed(2)).total }];
}

function transformerStep(): Phase[] {
  const model = new Gpt(parseTransformerConfig({ vocabularySize: 65 }, 'baby'), fromSeed(1));
  const ids = () => tf.tensor2d(Int32Array.from({ length: 12 * 64 }, (_, i) => (i * 7) % 65), [12, 64], 'int32');
  const batch = { inputs: ids(), targets: ids() };
  return [{ params: model.params, loss: () => model.crossEntropy(batch) }];
}

const [family = 'vae', backend] = process.argv.slice(2);
await initEngine({ backend });
const phases = family === 'gan' ? ganStep() : family === 'diffusion' ? diffusionStep() : family === 'transformer' ? transformerStep() : vaeStep();
const step = () => {
  for (const phase of phases) {
    const { value, grads } = gradientsOf(phase.params, phase.loss);
    value.dataSync();
    tf.dispose([value, grads] as tf.TensorContainer);
  }
};
step();
const t0 = performance.now();
for (let i = 0; i < 3; i++) step();
console.log(`${family}: ms/step`, ((performance.now() - t0) / 3).toFixed(1));
const profile = await tf.profile(step);
const byKernel = new Map<string, number>();
for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([n, t]) => `${n} ${t.toFixed(1)}`).join('\n'));
if (tf.getBackend() === 'native') {
  const { nativeFallbacks } = await import('../src/core/native/backend.ts');
  console.log('native kernels that fell back to the cpu backend:', Object.fromEntries(nativeFallbacks));
}

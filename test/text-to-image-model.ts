/**
 * A tiny text-to-image model for the server and studio tests: a clip model (its text encoder and
 * byte-level BPE tokenizer), an autoencoder and a latent diffusion model conditioned on captions,
 * each trained for a few steps on the captioned toy folder ("a red ring"). Its samples are noise:
 * it is for wiring (prompts in, images and trajectories out, feedback stored), not for quality,
 * which src/models/diffusion/text-to-image.test.ts checks. Training takes a few seconds.
 */
import { join } from 'node:path';
import { initEngine } from '../src/core/engine.ts';
import { autoencoderFamily } from '../src/models/autoencoder/index.ts';
import { clipFamily } from '../src/models/clip/index.ts';
import { diffusionFamily } from '../src/models/diffusion/index.ts';
import type { TrainRequest } from '../src/models/family.ts';
import { writeCaptionedFolder } from './fixtures.ts';

/**
 * Trains the three parts under `workDir` and leaves the text-to-image model in `modelsDir/name`
 * (a folder the studio's catalog lists); returns that folder.
 */
export async function trainTinyTextToImage(workDir: string, modelsDir: string, name = 'txt2img-tiny'): Promise<string> {
  await initEngine();
  const dataset = writeCaptionedFolder(join(workDir, 'captioned'), 1);
  const request = (outDir: string, steps: number, config: Record<string, unknown> = {}): TrainRequest => ({
    dataset, outDir, seed: 1, resume: false, preset: 'tiny', imageSize: 16, steps, batchSize: 8, config, command: 'test', quiet: true, backend: 'native',
  });
  const clipDir = join(workDir, 'clip');
  const autoencoderDir = join(workDir, 'ae');
  const modelDir = join(modelsDir, name);
  // The default tokenizer (byte-level BPE), so in-browser mode reads a BPE tokenizer.json too.
  await clipFamily.train(request(clipDir, 2, { vocab: 300 }));
  await autoencoderFamily.train(request(autoencoderDir, 2));
  await diffusionFamily.train(request(modelDir, 2, { autoencoderDir, textEncoderDir: clipDir, timesteps: 50 }));
  return modelDir;
}

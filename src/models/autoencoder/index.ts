/**
 * The autoencoder family: Stable Diffusion's first stage. `genloom train autoencoder --dataset
 * emoji` learns to squeeze 32×32×3 images into an 8×8×4 latent and back; a latent diffusion model
 * (`genloom train diffusion --autoencoder DIR`) then denoises in that latent. It is a helper model:
 * it reconstructs, it does not generate (its latent is not shaped for sampling from N(0, 1)).
 *
 * A family of its own rather than a latent-shape option of the VAE: the VAE is a generator with a
 * flat latent judged by its likelihood and its samples; this is a compressor with a spatial latent
 * and a KL weight of 1e-6, judged by how well it reconstructs.
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { builtinImageDatasets, gatherImages, loadImageDataset, type ImageDataset } from '../../data/index.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { evaluateColourGenerator } from '../../metrics/clip-metrics.ts';
import { roundMetric } from '../../metrics/image-metrics.ts';
import { train } from '../../train/trainer.ts';
import { parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { Autoencoder, type AutoencoderBatch } from './autoencoder.ts';
import { buildAutoencoder } from './build.ts';
import { autoencoderPresets, parseAutoencoderConfig } from './config.ts';

/** Images the latent scale is measured on (the first of a seeded shuffle of the training split). */
const scaleImages = 1024;

/**
 * SD's scale factor: 1/std of the latents of training images, so that the diffusion model sees
 * latents of unit variance whatever scale the autoencoder settled on.
 */
export function measureLatentScale(network: Autoencoder, data: ImageDataset): number {
  const indices = fromSeed('genloom-latent-scale').permutation(data.count).subarray(0, Math.min(scaleImages, data.count));
  let sum = 0;
  let sumSquares = 0;
  let count = 0;
  for (let start = 0; start < indices.length; start += 256) {
    const values = tf.tidy(() => network.encode(gatherImages(data, indices.subarray(start, start + 256))).mean.dataSync() as Float32Array);
    for (const value of values) {
      sum += value;
      sumSquares += value * value;
    }
    count += values.length;
  }
  const variance = sumSquares / count - (sum / count) ** 2;
  return 1 / Math.sqrt(Math.max(variance, 1e-12));
}

/** The images of a grid: the first row real, the next its reconstruction, alternating. */
function reconstructionGrid(network: Autoencoder, data: ImageDataset, columns = 8): tf.Tensor4D {
  return tf.tidy(() => {
    const real = gatherImages(data, Int32Array.from({ length: 4 * columns }, (_, i) => Math.floor((i * data.count) / (4 * columns))));
    const rebuilt = network.reconstruct(real);
    const rows: tf.Tensor4D[] = [];
    for (let row = 0; row < 4; row++) {
      rows.push(real.slice([row * columns], [columns]), rebuilt.slice([row * columns], [columns]));
    }
    return tf.concat(rows, 0);
  });
}

async function trainAutoencoder(request: TrainRequest): Promise<TrainSummary> {
  const setup = prepareImageTraining('autoencoder', request, { batchSize: 32, learningRate: 1e-3, epochs: 10 }, parseAutoencoderConfig, () => ({}));
  const { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const network = new Autoencoder(config, fromSeed(seed).fork('init'));
  try {
    const result = await train<AutoencoderBatch>(
      { params: network.params, loss: (batch, random) => network.loss(batch, random) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        makeBatch: (indices) => ({ images: gatherImages(data, indices) }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
        clipNorm: 1,
        // At least 25 steps apart: each checkpoint measures the latent scale and draws reconstructions.
        ...trainingCadence(totalSteps, stepsPerEpoch, 25),
        manifest: (step, epoch) =>
          setup.manifest(step, epoch, {
            schedule: 'cosine',
            latentShape: network.latentShape,
            latentScale: Number(measureLatentScale(network, data).toPrecision(6)),
            latentScaleNote: `1/std of the posterior means of ${Math.min(scaleImages, data.count)} training images: latents are multiplied by it before diffusion`,
          }),
        afterCheckpoint: () => writeImageGrid(join(request.outDir, 'samples.png'), reconstructionGrid(network, data), 8),
      },
    );
    return trainSummary(request, result);
  } finally {
    network.dispose();
  }
}

const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));

function loadAutoencoder(dir: string, manifest: CheckpointManifest): LoadedModel {
  const { weights } = loadCheckpoint(dir, { expectFamily: 'autoencoder' });
  const { model, network } = buildAutoencoder(manifest, weights, join(dir, 'model.safetensors'));
  const config = network.config;
  const training = manifest.training as Record<string, unknown>;
  return {
    ...model,
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const test = loadImageDataset(spec, { split: 'test', height: config.imageHeight, width: config.imageWidth, channels: config.channels });
      const count = Math.min(options.limit ?? test.count, test.count);
      let squared = 0;
      let absolute = 0;
      let perImagePsnr = 0;
      for (let start = 0; start < count; start += 128) {
        const indices = Int32Array.from({ length: Math.min(128, count - start) }, (_, i) => start + i);
        const [errors, abs] = tf.tidy(() => {
          const real = gatherImages(test, indices);
          const difference = tf.sub(network.reconstruct(real), real);
          return [tf.mean(tf.square(difference), [1, 2, 3]).dataSync() as Float32Array, tf.mean(tf.abs(difference)).dataSync()[0]! * indices.length];
        });
        for (const mse of errors) {
          squared += mse;
          perImagePsnr += psnr(mse);
        }
        absolute += abs;
      }
      // fid_clip of reconstructions: the test images, each through the autoencoder, against the training images.
      let next = 0;
      const colour = config.channels === 3
        ? evaluateColourGenerator(
            {
              imageShape: [config.imageHeight, config.imageWidth, config.channels],
              conditional: false,
              generate: (size) => {
                const indices = Int32Array.from({ length: size }, (_, i) => (next + i) % test.count);
                next += size;
                return tf.tidy(() => network.reconstruct(gatherImages(test, indices)));
              },
            },
            { dataset: spec, clipDir: options.clip, samples: options.samples ?? test.count, seed: options.seed, quiet: options.quiet },
          )
        : {};
      return {
        family: 'autoencoder',
        dataset: spec,
        split: test.split,
        images: count,
        latentShape: network.latentShape,
        compression: Number(((config.imageHeight * config.imageWidth * config.channels) / network.latentShape.reduce((a, b) => a * b, 1)).toFixed(2)),
        latentScale: training['latentScale'],
        reconstruction: {
          psnr: roundMetric(psnr(squared / count)),
          meanImagePsnr: roundMetric(perImagePsnr / count),
          meanAbsoluteError: roundMetric(absolute / count),
          method: 'posterior means decoded; PSNR = 10·log10(1/MSE) on pixels in [0, 1] over the whole split (psnr) and averaged per image (meanImagePsnr)',
        },
        ...(config.channels === 3 ? { reconstructions: { description: 'fid_clip, precision and recall of the test images\' reconstructions, beside the real test images (reference)', ...colour } } : {}),
      };
    },
  };
}

export const autoencoderFamily: FamilyDefinition = {
  name: 'autoencoder',
  summary: 'autoencoder (Stable Diffusion\'s first stage): squeezes images into a small spatial latent and back, for latent diffusion (train diffusion --autoencoder DIR)',
  builtinDatasets: builtinImageDatasets,
  capabilities: ['latent', 'encode'],
  presets: Object.keys(autoencoderPresets),
  options: [
    { flags: '--latent-channels <n>', description: 'channels of the spatial latent (default 4)', configKey: 'latentChannels', parse: parseIntegerFlag },
    { flags: '--level-channels <list>', description: 'channels per level; each level after the first halves the size, e.g. 32,64,128 (32×32 → 8×8)', configKey: 'levelChannels', parse: parseIntegerList },
    { flags: '--kl-weight <w>', description: 'weight of the KL term against the summed L1 error (default 1e-6, as in Stable Diffusion)', configKey: 'klWeight', parse: Number },
  ],
  train: trainAutoencoder,
  load: loadAutoencoder,
};

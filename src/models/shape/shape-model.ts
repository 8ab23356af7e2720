/**
 * One face over the family's two generators: build the right network for a config, hand the
 * trainer what it needs, and expose the ShapeModel contract (grids in and out as VoxelGrid).
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';
import type { TrainableModel } from '../../train/trainer.ts';
import type { ShapeModel, VoxelGrid } from '../family.ts';
import type { ShapeConfig } from './config.ts';
import { VoxelDiffusion } from './voxel-diffusion.ts';
import type { Voxels } from './voxel-layers.ts';
import { checkLabels, VoxelVae, type ShapeBatch } from './voxel-vae.ts';

/** Shapes generated per forward pass: bounds memory at 64³ and keeps progress reports frequent. */
const chunkSize = 16;

export type ShapeNetwork = VoxelVae | VoxelDiffusion;

export function buildNetwork(config: ShapeConfig, random: Random): ShapeNetwork {
  return config.generator === 'vae' ? new VoxelVae(config, random) : new VoxelDiffusion(config, random);
}

/** What the shared trainer optimises: the VAE's loss, or the diffusion U-Net (its EMA copy updated after each step). */
export function trainable(network: ShapeNetwork): TrainableModel<ShapeBatch> {
  if (network instanceof VoxelVae) return { params: network.params, loss: (batch, random) => network.loss(batch, random) };
  return {
    params: network.params,
    phases: [{ name: 'denoiser', params: network.unet.params, loss: (batch, random) => network.loss(batch, random) }],
    afterStep: (step) => network.afterStep(step),
  };
}

/** [B, r, r, r, 1] → one VoxelGrid per shape (disposes nothing). */
export function toGrids(voxels: Voxels): VoxelGrid[] {
  const [count, r] = voxels.shape;
  const size = r ** 3;
  const values = voxels.dataSync() as Float32Array;
  return Array.from({ length: count }, (_, i) => ({ resolution: r, values: values.slice(i * size, (i + 1) * size) }));
}

/** VoxelGrids (all at the model's resolution) → [B, r, r, r, 1]. */
export function fromGrids(grids: VoxelGrid[], resolution: number): Voxels {
  const size = resolution ** 3;
  const values = new Float32Array(grids.length * size);
  grids.forEach((grid, i) => {
    if (grid.resolution !== resolution || grid.values.length !== size) {
      throw new GenloomError('SHAPE_MISMATCH', `this model works on ${resolution}³ grids, not ${grid.resolution}³`);
    }
    values.set(grid.values, i * size);
  });
  return tf.tensor5d(values, [grids.length, resolution, resolution, resolution, 1]);
}

/** The ShapeModel contract over a network. */
export function shapeModel(network: ShapeNetwork, labelNames: string[] | undefined): ShapeModel {
  const { config } = network;
  const conditional = config.classes > 0;
  const labelsFor = (count: number, labels: ArrayLike<number> | undefined, random?: Random): number[] | undefined => {
    if (!conditional) {
      if (labels && labels.length > 0) throw new GenloomError('BAD_ARGUMENT', 'this shape model is unconditional: it takes no labels (train without --unconditional on labelled data for one that does)');
      return undefined;
    }
    if (labels) {
      checkLabels(labels, config.classes);
      return Array.from(labels);
    }
    if (!random) throw new GenloomError('BAD_ARGUMENT', `this shape model is conditional: give one label (0..${config.classes - 1}) per shape`);
    const drawn = random.fork('labels');
    return Array.from({ length: count }, () => drawn.integer(config.classes));
  };
  const model: ShapeModel = {
    resolution: config.resolution,
    generator: config.generator,
    conditional,
    ...(labelNames ? { labelNames } : {}),
    generate({ count: requested, labels: given, random, steps, onProgress }) {
      const count = given && conditional ? given.length : requested;
      if (!(Number.isInteger(count) && count >= 1)) throw new GenloomError('BAD_ARGUMENT', `the number of shapes must be a positive integer (got ${count})`);
      const labels = labelsFor(count, given, random);
      const grids: VoxelGrid[] = [];
      const chunks = Math.ceil(count / chunkSize);
      const sampleSteps = steps ?? config.sampleSteps;
      for (let chunk = 0; chunk < chunks; chunk++) {
        const size = Math.min(chunkSize, count - chunk * chunkSize);
        const chunkLabels = labels?.slice(chunk * chunkSize, chunk * chunkSize + size);
        const chunkRandom = random.fork('chunk', chunk);
        let voxels: Voxels;
        if (network instanceof VoxelVae) {
          voxels = network.sample(size, chunkRandom, chunkLabels);
          onProgress?.(chunk + 1, chunks);
        } else {
          voxels = network.sample(size, chunkRandom, {
            labels: chunkLabels,
            steps: sampleSteps,
            onProgress: onProgress && ((done) => onProgress(chunk * sampleSteps + done, chunks * sampleSteps)),
          });
        }
        grids.push(...toGrids(voxels));
        voxels.dispose();
      }
      return grids;
    },
  };
  if (network instanceof VoxelVae) {
    model.latentDim = network.latentDim;
    model.encode = (grids) =>
      tf.tidy(() => {
        const { mean } = network.encode(fromGrids(grids, config.resolution));
        const values = mean.dataSync() as Float32Array;
        return grids.map((_, i) => values.slice(i * network.latentDim, (i + 1) * network.latentDim));
      });
    model.decode = (latents, labels) => {
      const dim = network.latentDim;
      for (const latent of latents) {
        if (latent.length !== dim) throw new GenloomError('SHAPE_MISMATCH', `a latent has ${latent.length} values; this model's latent space has ${dim}`);
      }
      const chosen = labelsFor(latents.length, labels);
      const z = tf.tensor2d(Float32Array.from(latents.flatMap((latent) => Array.from(latent))), [latents.length, dim]);
      const voxels = network.decode(z, chosen);
      const grids = toGrids(voxels);
      tf.dispose([z, voxels]);
      return grids;
    };
  }
  return model;
}

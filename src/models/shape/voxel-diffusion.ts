/**
 * A denoising diffusion model on voxel grids (Ho et al. 2020): occupancy {0, 1} scaled to data
 * x_0 ∈ {−1, 1}, the cosine noise schedule (Nichol & Dhariwal 2021), ε-prediction by the 3-D U-Net
 * of voxel-unet.ts, and sampling with the diffusion family's DDIM sampler (Song et al. 2021). The
 * samplers work elementwise on 4-D tensors, so grids travel through them as [B, r, r, r] and are
 * given the channel axis back inside the denoiser. Conditional models train with label dropout and
 * sample with classifier-free guidance (Ho & Salimans 2022): ε̂ = ε̂_∅ + w·(ε̂_y − ε̂_∅).
 */
import * as tf from '../../core/tf.ts';
import type { Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { updateAverage } from '../../train/ema.ts';
import { ddim } from '../../schedulers/ddim.ts';
import { alphaBarAt, makeSchedule, type NoiseSchedule } from '../../schedulers/noise-schedule.ts';
import type { ShapeConfig } from './config.ts';
import { VoxelUNet } from './voxel-unet.ts';
import { checkLabels, type ShapeBatch, type ShapeLoss } from './voxel-vae.ts';
import type { Voxels } from './voxel-layers.ts';

export class VoxelDiffusion {
  /** The network training updates. */
  readonly unet: VoxelUNet;
  /** Its exponential moving average (parameters "ema.*"), which sampling uses. */
  readonly averaged: VoxelUNet;
  readonly schedule: NoiseSchedule;
  /** Every parameter, as checkpointed. */
  readonly params: Params;

  constructor(readonly config: ShapeConfig, random: Random) {
    this.unet = new VoxelUNet(config, random);
    this.averaged = new VoxelUNet(config, random.fork('average'));
    this.params = { ...this.unet.params };
    for (const [name, variable] of Object.entries(this.averaged.params)) {
      variable.assign(this.unet.params[name]!);
      this.params[`ema.${name}`] = variable;
    }
    this.schedule = makeSchedule('cosine', config.timesteps);
  }

  get conditional(): boolean {
    return this.config.classes > 0;
  }

  afterStep(step: number): void {
    updateAverage(this.averaged.params, this.unet.params, step, this.config.emaDecay);
  }

  /** ‖ε − ε̂(√ᾱ_t·x_0 + √(1−ᾱ_t)·ε, t)‖² averaged over voxels, t uniform in 1…T (the "simple" loss). */
  loss(batch: ShapeBatch, random: Random): ShapeLoss {
    return tf.tidy(() => {
      const x = batch.voxels;
      const count = x.shape[0];
      const steps = Array.from({ length: count }, () => 1 + random.integer(this.config.timesteps));
      const alphaBars = steps.map((t) => alphaBarAt(this.schedule, t));
      const noise = tf.tensor(random.fork('noise').normalArray(x.size), x.shape) as Voxels;
      const a = tf.tensor(alphaBars.map(Math.sqrt), [count, 1, 1, 1, 1]);
      const b = tf.tensor(alphaBars.map((value) => Math.sqrt(1 - value)), [count, 1, 1, 1, 1]);
      const data = tf.sub(tf.mul(x, 2), 1);
      const noisy = tf.add(tf.mul(data, a), tf.mul(noise, b)) as Voxels;
      let labels: number[] | null = null;
      if (this.conditional) {
        const dropout = random.fork('label-dropout');
        labels = Array.from(batch.labels!.dataSync(), (label) => (dropout.uniform() < this.config.labelDropout ? this.config.classes : label));
      }
      const total = tf.mean(tf.square(tf.sub(this.unet.apply(noisy, steps, labels), noise))) as tf.Scalar;
      return { total, parts: {} };
    });
  }

  /**
   * `count` grids of occupancy in [0, 1], [B, r, r, r, 1], by DDIM from seeded noise. Conditional
   * models need one label per grid; `onProgress` is called after each of the `steps` steps.
   */
  sample(count: number, random: Random, options: { labels?: ArrayLike<number>; steps?: number; guidance?: number; onProgress?(done: number, total: number): void } = {}): Voxels {
    const r = this.config.resolution;
    const labelRandom = random.fork('labels');
    const labels = this.conditional ? Array.from(options.labels ?? Array.from({ length: count }, () => labelRandom.integer(this.config.classes))) : null;
    if (labels) checkLabels(labels, this.config.classes);
    const guidance = options.guidance ?? this.config.guidance;
    const none = new Array<number>(count).fill(this.config.classes);
    const denoise = (x: tf.Tensor4D, t: number): tf.Tensor4D =>
      tf.tidy(() => {
        const voxels = x.reshape([count, r, r, r, 1]) as Voxels;
        const steps = new Array<number>(count).fill(t);
        const network = this.averaged;
        let out: Voxels;
        if (!labels || guidance === 1) out = network.apply(voxels, steps, labels);
        else {
          const unconditional = network.apply(voxels, steps, none);
          out = guidance === 0 ? unconditional : (tf.add(unconditional, tf.mul(tf.sub(network.apply(voxels, steps, labels), unconditional), guidance)) as Voxels);
        }
        return out.reshape([count, r, r, r]) as tf.Tensor4D;
      });
    const steps = options.steps ?? this.config.sampleSteps;
    const start = tf.tensor4d(random.fork('start').normalArray(count * r ** 3), [count, r, r, r]);
    try {
      const sample = ddim({
        schedule: this.schedule,
        prediction: 'epsilon',
        denoise,
        start,
        steps,
        random: random.fork('sampler'),
        clip: true,
        onStep: options.onProgress && ((index) => options.onProgress!(index + 1, steps)),
      });
      const grids = tf.tidy(() => tf.clipByValue(tf.div(tf.add(sample, 1), 2), 0, 1).reshape([count, r, r, r, 1]) as Voxels);
      sample.dispose();
      return grids;
    } finally {
      start.dispose();
    }
  }

  dispose(): void {
    this.unet.dispose();
    this.averaged.dispose();
  }
}

/**
 * `genloom eval` for a text-to-image model: does it draw what it is asked?
 *
 *   prompt adherence  for each test caption, one sample; the clip model retrieves, among all the
 *                     split's captions, the one nearest the sample: adherence is the share where
 *                     that is the prompt given (chance: 1 / the number of captions), on the random
 *                     test split and on the compositional split (pairs absent from training)
 *   clip_score        mean cosine between a sample and its prompt, beside the real images' with
 *                     their own captions
 *   fid_clip          the colour metrics (clip-metrics.ts) of samples drawn for training captions
 *
 * The same clip model is the text encoder the model was trained with and the judge, by default:
 * a model can learn to please its own encoder, so `--clip DIR` takes another clip model as judge.
 */
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { loadEmoji, type CaptionedImageDataset } from '../../data/emoji.ts';
import { clipFeatureNetDir, clipImageFeatures, evaluateColourGenerator, loadClipFeatureNet } from '../../metrics/clip-metrics.ts';
import { roundMetric } from '../../metrics/image-metrics.ts';
import { createProgress } from '../../train/progress.ts';
import type { ContrastiveModel, EvaluateOptions } from '../family.ts';
import type { Diffusion, DiffusionSampleOptions } from './diffusion.ts';

/** Unit vectors [N, E] as rows of a Float32Array. */
function rows(tensor: tf.Tensor2D): Float32Array {
  return tensor.dataSync() as Float32Array;
}

/** For each image vector, the index of the nearest caption vector (and whether `wanted` is in the top 5). */
function retrieve(images: Float32Array, texts: Float32Array, dim: number, wanted: Int32Array): { top1: number; top5: number; scores: number[] } {
  const captions = texts.length / dim;
  let top1 = 0;
  let top5 = 0;
  const scores: number[] = [];
  for (let i = 0; i < wanted.length; i++) {
    const similarity = new Float32Array(captions);
    for (let c = 0; c < captions; c++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += images[i * dim + j]! * texts[c * dim + j]!;
      similarity[c] = dot;
    }
    const own = similarity[wanted[i]!]!;
    scores.push(own);
    const better = similarity.reduce((count, value) => count + (value > own ? 1 : 0), 0);
    if (better === 0) top1 += 1;
    if (better < 5) top5 += 1;
  }
  return { top1: top1 / wanted.length, top5: top5 / wanted.length, scores };
}

/** Adherence and CLIP score on one captioned split, for samples and for the real images. */
function adherenceOn(model: Diffusion, judge: ContrastiveModel, data: CaptionedImageDataset, limit: number, sampling: DiffusionSampleOptions, seed: number, quiet: boolean, label: string) {
  const unique = [...new Set(data.captions)];
  const texts = tf.tidy(() => rows(judge.embedTexts(unique)));
  const order = fromSeed(`prompt-adherence-${label}`).permutation(data.count).subarray(0, Math.min(limit, data.count));
  const prompts = Array.from(order, (i) => data.captions[i]!);
  const wanted = Int32Array.from(prompts, (prompt) => unique.indexOf(prompt));
  const dim = judge.embedDim;
  const sampled = new Float32Array(prompts.length * dim);
  const progress = createProgress({ total: prompts.length, label: `sample ${label}`, quiet });
  const random = fromSeed(seed).fork(`adherence-${label}`);
  for (let start = 0; start < prompts.length; start += 16) {
    const batch = prompts.slice(start, start + 16);
    tf.tidy(() => {
      const images = model.sample(batch.length, random.fork(start), { ...sampling, prompts: batch });
      sampled.set(rows(clipImageFeatures(judge, images)), start * dim);
    });
    progress.update(start + batch.length, {});
  }
  progress.stop();
  const real = tf.tidy(() => rows(clipImageFeatures(judge, tf.tensor4d(data.pixels, [data.count, data.height, data.width, data.channels]).gather(tf.tensor1d(order, 'int32')) as tf.Tensor4D)));
  const generated = retrieve(sampled, texts, dim, wanted);
  const reference = retrieve(real, texts, dim, wanted);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    prompts: prompts.length,
    captions: unique.length,
    chance: roundMetric(1 / unique.length),
    promptAdherence: roundMetric(generated.top1),
    promptAdherenceTop5: roundMetric(generated.top5),
    clip_score: roundMetric(mean(generated.scores)),
    real: { promptAdherence: roundMetric(reference.top1), promptAdherenceTop5: roundMetric(reference.top5), clip_score: roundMetric(mean(reference.scores)) },
    clipScoreRatio: roundMetric(mean(generated.scores) / mean(reference.scores)),
    examples: prompts.slice(0, 4),
  };
}

/** The text-to-image metrics (the model's own sampling options recorded beside them). */
export function evaluateTextToImage(model: Diffusion, options: EvaluateOptions, sampling: DiffusionSampleOptions): Record<string, unknown> {
  const dir = clipFeatureNetDir(options.clip);
  const judge = loadClipFeatureNet(dir);
  try {
    const size = model.config.imageHeight;
    const limit = options.limit ?? 200;
    const test = adherenceOn(model, judge.contrastive, loadEmoji('test', size), limit, sampling, options.seed, options.quiet, 'test');
    const compositional = adherenceOn(model, judge.contrastive, loadEmoji('compositional', size), limit, sampling, options.seed, options.quiet, 'compositional');
    const train = loadEmoji('train', size);
    const promptOrder = fromSeed('fid-prompts').permutation(train.count);
    let next = 0;
    const colour = evaluateColourGenerator(
      {
        imageShape: [model.config.imageHeight, model.config.imageWidth, model.config.channels],
        conditional: false,
        generate: (count, _labels, random) => {
          const prompts = Array.from({ length: count }, (_, i) => train.captions[promptOrder[(next + i) % train.count]!]!);
          next += count;
          return model.sample(count, random, { ...sampling, prompts });
        },
      },
      { dataset: 'emoji', clipDir: options.clip, samples: options.samples ?? 500, seed: options.seed, quiet: options.quiet },
    );
    return {
      judge: dir.replace(/.*\/models\//, 'models/'),
      judgeNote: 'adherence: the share of samples whose nearest caption (in the judge\'s space, among all the split\'s captions) is their prompt; real: the real images of the same captions measured the same way',
      test,
      compositional,
      samplesForFid: options.samples ?? 500,
      fidPrompts: 'training captions, a seeded shuffle',
      ...colour,
    };
  } finally {
    judge.dispose();
  }
}

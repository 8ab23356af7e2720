/**
 * Algorithmic rewards: small plug-ins with one interface, parsed from a spec such as
 * "classifier:7", "keyword:light,darkness", "length:200", "in-key:G" or "range:48-72". Each scores a
 * batch of samples with a reward in [0, 1] and says which samples "hit" its target (the classifier's
 * top label is the target, a keyword is mentioned, …): the share of hits is the report's
 * target_share.
 *
 * Rewards are what rejection-sampling and reward-weighted fine-tuning optimise, and they also stand
 * in for a person as a scripted rater (`genloom rate --rater SPEC`), so a feedback loop can be
 * tested end to end without one.
 */
import { relative } from 'node:path';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { isBuiltinDataset, loadImageDataset } from '../data/index.ts';
import { clipFeatureNetDir, clipImageFeatures, loadClipFeatureNet } from '../metrics/clip-metrics.ts';
import { featureNetDir, loadFeatureNet } from '../metrics/generator-eval.ts';
import { readManifest, type CheckpointManifest } from '../io/checkpoint.ts';
import type { ImageClassifier } from '../models/family.ts';
import type { Note } from '../music/midi.ts';

export interface RewardScores {
  /** One reward in [0, 1] per sample. */
  rewards: Float64Array;
  /** 1 where the sample hits the reward's target. */
  hits: Uint8Array;
}

interface RewardBase {
  spec: string;
  /** One line for people: what the reward measures. */
  description: string;
  dispose(): void;
}

export interface ImageReward extends RewardBase {
  kind: 'image';
  /** Images [B, H, W, C] in [0, 1], and for text-to-image samples the prompt of each. */
  score(images: tf.Tensor4D, prompts?: string[]): RewardScores;
  /** Classifier rewards: the label aimed for, its name, and the classifier (the report's FID uses its features). */
  target?: { label: number; name: string; classifierDir: string };
}

export interface TextReward extends RewardBase {
  kind: 'text';
  score(texts: string[]): RewardScores;
}

export interface MusicReward extends RewardBase {
  kind: 'music';
  score(pieces: Note[][]): RewardScores;
}

export type Reward = ImageReward | TextReward | MusicReward;
export type RewardKind = Reward['kind'];

/** What a model makes, as rewards see it. */
export function rewardKindOf(family: string): RewardKind {
  if (family === 'transformer') return 'text';
  if (family === 'music') return 'music';
  return 'image';
}

const rewardHelp = 'classifier:LABEL[@CLASSIFIER_DIR], clip:TEXT[@CLIP_DIR] or prompt-alignment[@CLIP_DIR] (images), keyword:WORD[,WORD…] or length:CHARS (text), in-key:KEY or range:LOW-HIGH (music)';

/**
 * Parses a reward spec for a model of `manifest` (in `modelDir`). A spec for another kind of output,
 * or one that does not parse, is an error that lists the specs there are.
 * @example
 * const reward = parseReward('classifier:7', readManifest('models/gan-mnist'), 'models/gan-mnist');
 * const { rewards, hits } = reward.score(images);
 */
export function parseReward(spec: string, manifest: CheckpointManifest, modelDir: string): Reward {
  const alignment = /^prompt-alignment(?:@(.+))?$/.exec(spec.trim());
  const match = alignment ? null : /^([a-z-]+):(.+)$/.exec(spec.trim());
  if (!match && !alignment) throw new GenloomError('BAD_ARGUMENT', `the reward "${spec}" does not parse: use ${rewardHelp}`);
  const [, name, argument] = (match ?? ['', 'prompt-alignment', alignment![1] ?? '']) as unknown as [string, string, string];
  const builders: Record<string, { kind: RewardKind; build: () => Reward }> = {
    classifier: { kind: 'image', build: () => classifierReward(spec, argument, manifest, modelDir) },
    clip: { kind: 'image', build: () => clipReward(spec, argument, modelDir) },
    'prompt-alignment': { kind: 'image', build: () => promptAlignmentReward(spec, argument, manifest, modelDir) },
    keyword: { kind: 'text', build: () => keywordReward(spec, argument) },
    length: { kind: 'text', build: () => lengthReward(spec, argument) },
    'in-key': { kind: 'music', build: () => inKeyReward(spec, argument) },
    range: { kind: 'music', build: () => rangeReward(spec, argument) },
  };
  const builder = builders[name];
  if (!builder) throw new GenloomError('BAD_ARGUMENT', `unknown reward "${name}" in "${spec}": use ${rewardHelp}`);
  const kind = rewardKindOf(manifest.family);
  if (builder.kind !== kind) {
    throw new GenloomError('BAD_ARGUMENT', `the reward "${spec}" scores ${builder.kind === 'image' ? 'images' : builder.kind}, but ${modelDir} is a ${manifest.family} model that makes ${kind === 'image' ? 'images' : kind}`);
  }
  return builder.build();
}

/**
 * The dataset a model (or the model it was fine-tuned from, and so on up) was first trained on: a
 * feedback fine-tune trains on its own samples, but its classifier and its real images are the
 * original dataset's.
 */
export function baseDataset(manifest: CheckpointManifest): string {
  let current: CheckpointManifest | null = manifest;
  const seen = new Set<string>();
  while (current) {
    const dataset = String(current.training['dataset'] ?? '');
    if (isBuiltinDataset(dataset) || dataset === 'kjv' || !current.parent || seen.has(current.parent)) return dataset;
    seen.add(current.parent);
    try {
      current = readManifest(current.parent);
    } catch {
      return dataset;
    }
  }
  return '';
}

function classifierReward(spec: string, argument: string, manifest: CheckpointManifest, modelDir: string): ImageReward {
  const [labelText, givenDir] = argument.split('@') as [string, string | undefined];
  const dataset = baseDataset(manifest);
  const classifierDir = featureNetDir(dataset, givenDir);
  const net = loadFeatureNet(classifierDir);
  const names = (net.manifest.training['labelNames'] as string[] | undefined) ?? Array.from({ length: net.classifier.classes }, (_, i) => String(i));
  const byName = names.findIndex((name) => name.toLowerCase() === labelText.trim().toLowerCase());
  const label = byName >= 0 ? byName : /^\d+$/.test(labelText.trim()) ? Number(labelText) : -1;
  if (!(label >= 0 && label < names.length)) {
    net.dispose();
    throw new GenloomError('BAD_ARGUMENT', `the classifier ${classifierDir} has no label "${labelText}": its labels are ${names.join(', ')}`);
  }
  const shape = net.imageShape!;
  const classifier: ImageClassifier = net.classifier;
  // Shown and recorded relative to where genloom runs, as the user would type it.
  const shown = relative(process.cwd(), classifierDir);
  const classifierName = shown && !shown.startsWith('..') ? shown : classifierDir;
  return {
    kind: 'image',
    spec,
    description: `the probability the classifier ${classifierName} gives the label ${names[label]}`,
    target: { label, name: names[label]!, classifierDir: classifierName },
    score(images) {
      if (images.shape.slice(1).some((size, i) => size !== shape[i])) {
        throw new GenloomError('SHAPE_MISMATCH', `the classifier ${classifierDir} takes ${shape.join('×')} images but ${modelDir} makes ${images.shape.slice(1).join('×')}`);
      }
      const [probabilities, predictions] = tf.tidy(() => {
        const logits = classifier.logitsFromFeatures(classifier.features(images));
        return [tf.softmax(logits).slice([0, label], [-1, 1]).reshape([-1]), tf.argMax(logits, 1)];
      });
      const rewards = Float64Array.from(probabilities.dataSync());
      const hits = Uint8Array.from(predictions.dataSync(), (prediction) => (prediction === label ? 1 : 0));
      tf.dispose([probabilities, predictions]);
      return { rewards, hits };
    },
    dispose: () => net.dispose(),
  };
}

/** Captions a clip reward's target text competes with: at most this many of the clip model's training captions. */
const clipRivalCaptions = 2000;

/**
 * How well images match a text in a clip model's space (the shipped models/clip-emoji, or
 * TEXT@CLIP_DIR): the reward is (1 + cosine) / 2, and an image hits when the text is nearer it than
 * 95% of the clip model's own training captions are (so "a red heart" hits on images that look
 * like one, not on anything that happens to score a middling cosine).
 */
function clipReward(spec: string, argument: string, modelDir: string): ImageReward {
  const at = argument.lastIndexOf('@');
  const text = (at >= 0 ? argument.slice(0, at) : argument).trim();
  if (!text) throw new GenloomError('BAD_ARGUMENT', `"${spec}" names no text: e.g. clip:a red heart`);
  const clipDir = clipFeatureNetDir(at >= 0 ? argument.slice(at + 1).trim() : undefined);
  const net = loadClipFeatureNet(clipDir);
  const model = net.contrastive;
  let rivals: tf.Tensor2D;
  let target: tf.Tensor2D;
  try {
    const trainedOn = String(net.manifest.training['dataset'] ?? '');
    const [height, width, channels] = model.imageShape;
    const captions = (loadImageDataset(trainedOn, { split: 'train', height, width, channels: channels as 1 | 3 }).captions ?? []).filter((caption) => caption !== text);
    const order = fromSeed('clip-reward-rivals').permutation(captions.length).subarray(0, Math.min(clipRivalCaptions, captions.length));
    rivals = model.embedTexts(Array.from(order, (i) => captions[i]!));
    target = model.embedTexts([text]);
  } catch (error) {
    net.dispose();
    throw error;
  }
  const shown = relative(process.cwd(), clipDir);
  return {
    kind: 'image',
    spec,
    description: `how near the images are to "${text}" in the clip model ${shown && !shown.startsWith('..') ? shown : clipDir} ((1 + cosine) / 2; a hit beats 95% of its captions)`,
    score(images) {
      const [cosines, beaten] = tf.tidy(() => {
        const features = clipImageFeatures(model, images); // [B, D]
        const toTarget = tf.matMul(features, target, false, true); // [B, 1]
        const toRivals = tf.matMul(features, rivals, false, true); // [B, R]
        return [toTarget.reshape([-1]), tf.mean(tf.less(toRivals, toTarget).toFloat(), 1)];
      });
      const cosine = cosines.dataSync() as Float32Array;
      const share = beaten.dataSync() as Float32Array;
      tf.dispose([cosines, beaten]);
      return {
        rewards: Float64Array.from(cosine, (value) => (1 + value) / 2),
        hits: Uint8Array.from(share, (value) => (rivals.shape[0] === 0 || value >= 0.95 ? 1 : 0)),
      };
    },
    dispose: () => {
      tf.dispose([rivals, target]);
      net.dispose();
    },
  };
}

/**
 * How well each text-to-image sample matches its own prompt in a clip model's space (the shipped
 * models/clip-emoji, or prompt-alignment@CLIP_DIR): (1 + cosine) / 2, and a hit when the prompt is
 * nearer the image than 95% of the clip model's own captions are, as for clip:TEXT.
 */
function promptAlignmentReward(spec: string, clipArgument: string, manifest: CheckpointManifest, modelDir: string): ImageReward {
  if (manifest.config['textEncoder'] === undefined) throw new GenloomError('BAD_ARGUMENT', `the reward "${spec}" scores samples against their prompts, but ${modelDir} is not a text-to-image model (it takes no prompt): use clip:TEXT`);
  const clipDir = clipFeatureNetDir(clipArgument.trim() || undefined);
  const net = loadClipFeatureNet(clipDir);
  const model = net.contrastive;
  let rivals: tf.Tensor2D;
  try {
    const trainedOn = String(net.manifest.training['dataset'] ?? '');
    const [height, width, channels] = model.imageShape;
    const captions = loadImageDataset(trainedOn, { split: 'train', height, width, channels: channels as 1 | 3 }).captions ?? [];
    const order = fromSeed('clip-reward-rivals').permutation(captions.length).subarray(0, Math.min(clipRivalCaptions, captions.length));
    rivals = model.embedTexts(Array.from(order, (i) => captions[i]!));
  } catch (error) {
    net.dispose();
    throw error;
  }
  return {
    kind: 'image',
    spec,
    description: `how near each sample is to its own prompt in the clip model ${relative(process.cwd(), clipDir) || clipDir} ((1 + cosine) / 2; a hit beats 95% of its captions)`,
    score(images, prompts) {
      if (!prompts || prompts.length !== images.shape[0]) throw new GenloomError('BAD_ARGUMENT', `the reward "${spec}" needs the prompt of every sample (text-to-image samples)`);
      const [cosines, beaten] = tf.tidy(() => {
        const features = clipImageFeatures(model, images); // [B, D]
        const targets = model.embedTexts(prompts); // [B, D]
        const toTarget = tf.sum(tf.mul(features, targets), 1, true); // [B, 1]
        const toRivals = tf.matMul(features, rivals, false, true); // [B, R]
        return [toTarget.reshape([-1]), tf.mean(tf.less(toRivals, toTarget).toFloat(), 1)];
      });
      const cosine = cosines.dataSync() as Float32Array;
      const share = beaten.dataSync() as Float32Array;
      tf.dispose([cosines, beaten]);
      return { rewards: Float64Array.from(cosine, (value) => (1 + value) / 2), hits: Uint8Array.from(share, (value) => (value >= 0.95 ? 1 : 0)) };
    },
    dispose: () => {
      rivals.dispose();
      net.dispose();
    },
  };
}

function keywordReward(spec: string, argument: string): TextReward {
  const words = argument.split(',').map((word) => word.trim()).filter((word) => word.length > 0);
  if (words.length === 0) throw new GenloomError('BAD_ARGUMENT', `"${spec}" names no keyword: e.g. keyword:light,darkness`);
  const patterns = words.map((word) => new RegExp(`(?<![\\p{L}\\p{N}])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'iu'));
  return {
    kind: 'text',
    spec,
    description: `the share of the words ${words.join(', ')} that the text mentions (whole words, any case)`,
    score(texts) {
      const rewards = new Float64Array(texts.length);
      const hits = new Uint8Array(texts.length);
      texts.forEach((text, i) => {
        const found = patterns.filter((pattern) => pattern.test(text)).length;
        rewards[i] = found / patterns.length;
        hits[i] = found > 0 ? 1 : 0;
      });
      return { rewards, hits };
    },
    dispose() {},
  };
}

function lengthReward(spec: string, argument: string): TextReward {
  const target = Number(argument);
  if (!(Number.isInteger(target) && target >= 1)) throw new GenloomError('BAD_ARGUMENT', `"${spec}": the length must be a whole number of characters ≥ 1`);
  return {
    kind: 'text',
    spec,
    description: `closeness of the text's length to ${target} characters (1 at exactly ${target}, 0 at twice as long or empty); a hit within 10%`,
    score(texts) {
      const lengths = texts.map((text) => Array.from(text).length);
      return {
        rewards: Float64Array.from(lengths, (length) => Math.max(0, 1 - Math.abs(length - target) / target)),
        hits: Uint8Array.from(lengths, (length) => (Math.abs(length - target) <= 0.1 * target ? 1 : 0)),
      };
    },
    dispose() {},
  };
}

const pitchClasses: Record<string, number> = { c: 0, d: 2, e: 4, f: 5, g: 7, a: 9, b: 11 };

/** "C", "F#", "Bb", "a-minor", "Am": the tonic's pitch class and whether the key is minor. */
function parseKey(text: string): { tonic: number; minor: boolean } | null {
  const match = /^([a-g])([#b]?)(m|-?minor|-?major)?$/i.exec(text.trim());
  if (!match) return null;
  const accidental = match[2] === '#' ? 1 : match[2] === 'b' ? -1 : 0;
  return { tonic: (pitchClasses[match[1]!.toLowerCase()]! + accidental + 12) % 12, minor: /^-?m(inor)?$/i.test(match[3] ?? '') };
}

/** The share of each piece's notes that pass `test`; an empty piece scores 0. */
function noteShareReward(spec: string, description: string, test: (pitch: number) => boolean): MusicReward {
  return {
    kind: 'music',
    spec,
    description,
    score(pieces) {
      const rewards = Float64Array.from(pieces, (notes) => (notes.length === 0 ? 0 : notes.filter((note) => test(note.pitch)).length / notes.length));
      return { rewards, hits: Uint8Array.from(rewards, (reward) => (reward === 1 ? 1 : 0)) };
    },
    dispose() {},
  };
}

function inKeyReward(spec: string, argument: string): MusicReward {
  const key = parseKey(argument);
  if (!key) throw new GenloomError('BAD_ARGUMENT', `"${spec}": the key must be like C, F#, Bb, Am or a-minor`);
  // Natural minor is the major scale of the relative major, three semitones up.
  const majorTonic = key.minor ? (key.tonic + 3) % 12 : key.tonic;
  const scale = new Set([0, 2, 4, 5, 7, 9, 11].map((step) => (majorTonic + step) % 12));
  return noteShareReward(spec, `the share of notes in the scale of ${argument} (a hit when all are)`, (pitch) => scale.has(pitch % 12));
}

function rangeReward(spec: string, argument: string): MusicReward {
  const match = /^(\d{1,3})-(\d{1,3})$/.exec(argument.trim());
  const [low, high] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(low >= 0 && high <= 127 && low <= high)) throw new GenloomError('BAD_ARGUMENT', `"${spec}": the range must be LOW-HIGH MIDI pitches in 0..127, e.g. range:48-72`);
  return noteShareReward(spec, `the share of notes with MIDI pitch ${low}..${high} (a hit when all are)`, (pitch) => pitch >= low && pitch <= high);
}

/**
 * The clip family: a contrastive image–text model trained on captioned images (the built-in emoji,
 * or a folder with a .txt caption beside each image). It embeds texts and images in one space:
 * `genloom embed`, `genloom search`, retrieval metrics in `genloom eval`, the image features of the
 * colour image metrics, and the `clip:TEXT` reward.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { shiftImages } from '../../data/augment.ts';
import { builtinImageDatasets, isBuiltinDataset, loadImageDataset, type ImageDataset } from '../../data/index.ts';
import { makeDirectories } from '../../io/atomic.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { BpeTokenizer } from '../../text/bpe-tokenizer.ts';
import { CharTokenizer } from '../../text/char-tokenizer.ts';
import { readTokenizer, tokenizerFile, writeTokenizer, type Tokenizer } from '../../text/tokenizer.ts';
import { stepGeometry, train } from '../../train/trainer.ts';
import { assignStored } from '../../core/params.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { parseIntegerFlag, parseIntegerList, previousRun, runControls, runLength, runManifest, takeSettings, trainSummary } from '../../train/run-setup.ts';
import { captionIds, captionTensors } from './captions.ts';
import { Clip, type ClipBatch } from './clip.ts';
import { clipPresets, parseClipConfig, type ClipConfig } from './config.ts';
import { contrastiveModelOf } from './contrastive.ts';
import { evaluateClip } from './evaluate.ts';
import { join } from 'node:path';

/** Training settings that are not part of the network's shape (kept in training.settings). */
interface ClipTrainingSettings {
  tokenizer: 'bpe' | 'char';
  /** BPE vocabulary size, the 256 byte tokens included. */
  vocab: number;
  /** Random shifts of up to this many pixels (white fill) while training. */
  augmentShift: number;
  weightDecay: number;
  /** Steps between checkpoints and validation (default: 5 epochs, at most 1,000). */
  checkpointEvery?: number;
}

const trainingKeys = ['tokenizer', 'vocab', 'augmentShift', 'weightDecay', 'checkpointEvery'] as const;

type Captioned = ImageDataset & { captions: string[] };

function loadCaptioned(spec: string, split: 'train' | 'test', size: { height?: number; width?: number; channels?: 1 | 3 }): Captioned {
  const noCaptions = () => new GenloomError('BAD_ARGUMENT', `${spec} has no captions: train clip needs a caption per image (emoji, or a folder with x.txt beside each x.png)`);
  if (isBuiltinDataset(spec)) throw noCaptions();
  const data = loadImageDataset(spec, { split, ...size, captions: true });
  if (!data.captions) throw noCaptions();
  return data as Captioned;
}

function checkSettings(settings: ClipTrainingSettings): void {
  if (settings.tokenizer !== 'bpe' && settings.tokenizer !== 'char') throw new GenloomError('BAD_ARGUMENT', `--tokenizer must be bpe or char, got ${JSON.stringify(settings.tokenizer)}`);
  if (!(Number.isInteger(settings.vocab) && settings.vocab >= 257 && settings.vocab <= 65536)) throw new GenloomError('BAD_ARGUMENT', `--vocab must be a whole number from 257 to 65536, got ${settings.vocab}`);
  if (!(Number.isInteger(settings.augmentShift) && settings.augmentShift >= 0 && settings.augmentShift <= 16)) throw new GenloomError('BAD_ARGUMENT', `--augment-shift must be a whole number from 0 to 16, got ${settings.augmentShift}`);
  if (!(settings.weightDecay >= 0 && settings.weightDecay < 1)) throw new GenloomError('BAD_ARGUMENT', `--weight-decay must be in [0, 1), got ${settings.weightDecay}`);
  if (settings.checkpointEvery !== undefined && !(Number.isInteger(settings.checkpointEvery) && settings.checkpointEvery >= 1)) throw new GenloomError('BAD_ARGUMENT', `--checkpoint-every must be a whole number ≥ 1, got ${settings.checkpointEvery}`);
}

/** The tokenizer a fresh run learns from its training captions (each caption once, one per line). */
function learnTokenizer(captions: string[], settings: ClipTrainingSettings): Tokenizer {
  const text = [...new Set(captions)].join('\n');
  return settings.tokenizer === 'char' ? CharTokenizer.fromText(text) : BpeTokenizer.train(text, settings.vocab);
}

async function trainClip(request: TrainRequest): Promise<TrainSummary> {
  const { previous, previousTraining, parent } = previousRun(request, 'clip');
  const template = previous ?? parent;
  const overrides = { ...request.config };
  const given = takeSettings<ClipTrainingSettings>(overrides, trainingKeys);
  const settings: ClipTrainingSettings = { tokenizer: 'bpe', vocab: 1024, augmentShift: 2, weightDecay: 0.05, ...((template?.training['settings'] as Partial<ClipTrainingSettings>) ?? {}), ...given };
  checkSettings(settings);
  const datasetSpec = request.dataset || (previousTraining['dataset'] as string);
  const templateConfig = template?.config as Partial<ClipConfig> | undefined;
  const size = request.imageSize ?? templateConfig?.imageHeight;
  const data = loadCaptioned(datasetSpec, 'train', { ...(size ? { height: size, width: size } : {}), ...(templateConfig?.channels ? { channels: templateConfig.channels } : {}) });
  if (data.count < 2) throw new GenloomError('EMPTY_DATASET', `${datasetSpec} has ${data.count} captioned image: contrastive training needs at least 2`);
  const tokenizer = previous ? readTokenizer(request.outDir) : parent ? readTokenizer(request.parent!) : learnTokenizer(data.captions, settings);
  const config = template
    ? parseClipConfig({ ...(template.config as Record<string, unknown>), ...overrides })
    : parseClipConfig({ imageHeight: data.height, imageWidth: data.width, channels: data.channels, vocabularySize: tokenizer.vocabularySize + 1, ...overrides }, request.preset);
  if (config.imageHeight !== data.height || config.imageWidth !== data.width || config.channels !== data.channels) {
    throw new GenloomError('SHAPE_MISMATCH', `the checkpoint in ${parent ? request.parent : request.outDir} is for ${config.imageHeight}×${config.imageWidth}×${config.channels} images but ${datasetSpec} gives ${data.height}×${data.width}×${data.channels}`);
  }
  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const batchSize = Math.min(request.batchSize ?? (previousTraining['batchSize'] as number) ?? 128, data.count);
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? 1e-3;
  const { stepsPerEpoch } = stepGeometry(data.count, batchSize);
  const { epochs, totalSteps } = runLength(request, previous ? previousTraining : null, stepsPerEpoch, 30);
  const endToken = config.vocabularySize - 1;
  const ids = data.captions.map((caption) => captionIds(tokenizer, caption, config.context, endToken));
  const shape: [number, number, number] = [data.height, data.width, data.channels];

  makeDirectories(request.outDir);
  if (!previous) writeTokenizer(request.outDir, tokenizer);
  const clip = new Clip(config, fromSeed(seed).fork('init'));
  const test = datasetSpec === 'emoji' ? loadCaptioned(datasetSpec, 'test', { height: data.height, width: data.width }) : null;
  try {
    const result = await train<ClipBatch>(
      { params: clip.params, loss: (batch) => clip.loss(batch) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        makeBatch: (indices, random) => ({
          images: tf.tensor4d(shiftImages(data.pixels, indices, shape, settings.augmentShift, random, 1), [indices.length, ...shape]),
          ...captionTensors(Array.from(indices, (i) => ids[i]!), endToken),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
        adam: { beta2: 0.98, weightDecay: settings.weightDecay, decays: (name) => /\.weight$/.test(name) && !/Norm\.weight$/.test(name) },
        clipNorm: 1,
        checkpointEvery: settings.checkpointEvery ?? Math.max(1, Math.min(stepsPerEpoch * 5, 1000)),
        logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
        manifest: (step, epoch) =>
          runManifest('clip', { ...config }, request, previous, {
            step,
            epoch,
            totalSteps,
            dataset: datasetSpec,
            tokenizer: tokenizer.kind,
            imagesSeen: step * batchSize,
            seed,
            epochs,
            batchSize,
            learningRate,
            schedule: 'cosine',
            settings,
          }),
        ...(test ? { validation: { run: () => testLoss(clip, test, tokenizer, batchSize), companionFiles: [tokenizerFile] } } : {}),
      },
    );
    return trainSummary(request, result);
  } finally {
    clip.dispose();
  }
}

/** Mean InfoNCE over the test split in fixed batches (the last, short one included). */
function testLoss(clip: Clip, test: Captioned, tokenizer: Tokenizer, batchSize: number): number {
  let total = 0;
  let batches = 0;
  for (let start = 0; start + 1 < test.count; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, test.count - start) }, (_, i) => start + i);
    if (indices.length < 2) break;
    const size = test.height * test.width * test.channels;
    const value = tf.tidy(() => {
      const images = tf.tensor4d(test.pixels.subarray(start * size, (start + indices.length) * size), [indices.length, test.height, test.width, test.channels]);
      const captions = captionTensors(indices.map((i) => captionIds(tokenizer, test.captions[i]!, clip.config.context, clip.endToken)), clip.endToken);
      return clip.loss({ images, ...captions }).total.dataSync()[0]!;
    });
    total += value;
    batches++;
  }
  return total / Math.max(1, batches);
}

function loadClip(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parseClipConfig(manifest.config);
  const tokenizer = readTokenizer(dir);
  if (tokenizer.vocabularySize + 1 !== config.vocabularySize) {
    throw new GenloomError('CORRUPT_FILE', `${join(dir, tokenizerFile)} has ${tokenizer.vocabularySize} tokens but ${join(dir, 'config.json')} expects ${config.vocabularySize - 1}`);
  }
  const clip = new Clip(config, fromSeed(0));
  try {
    assignStored(clip.params, loadCheckpoint(dir, { expectFamily: 'clip' }).weights, join(dir, 'model.safetensors'));
  } catch (error) {
    clip.dispose();
    throw error;
  }
  const contrastive = contrastiveModelOf(clip, tokenizer);
  const training = manifest.training as Record<string, unknown>;
  return {
    family: 'clip',
    manifest,
    contrastive,
    async evaluate(options) {
      return evaluateClip(contrastive, options.dataset ?? (training['dataset'] as string));
    },
    dispose: () => clip.dispose(),
  };
}

export const clipFamily: FamilyDefinition = {
  name: 'clip',
  summary: 'contrastive image–text model (CLIP): embeds captions and images in one space, for search, retrieval, colour image metrics and rewards',
  datasets: 'emoji, or a folder of images with a UTF-8 caption file x.txt beside each image x.png',
  builtinDatasets: builtinImageDatasets.filter((name) => name === 'emoji'),
  capabilities: ['embed'],
  presets: Object.keys(clipPresets),
  options: [
    { flags: '--conv-channels <list>', description: 'channels of each image-encoder level, e.g. 32,64,128', configKey: 'convChannels', parse: parseIntegerList },
    { flags: '--embed-dim <n>', description: 'size of the shared image–text space', configKey: 'embedDim', parse: parseIntegerFlag },
    { flags: '--text-layers <n>', description: 'transformer blocks of the text encoder', configKey: 'textLayers', parse: parseIntegerFlag },
    { flags: '--text-dim <n>', description: 'width of the text encoder', configKey: 'textDim', parse: parseIntegerFlag },
    { flags: '--context <n>', description: 'the most caption tokens read (end token included)', configKey: 'context', parse: parseIntegerFlag },
    { flags: '--tokenizer <bpe|char>', description: 'how captions become tokens: BPE learned from the captions (default) or characters', configKey: 'tokenizer', parse: String },
    { flags: '--vocab <n>', description: 'BPE vocabulary size (default 1024)', configKey: 'vocab', parse: parseIntegerFlag },
    { flags: '--augment-shift <px>', description: 'random shifts of up to this many pixels while training (default 2; 0 = off)', configKey: 'augmentShift', parse: parseIntegerFlag },
    { flags: '--weight-decay <x>', description: 'AdamW weight decay on the weight matrices (default 0.05)', configKey: 'weightDecay', parse: Number },
    { flags: '--checkpoint-every <n>', description: 'steps between checkpoints and validation (default: 5 epochs, at most 1000)', configKey: 'checkpointEvery', parse: parseIntegerFlag },
  ],
  train: trainClip,
  load: loadClip,
};

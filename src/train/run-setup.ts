/**
 * What every image family does before its step loop: read --resume's previous settings, load the
 * dataset at the right size, merge the config, work out steps, and build config.json. One copy, so
 * `--resume`, `--epochs` and the recorded manifest mean the same for the VAE, the GAN and the
 * classifier.
 */
import { GenloomError } from '../core/errors.ts';
import { isBuiltinDataset, loadImageDataset, type ImageDataset } from '../data/index.ts';
import { join, resolve } from 'node:path';
import { assignStored, type Params } from '../core/params.ts';
import { hasCheckpoint, loadCheckpoint, newManifest, readManifest, type CheckpointManifest } from '../io/checkpoint.ts';
import { stepGeometry, type TrainResult } from './trainer.ts';
import type { TrainRequest, TrainSummary } from '../models/family.ts';

export interface ImageTrainingDefaults {
  batchSize: number;
  learningRate: number;
  epochs: number;
}

export interface ImageTrainingSetup<Config> {
  data: ImageDataset;
  datasetSpec: string;
  config: Config;
  seed: number;
  batchSize: number;
  learningRate: number;
  epochs: number | undefined;
  totalSteps: number;
  stepsPerEpoch: number;
  /** The step of the checkpoint a --resume continues from; undefined for a fresh run. */
  resumeStep: number | undefined;
  /** config.json at a step; `extra` adds family-specific training fields. */
  manifest(step: number, epoch: number, extra?: Record<string, unknown>): CheckpointManifest;
}

interface ImageConfigShape {
  imageHeight: number;
  imageWidth: number;
  channels: number;
}

/**
 * @param parseConfig merges user overrides over a preset and validates (throws GenloomError).
 * @param fromData config keys that follow from the dataset on a fresh run (size, channels, classes…).
 */
export function prepareImageTraining<Config extends ImageConfigShape>(
  family: string,
  request: TrainRequest,
  defaults: ImageTrainingDefaults,
  parseConfig: (overrides: Record<string, unknown>, preset?: string) => Config,
  fromData: (data: ImageDataset, datasetSpec: string) => Record<string, unknown>,
): ImageTrainingSetup<Config> {
  // --resume continues with the settings the run was started with, unless flags override them; a
  // fine-tune starts from its parent's network.
  const { previous, previousTraining, parent } = previousRun(request, family);
  const template = previous ?? parent;
  const datasetSpec = request.dataset || (previousTraining['dataset'] as string);
  const templateConfig = template?.config as Partial<ImageConfigShape> | undefined;
  const defaultSize = isBuiltinDataset(datasetSpec) ? 28 : 32;
  const loaded = loadImageDataset(datasetSpec, {
    split: 'train',
    height: request.imageSize ?? templateConfig?.imageHeight ?? defaultSize,
    width: request.imageSize ?? templateConfig?.imageWidth ?? defaultSize,
    ...(templateConfig?.channels ? { channels: templateConfig.channels as 1 | 3 } : {}),
  });
  const templateLabels = template?.training['labelNames'] as string[] | undefined;
  const data = template ? alignLabels(loaded, templateLabels, datasetSpec, parent ? request.parent! : request.outDir) : loaded;
  const config = template
    ? parseConfig({ ...(template.config as Record<string, unknown>), ...request.config })
    : parseConfig({ imageHeight: data.height, imageWidth: data.width, channels: data.channels, ...fromData(data, datasetSpec), ...request.config }, request.preset);
  if (config.imageHeight !== data.height || config.imageWidth !== data.width || config.channels !== data.channels) {
    throw new GenloomError('SHAPE_MISMATCH', `the checkpoint in ${parent ? request.parent : request.outDir} is for ${config.imageHeight}×${config.imageWidth}×${config.channels} images but ${datasetSpec} gives ${data.height}×${data.width}×${data.channels}`);
  }
  if (template && Number((config as unknown as Record<string, unknown>)['classes'] ?? 0) > 0 && !data.labels) {
    throw new GenloomError('BAD_ARGUMENT', `${parent ? request.parent : request.outDir} is conditional, but ${datasetSpec} is unlabelled: put its images in subfolders named by label (${(templateLabels ?? []).join(', ')})`);
  }
  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const batchSize = request.batchSize ?? (previousTraining['batchSize'] as number) ?? defaults.batchSize;
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? defaults.learningRate;
  const { stepsPerEpoch } = stepGeometry(data.count, batchSize);
  const { epochs, totalSteps } = runLength(request, previous ? previousTraining : null, stepsPerEpoch, defaults.epochs);

  const manifest = (step: number, epoch: number, extra: Record<string, unknown> = {}): CheckpointManifest =>
    runManifest(family, { ...config } as Record<string, unknown>, request, previous, {
      step,
      epoch,
      totalSteps,
      dataset: datasetSpec,
      imagesSeen: step * Math.min(batchSize, data.count),
      labelNames: data.labelNames ?? templateLabels,
      seed,
      epochs,
      batchSize,
      learningRate,
      ...extra,
    });
  const resumeStep = previous?.training.step;
  return { data, datasetSpec, config, seed, batchSize, learningRate, epochs, totalSteps, stepsPerEpoch, resumeStep, manifest };
}

/**
 * The checkpoint a --resume continues (another family's is refused), with its training record ({}
 * for a fresh run), and for a fresh fine-tune the parent it starts from (a resumed fine-tune
 * continues its own checkpoint, which records the parent).
 */
export function previousRun(request: TrainRequest, family: string): { previous: CheckpointManifest | null; previousTraining: Record<string, unknown>; parent: CheckpointManifest | null } {
  const previous = request.resume && hasCheckpoint(request.outDir) ? readManifest(request.outDir) : null;
  if (previous && previous.family !== family) {
    throw new GenloomError('WRONG_FAMILY', `${request.outDir} holds a ${previous.family} model; --resume needs a ${family} checkpoint there`);
  }
  const parent = !previous && request.parent ? readManifest(request.parent) : null;
  if (parent && parent.family !== family) {
    throw new GenloomError('WRONG_FAMILY', `${request.parent} holds a ${parent.family} model, not a ${family}`);
  }
  return { previous, previousTraining: (previous?.training ?? {}) as Record<string, unknown>, parent };
}

/**
 * Fine-tune data as the parent knows its labels: label names are matched to the parent's (so a
 * folder with subfolders "7" and "3" trains those two of its ten labels); a name it lacks is an
 * error, and so is unlabelled data for a model that needs labels.
 */
export function alignLabels(data: ImageDataset, names: string[] | undefined, spec: string, modelDir: string): ImageDataset {
  if (!names || !data.labels || !data.labelNames) return data;
  const order = data.labelNames.map((name) => names.indexOf(name));
  const unknown = data.labelNames.filter((_, i) => order[i]! < 0);
  if (unknown.length > 0) {
    throw new GenloomError('BAD_ARGUMENT', `${spec} has labels ${modelDir} does not know (${unknown.join(', ')}); its labels are ${names.join(', ')}`);
  }
  return { ...data, labels: Int32Array.from(data.labels, (label) => order[label]!), labelNames: names };
}

/**
 * config.json of a training run: the family's `training` record, then the backend and the command
 * that started the run and each --resume after it (together they reproduce it).
 */
export function runManifest(
  family: string,
  config: Record<string, unknown>,
  request: TrainRequest,
  previous: CheckpointManifest | null,
  training: CheckpointManifest['training'],
): CheckpointManifest {
  const previousTraining = (previous?.training ?? {}) as Record<string, unknown>;
  const manifest = newManifest(family, config, {
    ...training,
    backend: request.backend,
    command: previous ? (previousTraining['command'] as string) : request.command,
    ...(previous ? { resumedWith: [...((previousTraining['resumedWith'] as string[]) ?? []), request.command] } : {}),
    ...(request.freeze?.length ? { freeze: request.freeze } : previousTraining['freeze'] ? { freeze: previousTraining['freeze'] } : {}),
    ...(request.feedback ? { feedback: request.feedback } : previousTraining['feedback'] ? { feedback: previousTraining['feedback'] } : {}),
  });
  const parent = previous ? previous.parent : request.parent ? resolve(request.parent) : undefined;
  if (parent) manifest.parent = parent;
  return manifest;
}

/**
 * How long a run is: --steps, else --epochs, else (on --resume) the length the run was started
 * with — its recorded totalSteps, so a resumed run keeps its learning-rate schedule — else the
 * family's default epochs.
 */
export function runLength(
  request: Pick<TrainRequest, 'steps' | 'epochs'>,
  previousTraining: Record<string, unknown> | null,
  stepsPerEpoch: number,
  defaultEpochs: number,
): { epochs: number | undefined; totalSteps: number } {
  if (request.steps !== undefined) return { epochs: undefined, totalSteps: request.steps };
  if (request.epochs !== undefined) return { epochs: request.epochs, totalSteps: Math.max(1, Math.round(request.epochs * stepsPerEpoch)) };
  if (previousTraining && typeof previousTraining['totalSteps'] === 'number') {
    return { epochs: previousTraining['epochs'] as number | undefined, totalSteps: previousTraining['totalSteps'] };
  }
  return { epochs: defaultEpochs, totalSteps: Math.max(1, Math.round(defaultEpochs * stepsPerEpoch)) };
}

/** How often a run checkpoints and logs: every epoch (at most 2000 steps), ~20 log lines. */
export function trainingCadence(totalSteps: number, stepsPerEpoch: number, minimumEvery = 1): { checkpointEvery: number; logEvery: number } {
  return {
    checkpointEvery: Math.max(1, Math.min(stepsPerEpoch, 2000), Math.min(minimumEvery, totalSteps)),
    logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
  };
}

/**
 * Moves the settings named by `keys` out of a request's config overrides: flags that shape training
 * (kept in training.settings, so --resume reuses them) rather than the network (its config).
 */
export function takeSettings<Settings>(overrides: Record<string, unknown>, keys: readonly (keyof Settings & string)[]): Partial<Settings> {
  const given: Record<string, unknown> = {};
  for (const key of keys) {
    if (overrides[key] !== undefined) given[key] = overrides[key];
    delete overrides[key];
  }
  return given as Partial<Settings>;
}

/** The trainer options every family passes through from the request unchanged. */
export function runControls(request: TrainRequest) {
  return {
    outDir: request.outDir,
    resume: request.resume,
    ...(request.parent ? { initialWeights: { dir: request.parent, family: readManifest(request.parent).family } } : {}),
    // A resumed fine-tune keeps holding fixed what it started holding fixed.
    freeze: request.freeze ?? (request.resume && hasCheckpoint(request.outDir) ? (readManifest(request.outDir).training['freeze'] as string[] | undefined) : undefined),
    shouldStop: request.shouldStop,
    // Tests and the server stop runs themselves; a user's Ctrl-C is handled by the trainer.
    handleSignals: !request.shouldStop,
    quiet: request.quiet,
    onProgress: request.onProgress,
    onCheckpoint: request.onCheckpoint,
  };
}

export function trainSummary(request: TrainRequest, result: TrainResult): TrainSummary {
  return { outDir: request.outDir, steps: result.step, stoppedEarly: result.stoppedEarly, last: result.last };
}

/** Reads `dir`'s weights (refusing another family's checkpoint) into `params`. */
export function loadWeights(dir: string, family: string, params: Params): void {
  const checkpoint = loadCheckpoint(dir, { expectFamily: family });
  assignStored(params, checkpoint.weights, join(dir, 'model.safetensors'));
}

/** Parses an integer family flag (bad values are caught by the config schema). */
export function parseIntegerFlag(value: string): number {
  return Number.parseInt(value, 10);
}

/** Parses a flag like "32,64" into integers. */
export function parseIntegerList(value: string): number[] {
  return value.split(',').map(parseIntegerFlag);
}

/** The `classes` config of a `--conditional` run (0 without it); unlabelled data is an error. */
export function conditionalClasses(conditional: unknown, data: ImageDataset, spec: string): number {
  if (!conditional) return 0;
  if (!data.labels || !data.labelNames) {
    throw new GenloomError('BAD_ARGUMENT', `--conditional needs labels, but ${spec} is unlabelled: put the images in one subfolder per label`);
  }
  return data.labelNames.length;
}

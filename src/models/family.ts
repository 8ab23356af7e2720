/**
 * The contract every model family implements. The CLI, the server and the studio only ever reach a
 * family through this interface and the registry.
 */
import type * as tf from '../core/tf.ts';
import type { Random } from '../core/random.ts';
import type { CheckpointManifest } from '../io/checkpoint.ts';
import type { Tokenizer } from '../text/tokenizer.ts';
import type { TextGenerationOptions, TextGenerationResult } from './transformer/generate.ts';
import type { TokenSamplingOptions } from '../sampling/token-sampling.ts';
import type { Note } from '../music/midi.ts';
import type { Capability, Modality } from './capabilities.ts';
import type { ModelBuilder } from './builder.ts';

/** A family-specific `train` flag, mapped onto a config key. */
export interface FamilyOption {
  /** Commander syntax, e.g. "--latent-dim <n>". */
  flags: string;
  description: string;
  configKey: string;
  parse: (value: string) => unknown;
}

/** The shared `train` request; every family reads the same flags the same way. */
export interface TrainRequest {
  dataset: string;
  outDir: string;
  seed: number;
  epochs?: number;
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  resume: boolean;
  preset?: string;
  /** For user folders: the square size images are resized to. */
  imageSize?: number;
  /** Family options by config key (only the ones the user gave). */
  config: Record<string, unknown>;
  /** The exact command line, recorded in config.json. */
  command: string;
  quiet: boolean;
  backend: string;
  /** Stops the run (with a checkpoint) before this step when true: tests, and the server's stop button. */
  shouldStop?: (step: number) => boolean;
  /** Live progress after each step (the server streams it); see TrainerOptions.onProgress. */
  onProgress?: (step: number, totalSteps: number, values: Record<string, number>, unitsPerSecond?: number) => void;
  /** After each checkpoint is saved, with its sample files. */
  onCheckpoint?: (step: number) => void;
  /** A fine-tune: the model directory whose network and weights the run starts from. */
  parent?: string;
  /** Parameter-name prefixes held fixed while fine-tuning. */
  freeze?: string[];
  /** A feedback fine-tune's record (reward, method, candidates, …), kept in config.json. */
  feedback?: Record<string, unknown>;
}

export interface TrainSummary {
  outDir: string;
  steps: number;
  stoppedEarly: boolean;
  last: Record<string, number>;
}

/** What a loaded model can do; optional parts are the family's capabilities. */
export interface LoadedModel {
  family: string;
  manifest: CheckpointManifest;
  /** Image families: height, width, channels of what they make. */
  imageShape?: [number, number, number];
  labelNames?: string[];
  /** Whether the model takes a label (index into labelNames) when it generates. */
  conditional?: boolean;
  /** Generate `count` images from seeded noise. */
  sampleImages?(count: number, random: Random, options?: SampleOptions): tf.Tensor4D;
  latent?: LatentModel;
  /** Text-to-image models: how prompts are read (longer ones are cut to the context). */
  textConditioning?: {
    contextTokens: number;
    tokenCount(text: string): number;
    /** `frames` images from prompt `from` to prompt `to`: noise slerped between the two randoms' draws, text states mixed linearly. */
    interpolatePrompts(from: string, to: string, frames: number, noise: { from: Random; to: Random }, options?: SampleOptions): tf.Tensor4D;
  };
  /** Diffusion models: editing existing images. */
  editing?: ImageEditing;
  /** Autoregressive image models (PixelCNN): finishing images from their top rows. */
  completion?: ImageCompletion;
  /** Image classifiers: the feature net of the image metrics. */
  classifier?: ImageClassifier;
  /** Music models: composing notes. */
  music?: MusicModel;
  /** Text models (transformer): generation, attention maps. */
  text?: TextModel;
  /** Video models: short clips of frames. */
  video?: VideoModel;
  /** 3-D shape models: voxel occupancy grids. */
  shape?: ShapeModel;
  /** Contrastive image–text models (clip): both kinds of input as vectors in one space. */
  contrastive?: ContrastiveModel;
  /** Metrics for `genloom eval`. */
  evaluate?(options: EvaluateOptions): Promise<Record<string, unknown>>;
  dispose(): void;
}

export interface SampleOptions {
  /** One label per image (conditional models). */
  labels?: ArrayLike<number>;
  /** Truncation ψ in (0, 1]: latents pulled toward the mean; 1 = none. */
  truncation?: number;
  /** Discriminator rejection sampling (GANs). */
  reject?: boolean;
  /** Diffusion: the sampler (ddpm, ddim, dpm-solver), its number of steps, and the guidance scale. */
  sampler?: string;
  steps?: number;
  guidance?: number;
  /** Text-to-image models: one prompt per image ("" or absent: unconditional) and the text guidance steers away from. */
  prompts?: string[];
  negativePrompt?: string;
  /** Slow samplers (PixelCNN: row by row) report progress here: `done` of `total`. */
  onProgress?(done: number, total: number): void;
  /** Diffusion: called after each denoising step with x_t and the x_0 estimate, as images in [0, 1] (not kept: copy them). */
  onStep?(index: number, t: number, x: tf.Tensor4D, x0: tf.Tensor4D): void;
}

/** A model of note sequences. */
export interface MusicModel {
  /** Style (composer) names; a piece is composed in one of them. */
  styles: string[];
  /** The model's time grid: steps per quarter note. */
  stepsPerQuarter: number;
  /** The tempo and metre of its training data, for playback and for lengths in bars. */
  bpm: number;
  beatsPerBar: number;
  /** One piece per entry of `styles` (indices), each `steps` grid steps long, primer included. */
  compose(options: TokenSamplingOptions & { styles: number[]; primer?: Note[]; steps: number; random: Random; onProgress?(steps: number): void }): { notes: Note[]; events: number[] }[];
}

/** A clip: `frames` greyscale frames, each height × width, pixel (t, y, x) at (t * height + y) * width + x, in [0, 1]. */
export interface Clip {
  frames: number;
  height: number;
  width: number;
  pixels: Float32Array;
}

/** A model of short clips (moving MNIST): conditioned on the digits it shows. */
export interface VideoModel {
  /** The clip length the model was trained for; generate() refuses other lengths. */
  frames: number;
  height: number;
  width: number;
  /** Names of the digit labels ("0" … "9"); a clip shows `digitsPerClip` of them. */
  digitNames: string[];
  digitsPerClip: number;
  /** One clip per entry of `digits` (each `digitsPerClip` label indices), or `count` unconditioned ones. */
  generate(options: { count: number; digits?: number[][]; frames?: number; random: Random; onProgress?(done: number, total: number): void }): Clip[];
}

/** A voxel occupancy grid: resolution³ values in [0, 1], value (x, y, z) at (x * r + y) * r + z; y is up. */
export interface VoxelGrid {
  resolution: number;
  values: Float32Array;
}

/** A model of 3-D shapes as voxel grids. */
export interface ShapeModel {
  resolution: number;
  /** The generator inside: "vae" or "diffusion". */
  generator: string;
  labelNames?: string[];
  conditional: boolean;
  /** One grid per entry of `labels` (label indices), or `count` unconditioned ones. */
  generate(options: { count: number; labels?: ArrayLike<number>; random: Random; steps?: number; onProgress?(done: number, total: number): void }): VoxelGrid[];
  /** VAE generators: grids → latent means, and latents (+ labels) → grids; a path between two shapes. */
  latentDim?: number;
  encode?(grids: VoxelGrid[], labels?: ArrayLike<number>): Float32Array[];
  decode?(latents: Float32Array[], labels?: ArrayLike<number>): VoxelGrid[];
}

/** Images and texts as unit vectors in one space, where a caption is nearest its image (CLIP). */
export interface ContrastiveModel {
  embedDim: number;
  /** The images it reads: height, width, channels. */
  imageShape: [number, number, number];
  /** 1/τ: cosine similarities times this are the logits it was trained on. */
  logitScale: number;
  /** Texts → unit vectors [N, embedDim] (any number; batched inside). */
  embedTexts(texts: string[]): tf.Tensor2D;
  /** Images [N, H, W, C] in [0, 1] → unit vectors [N, embedDim] (batched inside). */
  embedImages(images: tf.Tensor4D): tf.Tensor2D;
}

/** A language model over a tokenizer's vocabulary. */
export interface TextModel {
  tokenizer: Tokenizer;
  /** The most tokens the model sees at once. */
  context: number;
  /** Continues `prompt`; text streams through options.onText as it is made. */
  generate(prompt: string, options: TextGenerationOptions): TextGenerationResult;
  /** The same, with `between()` awaited after every token (a page paints, a stop request is seen); options.signal ends it. */
  generateAsync(prompt: string, options: TextGenerationOptions, between?: () => Promise<void>): Promise<TextGenerationResult>;
  /** Attention probabilities for `prompt` (cut to the context): per layer, per head, a [T, T] row-major matrix. */
  attention(prompt: string): { tokens: string[]; layers: Float32Array[][] };
}

/** Editing images with a model that can denoise (diffusion). Images are [B, H, W, C] in [0, 1]. */
export interface ImageEditing {
  /** Noise the images partway (strength in [0, 1]) and denoise them again: SDEdit's img2img. */
  img2img(images: tf.Tensor4D, strength: number, random: Random, options?: SampleOptions): tf.Tensor4D;
  /** Fill where `mask` [B or 1, H, W, 1] is 1 to agree with the rest of the image. */
  inpaint(images: tf.Tensor4D, mask: tf.Tensor4D, random: Random, options?: SampleOptions): tf.Tensor4D;
}

export interface ImageCompletion {
  /** Keeps the first `rows` rows of `images` [B, H, W, C] in [0, 1] and draws the rest; one label per image for conditional models. */
  complete(images: tf.Tensor4D, rows: number, random: Random, options?: Pick<SampleOptions, 'labels' | 'onProgress'>): tf.Tensor4D;
}

/** A model with an encoder and a decoder over a latent space (VAE; GAN and diffusion use `decode`). */
export interface LatentModel {
  latentDim: number;
  /** Conditional models: the size of the one-hot label input decode() takes (0 or absent: none). */
  conditionDim?: number;
  /** Images [B, H, W, C] in [0, 1] → the posterior mean [B, latentDim]; absent when there is no encoder (GAN). */
  encode?(images: tf.Tensor4D): { mean: tf.Tensor2D; logVariance?: tf.Tensor2D };
  /** Latents [B, latentDim] (and one-hot or mixed labels [B, conditionDim]) → images [B, H, W, C] in [0, 1]. */
  decode(z: tf.Tensor2D, condition?: tf.Tensor2D): tf.Tensor4D;
}

/** Labels images; its penultimate features are the space image metrics are measured in. */
export interface ImageClassifier {
  classes: number;
  featureDim: number;
  /** Images [B, H, W, C] in [0, 1] → features [B, featureDim]. */
  features(images: tf.Tensor4D): tf.Tensor2D;
  /** Features → class logits [B, classes]. */
  logitsFromFeatures(features: tf.Tensor2D): tf.Tensor2D;
}

export interface EvaluateOptions {
  dataset?: string;
  seed: number;
  /** Importance samples for likelihood bounds. */
  importanceSamples?: number;
  /** How many test examples the expensive metrics use. */
  limit?: number;
  /** Image generators: how many samples the image metrics draw. */
  samples?: number;
  /** Image generators: the classifier whose features the metrics use (default: the shipped one). */
  classifier?: string;
  /** Colour image generators: the clip model whose image features the colour metrics use (default: models/clip-emoji). */
  clip?: string;
  /** GANs: the truncation ψ the samples are drawn with (default 1: none). */
  truncation?: number;
  /** Diffusion: how the samples are drawn. */
  sampler?: string;
  steps?: number;
  guidance?: number;
  quiet: boolean;
}

export type { Capability, Modality } from './capabilities.ts';

/** What a generation request asks of a model: generate from nothing, complete an image, decode or encode latents. */
export type WorkKind = 'generate' | 'complete' | 'decode' | 'encode';

/** What one generation request makes and how many network passes that takes (see src/generate/cost.ts). */
export interface GenerationWork {
  /** Items made (images, clips, pieces, continuations). */
  items: number;
  passesPerItem: number;
  /** Positions one pass covers (pixels of a convolution's output; 1 for a sequence model's next token). */
  positionsPerPass: number;
  /** The items, in words: "images", "tokens". */
  what: string;
}

/** A family with a choice of samplers (diffusion): what it offers and what it uses when not told. */
export interface SamplingDeclaration {
  samplers: readonly string[];
  defaultSampler: string;
  /** Steps per sampler when none are given; "all" walks every training timestep. */
  defaultSteps: Readonly<Record<string, number | 'all'>>;
  /** The guidance scale conditional models use when none is given. */
  defaultGuidance: number;
}

/** One preference between two continuations of `prompt` (without the prompt): `chosen` is preferred. */
export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** One preference between two images made for `prompt` (the files of each): `chosen` is preferred. */
export interface ImagePreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** A fine-tune from preference pairs (DPO for text, Diffusion-DPO for images): the parent is the start and the frozen reference. */
export interface PreferenceFinetuneRequest {
  parentDir: string;
  pairs: PreferencePair[];
  /** Image models: preferences between image files. */
  imagePairs?: ImagePreferencePair[];
  outDir: string;
  /** β > 0: how strongly the policy is held to the reference. */
  beta: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  command: string;
  backend: string;
  quiet: boolean;
  resume?: boolean;
  shouldStop?: (step: number) => boolean;
  /** Extra fields recorded in config.json's training record (e.g. the feedback source). */
  record?: Record<string, unknown>;
}

export interface FeedbackDefaults {
  /** The fine-tune's peak learning rate as a multiple of the parent's. */
  learningRateScale?: number;
  /** Candidates drawn and scored. */
  candidates?: number;
}

export interface FamilyDefinition {
  name: string;
  summary: string;
  /** What --dataset takes, for help and errors (default: the image datasets). */
  datasets?: string;
  /** The built-in datasets it trains on by name: what a training job over HTTP may name besides an upload. */
  builtinDatasets: readonly string[];
  /** What its models make, if they generate (classifiers do not). */
  generates?: Modality;
  /**
   * The generation fields only this family takes, beyond those every model of its modality takes
   * (a GAN's truncation, diffusion's sampler): anything else is refused with a message naming it.
   */
  generationFields?: readonly string[];
  /** What every model of the family can do. */
  capabilities: readonly Capability[];
  /** Capabilities one model adds by how it was trained (a VAE trained with labels has attribute vectors). */
  capabilitiesOf?(manifest: CheckpointManifest): Capability[];
  /** Families whose generation is slow per item (row by row, step by step): shells ask for fewer at once. */
  slowGeneration?: boolean;
  /**
   * The work of one generation request when it is more than one network pass per item (pixel by
   * pixel, step by step, token by token); absent: one pass per item over the output (cost.ts).
   */
  generationWork?(config: Record<string, unknown>, request: Record<string, unknown>, kind: WorkKind): GenerationWork;
  sampling?: SamplingDeclaration;
  presets: string[];
  options: FamilyOption[];
  train(request: TrainRequest): Promise<TrainSummary>;
  /**
   * Builds a model from its config and weights without Node APIs: families with the 'in-browser'
   * capability have one, and the studio runs it (builders.ts lists the same objects).
   */
  build?: ModelBuilder;
  /** Reads a model folder (through `build`, where the family has one) and adds what needs files. */
  load(dir: string, manifest: CheckpointManifest): LoadedModel;
  /** Families that learn from A/B preferences directly (the transformer, by DPO). */
  finetunePreferences?(request: PreferenceFinetuneRequest): Promise<TrainSummary>;
  /**
   * Defaults of a reward or ratings fine-tune where the family's differ from every family's (a
   * quarter of the parent's learning rate; 2,000 image candidates), chosen from measurements.
   */
  feedbackDefaults?: FeedbackDefaults;
}

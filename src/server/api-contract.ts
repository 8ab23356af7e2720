/**
 * The HTTP API's contract, written once: the zod schemas the server validates request bodies with
 * and describes its answers by (in /openapi.json), and the TypeScript types the studio compiles
 * against (web/src/types.ts re-exports them). It imports nothing but zod and plain lists, so the
 * web project can import it without Node's types; `npm test` parses real answers with these
 * schemas (src/server/server.test.ts), so a shape that drifts fails there.
 */
import { z } from 'zod';
import { capabilities, modalities } from '../models/capabilities.ts';

export const capabilitySchema = z.enum(capabilities);
export type Capability = z.infer<typeof capabilitySchema>;

/** A generation seed: what the studio's seed boxes and the CLI's --seed take. */
export const seedSchema = z.number().int().min(0).max(2 ** 31 - 1);
const seed = seedSchema;
const base64 = z.string();
/** An uploaded image: base64 PNG or JPEG, any size (the server fits it to the model), at most 8 MB of text. */
export const base64ImageSchema = z.string().min(8).max(8_000_000);
/** The :name of the model routes. */
export const modelNameParams = z.object({ name: z.string().max(128) });

// ---- models and families -------------------------------------------------------------------

export const modelSummarySchema = z.object({
  name: z.string(),
  family: z.string(),
  source: z.enum(['models', 'runs']),
  summary: z.string(),
  trainedSteps: z.number(),
  capabilities: z.array(capabilitySchema),
});
export type ModelSummary = z.infer<typeof modelSummarySchema>;

export const familyInfoSchema = z.object({
  name: z.string(),
  summary: z.string(),
  datasets: z.string(),
  builtinDatasets: z.array(z.string()),
  generates: z.enum(modalities).optional(),
  generationFields: z.array(z.string()),
  capabilities: z.array(capabilitySchema),
  slowGeneration: z.boolean(),
  sampling: z
    .object({ samplers: z.array(z.string()), defaultSampler: z.string(), defaultSteps: z.record(z.string(), z.union([z.number(), z.literal('all')])), defaultGuidance: z.number() })
    .optional(),
  presets: z.array(z.string()),
  options: z.array(z.object({ flags: z.string(), description: z.string(), configKey: z.string() })),
});
export type FamilyInfo = z.infer<typeof familyInfoSchema>;

/** GET /api/models/:name: the catalog's summary, what the loaded model says of itself, and its record. */
export const modelInfoSchema = modelSummarySchema.extend({
  imageShape: z.tuple([z.number(), z.number(), z.number()]).optional(),
  labelNames: z.array(z.string()).optional(),
  conditional: z.boolean(),
  /** The generation fields this model takes (its modality's and its family's own, e.g. truncation). */
  generationFields: z.array(z.string()),
  /** Generation is slow per item (row by row, step by step): ask for fewer at once. */
  slowGeneration: z.boolean(),
  latentDim: z.number().optional(),
  conditionDim: z.number().optional(),
  encoder: z.boolean().optional(),
  samplers: z.array(z.string()).optional(),
  defaultSampler: z.string().optional(),
  defaultSteps: z.number().optional(),
  defaultGuidance: z.number().optional(),
  timesteps: z.number().optional(),
  prompts: z.boolean(),
  /** Text-to-image models: prompts are free text, read by the text encoder up to this many tokens (the rest is cut). */
  textConditioning: z.object({ contextTokens: z.number() }).optional(),
  styles: z.array(z.string()).optional(),
  bpm: z.number().optional(),
  beatsPerBar: z.number().optional(),
  context: z.number().optional(),
  vocabularySize: z.number().optional(),
  config: z.record(z.string(), z.unknown()),
  training: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()).optional(),
  files: z.array(z.string()),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const healthSchema = z.object({ ok: z.boolean(), version: z.string(), backend: z.string() }).loose();
export type Health = z.infer<typeof healthSchema>;

// ---- generation ----------------------------------------------------------------------------

/** The request limits a server runs with (see src/server/context.ts). */
export interface RequestLimits {
  maxImages: number;
  maxSteps: number;
  maxTokens: number;
  maxBars: number;
}

/** The body of POST /api/models/:name/generate: the fields of every modality; each model takes its own (its `generationFields`). */
export function generateRequestSchema(limits: RequestLimits) {
  return z
    .object({
      seed: seed.optional(),
      n: z.number().int().min(1).max(limits.maxImages).optional(),
      label: z.string().max(100).optional(),
      prompt: z.string().max(10_000).optional(),
      /** Text-to-image models: what classifier-free guidance steers away from. */
      negativePrompt: z.string().max(10_000).optional(),
      truncation: z.number().gt(0).max(1).optional(),
      sampler: z.enum(['ddpm', 'ddim', 'dpm-solver']).optional(),
      steps: z.number().int().min(1).max(limits.maxSteps).optional(),
      guidance: z.number().min(0).max(50).optional(),
      trajectory: z.boolean().optional(),
      maxTokens: z.number().int().min(1).max(limits.maxTokens).optional(),
      temperature: z.number().min(0).max(100).optional(),
      topK: z.number().int().min(0).optional(),
      topP: z.number().gt(0).max(1).optional(),
      repetitionPenalty: z.number().min(1).max(100).optional(),
      style: z.string().max(100).optional(),
      bars: z.number().int().min(1).max(limits.maxBars).optional(),
      stream: z.boolean().optional(),
    })
    .strict();
}
export type GenerateRequest = z.input<ReturnType<typeof generateRequestSchema>>;

/** The body of POST /api/models/:name/complete (PixelCNN): a base64 PNG or JPEG, fitted to the model, and the rows kept from its top. */
export function completeRequestSchema(limits: Pick<RequestLimits, 'maxImages'>) {
  return z
    .object({
      png: base64ImageSchema,
      rows: z.number().int().min(1).max(4096).optional(),
      n: z.number().int().min(1).max(Math.min(16, limits.maxImages)).default(4),
      seed: seed.optional(),
      label: z.string().max(100).optional(),
      stream: z.boolean().optional(),
    })
    .strict();
}
export type CompleteRequest = z.input<ReturnType<typeof completeRequestSchema>>;

export const trajectoryFrameSchema = z.object({ step: z.number(), t: z.number(), png: base64, x0Png: base64 });
export type TrajectoryFrame = z.infer<typeof trajectoryFrameSchema>;

export const imageSampleSchema = z.object({ png: base64, index: z.number(), label: z.string().optional(), sampleKey: z.string() });
export type ImageSample = z.infer<typeof imageSampleSchema>;

export const imagesResultSchema = z.object({
  kind: z.literal('images'),
  seed: z.number(),
  images: z.array(imageSampleSchema),
  grid: base64,
  trajectory: z.array(trajectoryFrameSchema).optional(),
  /** Text-to-image: the prompt each image was made for, and notes on how it was read (a prompt cut to the text encoder's context). */
  prompts: z.array(z.string()).optional(),
  notes: z.array(z.string()).optional(),
});
export type ImagesResult = z.infer<typeof imagesResultSchema>;

/** Completions of one input: `input` is what was kept (thresholded top rows over grey). */
export const completionResultSchema = imagesResultSchema.extend({ rows: z.number(), input: base64 });
export type CompletionResult = z.infer<typeof completionResultSchema>;

export const textResultSchema = z.object({
  kind: z.literal('text'),
  seed: z.number(),
  prompt: z.string(),
  text: z.string(),
  tokens: z.number(),
  droppedPromptTokens: z.number(),
  tokensPerSecond: z.number(),
  sampleKey: z.string(),
});
export type TextResult = z.infer<typeof textResultSchema>;

/** Note times in seconds (the page plays them). */
export const noteSchema = z.object({ pitch: z.number(), start: z.number(), duration: z.number(), velocity: z.number() });
export type Note = z.infer<typeof noteSchema>;

const pieceSchema = z.object({ midi: base64, wav: base64, pianoRoll: base64, notes: z.array(noteSchema) });
export const musicResultSchema = pieceSchema.extend({
  kind: z.literal('music'),
  seed: z.number(),
  style: z.string(),
  bpm: z.number(),
  beatsPerBar: z.number(),
  /** With n > 1: the pieces after the first (the result's own fields). */
  more: z.array(pieceSchema).optional(),
  sampleKey: z.string(),
});
export type MusicResult = z.infer<typeof musicResultSchema>;

export const clipsResultSchema = z.object({
  kind: z.literal('clips'),
  seed: z.number(),
  frames: z.number(),
  fps: z.number(),
  digits: z.array(z.string()).optional(),
  /** Base64: an animated GIF, an H.264 MP4 and a PNG strip of the frames. */
  clips: z.array(z.object({ index: z.number(), gif: base64, mp4: base64, strip: base64 })),
});
export type ClipsResult = z.infer<typeof clipsResultSchema>;

export const shapeSampleSchema = z.object({
  index: z.number(),
  label: z.string().optional(),
  /** The marching-cubes mesh in the unit cube: x, y, z per vertex; three vertex indices per triangle. */
  positions: z.array(z.number()),
  faces: z.array(z.number()),
  /** OBJ text; PLY and the preview PNG as base64. */
  obj: z.string(),
  ply: base64,
  preview: base64,
});
export type ShapeSample = z.infer<typeof shapeSampleSchema>;

export const shapesResultSchema = z.object({ kind: z.literal('shapes'), seed: z.number(), resolution: z.number(), shapes: z.array(shapeSampleSchema) });
export type ShapesResult = z.infer<typeof shapesResultSchema>;

export const generateResultSchema = z.discriminatedUnion('kind', [imagesResultSchema, textResultSchema, musicResultSchema, clipsResultSchema, shapesResultSchema]);
export type GenerateResult = z.infer<typeof generateResultSchema>;

// ---- latent space and attention ------------------------------------------------------------

export const latentMapSchema = z.object({
  points: z.array(z.object({ x: z.number(), y: z.number(), label: z.string().optional() })),
  basis: z.object({ mean: z.array(z.number()), axes: z.tuple([z.array(z.number()), z.array(z.number())]) }),
  extent: z.object({ xMin: z.number(), xMax: z.number(), yMin: z.number(), yMax: z.number() }),
});
export type LatentMap = z.infer<typeof latentMapSchema>;

export const interpolationSchema = z.object({ frames: z.array(z.object({ png: base64 })), gif: base64, z: z.array(z.array(z.number())) });
export type Interpolation = z.infer<typeof interpolationSchema>;

/** layers[l][h] is a T×T row-major matrix, flat (row = query token, column = key token). */
export const attentionSchema = z.object({ tokens: z.array(z.string()), layers: z.array(z.array(z.array(z.number()))) });
export type Attention = z.infer<typeof attentionSchema>;

// ---- training jobs, uploads, feedback ------------------------------------------------------

export const jobStates = ['queued', 'running', 'stopping', 'stopped', 'finished', 'failed'] as const;
export type JobState = (typeof jobStates)[number];

export const jobSchema = z.object({
  id: z.string(),
  name: z.string(),
  family: z.string(),
  dataset: z.string(),
  state: z.enum(jobStates),
  step: z.number(),
  totalSteps: z.number(),
  last: z.record(z.string(), z.number()),
  error: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  model: z.string().optional(),
  files: z.array(z.string()),
});
export type Job = z.infer<typeof jobSchema>;

/** The ranges a job's shared settings must keep (src/train/train-settings.ts's trainSettingRanges). */
export interface JobRanges {
  seed: { min: number; max: number };
  epochs: { min: number; max: number };
  steps: { min: number };
  batchSize: { min: number; max: number };
  learningRate: { min: number; max: number };
  imageSize: { min: number; max: number };
}

/** The body of POST /api/jobs. */
export function jobRequestSchema(familyNames: readonly string[], ranges: JobRanges, maxTrainingSteps: number, runNamePattern: RegExp) {
  return z
    .object({
      family: z.enum(familyNames as [string, ...string[]]),
      dataset: z.string().min(1).max(200),
      name: z.string().regex(runNamePattern, 'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit').optional(),
      steps: z.number().int().min(ranges.steps.min).max(maxTrainingSteps).optional(),
      epochs: z.number().min(ranges.epochs.min).max(ranges.epochs.max).optional(),
      batchSize: z.number().int().min(ranges.batchSize.min).max(ranges.batchSize.max).optional(),
      learningRate: z.number().min(ranges.learningRate.min).max(ranges.learningRate.max).optional(),
      seed: z.number().int().min(ranges.seed.min).max(ranges.seed.max).optional(),
      preset: z.string().max(64).optional(),
      imageSize: z.number().int().min(ranges.imageSize.min).max(ranges.imageSize.max).optional(),
      config: z.record(z.string(), z.unknown()).optional(),
    })
    .strict();
}
export type JobRequest = z.input<ReturnType<typeof jobRequestSchema>>;

export const jobProgressSchema = z.object({ step: z.number(), totalSteps: z.number(), values: z.record(z.string(), z.number()), unitsPerSecond: z.number().optional() });
export type JobProgress = z.infer<typeof jobProgressSchema>;

export const uploadSchema = z.object({ id: z.string(), dataset: z.string(), files: z.number(), bytes: z.number() }).loose();
export type Upload = z.infer<typeof uploadSchema>;

export const feedbackStatsSchema = z.object({ db: z.string(), samples: z.number(), ratings: z.number(), preferences: z.number() });
export type FeedbackStats = z.infer<typeof feedbackStatsSchema>;

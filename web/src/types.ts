// The shapes of the studio API's JSON (see .cache/api-contract.md); only what the page reads.

export type Capability =
  | 'images' | 'latent' | 'encode' | 'latent-map' | 'attributes' | 'trajectory'
  | 'text' | 'attention' | 'music' | 'completion' | 'in-browser' | 'clips' | 'shapes';

export interface ModelSummary {
  name: string;
  family: string;
  source: 'models' | 'runs';
  summary: string;
  trainedSteps: number;
  capabilities: Capability[];
}

export interface ModelInfo extends ModelSummary {
  config: Record<string, unknown>;
  training: Record<string, unknown>;
  imageShape?: [number, number, number];
  labelNames?: string[];
  conditional: boolean;
  latentDim?: number;
  conditionDim?: number;
  /** The generation fields this model takes (its modality's and its family's own, e.g. truncation). */
  generationFields: string[];
  /** Generation is slow per item (row by row, step by step): ask for fewer at once. */
  slowGeneration: boolean;
  samplers?: string[];
  defaultSampler?: string;
  defaultSteps?: number;
  defaultGuidance?: number;
  prompts?: boolean;
  styles?: string[];
  context?: number;
  files: string[];
}

/** A model family as GET /api/families declares it. */
export interface FamilyInfo {
  name: string;
  summary: string;
  datasets: string;
  builtinDatasets: string[];
  generates?: 'images' | 'text' | 'music' | 'clips' | 'shapes';
  generationFields: string[];
  capabilities: Capability[];
  slowGeneration: boolean;
  presets: string[];
  options: { flags: string; description: string; configKey: string }[];
}

export interface Health { ok: boolean; version: string; backend: string }

/** The body of POST /api/models/:name/generate. */
export interface GenerateRequest {
  seed?: number;
  n?: number;
  label?: string;
  prompt?: string;
  truncation?: number;
  sampler?: string;
  steps?: number;
  guidance?: number;
  trajectory?: boolean;
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  style?: string;
  bars?: number;
  stream?: boolean;
}

export interface ImageSample { png: string; label?: string; sampleKey: string }
export interface TrajectoryFrame { step: number; t: number; png: string; x0Png: string }

export interface ImagesResult {
  kind: 'images';
  seed: number;
  images: ImageSample[];
  grid: string;
  trajectory?: TrajectoryFrame[];
}

export interface TextResult {
  kind: 'text';
  seed: number;
  prompt: string;
  text: string;
  tokens: number;
  tokensPerSecond: number;
  sampleKey: string;
}

export interface ClipsResult {
  kind: 'clips';
  seed: number;
  frames: number;
  fps: number;
  digits?: string[];
  /** Base64: an animated GIF, an H.264 MP4 and a PNG strip of the frames. */
  clips: { index: number; gif: string; mp4: string; strip: string }[];
}

export interface ShapeSample {
  index: number;
  label?: string;
  /** The marching-cubes mesh in the unit cube: x, y, z per vertex; three vertex indices per triangle. */
  positions: number[];
  faces: number[];
  /** OBJ text; PLY and the preview PNG as base64. */
  obj: string;
  ply: string;
  preview: string;
}

export interface ShapesResult { kind: 'shapes'; seed: number; resolution: number; shapes: ShapeSample[] }

export interface Note { pitch: number; start: number; duration: number; velocity: number }

export interface MusicResult {
  kind: 'music';
  seed: number;
  style: string;
  midi: string;
  wav: string;
  pianoRoll: string;
  bpm: number;
  beatsPerBar: number;
  notes: Note[];
  sampleKey: string;
}

/** The body of POST /api/models/:name/complete (PixelCNN). */
export interface CompleteRequest {
  /** Base64 PNG or JPEG, any size: the server fits it to the model. */
  png: string;
  /** Rows kept from the top, 1..imageHeight − 1 (default: half). */
  rows?: number;
  n?: number;
  seed?: number;
  label?: string;
  stream?: boolean;
}

/** Completions of one input: `input` is what was kept (thresholded top rows over grey). */
export interface CompletionResult extends ImagesResult {
  rows: number;
  input: string;
}

export type GenerateResult = ImagesResult | TextResult | MusicResult | ClipsResult | ShapesResult;

/** What a streamed generate reports before its result. */
export interface StreamHandlers {
  progress?(event: { done: number; total: number }): void;
  step?(event: TrajectoryFrame): void;
  token?(event: { text: string }): void;
}

export interface LatentMap {
  points: { x: number; y: number; label?: string }[];
  basis: { mean: number[]; axes: [number[], number[]] };
  extent: { xMin: number; xMax: number; yMin: number; yMax: number };
}

export interface Interpolation { frames: { png: string }[]; gif: string; z: number[][] }

/** layers[l][h] is a T×T row-major matrix, flat (row = query token, column = key token). */
export interface Attention { tokens: string[]; layers: number[][][] }

export interface FeedbackStats { db: string; samples: number; ratings: number; preferences: number }

export type JobState = 'queued' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed';

export interface Job {
  id: string;
  name: string;
  family: string;
  dataset: string;
  state: JobState;
  step: number;
  totalSteps: number;
  last: Record<string, number>;
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  model?: string;
}

export interface JobRequest {
  family: string;
  dataset: string;
  name?: string;
  steps?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  preset?: string;
}

export interface JobProgress { step: number; totalSteps: number; values: Record<string, number>; unitsPerSecond?: number }
export interface Upload { id: string; dataset: string; files: number; bytes: number }

// The studio API's shapes come from the server's contract (src/server/api-contract.ts: the zod
// schemas it validates and describes its answers with); only what the page adds is declared here.
import type { TrajectoryFrame } from '../../src/server/api-contract.ts';

export type {
  Attention, Capability, ClipsResult, CompleteRequest, CompletionResult, FamilyInfo, FeedbackStats, GenerateRequest, GenerateResult, Health,
  ImageSample, ImagesResult, Interpolation, Job, JobProgress, JobRequest, JobState, LatentMap, ModelInfo, ModelSummary, MusicResult, Note,
  ShapeSample, ShapesResult, TextResult, TrajectoryFrame, Upload,
} from '../../src/server/api-contract.ts';

/** What a streamed generate reports before its result. */
export interface StreamHandlers {
  progress?(event: { done: number; total: number }): void;
  step?(event: TrajectoryFrame): void;
  token?(event: { text: string }): void;
}

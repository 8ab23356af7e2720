/**
 * The music family: a recurrent (LSTM or GRU) model of note events, trained on the JSB Chorales
 * piano rolls or on a folder of MIDI files (one style per subfolder if asked), composing from a
 * primer in a chosen style, and evaluated by frame-level and event-level likelihood.
 */
import { join } from 'node:path';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { loadMusicDataset, type MusicDataset } from '../../data/music-dataset.ts';
import { makeDirectories } from '../../io/atomic.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { notesToEvents } from '../../music/events.ts';
import { writeMidi } from '../../music/midi.ts';
import { writePianoRoll } from '../../music/piano-roll.ts';
import { stepGeometry, train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { loadWeights, parseIntegerFlag, previousRun, runControls, runLength, runManifest, takeSettings, trainSummary } from '../../train/run-setup.ts';
import { encodingOf, musicPresets, parseMusicConfig, storedMusicConfig, type MusicConfig } from './config.ts';
import { evaluateMusic, scoreSequences, totalScore } from './evaluate.ts';
import { MusicRnn, type EventBatch } from './rnn.ts';
import { defaultTokenSampling } from '../../sampling/token-sampling.ts';
import { composeMusic } from './sampler.ts';
import { pieceSequence, trainingWindows, windowsBatch } from './sequences.ts';

/** Training settings that are not part of the network (kept out of its config). */
interface MusicTrainingSettings {
  styleFromSubfolders: boolean;
  /** Random transposition of each training window by up to this many semitones (0: none). */
  transpose: number;
}

const settingKeys = ['styleFromSubfolders', 'transpose'] as const;

/** What the data decides on a fresh run: its grid, velocities and styles. */
function encodingForData(data: MusicDataset): Partial<MusicConfig> {
  const stepsPerQuarter = data.stepsPerQuarter ?? 4;
  return {
    stepsPerQuarter,
    // Two 4/4 bars: most rests fit one shift.
    maxShift: 8 * stepsPerQuarter,
    // Piano rolls carry no velocities.
    velocityBins: data.kind === 'piano-roll' ? 0 : 32,
    styles: data.styles.length,
  };
}

async function trainMusic(request: TrainRequest): Promise<TrainSummary> {
  if (request.imageSize !== undefined) throw new GenloomError('BAD_ARGUMENT', '--image-size is for image models; a music model reads notes');
  const { previous, previousTraining, parent } = previousRun(request, 'music');
  // A fine-tune keeps its parent's network, grid, styles and settings.
  const template = previous ?? parent;
  const templateTraining = (template?.training ?? {}) as Record<string, unknown>;
  const overrides = { ...request.config };
  const given = takeSettings<MusicTrainingSettings>(overrides, settingKeys);
  const settings: MusicTrainingSettings = { styleFromSubfolders: false, transpose: 0, ...((templateTraining['settings'] as Partial<MusicTrainingSettings>) ?? {}), ...given };
  if (!(Number.isInteger(settings.transpose) && settings.transpose >= 0 && settings.transpose <= 24)) throw new GenloomError('BAD_ARGUMENT', `--transpose must be a whole number of semitones in 0..24, got ${settings.transpose}`);
  const datasetSpec = request.dataset || (previousTraining['dataset'] as string);
  const data = loadMusicDataset(datasetSpec, {
    styleFromSubfolders: settings.styleFromSubfolders,
    stepsPerQuarter: (templateTraining['framesPerQuarter'] as number | undefined) ?? (template?.config['stepsPerQuarter'] as number | undefined) ?? (overrides['stepsPerQuarter'] as number | undefined),
  });
  if (!request.quiet && data.skipped.length > 0) {
    process.stderr.write(`genloom: skipped ${data.skipped.length} file(s) of ${datasetSpec}:\n${data.skipped.map((entry) => `  ${entry.reason}`).join('\n')}\n`);
  }
  const config = template ? storedMusicConfig(template.config as Record<string, unknown>, overrides) : parseMusicConfig({ ...encodingForData(data), ...overrides }, request.preset);
  const styles = template ? (templateTraining['styles'] as string[]) : data.styles;
  // Fine-tuning a one-style model on one new style (a folder of MIDI) adapts that style.
  const styleOf = (name: string) => (parent && styles.length === 1 && data.styles.length === 1 ? 0 : styles.indexOf(name));
  if (template && data.styles.some((style) => styleOf(style) < 0)) {
    throw new GenloomError('BAD_ARGUMENT', `${datasetSpec} has styles the checkpoint in ${parent ? request.parent : request.outDir} was not built for (${data.styles.filter((style) => styleOf(style) < 0).join(', ')}); it knows ${styles.join(', ')}`);
  }
  const encoding = encodingOf(config);
  const toSequence = (piece: MusicDataset['pieces'][number]) => ({ ...pieceSequence(piece, encoding), style: styleOf(data.styles[piece.style]!) });
  const trainSequences = data.pieces.filter((piece) => piece.split === 'train').map(toSequence);
  const validationSequences = data.pieces.filter((piece) => piece.split === 'validation').map(toSequence);
  const windows = trainingWindows(trainSequences, config.context);

  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const batchSize = request.batchSize ?? (previousTraining['batchSize'] as number) ?? 32;
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? 2e-3;
  const { stepsPerEpoch } = stepGeometry(windows.length, batchSize);
  const { epochs, totalSteps } = runLength(request, previous ? previousTraining : null, stepsPerEpoch, 50);
  const eventsPerEpoch = windows.reduce((sum, window) => sum + window.end - window.start, 0);

  makeDirectories(request.outDir);
  const model = new MusicRnn(config, fromSeed(seed).fork('init'));
  const manifest = (step: number, epoch: number): CheckpointManifest =>
    runManifest('music', { ...config }, request, previous, {
      step,
      epoch,
      totalSteps,
      dataset: datasetSpec,
      datasetKind: data.kind,
      ...(data.stepsPerQuarter !== undefined ? { framesPerQuarter: data.stepsPerQuarter } : {}),
      styles,
      bpm: data.bpm,
      beatsPerBar: data.beatsPerBar,
      trainPieces: trainSequences.length,
      trainEvents: eventsPerEpoch,
      skippedFiles: data.skipped.map((entry) => entry.file),
      seed,
      epochs,
      batchSize,
      learningRate,
      schedule: 'cosine',
      settings,
    });
  const progressPiece = () => {
    const steps = 4 * data.beatsPerBar * config.stepsPerQuarter;
    const [piece] = composeMusic(model, fromSeed('progress-sample'), { styles: [0], steps, ...defaultTokenSampling });
    const score = { notes: piece!.notes, bpm: data.bpm, beatsPerBar: data.beatsPerBar };
    writeMidi(join(request.outDir, 'samples.mid'), score);
    writePianoRoll(join(request.outDir, 'samples.png'), piece!.notes, { beatsPerBar: data.beatsPerBar });
  };
  try {
    const result = await train<EventBatch>(
      { params: model.params, loss: (batch, random) => model.loss(batch, random) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: windows.length,
        makeBatch: (indices, random) => windowsBatch(trainSequences, Array.from(indices, (index) => windows[index]!), { random, transpose: settings.transpose, sounding: config.soundingInput }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(100, Math.floor(totalSteps / 20)), minFactor: 0.05 },
        clipNorm: 1,
        checkpointEvery: Math.max(1, Math.min(totalSteps, Math.max(stepsPerEpoch * 5, 50), 500)),
        logEvery: Math.max(1, Math.min(20, Math.floor(totalSteps / 20))),
        unitsPerStep: Math.round((eventsPerEpoch / windows.length) * Math.min(batchSize, windows.length)),
        manifest,
        ...(validationSequences.length > 0
          ? {
              validation: {
                run: () => {
                  const total = totalScore(scoreSequences(model, validationSequences));
                  return total.nll / total.events;
                },
              },
            }
          : {}),
        afterCheckpoint: progressPiece,
      },
    );
    return trainSummary(request, result);
  } finally {
    model.dispose();
  }
}

function loadMusic(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = storedMusicConfig(manifest.config);
  const model = new MusicRnn(config, fromSeed(0));
  loadWeights(dir, 'music', model.params);
  const training = manifest.training as Record<string, unknown>;
  const styles = (training['styles'] as string[] | undefined) ?? Array.from({ length: config.styles }, (_, i) => String(i));
  const encoding = encodingOf(config);
  const bpm = (training['bpm'] as number | undefined) ?? 100;
  const beatsPerBar = (training['beatsPerBar'] as number | undefined) ?? 4;
  return {
    family: 'music',
    manifest,
    music: {
      styles,
      stepsPerQuarter: config.stepsPerQuarter,
      bpm,
      beatsPerBar,
      compose: (options) =>
        composeMusic(model, options.random, {
          ...options,
          primer: options.primer ? notesToEvents(options.primer, encoding) : undefined,
        }),
    },
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string | undefined);
      if (!spec) throw new GenloomError('BAD_ARGUMENT', 'this model records no dataset: give --dataset');
      const ownData = options.dataset === undefined || options.dataset === training['dataset'];
      const data = loadMusicDataset(spec, {
        styleFromSubfolders: Boolean((training['settings'] as MusicTrainingSettings | undefined)?.styleFromSubfolders) && ownData,
        // A piano roll whose name does not give its grid is read as training read it, else on the model's grid.
        stepsPerQuarter: (ownData ? (training['framesPerQuarter'] as number | undefined) : undefined) ?? config.stepsPerQuarter,
      });
      const split = data.pieces.some((piece) => piece.split === 'test') ? 'test' : 'validation';
      return {
        family: 'music',
        dataset: spec,
        ...evaluateMusic(model, { ...data, beatsPerBar }, { split, limit: options.limit, random: fromSeed(options.seed).fork('eval-samples'), quiet: options.quiet, samples: options.samples ?? 16, styles }),
      };
    },
    dispose: () => model.dispose(),
  };
}

export const musicFamily: FamilyDefinition = {
  name: 'music',
  summary: 'LSTM/GRU model of note events (Performance-RNN style): learns from MIDI or the JSB Chorales, composes MIDI + WAV in a style',
  datasets: 'a piano-roll .json file (e.g. ../shared/data/jsb-chorales-16th.json), a folder of MIDI files, or a .mid file',
  // Music trains on MIDI or piano-roll files the user names (the JSB Chorales live outside the package).
  builtinDatasets: [],
  generates: 'music',
  capabilities: ['music'],
  // Event by event: a step of the grid is a few events (notes on and off, a time shift), each one pass at one position.
  generationWork: (config, request) => {
    const stepsPerQuarter = Number(config['stepsPerQuarter'] ?? 4);
    const steps = request['seconds'] !== undefined ? (Number(request['seconds']) * 2 * stepsPerQuarter) : Number(request['bars'] ?? 8) * 4 * stepsPerQuarter;
    return { items: Number(request['n'] ?? 1), passesPerItem: Math.max(1, Math.ceil(steps * 3)), positionsPerPass: 1, what: 'pieces' };
  },
  presets: Object.keys(musicPresets),
  options: [
    { flags: '--style-from-subfolders', description: 'folders: each top-level subfolder is a style (composer), for --style when sampling', configKey: 'styleFromSubfolders', parse: () => true },
    { flags: '--cell <kind>', description: 'lstm (default) or gru', configKey: 'cell', parse: String },
    { flags: '--layers <n>', description: 'stacked recurrent layers', configKey: 'layers', parse: parseIntegerFlag },
    { flags: '--hidden <n>', description: 'units per recurrent layer', configKey: 'hidden', parse: parseIntegerFlag },
    { flags: '--embedding <n>', description: 'size of the event and style embeddings', configKey: 'embedding', parse: parseIntegerFlag },
    { flags: '--dropout <p>', description: 'dropout between layers while training (default 0.3)', configKey: 'dropout', parse: Number },
    { flags: '--context <n>', description: 'events per training window (backpropagation through time)', configKey: 'context', parse: parseIntegerFlag },
    { flags: '--steps-per-quarter <n>', description: 'grid steps per quarter note (MIDI default 4: sixteenths; piano rolls: their own grid)', configKey: 'stepsPerQuarter', parse: parseIntegerFlag },
    { flags: '--max-shift <n>', description: 'longest single time shift, in grid steps (default: two 4/4 bars)', configKey: 'maxShift', parse: parseIntegerFlag },
    { flags: '--velocity-bins <n>', description: 'velocity levels (MIDI default 32; 0: none)', configKey: 'velocityBins', parse: parseIntegerFlag },
    { flags: '--transpose <n>', description: 'augment: move each training window by a random number of semitones in ±n (default 0)', configKey: 'transpose', parse: parseIntegerFlag },
  ],
  train: trainMusic,
  load: loadMusic,
};

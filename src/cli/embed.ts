/**
 * `genloom embed` and `genloom search`: a clip model's shared space from the command line.
 */
import { Command } from 'commander';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { maxSearchResults, requireContrastive, searchCorpus, searchImages } from '../embed/search.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotCaptionedGrid } from '../io/plot.ts';
import { readImagesForModel, tensorToImages } from '../io/tensor-image.ts';
import { limits, openModel, parseChoice, parseInteger, printJson } from './options.ts';

const round = (values: ArrayLike<number>) => Array.from(values, (value) => Number(value.toFixed(6)));

export function embedCommand(): Command {
  return new Command('embed')
    .description('embed texts and images with a clip model: unit vectors in its shared space')
    .argument('<model>', 'clip model directory')
    .option('--text <text...>', 'texts to embed')
    .option('--image <file...>', 'PNG/JPEG images to embed')
    .option('--json', 'print { texts, images, similarity } as JSON')
    .action(async (dir: string, flags: { text?: string[]; image?: string[]; json?: boolean }, self: Command) => {
      const texts = flags.text ?? [];
      const paths = flags.image ?? [];
      if (texts.length + paths.length === 0) throw new GenloomError('BAD_ARGUMENT', 'give --text "…" or --image file.png (or both) to embed');
      if (paths.length > limits.maxImages) throw new GenloomError('BAD_ARGUMENT', `${paths.length} images is too many to embed at once (at most ${limits.maxImages})`);
      const model = await openModel(dir, self);
      try {
        const contrastive = requireContrastive(model, dir);
        const textVectors = contrastive.embedTexts(texts);
        const pixels = paths.length ? readImagesForModel(paths, contrastive.imageShape) : null;
        const imageVectors = pixels ? contrastive.embedImages(pixels) : tf.zeros([0, contrastive.embedDim]) as tf.Tensor2D;
        const all = tf.concat([textVectors, imageVectors], 0);
        const similarity = tf.tidy(() => tf.matMul(all, all, false, true).arraySync() as number[][]);
        const rows = (values: Float32Array, count: number) => Array.from({ length: count }, (_, i) => round(values.subarray(i * contrastive.embedDim, (i + 1) * contrastive.embedDim)));
        const result = {
          model: dir,
          embedDim: contrastive.embedDim,
          texts: texts.map((text, i) => ({ text, vector: rows(textVectors.dataSync() as Float32Array, texts.length)[i] })),
          images: paths.map((path, i) => ({ path, vector: rows(imageVectors.dataSync() as Float32Array, paths.length)[i] })),
          // Cosine similarity of every pair, texts first then images, in the order given.
          similarity: similarity.map((row) => round(row)),
        };
        tf.dispose([textVectors, imageVectors, all, ...(pixels ? [pixels] : [])]);
        if (flags.json) printJson(result);
        else {
          const names = [...texts.map((text) => JSON.stringify(text)), ...paths];
          process.stdout.write(`${names.length} inputs in ${contrastive.embedDim} dimensions; cosine similarity:\n`);
          names.forEach((name, i) => process.stdout.write(`${name}: ${result.similarity[i]!.map((value) => value.toFixed(3)).join(' ')}\n`));
        }
      } finally {
        model.dispose();
      }
    });
}

export function searchCommand(): Command {
  return new Command('search')
    .description('find the images of a dataset nearest a text (or an image) with a clip model')
    .argument('<model>', 'clip model directory')
    .option('--text <text>', 'what to look for, in words')
    .option('--image <file>', 'instead of --text: images like this one')
    .option('--dataset <name|path>', 'where to look: emoji or a folder of images (default: the model\'s training data)')
    .option('--split <train|test>', 'which split to look through', parseChoice(['train', 'test'] as const), 'train')
    .option('--n <count>', `how many hits (1 to ${maxSearchResults})`, parseInteger(1, maxSearchResults), 8)
    .option('--out <file.png>', 'write the hits as a captioned contact sheet')
    .option('--json', 'print the hits as JSON')
    .action(async (dir: string, flags: { text?: string; image?: string; dataset?: string; split: 'train' | 'test'; n: number; out?: string; json?: boolean }, self: Command) => {
      if ((flags.text === undefined) === (flags.image === undefined)) throw new GenloomError('BAD_ARGUMENT', 'give one of --text "…" or --image file.png to search for');
      const model = await openModel(dir, self);
      try {
        const contrastive = requireContrastive(model, dir);
        const spec = flags.dataset ?? String(model.manifest.training['dataset'] ?? '');
        const corpus = searchCorpus(contrastive, spec, flags.split);
        const pixels = flags.image ? readImagesForModel([flags.image], contrastive.imageShape) : null;
        const vector = pixels ? contrastive.embedImages(pixels) : null;
        const { hits, images } = searchImages(contrastive, vector ? { vector } : { text: flags.text! }, corpus, flags.n);
        tf.dispose([...(pixels ? [pixels] : []), ...(vector ? [vector] : [])]);
        if (flags.out) {
          const query = flags.text !== undefined ? JSON.stringify(flags.text) : flags.image!;
          const png = await plotCaptionedGrid(tensorToImages(images), hits.map((hit) => `${hit.score.toFixed(3)} ${hit.caption ?? hit.label ?? `#${hit.index}`}`), { title: `${query} in ${spec} (${flags.split})`, columns: Math.min(8, hits.length) });
          writeFileAtomic(flags.out, png);
        }
        images.dispose();
        if (flags.json) printJson({ model: dir, dataset: spec, split: flags.split, query: flags.text ?? flags.image, hits });
        else {
          for (const hit of hits) process.stdout.write(`${hit.rank}. ${hit.score.toFixed(3)}  ${hit.caption ?? hit.label ?? `#${hit.index}`}\n`);
          if (flags.out) process.stdout.write(`wrote ${flags.out}\n`);
        }
      } finally {
        model.dispose();
      }
    });
}

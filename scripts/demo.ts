/**
 * `npm run demo`: says what genloom can do from the command line, then shows it — sample grids,
 * latent walks, text, attention maps and music from the shipped starter models, written to ./out.
 * (`npm start` opens the web studio instead.)
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/main.ts';
import { families } from '../src/models/registry.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const starter = join(root, 'models', 'vae-mnist');
const ganStarter = join(root, 'models', 'gan-mnist');
const diffusionStarter = join(root, 'models', 'diffusion-mnist');
const textToImageStarter = join(root, 'models', 'txt2img-emoji');
const textStarter = join(root, 'models', 'transformer-kjv');
const musicStarter = join(root, 'models', 'music-bach');
const pixelStarter = join(root, 'models', 'pixelcnn-mnist');
const out = join(process.cwd(), 'out');

process.stdout.write(`genloom — train, generate with, explore, evaluate and fine-tune generative models in TypeScript

Families: ${Object.values(families).map((family) => `${family.name} (${family.summary})`).join('; ')}

  genloom train vae --dataset mnist --epochs 10 --latent-dim 16 --out runs/vae --seed 1
  genloom sample models/vae-mnist --n 64 --seed 7 --out grid.png
  genloom encode models/vae-mnist digit.png --json
  genloom interpolate models/vae-mnist --seed-from 1 --seed-to 2 --frames 16 --out walk.gif
  genloom latent-map models/vae-mnist --dataset mnist --out map.png
  genloom attribute models/vae-mnist --dataset mnist --label 7 --strength 1.5 --input x.png --out y.png
  genloom eval models/vae-mnist --json
  genloom train gan --dataset fashion-mnist --conditional --epochs 7 --out runs/gan --seed 1
  genloom sample models/gan-mnist --n 64 --label 7 --truncation 0.8 --seed 3 --out sevens.png
  genloom eval models/gan-mnist --json
  genloom sample models/txt2img-emoji --prompt "smiling face with heart-eyes, google style" --sampler dpm-solver --steps 20 --guidance 5 --n 8 --seed 3 --out faces.png
  genloom interpolate models/txt2img-emoji --prompt-from "red heart, twitter style" --prompt-to "blue heart, twitter style" --frames 12 --out hearts.gif
  genloom sample models/diffusion-mnist --prompt "a handwritten seven" --n 16 --guidance 3 --out sevens.png
  genloom sample models/diffusion-mnist --label 3 --sampler ddim --steps 50 --trajectory --out three.gif
  genloom inpaint models/diffusion-mnist --input x.png --mask mask.png --out filled.png
  genloom img2img models/diffusion-mnist --input x.png --strength 0.6 --label 8 --out eight.png
  genloom generate models/transformer-kjv --prompt "And it came to pass" --max-tokens 300 --temperature 0.8 --seed 1
  genloom generate models/transformer-kjv --interactive
  genloom attention models/transformer-kjv --prompt "In the beginning" --out attn.png
  genloom sample models/music-bach --style bach --bars 16 --temperature 0.9 --seed 2 --out piece.mid   # + piece.wav, piece.png
  genloom sample models/music-bach --primer primer.mid --bars 16 --out continued.mid
  genloom train music --dataset ./my-midi-folder/ --style-from-subfolders --out runs/mix
  genloom sample models/pixelcnn-mnist --n 16 --seed 1 --out digits.png
  genloom complete models/pixelcnn-mnist --input top-half.png --out completed.png
  genloom finetune models/gan-mnist --dataset ./my-digits/ --steps 500 --out runs/gan-mine
  genloom finetune models/gan-mnist --reward classifier:7 --candidates 5000 --steps 500 --lr 2e-4 --out runs/more-sevens
  genloom rate models/transformer-kjv --pairs --n 20             # A/B choices, stored in feedback.db
  genloom finetune models/transformer-kjv --preferences feedback.db --method dpo --out runs/lm-dpo
  genloom feedback report runs/more-sevens                       # parent against child on the same seeds
  genloom <command> --help for every option

`);

if (!existsSync(join(starter, 'config.json'))) {
  process.stderr.write(`genloom: the starter model ${starter} is missing; train one with the command in README.md\n`);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
const steps: string[][] = [];
// Text to image first: what most people come for.
if (existsSync(join(textToImageStarter, 'config.json'))) {
  steps.push(
    ['sample', textToImageStarter, '--prompt', 'smiling face with heart-eyes, google style', '--sampler', 'dpm-solver', '--steps', '20', '--guidance', '5', '--n', '8', '--seed', '3', '--out', join(out, 'txt2img-faces.png')],
    ['interpolate', textToImageStarter, '--prompt-from', 'red heart, twitter style', '--prompt-to', 'blue heart, twitter style', '--sampler', 'dpm-solver', '--steps', '20', '--frames', '12', '--out', join(out, 'txt2img-hearts.gif')],
  );
}
steps.push(
  ['sample', starter, '--n', '64', '--seed', '7', '--out', join(out, 'vae-samples.png')],
  ['interpolate', starter, '--seed-from', '1', '--seed-to', '2', '--frames', '24', '--out', join(out, 'vae-walk.gif')],
);
if (existsSync(join(ganStarter, 'config.json'))) {
  steps.push(
    ['sample', ganStarter, '--n', '64', '--label', '7', '--seed', '3', '--out', join(out, 'gan-sevens.png')],
    ['interpolate', ganStarter, '--seed-from', '1', '--seed-to', '2', '--frames', '24', '--out', join(out, 'gan-walk.gif')],
  );
}
if (existsSync(join(diffusionStarter, 'config.json'))) {
  steps.push(
    ['sample', diffusionStarter, '--n', '16', '--prompt', 'a handwritten seven', '--steps', '20', '--seed', '3', '--out', join(out, 'diffusion-sevens.png')],
    ['sample', diffusionStarter, '--n', '4', '--label', '3', '--steps', '20', '--seed', '1', '--trajectory', '--out', join(out, 'diffusion-three.gif')],
  );
}
if (existsSync(join(textStarter, 'config.json'))) {
  steps.push(
    ['generate', textStarter, '--prompt', 'And it came to pass', '--max-tokens', '300', '--temperature', '0.8', '--top-k', '40', '--seed', '1', '--out', join(out, 'kjv.txt')],
    ['attention', textStarter, '--prompt', 'In the beginning God created', '--out', join(out, 'kjv-attention.png')],
  );
}
if (existsSync(join(musicStarter, 'config.json'))) {
  steps.push(['sample', musicStarter, '--style', 'bach', '--bars', '8', '--temperature', '0.9', '--seed', '2', '--out', join(out, 'chorale.mid')]);
}
if (existsSync(join(pixelStarter, 'config.json'))) {
  // Pixel by pixel takes a few seconds per image: a small grid.
  steps.push(['sample', pixelStarter, '--n', '4', '--seed', '1', '--out', join(out, 'pixelcnn-digits.png')]);
}
for (const args of steps) {
  process.stdout.write(`$ genloom ${args.join(' ')}\n`);
  const code = await runCli(args);
  if (code !== 0) process.exit(code);
}
process.stdout.write(`\nOpen the PNGs, GIFs, texts, MIDI and WAV files in ${out} to see them.\n`);

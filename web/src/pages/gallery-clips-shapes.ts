// The gallery for video models (clips: GIF, MP4 and a frame strip) and 3-D shape models (rotatable
// meshes, OBJ/PLY downloads and a preview image).
import { api } from '../api.ts';
import { announce, base64ToBytes, downloadButton, field, h, optionalNumber, pixelImage, seedControl } from '../dom.ts';
import type { ClipsResult, GenerateRequest, ModelInfo, ShapesResult } from '../types.ts';
import type { MeshViewer } from '../ui/mesh-viewer.ts';
import type { ProgressBar } from '../ui/progress.ts';
import type { Controls } from './gallery.ts';
import { labelControl } from './gallery-images.ts';

export function clipControls(info: ModelInfo): Controls {
  const seed = seedControl();
  const n = optionalNumber('Clips (n)', 4, { min: 1, max: 16, step: 1, testid: 'n' });
  const prompt = h('input', { type: 'text', placeholder: 'a 3 and a 7 bouncing', 'data-testid': 'prompt', autocomplete: 'off' });
  return {
    elements: [seed.element, n.element, field('Digits', prompt, 'Which digits the clips show, in words or numerals; leave empty for random digits.')],
    read() {
      const request: GenerateRequest = { seed: Number(seed.input.value) };
      const count = n.read();
      if (count !== undefined) request.n = count;
      if (prompt.value.trim()) request.prompt = prompt.value.trim();
      return request;
    },
  };
}

export function shapeControls(info: ModelInfo): Controls {
  const seed = seedControl();
  const n = optionalNumber('Shapes (n)', 4, { min: 1, max: 16, step: 1, testid: 'n' });
  const label = labelControl(info);
  return {
    elements: [seed.element, n.element, ...(label.element ? [label.element] : [])],
    read() {
      const request: GenerateRequest = { seed: Number(seed.input.value) };
      const count = n.read();
      if (count !== undefined) request.n = count;
      const chosen = label.read();
      if (chosen !== undefined) request.label = chosen;
      return request;
    },
  };
}

function generate<T extends ClipsResult | ShapesResult>(info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal, what: string): Promise<T> {
  progress.reset(`making ${what}…`);
  return api.generateStream<T>(info.name, request, { progress: ({ done, total }) => progress.update(done, total) }, signal);
}

export async function showClips(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  results.replaceChildren();
  const result = await generate<ClipsResult>(info, request, progress, signal, 'clips');
  const shows = result.digits ? ` of ${result.digits.join(' and ')}` : '';
  const cards = result.clips.map((clip) => {
    const file = `${info.name}-seed${result.seed}-${clip.index}`;
    const video = h('video', { className: 'clip', muted: true, loop: true, autoplay: true, playsInline: true, controls: true, 'data-testid': 'clip-video', width: 256, height: 256 });
    video.src = URL.createObjectURL(new Blob([base64ToBytes(clip.mp4)], { type: 'video/mp4' }));
    return h('figure', { className: 'clip-result', 'data-testid': 'clip-result' },
      // The GIF plays everywhere; the MP4 is what people share (and plays where H.264 is available).
      pixelImage(clip.gif, `Clip ${clip.index + 1}${shows}: ${result.frames} frames`, 'clip-gif'),
      video,
      pixelImage(clip.strip, `Frames of clip ${clip.index + 1}`, 'clip-strip'),
      h('figcaption', {}, `clip ${clip.index + 1} · seed ${result.seed} · ${result.frames} frames at ${result.fps} fps`),
      h('div', { className: 'inline' },
        downloadButton('GIF', `${file}.gif`, 'image/gif', () => clip.gif, 'download-gif'),
        downloadButton('MP4', `${file}.mp4`, 'video/mp4', () => clip.mp4, 'download-mp4'),
        downloadButton('Frames PNG', `${file}-frames.png`, 'image/png', () => clip.strip, 'download-strip')));
  });
  results.replaceChildren(h('div', { className: 'clip-grid' }, ...cards));
  announce(`Made ${result.clips.length} clips${shows}`);
}

/** The viewers of the shapes shown now, released when new ones replace them (WebGL contexts are few). */
let viewers: MeshViewer[] = [];

export async function showShapes(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  results.replaceChildren();
  viewers.forEach((viewer) => viewer.dispose());
  viewers = [];
  // three.js loads with the first shapes, not with every page of the studio.
  const [result, { meshViewer }] = await Promise.all([generate<ShapesResult>(info, request, progress, signal, 'shapes'), import('../ui/mesh-viewer.ts')]);
  const cards = result.shapes.map((shape) => {
    const name = `shape ${shape.index + 1}${shape.label ? ` (${shape.label})` : ''}`;
    const file = `${info.name}-seed${result.seed}-${shape.index}`;
    const viewer = meshViewer(shape.positions, shape.faces, name);
    viewers.push(viewer);
    return h('figure', { className: 'shape-result', 'data-testid': 'shape-result' },
      viewer.element,
      h('figcaption', {}, `${name} · ${shape.faces.length / 3} triangles · ${result.resolution}³ voxels`),
      h('div', { className: 'inline' },
        downloadButton('OBJ', `${file}.obj`, 'model/obj', () => new TextEncoder().encode(shape.obj) as Uint8Array<ArrayBuffer>, 'download-obj'),
        downloadButton('PLY', `${file}.ply`, 'application/octet-stream', () => shape.ply, 'download-ply'),
        downloadButton('Preview PNG', `${file}.png`, 'image/png', () => shape.preview, 'download-preview')));
  });
  results.replaceChildren(h('div', { className: 'shape-grid' }, ...cards));
  announce(`Made ${result.shapes.length} shapes`);
}

/**
 * Drawing images in [0, 1] on a canvas, in the layout of the server's grids (src/io/image.ts
 * imageGrid: ceil(√n) columns, 2 px of 0.5 grey around and between tiles, values rounded to bytes
 * the same way), so a canvas drawn here can be compared pixel for pixel with the server's grid PNG.
 * The canvas holds the grid at its own resolution; CSS scales it up without smoothing.
 */

export interface ImageBatch {
  /** [count, height, width, channels] values in [0, 1], row-major. */
  data: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface GridLayout {
  columns: number;
  rows: number;
  padding: number;
  width: number;
  height: number;
}

/** The server's grid geometry for `count` tiles of width × height. */
export function gridLayout(count: number, width: number, height: number, padding = 2): GridLayout {
  const columns = Math.max(1, Math.min(Math.ceil(Math.sqrt(count)), count));
  const rows = Math.ceil(count / columns);
  return { columns, rows, padding, width: columns * width + (columns + 1) * padding, height: rows * height + (rows + 1) * padding };
}

/** A value in [0, 1] as a byte, as encodePng rounds it (NaN and negatives → 0). */
export function toByte(value: number): number {
  return value > 0 ? Math.round(Math.min(value, 1) * 255) : 0;
}

/** RGBA bytes of the grid of `batch` (grey tiles are spread over R, G and B). */
export function gridPixels(batch: ImageBatch): { layout: GridLayout; rgba: Uint8ClampedArray<ArrayBuffer> } {
  const { data, count, height, width, channels } = batch;
  const layout = gridLayout(count, width, height);
  const rgba = new Uint8ClampedArray(layout.width * layout.height * 4);
  const background = toByte(0.5);
  for (let index = 0; index < rgba.length; index += 4) {
    rgba[index] = rgba[index + 1] = rgba[index + 2] = background;
    rgba[index + 3] = 255;
  }
  const tileSize = height * width * channels;
  for (let tile = 0; tile < count; tile++) {
    const left = layout.padding + (tile % layout.columns) * (width + layout.padding);
    const top = layout.padding + Math.floor(tile / layout.columns) * (height + layout.padding);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const from = tile * tileSize + (y * width + x) * channels;
        const to = ((top + y) * layout.width + left + x) * 4;
        for (let channel = 0; channel < 3; channel++) rgba[to + channel] = toByte(data[from + (channels === 1 ? 0 : channel)]!);
      }
    }
  }
  return { layout, rgba };
}

/**
 * Draws `batch` as a grid on `canvas`, scaled by CSS to about `displayWidth` CSS pixels (a whole
 * multiple of the grid, so every image pixel is the same size on screen).
 */
export function drawGrid(canvas: HTMLCanvasElement, batch: ImageBatch, displayWidth = 420): void {
  const { layout, rgba } = gridPixels(batch);
  canvas.width = layout.width;
  canvas.height = layout.height;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('this browser gives no 2D canvas context');
  context.putImageData(new ImageData(rgba, layout.width, layout.height), 0, 0);
  const scale = Math.max(1, Math.floor(displayWidth / layout.width));
  canvas.style.width = `${layout.width * scale}px`;
  canvas.style.imageRendering = 'pixelated';
}

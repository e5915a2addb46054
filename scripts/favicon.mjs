// The console's icon, drawn once and written two ways by build-console.mjs: favicon.svg (linked
// from index.html) and favicon.ico (what browsers and tools ask for without a link), a 32×32
// uncompressed icon rasterised from the same shapes. A blue tile with three lines of KEY=VALUE.
const SIZE = 32;
const TILE = { r: 6, fill: [0x2c, 0x5f, 0xd9] };
/** Lines: [x, y, width, height] on the 32×32 grid, white. */
const LINES = [
  [7, 8, 18, 4],
  [7, 14, 13, 4],
  [7, 20, 16, 4],
];

export function faviconSvg() {
  const hex = TILE.fill.map((c) => c.toString(16).padStart(2, '0')).join('');
  const lines = LINES.map(([x, y, w, h]) => `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="2" fill="#fff"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}"><rect width="${SIZE}" height="${SIZE}" rx="${TILE.r}" fill="#${hex}"/>${lines}</svg>\n`;
}

/** Inside a rectangle with rounded corners of radius r (pixel centres). */
function inRounded(px, py, x, y, w, h, r) {
  if (px < x || py < y || px > x + w || py > y + h) return false;
  const cx = Math.min(Math.max(px, x + r), x + w - r);
  const cy = Math.min(Math.max(py, y + r), y + h - r);
  return (px - cx) ** 2 + (py - cy) ** 2 <= r * r;
}

export function faviconIco() {
  const pixels = Buffer.alloc(SIZE * SIZE * 4); // BGRA, bottom row first
  for (let row = 0; row < SIZE; row++) {
    for (let col = 0; col < SIZE; col++) {
      const px = col + 0.5;
      const py = row + 0.5;
      let rgba = [0, 0, 0, 0];
      if (inRounded(px, py, 0, 0, SIZE, SIZE, TILE.r)) rgba = [...TILE.fill, 255];
      if (LINES.some(([x, y, w, h]) => inRounded(px, py, x, y, w, h, 2))) rgba = [255, 255, 255, 255];
      const at = ((SIZE - 1 - row) * SIZE + col) * 4;
      pixels[at] = rgba[2];
      pixels[at + 1] = rgba[1];
      pixels[at + 2] = rgba[0];
      pixels[at + 3] = rgba[3];
    }
  }
  const mask = Buffer.alloc((SIZE / 8) * SIZE); // AND mask: all zero, the alpha channel decides
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0); // BITMAPINFOHEADER
  info.writeInt32LE(SIZE, 4);
  info.writeInt32LE(SIZE * 2, 8); // colour bitmap + mask
  info.writeUInt16LE(1, 12);
  info.writeUInt16LE(32, 14);
  info.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([info, pixels, mask]);
  const dir = Buffer.alloc(6 + 16);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2); // icon
  dir.writeUInt16LE(1, 4); // one image
  dir.writeUInt8(SIZE, 6);
  dir.writeUInt8(SIZE, 7);
  dir.writeUInt16LE(1, 10); // planes
  dir.writeUInt16LE(32, 12); // bits per pixel
  dir.writeUInt32LE(image.length, 14);
  dir.writeUInt32LE(dir.length, 18);
  return Buffer.concat([dir, image]);
}

#!/usr/bin/env node
// Data ingestion speed: decoding a data set whose images are PNG, JPEG or DICOM (the same synthetic
// pixels in each format), and unpacking it from a .tar.gz and a .zip, in plain Node on the built code.
// The PNG figure is the reference the others are compared with, measured in the same run.
// Usage: npm run build && node bench/dataset-ingest.mjs [--cases 1000] [--size 128]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodePng, encodeJpeg, extractDatasetArchive, generateSyntheticDataset, summarizeDataset } from '../libs/fusion/dist/index.js';
import { writeDicom, writeTar, writeZip } from '../libs/testing/dist/index.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000' }, size: { type: 'string', default: '128' } } });
const cases = Number(values.cases);
const size = Number(values.size);
const work = mkdtempSync(join(tmpdir(), 'mf-ingest-bench-'));
const png = join(work, 'png');
await generateSyntheticDataset({ outDir: png, numCases: cases, seed: 3, imageSize: size });

/** The same data set with every image re-encoded (CSV paths renamed to the new extension). */
function variant(name, ext, encode) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'images'), { recursive: true });
  for (const f of readdirSync(join(png, 'images'))) {
    const img = decodePng(readFileSync(join(png, 'images', f)));
    writeFileSync(join(dir, 'images', f.replace(/\.png$/, ext)), encode(img));
  }
  writeFileSync(join(dir, 'clinical.csv'), readFileSync(join(png, 'clinical.csv'), 'utf8').replaceAll('.png', ext));
  return dir;
}
const grey = (img) => Array.from({ length: img.width * img.height }, (_, i) => img.rgba[i * 4]);
const jpeg = variant('jpeg', '.jpg', (img) => encodeJpeg(img.rgba, img.width, img.height, 90));
// 16-bit CT-like values (grey * 8 - 1024 HU after rescale) with a window that maps them back to 0..255.
const dicom = variant('dicom', '.dcm', (img) =>
  writeDicom({ rows: img.height, columns: img.width, pixels: grey(img).map((g) => g * 8), bitsAllocated: 16, rescaleIntercept: -1024, windowCenter: -1024 + 1020, windowWidth: 2041 }),
);

const cols = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split' };
async function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return { out, s: Number(process.hrtime.bigint() - t0) / 1e9 };
}

console.log(`${cases} cases of ${size}x${size} grey images + 16 clinical columns; validate = decode every image and check every row`);
console.log('format  images/s  ratio_to_png  MB_on_disk');
const dirBytes = (d) => readdirSync(join(d, 'images')).reduce((n, f) => n + statSync(join(d, 'images', f)).size, 0);
let reference;
for (const [name, dir] of [['png', png], ['jpeg', jpeg], ['dicom', dicom]]) {
  await summarizeDataset(dir, cols); // warm-up: JIT and file cache
  const { s } = await timeIt(() => summarizeDataset(dir, cols));
  const rate = cases / s;
  reference ??= rate;
  console.log(`${name.padEnd(6)}  ${rate.toFixed(0).padStart(8)}  ${(rate / reference).toFixed(2).padStart(12)}  ${(dirBytes(dir) / 1e6).toFixed(1).padStart(10)}`);
}

const entries = (dir) => [{ name: 'clinical.csv', data: readFileSync(join(dir, 'clinical.csv')) }, ...readdirSync(join(dir, 'images')).map((f) => ({ name: `images/${f}`, data: readFileSync(join(dir, 'images', f)) }))];
console.log('archive        MB  unpack_MB/s  entries');
for (const [name, bytes] of [['dicom.tar.gz', writeTar(entries(dicom))], ['dicom.zip', writeZip(entries(dicom))], ['png.tar.gz', writeTar(entries(png))]]) {
  const file = join(work, name);
  writeFileSync(file, bytes);
  const dest = join(work, `unpacked-${name}`);
  mkdirSync(dest);
  const { out, s } = await timeIt(() => extractDatasetArchive(file, dest, { maxEntries: 1e6, maxExtractedBytes: 1e12 }));
  console.log(`${name.padEnd(13)}  ${(bytes.length / 1e6).toFixed(1).padStart(4)}  ${(out.bytes / 1e6 / s).toFixed(0).padStart(11)}  ${String(out.entries).padStart(7)}`);
}
rmSync(work, { recursive: true, force: true });

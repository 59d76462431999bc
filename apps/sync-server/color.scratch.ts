import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { renderXrayBytes } from './src/rendering/render.pipeline.ts';
const d = '/tmp/rscratch';
execFileSync('dcmconv', ['+ti', `${d}/c-raw.dcm`, `${d}/c-imp.dcm`]);
for (const f of ['c', 'c-raw', 'c-rle', 'c-imp']) {
  const r = await renderXrayBytes(readFileSync(`${d}/${f}.dcm`), 'application/dicom', { type: 'image/png', quality: undefined }, { maxPixels: 1e8 });
  const { data, info: i2 } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) => [...data.subarray((y * i2.width + x) * i2.channels, (y * i2.width + x) * i2.channels + 3)];
  console.log(f, i2.width, i2.height, i2.channels, 'left', px(5, 20), 'right', px(58, 20));
}

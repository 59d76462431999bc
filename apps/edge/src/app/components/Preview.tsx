import { useEffect, useRef, useState } from 'react';
import type { ContentType } from '@xray/shared';
import { dicomThumbnail } from '../../capture/dicom-preview.ts';

const MAX_SIDE = 320;

/**
 * A thumbnail of the file about to be captured: PNG and JPEG decoded by the browser, DICOM
 * from its uncompressed pixel data. Drawn on a canvas (no object URLs, no data: images).
 * `onSettled` is told once it is drawn (or cannot be): the screen's next work waits for it.
 */
export function Preview({
  file,
  contentType,
  name,
  onSettled,
}: {
  file: Blob;
  contentType: ContentType;
  name: string;
  onSettled?(): void;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [note, setNote] = useState<string>('Preparing preview…');
  const settled = useRef(onSettled);
  settled.current = onSettled;
  useEffect(() => {
    let cancelled = false;
    const draw = async (): Promise<void> => {
      const target = canvas.current;
      const ctx = target?.getContext('2d');
      if (!target || !ctx) return;
      if (contentType === 'application/dicom') {
        const preview = await dicomThumbnail(file, MAX_SIDE);
        if (cancelled) return;
        if (!preview.ok) {
          setNote(preview.reason);
          target.width = 0;
          return;
        }
        const { width, height, rgba } = preview.thumbnail;
        target.width = width;
        target.height = height;
        ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
      } else {
        const bitmap = await createImageBitmap(file);
        if (cancelled) {
          bitmap.close();
          return;
        }
        const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        target.width = Math.max(1, Math.round(bitmap.width * scale));
        target.height = Math.max(1, Math.round(bitmap.height * scale));
        ctx.drawImage(bitmap, 0, 0, target.width, target.height);
        bitmap.close();
      }
      setNote('');
    };
    draw()
      .catch(() => !cancelled && setNote('This image cannot be shown.'))
      .finally(() => !cancelled && settled.current?.());
    return () => {
      cancelled = true;
    };
  }, [file, contentType]);
  return (
    <figure className="preview">
      <canvas ref={canvas} role="img" aria-label={`Preview of ${name}`} data-testid="preview" width={0} height={0} />
      {note && <figcaption>{note}</figcaption>}
    </figure>
  );
}

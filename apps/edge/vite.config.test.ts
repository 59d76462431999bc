import { describe, expect, it } from 'vitest';
import viteConfig from './vite.config.ts';

describe('edge app build', () => {
  it.each(['production', 'e2e'])('ships no source maps (%s build)', (mode) => {
    expect(viteConfig({ command: 'build', mode }).build?.sourcemap).toBe(false);
  });
});

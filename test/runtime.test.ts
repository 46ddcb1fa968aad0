import { describe, expect, it } from 'vitest';

describe('runtime', () => {
  it('runs on Node 24 or newer (node-seal 7 needs WASM exception handling and GC)', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(24);
  });
  it('loads node-seal', async () => {
    const { default: SEAL } = await import('node-seal');
    const seal = await SEAL();
    expect(typeof seal.EncryptionParameters).toBe('function');
  });
});

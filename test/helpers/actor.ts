import type { Actor } from '../../src/domain/audit.js';

/** Who tests act as when they call domain functions directly. */
export const testActor: Actor = { type: 'system', id: 'test', ip: null };

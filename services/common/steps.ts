/**
 * Heavy synchronous protocol work (the CKKS ceremony's Shamir shares, secure aggregation's key
 * rounds at large n) is written in crypto/ as step generators; a service runs them here, giving
 * its event loop a turn (setImmediate) whenever a slice has run for `sliceMs`, so gRPC keepalive
 * pings, other sessions and round deadlines are served while the work proceeds. The total CPU
 * time is unchanged; only the longest pause of the loop is bounded (by sliceMs plus one step).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest run of steps between two turns of the event loop. */
export const SLICE_MS = 20;

export async function runSteps<T>(steps: Generator<void, T, void>, sliceMs: number = SLICE_MS): Promise<T> {
  let since = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - since >= sliceMs) {
      await nextTurn();
      since = performance.now();
    }
  }
}

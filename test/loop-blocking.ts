/**
 * Test helper (not a test file): how long this thread's event loop is blocked while some work
 * runs, measured in this thread's CPU time rather than in wall-clock time.
 *
 * A 1 ms interval timer ticks on the event loop; at every tick it reads the thread's CPU clock
 * (process.threadCpuUsage). The CPU time this thread spent between two consecutive ticks is code
 * that ran without giving the loop a turn (one callback, or the callbacks of one loop iteration):
 * a step that blocks the loop for 300 ms of computation reads as ~300 ms here. A loaded machine's
 * scheduler, which only delays the thread (the wall-clock pause grows, its CPU time does not),
 * does not move it: unlike perf_hooks.monitorEventLoopDelay's wall-clock maximum, this measure
 * does not fail a test because six processes share two cores. The wall-clock maximum is reported
 * beside it, for the failure message only.
 */
import { performance } from 'node:perf_hooks';

export interface LoopBlocking<T> {
  value: T;
  /** The most CPU time (ms) this thread spent between two consecutive turns of its event loop. */
  blockedCpuMs: number;
  /** The longest wall-clock gap (ms) between two ticks (scheduler delays included; diagnostics only). */
  longestGapMs: number;
  /** This thread's CPU time (ms) over the whole of `work`. */
  totalCpuMs: number;
  /** Ticks seen: a loop that turned. */
  ticks: number;
}

const cpuMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs `work` while measuring the longest CPU-time stretch between two turns of the event loop. */
export async function measureLoopBlocking<T>(work: () => Promise<T>): Promise<LoopBlocking<T>> {
  const cpu0 = cpuMs();
  let lastCpu = cpu0;
  let lastWall = performance.now();
  let blockedCpuMs = 0;
  let longestGapMs = 0;
  let ticks = 0;
  const tick = (): void => {
    const c = cpuMs();
    const w = performance.now();
    blockedCpuMs = Math.max(blockedCpuMs, c - lastCpu);
    longestGapMs = Math.max(longestGapMs, w - lastWall);
    lastCpu = c;
    lastWall = w;
    ticks++;
  };
  const timer = setInterval(tick, 1);
  try {
    const value = await work();
    tick(); // the stretch from the last tick to the work's end counts too
    return { value, blockedCpuMs, longestGapMs, totalCpuMs: cpuMs() - cpu0, ticks };
  } finally {
    clearInterval(timer);
  }
}

/** One line for an assertion's message. */
export function describeBlocking(runs: LoopBlocking<unknown>[]): string {
  return runs.map((r) => `${r.blockedCpuMs.toFixed(0)} ms CPU without a turn of the loop (longest wall-clock gap ${r.longestGapMs.toFixed(0)} ms, ${r.ticks} ticks, ${r.totalCpuMs.toFixed(0)} ms CPU in all)`).join('; ');
}

/**
 * The route deadline watchdog. Python runs on the routing thread and only stops when something
 * writes SIGINT into Pyodide's interrupt buffer (a SharedArrayBuffer) — which that thread cannot
 * do while it is busy in Python. A small worker_threads Worker does it:
 *
 *  - the routing thread arms it with an absolute deadline before entering Python and disarms it
 *    after (two Atomics stores; a notify only wakes the worker when it was idle);
 *  - the worker sleeps until the deadline (Atomics.wait with a timeout), and if the same run is
 *    still armed then, writes 2 (SIGINT) into the interrupt buffer, then again every 20 ms while
 *    that run stays over time.
 *
 * Times are absolute milliseconds (performance.timeOrigin + performance.now(), the same clock on
 * both threads).
 */
import { Worker } from 'node:worker_threads';

/** Control words (Int32Array indexes). */
const SEQ = 0; // bumped on every arm/disarm
const ARMED = 1; // 1 while a run is armed
const FIRED = 2; // number of interrupts written (diagnostics)
const STOP = 3; // 1: the worker exits

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.ctl);
const deadline = new Float64Array(workerData.deadline);
const intr = new Int32Array(workerData.intr);
const now = () => performance.timeOrigin + performance.now();
for (;;) {
  if (Atomics.load(ctl, ${STOP}) === 1) break;
  if (Atomics.load(ctl, ${ARMED}) === 0) {
    Atomics.wait(ctl, ${ARMED}, 0, 60000);
    continue;
  }
  const seq = Atomics.load(ctl, ${SEQ});
  const left = deadline[0] - now();
  if (left > 0) {
    Atomics.wait(ctl, ${SEQ}, seq, Math.min(left, 60000));
    continue;
  }
  if (Atomics.load(ctl, ${SEQ}) === seq && Atomics.load(ctl, ${ARMED}) === 1) {
    Atomics.store(intr, 0, 2);
    Atomics.add(ctl, ${FIRED}, 1);
  }
  Atomics.wait(ctl, ${SEQ}, seq, 20);
}
`;

export function absoluteNow(): number {
  return performance.timeOrigin + performance.now();
}

export class Watchdog {
  private readonly ctl: Int32Array;
  private readonly deadline: Float64Array;
  private readonly worker: Worker;
  private stopped = false;

  constructor(
    /** Pyodide's interrupt buffer (Int32Array over a SharedArrayBuffer). */
    readonly interrupt: Int32Array,
  ) {
    const ctlBuf = new SharedArrayBuffer(4 * 4);
    const dlBuf = new SharedArrayBuffer(8);
    this.ctl = new Int32Array(ctlBuf);
    this.deadline = new Float64Array(dlBuf);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctl: ctlBuf, deadline: dlBuf, intr: interrupt.buffer },
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
      stdout: true,
      stderr: true,
    });
    this.worker.unref();
    this.worker.on('error', () => {
      // a watchdog that died cannot stop scripts any more; nothing else to do here
    });
  }

  /** Arm for a run that must end by `deadline` (absolute ms). */
  arm(deadline: number): void {
    this.deadline[0] = deadline;
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.store(this.ctl, ARMED, 1);
    Atomics.notify(this.ctl, ARMED);
  }

  /** No run is armed any more; a stray interrupt is cleared. */
  disarm(): void {
    Atomics.store(this.ctl, ARMED, 0);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.store(this.interrupt, 0, 0);
  }

  /** Interrupts written so far. */
  get fired(): number {
    return Atomics.load(this.ctl, FIRED);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.store(this.ctl, ARMED, 1);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, ARMED);
    Atomics.notify(this.ctl, SEQ);
    void this.worker.terminate();
  }
}

/**
 * One-shot timers for the transaction layer. Production code uses
 * `realScheduler` (setTimeout, unref'd); tests use `FakeScheduler` and move
 * time by hand with `advance(ms)`.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface TimerScheduler {
  /** Milliseconds (epoch for the real scheduler, virtual for the fake one). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds (ms < 0 is treated as 0). */
  after(ms: number, fn: () => void): TimerHandle;
}

export const realScheduler: TimerScheduler = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Deterministic scheduler for tests: time only moves in `advance()`, which
 * fires due timers in (time, creation) order; a timer created by a firing
 * timer runs in the same `advance()` when it falls due inside the window.
 */
export class FakeScheduler implements TimerScheduler {
  private time: number;
  private seq = 0;
  private heap: Entry[] = [];
  private live = 0;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pending(): number {
    return this.live;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const e: Entry = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.push(e);
    this.live++;
    return {
      cancel: () => {
        if (e.live) {
          e.live = false;
          this.live--;
        }
      },
    };
  }

  /** Move time forward by `ms`, firing every timer due up to the new time. */
  advance(ms: number): void {
    const target = this.time + Math.max(0, ms);
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > target) break;
      this.pop();
      if (!top.live) continue;
      top.live = false;
      this.live--;
      this.time = top.at;
      top.fn();
    }
    this.time = target;
  }

  /** Fire timers until none is left (bounded by `maxMs` of virtual time). */
  runAll(maxMs = 24 * 3600_000): void {
    const limit = this.time + maxMs;
    while (this.live > 0) {
      const top = this.heap[0];
      if (!top || top.at > limit) break;
      this.advance(top.at - this.time);
    }
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

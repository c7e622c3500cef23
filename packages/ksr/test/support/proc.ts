import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const ksrBin = resolve(repoRoot, 'packages/ksr/bin/ksr.mjs');

/** A port range of our own per test process, so parallel runs on one machine do not collide. */
export function basePort(offset = 0): number {
  return 20000 + ((process.pid * 7) % 20000) + offset;
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export function startProc(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString('utf8');
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((res) => child.on('exit', (code, sig) => res(code ?? sig ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitFor(re, timeoutMs = 20_000) {
      return new Promise<void>((res, rej) => {
        const check = (): void => {
          if (re.test(out)) {
            cleanup();
            res();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          rej(new Error(`timed out waiting for ${re} in output:\n${out}`));
        }, timeoutMs);
        const onExit = (): void => {
          cleanup();
          if (re.test(out)) res();
          else rej(new Error(`process exited while waiting for ${re}; output:\n${out}`));
        };
        function cleanup(): void {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
          child.off('exit', onExit);
        }
        waiters.push(check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}

export function startKsr(args: string[]): Proc {
  return startProc(process.execPath, [ksrBin, ...args], { env: { ...process.env, NO_COLOR: '1' } });
}

/** Run a command to completion (bounded by timeoutMs, then SIGKILL). */
export async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | string; output: string }> {
  const p = startProc(cmd, args);
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}

export function sippArgs(scenario: string, target: string, localPort: number, extra: string[] = []): string[] {
  return [
    '-sf', resolve(repoRoot, 'packages/ksr/test/sipp', scenario),
    target,
    '-i', '127.0.0.1',
    '-p', String(localPort),
    '-timeout', '20s',
    '-timeout_error',
    '-nostdin',
    '-trace_err',
    '-error_file', '/dev/stderr',
    ...extra,
  ];
}

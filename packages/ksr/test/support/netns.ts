import { spawnSync } from 'node:child_process';

/**
 * Tests that feed the server foreign or hostile messages run it inside a network namespace that
 * has only a loopback interface (`unshare -n`, then `ip link set lo up`), so nothing it sends can
 * leave the machine. This needs root (or user namespaces); CI runs as root.
 */
export function netnsAvailable(): boolean {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && ip -o link show | wc -l'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && r.stdout.trim() === '1';
}

/** argv that runs `command` inside a fresh loopback-only network namespace. */
export function inNetns(command: string[]): { cmd: string; args: string[] } {
  const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return { cmd: 'unshare', args: ['-n', 'sh', '-c', `ip link set lo up && exec ${quoted}`] };
}

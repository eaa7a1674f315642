/**
 * Who a process is, robustly enough to say it is gone: a pid alone is not (containers reuse pids and
 * host names, and a pid is reused once its process ends). A process is its boot, its pid namespace,
 * its pid and its start time (Linux /proc). Another process can say "gone" only when it shares the boot
 * and the pid namespace and that pid is absent or started at another time; everywhere else it cannot
 * tell, and says so.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcessIdentity { boot: string; pidNamespace: string; pid: number; start: string }

/** This process, or undefined where /proc does not tell (not Linux). */
export function selfIdentity(): ProcessIdentity | undefined {
  const boot = bootId();
  const pidNamespace = pidNamespaceOf('self');
  const start = startTime(process.pid);
  return boot && pidNamespace && start ? { boot, pidNamespace, pid: process.pid, start } : undefined;
}

/** True only when `p` certainly no longer runs: same boot and pid namespace, and its pid is free or reused. */
export function processGone(p: ProcessIdentity | undefined): boolean {
  if (!p || p.boot !== bootId() || p.pidNamespace !== pidNamespaceOf('self')) return false;
  return startTime(p.pid) !== p.start;
}

function bootId(): string | undefined {
  return readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
}

function pidNamespaceOf(pid: 'self' | number): string | undefined {
  return readOr(() => readlinkSync(`/proc/${pid}/ns/pid`));
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); the name before it may hold spaces. */
function startTime(pid: number): string | undefined {
  return readOr(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  });
}

function readOr(read: () => string | undefined): string | undefined {
  try {
    return read() || undefined;
  } catch {
    return undefined;
  }
}

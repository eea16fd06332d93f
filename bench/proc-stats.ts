// What Linux's /proc says of a process: resident memory, CPU time, descriptor limit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = clockTicks();

/** Resident set size of a process in KB (VmRSS in /proc/<pid>/status). */
export function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** User plus system CPU time of a process in ms, from /proc/<pid>/stat (fields 14 and 15). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time (as cpuMs) of a process and its live children: a launcher and its workers. */
export function treeCpuMs(pid: number): number {
  let children: number[] = [];
  try {
    const listed = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    children = listed === '' ? [] : listed.split(' ').map(Number);
  } catch {
    // A kernel without the children file: the process alone.
  }
  let total = cpuMs(pid);
  for (const child of children) {
    try {
      total += cpuMs(child);
    } catch {
      // The child exited meanwhile.
    }
  }
  return total;
}

/** The soft limit on open descriptors of a process, from /proc/<pid>/limits. */
export function openFilesLimit(pid: number): number {
  const match = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]);
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

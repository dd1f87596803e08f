import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports CPU time in clock ticks; every distribution we run on uses 100 a second. */
const TICKS_PER_SECOND = 100;

function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields count from after it.
    return [text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), ...text.slice(text.lastIndexOf(')') + 2).split(' ')];
  } catch {
    return undefined;
  }
}

/** User plus system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  const fields = stat(pid);
  // After the name: state(1) ppid(2) ... utime(12) stime(13).
  return fields ? (Number(fields[12]) + Number(fields[13])) / TICKS_PER_SECOND : 0;
}

/** Resident memory in MB (VmRSS; 1 MB = 1,000,000 bytes), or 0 once the process is gone. */
export function rssMB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? (Number(match[1]) * 1024) / 1e6 : 0;
  } catch {
    return 0;
  }
}

function allProcesses(): { pid: number; name: string; ppid: number }[] {
  const found: { pid: number; name: string; ppid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(Number(entry));
    if (fields) found.push({ pid: Number(entry), name: fields[0] ?? '', ppid: Number(fields[2]) });
  }
  return found;
}

/** A process and its descendants (a `serve --workers N` primary and its workers). */
export function processTree(root: number): number[] {
  const all = allProcesses();
  const tree = [root];
  for (let index = 0; index < tree.length; index += 1) {
    for (const child of all) if (child.ppid === tree[index]) tree.push(child.pid);
  }
  return tree;
}

/** CPU seconds of every PostgreSQL server process on this machine (the postmaster and its backends). */
export function postgresCpuSeconds(): number {
  return allProcesses()
    .filter((process) => process.name === 'postgres' || process.name.startsWith('postgres:'))
    .reduce((sum, process) => sum + cpuSeconds(process.pid), 0);
}

export const treeCpuSeconds = (root: number) => processTree(root).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
export const treeRssMB = (root: number) => processTree(root).reduce((sum, pid) => sum + rssMB(pid), 0);

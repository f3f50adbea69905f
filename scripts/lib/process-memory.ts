import { readFileSync } from 'node:fs';

/** Resident memory of a process tree, in MB, now and at its peak. */
export interface Memory {
  rssMb: number;
  peakMb: number;
}

/** A process and its children (the workers, when the server runs several), from /proc. */
export function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return [pid, ...(children === '' ? [] : children.split(/\s+/).map(Number).flatMap(processTree))];
}

/** The resident memory and peak so far of a process and its children, summed, from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  let rssMb = 0;
  let peakMb = 0;
  for (const member of processTree(pid)) {
    const status = readFileSync(`/proc/${member}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    rssMb += kb('VmRSS') / 1024;
    peakMb += kb('VmHWM') / 1024;
  }
  return { rssMb, peakMb };
}

/** CPU time a process and its children have used so far, in seconds, from /proc/<pid>/schedstat. */
export function cpuSecondsOf(pid: number): number {
  return processTree(pid).reduce(
    (total, member) => total + Number(readFileSync(`/proc/${member}/schedstat`, 'utf8').split(' ')[0]) / 1e9,
    0,
  );
}

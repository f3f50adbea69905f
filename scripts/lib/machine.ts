import os from 'node:os';

/** The load average over 1, 5 and 15 minutes, as printed beside figures measured on a shared machine. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

/** One line naming the machine a measure ran on: processor, cores, memory, load and Node's version. */
export function describeMachine(): string {
  const cpus = os.cpus();
  return (
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB ` +
    `RAM, load average ${loadAverage()} (1, 5, 15 min); node ${process.version} on ${os.platform()} ${os.release()}`
  );
}

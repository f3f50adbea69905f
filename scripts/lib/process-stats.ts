import { readFileSync } from 'node:fs';

/**
 * Connections waiting in the kernel's accept queue of a listening socket (the rx_queue of its LISTEN line in
 * /proc/net/tcp): connections the client sees as open but the server has not yet accepted.
 */
export function acceptQueueOf(port: number): number {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(suffix) && fields[3] === '0A') return parseInt(fields[4]?.split(':')[1] ?? '0', 16);
  }
  return 0;
}

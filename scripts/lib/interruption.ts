/** Thrown at the next step of a run after Ctrl-C (or SIGTERM/SIGHUP). */
export class Interrupted extends Error {}

/**
 * On Ctrl-C, SIGTERM or SIGHUP: says what is being undone, runs `cleanup`, and exits 130. The returned object tells
 * the run it was interrupted, so that it stops at its next step without reporting anything more.
 */
export function onInterrupt(message: string, cleanup: () => Promise<void>) {
  const state = { interrupted: false };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      state.interrupted = true;
      console.error(`\n${signal} received: ${message}…`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return {
    get interrupted() {
      return state.interrupted;
    },
    stopIfInterrupted() {
      if (state.interrupted) throw new Interrupted();
    },
  };
}

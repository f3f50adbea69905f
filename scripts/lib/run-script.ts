import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtCommand, PROJECT_ROOT } from './build-product.js';

/**
 * The one way the tests and the proof scripts run a command of the project (`ingest/main.ts`, `server/main.ts`,
 * `eval/main.ts`) as a person would, its output collected: a child Node process running the product's commands
 * (`ingest/`, `server/`) compiled in `dist/` as `npm start` does (`builtCommand`), and the others' TypeScript through
 * tsx.
 */

/** tsx's loader by URL, so that a command also runs from a folder outside the project (a temp project). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** How a command ended. */
export interface ScriptRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From the start of the process to its exit. */
  ms: number;
  pid: number;
  /** Whether `limitMs` passed and the process was killed for it. */
  overran: boolean;
}

export interface ScriptOptions {
  args?: readonly string[];
  /** Working folder of the command; the project root by default. */
  cwd?: string;
  /** Variables set over the current environment. */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL the process this long after its start: how a crash is simulated. */
  killAfterMs?: number;
  /** SIGKILL the process if it still runs after this long, and say so in `overran`. */
  limitMs?: number;
  /** Modules the process loads before the command (`--import`): a memory probe, for instance. */
  imports?: readonly string[];
}

/** A command started and still under watch. */
export interface RunningScript {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Both streams as they arrived. */
  output: () => string;
  /** Settles once the process has exited and its streams are closed. */
  exited: Promise<ScriptRun>;
  /**
   * Resolves with the match once the output (both streams) matches `pattern`, or once `pattern` (a function of the
   * output) returns something other than undefined; rejects when the process exits first or `timeoutMs` passes.
   */
  waitFor: <T = RegExpExecArray>(
    pattern: RegExp | ((output: string) => T | undefined),
    timeoutMs: number,
  ) => Promise<T>;
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<ScriptRun>;
}

const running = new Set<RunningScript>();

/** Starts a command of the project, `entry` being its source's path from the project root (e.g. `server/main.ts`). */
export function startScript(entry: string, options: ScriptOptions = {}): RunningScript {
  const startedAt = performance.now();
  const product = /^(ingest|server)\//.test(entry);
  const command = product ? builtCommand(entry) : path.join(PROJECT_ROOT, entry);
  const imports = [...(product ? [] : [TSX]), ...(options.imports ?? [])].flatMap((module) => ['--import', module]);
  const child = spawn(process.execPath, [...imports, command, ...(options.args ?? [])], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
    output += data.toString();
    changed();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
    output += data.toString();
    changed();
  });
  let overran = false;
  let closed = false;
  const timers = [
    options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs),
    options.limitMs === undefined
      ? undefined
      : setTimeout(() => {
          overran = true;
          child.kill('SIGKILL');
        }, options.limitMs),
  ];
  const exited = new Promise<ScriptRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      running.delete(script);
      changed();
      resolve({ code, signal, stdout, stderr, ms: performance.now() - startedAt, pid: child.pid ?? -1, overran });
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;

  const script: RunningScript = {
    child,
    pid: child.pid ?? -1,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    exited,
    waitFor: <T>(pattern: RegExp | ((text: string) => T | undefined), timeoutMs: number) =>
      new Promise<T>((resolve, reject) => {
        const test = (): T | undefined =>
          typeof pattern === 'function' ? pattern(output) : ((pattern.exec(output) ?? undefined) as T | undefined);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        const check = () => {
          const found = test();
          if (found !== undefined) finish(() => resolve(found));
          else if (closed) {
            finish(() => reject(new Error(`${entry} exited (${child.signalCode ?? child.exitCode}):\n${output}`)));
          }
        };
        const timer = setTimeout(
          () =>
            finish(() => reject(new Error(`${entry}: nothing matched ${pattern} within ${timeoutMs} ms:\n${output}`))),
          timeoutMs,
        );
        listeners.add(check);
        check();
      }),
    stop: (signal = 'SIGTERM', graceMs = 10_000) => {
      if (isRunning()) {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        void exited.finally(() => clearTimeout(timer));
        child.kill(signal);
      }
      return exited;
    },
  };
  running.add(script);
  return script;
}

/** Runs a command of the project to its end. */
export function runScript(entry: string, options: ScriptOptions = {}): Promise<ScriptRun> {
  return startScript(entry, options).exited;
}

/** Stops every command still running (with `signal`, then SIGKILL after `graceMs`): the clean-up after a run. */
export async function stopScripts(signal: NodeJS.Signals = 'SIGKILL', graceMs = 10_000): Promise<void> {
  await Promise.all([...running].map((script) => script.stop(signal, graceMs)));
}

/**
 * Load test of the real server: proves that under sustained concurrent load, GET /healthz and POST /api/answer
 * answer every request 2xx, without connection errors or timeouts, with the same answers as when idle, and
 * reports throughput, latency percentiles and the server's memory.
 *
 * It builds an index of the repository's corpus/ into a temp folder, starts `server/main.ts` as a child process
 * on 127.0.0.1 (rate limiting off, extractive answers, no network), then runs autocannon for --duration seconds
 * at --connections connections, first on /healthz, then on /api/answer with ~10 rotating questions.
 *
 * Run:  npm run bench:load                                   (60 s per route, 100 connections, a worker a core)
 *       npm run bench:load -- --workers 1                    (one server process)
 *       npm run bench:load -- --duration 5 --connections 20  (quick trial)
 * Exit: 0 when every request on both routes got a 2xx with the expected body; 1 on any non-2xx, wrong body,
 *       connection error or timeout (autocannon's: no response within 10 s); 2 on bad flags.
 * Latency percentiles are over the responses received: a request that timed out has no latency, only a count.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { integerFlag, readFlags } from '../core/command-line.js';
import { citationProblems, citedSourceTexts, type CitedAnswer } from '../core/answer/citation-contract.js';
import { onInterrupt } from './lib/interruption.js';
import { cpuSecondsOf, memoryOf, type Memory } from './lib/process-memory.js';
import autocannon from 'autocannon';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const TSX = import.meta.resolve('tsx');

const USAGE = `Usage: npm run bench:load -- [options]

Builds an index of corpus/ in a temp folder, starts the server on 127.0.0.1 and load-tests
GET /healthz, then POST /api/answer, with autocannon.

Options:
  --duration N      seconds of load per route (default 60)
  --connections N   concurrent connections (default 100)
  --workers N       server processes, WORKERS (default: one per core)
  --help            show this help`;

/** Questions sent in turn to /api/answer: about the NATO communiqué in corpus/, and two it does not answer. */
const QUESTIONS: ReadonlyArray<{ question: string; refusal: boolean }> = [
  { question: "Qui est le secrétaire général de l'OTAN ?", refusal: false },
  { question: "Où l'OTAN met-elle en place un nouveau commandement ?", refusal: false },
  { question: 'Que prévoient les ministres à propos de la flotte fantôme russe ?', refusal: false },
  { question: 'Quel est le nom du ministre ukrainien avec qui les ministres se sont entretenus ?', refusal: false },
  { question: "Qui est la nouvelle haute représentante de l'UE ?", refusal: false },
  { question: 'By what means are Russia and China trying to divide our societies?', refusal: false },
  { question: 'Who is the new EU High Representative?', refusal: false },
  { question: 'Where is NATO setting up a new command?', refusal: false },
  { question: 'Quel est le budget de défense de la France ?', refusal: true },
  { question: "Who is France's foreign minister?", refusal: true },
];

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: temp folders and child processes, on success, on failure and on Ctrl-C.

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let activeBench: autocannon.Instance | undefined;
let cleanupPromise: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    activeBench?.stop();
    await Promise.all([...children].map((child) => stopChild(child, 'SIGTERM', 12_000)));
    await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  })();
  return cleanupPromise;
}

const interruption = onInterrupt('stopping the server and removing temp folders', cleanup);
const stopIfInterrupted = () => interruption.stopIfInterrupted();

/** Whether a child is still running (it has neither exited nor been killed by a signal). */
const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Sends `signal`, then SIGKILL after `graceMs`; resolves once the child has exited. */
function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: child.exitCode, signal: child.signalCode, ms: performance.now() - startedAt });
    };
    if (!isRunning(child)) return done();
    child.once('exit', done);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill(signal);
  });
}

function spawnNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', TSX, ...args], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

// ---------------------------------------------------------------------------------------------------------------

interface Options {
  duration: number;
  connections: number;
  workers: number;
}

function parseOptions(): Options | number {
  return readFlags(
    {
      duration: { type: 'string', default: '60' },
      connections: { type: 'string', default: '100' },
      workers: { type: 'string', default: String(os.availableParallelism()) },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (values) => ({
      duration: integerFlag('duration', values.duration, 1, 3600),
      connections: integerFlag('connections', values.connections, 1, 10_000),
      workers: integerFlag('workers', values.workers, 1, 64),
    }),
  );
}

/** Environment of the ingest and the server: offline, extractive, no key, no rate limit, quiet logs. */
function childEnvironment(indexDir: string, workers = 1): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WORKERS: String(workers),
    INDEX_DIR: indexDir,
    CORPUS_DIR: 'corpus',
    HOST: '127.0.0.1',
    PORT: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
    EMBEDDER: 'lexical',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    CHAT_MODEL: '',
    API_KEYS: '',
    CORS_ORIGINS: '',
  };
}

async function buildIndex(indexDir: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; summary: string }> {
  const startedAt = performance.now();
  const child = spawnNode(['ingest/main.ts', '--corpus', path.join(PROJECT_ROOT, 'corpus'), '--out', indexDir], env);
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`ingest exited with ${code}:\n${output}`);
  const summary = output.split('\n').find((line) => line.startsWith('Indexed ')) ?? output.trim();
  return { ms: performance.now() - startedAt, summary };
}

interface Server {
  child: ChildProcess;
  url: string;
  /** Every stdout line after the "Serving" one: the server's structured logs (warn and above). */
  logLines: string[];
  stderr: () => string;
}

async function startServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawnNode(['server/main.ts'], env);
  const logLines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    let serving: string | undefined;
    const timer = setTimeout(() => reject(new Error(`the server did not start within 60 s.\n${stderr}`)), 60_000);
    child.stdout?.on('data', (data: Buffer) => {
      buffered += data.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^Serving .* at (http:\/\/127\.0\.0\.1:\d+)\/$/.exec(line);
        if (serving === undefined && match?.[1] !== undefined) {
          serving = match[1];
          clearTimeout(timer);
          resolve(serving);
        } else if (line.trim() !== '') logLines.push(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${signal ?? code}) before serving.\n${stderr}`));
    });
  });
  return { child, url, logLines, stderr: () => stderr };
}

/**
 * Connections waiting in the kernel's accept queue of the server's listening socket (the rx_queue of its LISTEN
 * line in /proc/net/tcp): connections the client sees as open but the server has not yet accepted.
 */
function acceptQueueOf(port: number): number {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(suffix) && fields[3] === '0A') return parseInt(fields[4]?.split(':')[1] ?? '0', 16);
  }
  return 0;
}

interface AnswerBody {
  answer: string;
  found: boolean;
  citations: CitedAnswer['citations'];
}

/** Checks the citation contract of an answer against the source files; returns the problems. */
async function citationProblemsOf(body: AnswerBody): Promise<string[]> {
  const texts = await citedSourceTexts(body, (source) =>
    readFile(path.resolve(PROJECT_ROOT, source), 'utf8').catch(() => undefined),
  );
  return citationProblems(body, (source) => texts.get(source));
}

interface RouteResult {
  route: string;
  result: autocannon.Result;
  /** Exact percentiles of every response's latency, in ms (autocannon's histogram has no p95). */
  p50: number;
  p95: number;
  p99: number;
  /** 2xx responses whose body differed from the idle answer (or was not the expected health body). */
  wrongBodies: number;
  statusCodes: string;
  /** CPU seconds the server used during the run, and the shares of one core it and this process (autocannon) used. */
  serverCpuSeconds: number;
  serverCpu: number;
  loaderCpu: number;
  loadAverage: string;
  errorTimes: number[];
  slowTimes: number[];
  /** Most connections seen waiting in the accept queue, and for how many seconds any were waiting. */
  acceptQueueMax: number;
  acceptQueueSeconds: number;
}

function percentile(sorted: Float64Array, share: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? NaN;
}

async function bench(
  route: string,
  server: { pid: number; port: number },
  options: autocannon.Options,
  wrongBodies: () => number,
): Promise<RouteResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const startedAt = performance.now();
  /** When (seconds into the run) each error happened, and each response over 1 s was sent. */
  const errorTimes: number[] = [];
  const slowTimes: number[] = [];
  const serverCpuBefore = cpuSecondsOf(server.pid);
  // The accept queue, sampled every 100 ms: how many connections waited to be accepted, and for how long.
  let acceptQueueMax = 0;
  let acceptQueueSamples = 0;
  const sampler = setInterval(() => {
    const waiting = acceptQueueOf(server.port);
    acceptQueueMax = Math.max(acceptQueueMax, waiting);
    if (waiting > 0) acceptQueueSamples += 1;
  }, 100);
  const loaderCpuBefore = process.cpuUsage();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, finished: autocannon.Result) =>
      error ? reject(error) : resolve(finished),
    );
    activeBench = instance;
    instance.on('reqError', () => errorTimes.push((performance.now() - startedAt) / 1000));
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (responseTime > 1000) slowTimes.push((performance.now() - startedAt - responseTime) / 1000);
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTime;
    });
  }).finally(() => {
    activeBench = undefined;
    clearInterval(sampler);
  });
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  const loaderCpu = process.cpuUsage(loaderCpuBefore);
  const serverCpuSeconds = cpuSecondsOf(server.pid) - serverCpuBefore;
  const sorted = latencies.subarray(0, count).sort();
  const statusCodes = Object.entries(result.statusCodeStats ?? {})
    .map(([code, stat]) => `${code}×${stat.count ?? 0}`)
    .join(' ');
  return {
    route,
    result,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    wrongBodies: wrongBodies(),
    statusCodes,
    serverCpuSeconds,
    serverCpu: serverCpuSeconds / elapsedSeconds,
    loaderCpu: (loaderCpu.user + loaderCpu.system) / 1e6 / elapsedSeconds,
    loadAverage: loadAverage(),
    errorTimes,
    slowTimes,
    acceptQueueMax,
    acceptQueueSeconds: acceptQueueSamples / 10,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

const loadAverage = () =>
  os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
/** How many events, and when in the run (seconds from its start), as a compact histogram by second. */
function when(times: number[], verb: string): string {
  if (times.length === 0) return 'none';
  const bySecond = new Map<number, number>();
  for (const time of times) bySecond.set(Math.floor(time), (bySecond.get(Math.floor(time)) ?? 0) + 1);
  const seconds = [...bySecond].map(([second, count]) => `${count}@${second}s`);
  const shown = seconds.length > 8 ? [...seconds.slice(0, 8), `…(${seconds.length - 8} more seconds)`] : seconds;
  return `${times.length}, ${verb} ${shown.join(' ')}`;
}

const mb = (value: number) => `${value.toFixed(1)} MB`;
const ms = (value: number) => value.toFixed(1);

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const { duration, connections, workers } = options;
  const cpus = os.cpus();
  console.log('# Load test of cited-answers (scripts/load-test.ts)');
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `load average ${loadAverage()} (1, 5, 15 min)`,
  );
  console.log(
    `node ${process.version} on ${os.platform()} ${os.release()}; autocannon in this process, server in a child`,
  );
  console.log(
    `plan: ${duration} s per route at ${connections} connections, server with ${workers} worker(s); ` +
      'GET /healthz, then POST /api/answer\n',
  );

  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-load-'));
  tempDirs.add(tempDir);
  const indexDir = path.join(tempDir, 'index');
  const env = childEnvironment(indexDir, workers);

  const built = await buildIndex(indexDir, env);
  console.log(`index: ${built.summary} (whole command ${Math.round(built.ms)} ms)`);
  const server = await startServer(env);
  const pid = server.child.pid ?? -1;
  const port = Number(new URL(server.url).port);
  console.log(
    `server: pid ${pid} at ${server.url} (WORKERS=${workers}, RATE_LIMIT_PER_MINUTE=0, LOG_LEVEL=warn, extractive)`,
  );

  const healthResponse = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(30_000) });
  const healthBody = await healthResponse.text();
  console.log(`healthz: ${healthResponse.status} ${healthBody}`);
  if (healthResponse.status !== 200) throw new Error('GET /healthz is not 200 before the load');

  // Each question once while idle: its answer is what every answer under load must equal.
  console.log('\nidle answers (the reference for the answers under load):');
  const idleAnswers: string[] = [];
  let precheckFailures = 0;
  for (const { question, refusal } of QUESTIONS) {
    const startedAt = performance.now();
    const response = await fetch(`${server.url}/api/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question }),
      signal: AbortSignal.timeout(30_000),
    });
    const elapsed = performance.now() - startedAt;
    const body = (await response.json()) as AnswerBody;
    const problems = response.status === 200 ? await citationProblemsOf(body) : [`status ${response.status}`];
    const surprise = body.found === refusal ? (refusal ? ' (expected a refusal)' : ' (expected an answer)') : '';
    if (problems.length > 0) precheckFailures += 1;
    idleAnswers.push(body.answer);
    const citations = `${body.citations?.length ?? 0} cit.`;
    const checked = problems.length > 0 ? ` [${problems.join('; ')}]` : '';
    console.log(
      `  ${response.status} ${body.found ? 'found  ' : 'refused'} ${citations} ${ms(elapsed).padStart(6)} ms  ` +
        `${question}${surprise}${checked}`,
    );
  }
  if (precheckFailures > 0) throw new Error(`${precheckFailures} idle answer(s) failed; not load-testing`);

  const memory: Array<[string, Memory]> = [['before the first run', memoryOf(pid)]];

  console.log(`\nGET /healthz for ${duration} s at ${connections} connections…`);
  let healthWrong = 0;
  const health = await bench(
    'GET /healthz',
    { pid, port },
    {
      url: `${server.url}/healthz`,
      connections,
      duration,
      verifyBody: (body) => {
        if (body === healthBody) return true;
        healthWrong += 1;
        return false;
      },
    },
    () => healthWrong,
  );
  stopIfInterrupted();
  memory.push(['between the runs', memoryOf(pid)]);

  console.log(
    `POST /api/answer for ${duration} s at ${connections} connections, ${QUESTIONS.length} questions in turn…`,
  );
  let answerWrong = 0;
  const wrongExamples: string[] = [];
  const perQuestion = QUESTIONS.map(() => 0);
  // One request whose body rotates through the questions across all connections; the context remembers which
  // question a connection's request asked, for its response.
  const bodies = QUESTIONS.map(({ question }) => JSON.stringify({ question }));
  let sent = 0;
  const answer = await bench(
    'POST /api/answer',
    { pid, port },
    {
      url: server.url,
      connections,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/api/answer',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request, context) => {
            const index = sent++ % bodies.length;
            (context as { question?: number }).question = index;
            return { ...request, body: bodies[index] };
          },
          onResponse: (status, body, context) => {
            if (status < 200 || status >= 300) return; // counted as non-2xx by autocannon
            const index = (context as { question?: number }).question ?? 0;
            perQuestion[index] = (perQuestion[index] ?? 0) + 1;
            let text: string | undefined;
            try {
              text = (JSON.parse(body) as AnswerBody).answer;
            } catch {
              text = undefined;
            }
            if (text !== idleAnswers[index]) {
              answerWrong += 1;
              if (wrongExamples.length < 3) wrongExamples.push(`${QUESTIONS[index]?.question} → ${body.slice(0, 200)}`);
            }
          },
        },
      ],
    },
    () => answerWrong,
  );
  stopIfInterrupted();
  memory.push(['after the runs', memoryOf(pid)]);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  stopIfInterrupted();
  memory.push(['after 5 s idle', memoryOf(pid)]);

  // ---- report
  const rows = [
    [
      'route',
      'requests',
      'req/s avg',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
      'non-2xx',
      'errors',
      'timeouts',
      'wrong body',
    ],
    ...[health, answer].map(({ route, result, p50, p95, p99, wrongBodies }) => [
      route,
      String(result.requests.total),
      result.requests.average.toFixed(1),
      ms(p50),
      ms(p95),
      ms(p99),
      ms(result.latency.max),
      String(result.non2xx),
      String(result.errors),
      String(result.timeouts),
      String(wrongBodies),
    ]),
  ];
  console.log(`\n${table(rows)}`);
  console.log('  (percentiles: exact, over every response received; errors include timeouts)');
  for (const {
    route,
    statusCodes,
    result,
    serverCpuSeconds,
    serverCpu,
    loaderCpu,
    loadAverage: load,
    errorTimes,
    slowTimes,
    acceptQueueMax,
    acceptQueueSeconds,
  } of [health, answer]) {
    const cpuPerRequest = (serverCpuSeconds * 1e3) / Math.max(1, result.requests.total);
    console.log(
      `  ${route}: server CPU ${(serverCpu * 100).toFixed(0)}% of a core (${cpuPerRequest.toFixed(2)} ms per request), ` +
        `autocannon CPU ${(loaderCpu * 100).toFixed(0)}%, load average after ${load}`,
    );
    console.log(
      `    status codes ${statusCodes || 'none'}; ${result.requests.sent} sent; ` +
        `${(result.throughput.average / 1024).toFixed(0)} KiB/s; autocannon histogram p50 ${result.latency.p50} / ` +
        `p97.5 ${result.latency.p97_5} / p99 ${result.latency.p99} ms; ran ${result.duration.toFixed(1)} s`,
    );
    console.log(`    responses over 1 s: ${when(slowTimes, 'sent')}; errors: ${when(errorTimes, 'at')}`);
    console.log(
      `    accept queue: up to ${acceptQueueMax} connection(s) waiting to be accepted by the server; ` +
        `non-empty for ${acceptQueueSeconds.toFixed(1)} s`,
    );
  }
  console.log(`  answers per question: ${perQuestion.join(' ')}`);
  for (const example of wrongExamples) console.log(`  wrong answer: ${example}`);

  console.log('\nserver memory (VmRSS / peak VmHWM):');
  for (const [moment, { rssMb, peakMb }] of memory) {
    console.log(`  ${moment.padEnd(21)} ${mb(rssMb)} / ${mb(peakMb)}`);
  }

  const ratio = health.result.requests.average / answer.result.requests.average;
  console.log(`\nhealthz req/s ÷ answer req/s = ${ratio.toFixed(1)}`);

  const stopped = await stopChild(server.child, 'SIGTERM', 15_000);
  const levels = new Map<string, number>();
  for (const line of server.logLines) {
    let level = 'text';
    try {
      level = String((JSON.parse(line) as { level?: unknown }).level ?? 'text');
    } catch {
      // not a JSON log line
    }
    levels.set(level, (levels.get(level) ?? 0) + 1);
  }
  const logSummary = [...levels].map(([level, count]) => `${count} at level ${level}`).join(', ') || 'none';
  console.log(
    `server stop on SIGTERM: ${stopped.signal ?? `exit code ${stopped.code}`} after ${Math.round(stopped.ms)} ms; ` +
      `log lines at warn and above: ${logSummary}; stderr: ${server.stderr().trim() === '' ? 'empty' : 'see below'}`,
  );
  for (const line of server.logLines.slice(0, 5)) console.log(`  log: ${line.slice(0, 300)}`);
  if (server.stderr().trim() !== '') console.log(server.stderr().trim().split('\n').slice(0, 10).join('\n'));

  const failures = [health, answer].flatMap(({ route, result, wrongBodies }) => {
    const problems = [
      result.non2xx > 0 ? `${result.non2xx} non-2xx` : '',
      result.errors > 0 ? `${result.errors} errors` : '',
      result.timeouts > 0 ? `${result.timeouts} timeouts` : '',
      wrongBodies > 0 ? `${wrongBodies} wrong bodies` : '',
      result.requests.total === 0 ? 'no response at all' : '',
    ].filter((problem) => problem !== '');
    return problems.length === 0 ? [] : [`${route}: ${problems.join(', ')}`];
  });
  const figures =
    `healthz ${health.result.requests.average.toFixed(0)} req/s (p99 ${ms(health.p99)} ms), ` +
    `answer ${answer.result.requests.average.toFixed(0)} req/s (p99 ${ms(answer.p99)} ms), ` +
    `RSS ${mb(memory[0]?.[1].rssMb ?? NaN)} → ${mb(memory[2]?.[1].rssMb ?? NaN)}`;
  if (failures.length > 0) {
    console.log(`\nFAIL: ${failures.join('; ')} — ${figures}`);
    return 1;
  }
  console.log(
    `\nPASS: ${health.result.requests.total + answer.result.requests.total} requests at ${connections} connections, ` +
      `all 2xx with the expected body, no error or timeout — ${figures}`,
  );
  return 0;
}

main()
  .catch((error: unknown) => {
    if (interruption.interrupted) return 130;
    console.error(`load test failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  });

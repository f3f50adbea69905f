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
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { citationProblems, citedSourceTexts, type CitedAnswer } from '../core/answer/citation-contract.js';
import { integerFlag, readFlags } from '../core/command-line.js';
import { renderTable } from '../eval/report.js';
import { percentile } from '../eval/summarize.js';
import { onInterrupt } from './lib/interruption.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { offlineEnvironment } from './lib/offline-environment.js';
import { cpuSecondsOf, type Memory, memoryOf } from './lib/process-memory.js';
import { acceptQueueOf } from './lib/process-stats.js';
import { type RunningScript, runScript, startScript, stopScripts } from './lib/run-script.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

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

// ---- clean-up: the server and the temp folder, on success, on failure and on Ctrl-C

const tempDirs = new Set<string>();
let activeBench: autocannon.Instance | undefined;
let cleanupPromise: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    activeBench?.stop();
    await stopScripts('SIGTERM', 12_000);
    await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  })();
  return cleanupPromise;
}

const interruption = onInterrupt('stopping the server and removing temp folders', cleanup);

// ---- the steps

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

/** Environment of the ingest and the server: offline and extractive (see `offlineEnvironment`), over corpus/. */
function childEnvironment(indexDir: string, workers: number): NodeJS.ProcessEnv {
  return offlineEnvironment({ WORKERS: String(workers), INDEX_DIR: indexDir, CORPUS_DIR: 'corpus' });
}

/** Ingests corpus/ into `indexDir` with the ingest command; prints its summary line. */
async function buildIndex(indexDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const args = ['--corpus', path.join(PROJECT_ROOT, 'corpus'), '--out', indexDir];
  const run = await runScript('ingest/main.ts', { args, env, limitMs: 120_000 });
  if (run.code !== 0) throw new Error(`ingest exited with ${run.signal ?? run.code}:\n${run.stdout}${run.stderr}`);
  const summary = run.stdout.split('\n').find((line) => line.startsWith('Indexed ')) ?? run.stdout.trim();
  console.log(`index: ${summary} (whole command ${Math.round(run.ms)} ms)`);
}

interface Server {
  script: RunningScript;
  url: string;
  port: number;
}

/** Starts the server command and waits for the line that says where it serves. */
async function startServer(env: NodeJS.ProcessEnv, workers: number): Promise<Server> {
  const script = startScript('server/main.ts', { env });
  const [, url = ''] = await script.waitFor(/^Serving .* at (http:\/\/127\.0\.0\.1:\d+)\/$/m, 60_000);
  console.log(
    `server: pid ${script.pid} at ${url} (WORKERS=${workers}, RATE_LIMIT_PER_MINUTE=0, LOG_LEVEL=warn, extractive)`,
  );
  return { script, url, port: Number(new URL(url).port) };
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

/** GET /healthz once while idle; its body is what every health response under load must equal. */
async function idleHealth(server: Server): Promise<string> {
  const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  console.log(`healthz: ${response.status} ${body}`);
  if (response.status !== 200) throw new Error('GET /healthz is not 200 before the load');
  return body;
}

/**
 * Asks each question once while idle and checks its citations; the answers are what every answer under load must
 * equal. Throws when one fails: a server that answers wrongly is not worth load-testing.
 */
async function idleAnswers(server: Server): Promise<string[]> {
  console.log('\nidle answers (the reference for the answers under load):');
  const answers: string[] = [];
  let failures = 0;
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
    if (problems.length > 0) failures += 1;
    answers.push(body.answer);
    const checked = problems.length > 0 ? ` [${problems.join('; ')}]` : '';
    console.log(
      `  ${response.status} ${body.found ? 'found  ' : 'refused'} ${body.citations?.length ?? 0} cit. ` +
        `${ms(elapsed).padStart(6)} ms  ${question}${surprise}${checked}`,
    );
  }
  if (failures > 0) throw new Error(`${failures} idle answer(s) failed; not load-testing`);
  return answers;
}

interface RouteResult {
  route: string;
  result: autocannon.Result;
  /** Exact percentiles of every response's latency, in ms (autocannon's histogram has no p95). */
  p50: number;
  p95: number;
  p99: number;
  /** 2xx responses whose body differed from the idle one. */
  wrongBodies: number;
  /** CPU seconds the server used during the run, and the shares of one core it and this process (autocannon) used. */
  serverCpuSeconds: number;
  serverCpu: number;
  loaderCpu: number;
  loadAverage: string;
  /** When (seconds into the run) each error happened, and each response over 1 s was sent. */
  errorTimes: number[];
  slowTimes: number[];
  /** Most connections seen waiting in the accept queue, and for how many seconds any were waiting. */
  acceptQueueMax: number;
  acceptQueueSeconds: number;
}

/** Runs autocannon against the server, measuring latencies, CPU and the accept queue on the way. */
async function bench(
  route: string,
  server: Server,
  options: autocannon.Options,
  wrongBodies: () => number,
): Promise<RouteResult> {
  const latencies: number[] = [];
  const startedAt = performance.now();
  const errorTimes: number[] = [];
  const slowTimes: number[] = [];
  const pid = server.script.pid;
  const serverCpuBefore = cpuSecondsOf(pid);
  const loaderCpuBefore = process.cpuUsage();
  let acceptQueueMax = 0;
  let acceptQueueSamples = 0;
  const sampler = setInterval(() => {
    const waiting = acceptQueueOf(server.port);
    acceptQueueMax = Math.max(acceptQueueMax, waiting);
    if (waiting > 0) acceptQueueSamples += 1;
  }, 100);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    activeBench = autocannon(options, (error: unknown, finished: autocannon.Result) =>
      error ? reject(error) : resolve(finished),
    );
    activeBench.on('reqError', () => errorTimes.push((performance.now() - startedAt) / 1000));
    activeBench.on('response', (_client, _status, _bytes, responseTime) => {
      if (responseTime > 1000) slowTimes.push((performance.now() - startedAt - responseTime) / 1000);
      latencies.push(responseTime);
    });
  }).finally(() => {
    activeBench = undefined;
    clearInterval(sampler);
  });
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  const loaderCpu = process.cpuUsage(loaderCpuBefore);
  const serverCpuSeconds = cpuSecondsOf(pid) - serverCpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    route,
    result,
    p50: percentile(latencies, 0.5) ?? NaN,
    p95: percentile(latencies, 0.95) ?? NaN,
    p99: percentile(latencies, 0.99) ?? NaN,
    wrongBodies: wrongBodies(),
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

/** Loads GET /healthz; every response must be the idle body. */
async function loadHealth(server: Server, { duration, connections }: Options, idleBody: string) {
  console.log(`\nGET /healthz for ${duration} s at ${connections} connections…`);
  let wrong = 0;
  const verifyBody = (body: unknown) => {
    if (body === idleBody) return true;
    wrong += 1;
    return false;
  };
  return bench(
    'GET /healthz',
    server,
    { url: `${server.url}/healthz`, connections, duration, verifyBody },
    () => wrong,
  );
}

/**
 * Loads POST /api/answer with the questions in turn across all connections; every answer must equal the idle
 * answer to its question. The request context remembers which question a connection asked, for its response.
 */
async function loadAnswers(server: Server, { duration, connections }: Options, idle: readonly string[]) {
  console.log(
    `POST /api/answer for ${duration} s at ${connections} connections, ${QUESTIONS.length} questions in turn…`,
  );
  let wrong = 0;
  const wrongExamples: string[] = [];
  const perQuestion = QUESTIONS.map(() => 0);
  const bodies = QUESTIONS.map(({ question }) => JSON.stringify({ question }));
  let sent = 0;
  const onResponse = (status: number, body: string, context: Record<string, unknown>) => {
    if (status < 200 || status >= 300) return; // counted as non-2xx by autocannon
    const index = (context['question'] as number | undefined) ?? 0;
    perQuestion[index] = (perQuestion[index] ?? 0) + 1;
    let text: string | undefined;
    try {
      text = (JSON.parse(body) as AnswerBody).answer;
    } catch {
      text = undefined;
    }
    if (text === idle[index]) return;
    wrong += 1;
    if (wrongExamples.length < 3) wrongExamples.push(`${QUESTIONS[index]?.question} → ${body.slice(0, 200)}`);
  };
  const result = await bench(
    'POST /api/answer',
    server,
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
            (context as Record<string, unknown>)['question'] = index;
            return { ...request, body: bodies[index] };
          },
          onResponse: (status, body, context) => onResponse(status, body, context as Record<string, unknown>),
        },
      ],
    },
    () => wrong,
  );
  return { result, perQuestion, wrongExamples };
}

/** The table of both routes, then what each run cost and when its slow responses and errors happened. */
function printRoutes(routes: readonly RouteResult[]): void {
  const headers = ['route', 'requests', 'req/s avg', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors'];
  const rows = routes.map(({ route, result, p50, p95, p99, wrongBodies }) => [
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
  ]);
  const table = renderTable([...headers, 'timeouts', 'wrong body'], rows, 'text');
  console.log(`\n${table}`);
  console.log('  (percentiles: exact, over every response received; errors include timeouts)');
  for (const route of routes) {
    const { result } = route;
    const cpuPerRequest = (route.serverCpuSeconds * 1e3) / Math.max(1, result.requests.total);
    const statusCodes = Object.entries(result.statusCodeStats ?? {})
      .map(([code, stat]) => `${code}×${stat.count ?? 0}`)
      .join(' ');
    console.log(
      `  ${route.route}: server CPU ${(route.serverCpu * 100).toFixed(0)}% of a core ` +
        `(${cpuPerRequest.toFixed(2)} ms per request), autocannon CPU ${(route.loaderCpu * 100).toFixed(0)}%, ` +
        `load average after ${route.loadAverage}`,
    );
    console.log(
      `    status codes ${statusCodes || 'none'}; ${result.requests.sent} sent; ` +
        `${(result.throughput.average / 1024).toFixed(0)} KiB/s; autocannon histogram p50 ${result.latency.p50} / ` +
        `p97.5 ${result.latency.p97_5} / p99 ${result.latency.p99} ms; ran ${result.duration.toFixed(1)} s`,
    );
    console.log(`    responses over 1 s: ${when(route.slowTimes, 'sent')}; errors: ${when(route.errorTimes, 'at')}`);
    console.log(
      `    accept queue: up to ${route.acceptQueueMax} connection(s) waiting to be accepted by the server; ` +
        `non-empty for ${route.acceptQueueSeconds.toFixed(1)} s`,
    );
  }
}

/** How many events, and when in the run (seconds from its start), as a compact histogram by second. */
function when(times: number[], verb: string): string {
  if (times.length === 0) return 'none';
  const bySecond = new Map<number, number>();
  for (const time of times) bySecond.set(Math.floor(time), (bySecond.get(Math.floor(time)) ?? 0) + 1);
  const seconds = [...bySecond].map(([second, count]) => `${count}@${second}s`);
  const shown = seconds.length > 8 ? [...seconds.slice(0, 8), `…(${seconds.length - 8} more seconds)`] : seconds;
  return `${times.length}, ${verb} ${shown.join(' ')}`;
}

function printMemory(memory: ReadonlyArray<[string, Memory]>): void {
  console.log('\nserver memory (VmRSS / peak VmHWM):');
  for (const [moment, { rssMb, peakMb }] of memory) console.log(`  ${moment.padEnd(21)} ${mb(rssMb)} / ${mb(peakMb)}`);
}

/** Stops the server with SIGTERM and reports how it stopped and what it logged at warn and above. */
async function stopServer(server: Server): Promise<void> {
  const stoppingAt = performance.now();
  const stopped = await server.script.stop('SIGTERM', 15_000);
  const stopMs = performance.now() - stoppingAt;
  const logLines = stopped.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Serving '));
  const levels = new Map<string, number>();
  for (const line of logLines) {
    let level = 'text';
    try {
      level = String((JSON.parse(line) as { level?: unknown }).level ?? 'text');
    } catch {
      // not a JSON log line
    }
    levels.set(level, (levels.get(level) ?? 0) + 1);
  }
  const logSummary = [...levels].map(([level, count]) => `${count} at level ${level}`).join(', ') || 'none';
  const stderr = stopped.stderr.trim();
  console.log(
    `server stop on SIGTERM: ${stopped.signal ?? `exit code ${stopped.code}`} after ${Math.round(stopMs)} ms; ` +
      `log lines at warn and above: ${logSummary}; stderr: ${stderr === '' ? 'empty' : 'see below'}`,
  );
  for (const line of logLines.slice(0, 5)) console.log(`  log: ${line.slice(0, 300)}`);
  if (stderr !== '') console.log(stderr.split('\n').slice(0, 10).join('\n'));
}

/** PASS when every request of both routes got a 2xx with the expected body; FAIL otherwise. */
function verdict(routes: readonly RouteResult[], memory: ReadonlyArray<[string, Memory]>, connections: number) {
  const [health, answer] = routes as [RouteResult, RouteResult];
  const failures = routes.flatMap(({ route, result, wrongBodies }) => {
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
  const total = health.result.requests.total + answer.result.requests.total;
  console.log(
    `\nPASS: ${total} requests at ${connections} connections, all 2xx with the expected body, ` +
      `no error or timeout — ${figures}`,
  );
  return 0;
}

const mb = (value: number) => `${value.toFixed(1)} MB`;
const ms = (value: number) => value.toFixed(1);
const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const { duration, connections, workers } = options;
  console.log('# Load test of cited-answers (scripts/load-test.ts)');
  console.log(`${describeMachine()}; autocannon in this process, server in a child`);
  console.log(
    `plan: ${duration} s per route at ${connections} connections, server with ${workers} worker(s); ` +
      'GET /healthz, then POST /api/answer\n',
  );

  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-load-'));
  tempDirs.add(tempDir);
  const env = childEnvironment(path.join(tempDir, 'index'), workers);
  await buildIndex(path.join(tempDir, 'index'), env);
  const server = await startServer(env, workers);
  const healthBody = await idleHealth(server);
  const idle = await idleAnswers(server);

  const memory: Array<[string, Memory]> = [['before the first run', memoryOf(server.script.pid)]];
  const health = await loadHealth(server, options, healthBody);
  interruption.stopIfInterrupted();
  memory.push(['between the runs', memoryOf(server.script.pid)]);
  const answers = await loadAnswers(server, options, idle);
  interruption.stopIfInterrupted();
  memory.push(['after the runs', memoryOf(server.script.pid)]);
  await pause(5_000);
  interruption.stopIfInterrupted();
  memory.push(['after 5 s idle', memoryOf(server.script.pid)]);

  const routes = [health, answers.result];
  printRoutes(routes);
  console.log(`  answers per question: ${answers.perQuestion.join(' ')}`);
  for (const example of answers.wrongExamples) console.log(`  wrong answer: ${example}`);
  printMemory(memory);
  const ratio = health.result.requests.average / answers.result.result.requests.average;
  console.log(`\nhealthz req/s ÷ answer req/s = ${ratio.toFixed(1)}`);
  await stopServer(server);
  return verdict(routes, memory, connections);
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

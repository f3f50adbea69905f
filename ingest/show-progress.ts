import cliProgress from 'cli-progress';
import { DEFAULTS } from '../core/defaults.js';
import type { IngestProgress } from './build-index.js';

/** Shows an ingest's progress as it goes; `stop` ends the display (and must be called, even after a failure). */
export interface ProgressDisplay {
  update: (progress: IngestProgress) => void;
  stop: () => void;
}

/** A stream progress is written to: a terminal, or not (CI, a log file). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Shows progress on a terminal as a bar (cli-progress): files read with their pages, then passages embedded, with
 * the rate and the time left. When the stream is not a terminal, a bar would only fill a log with control codes:
 * a plain line says the same every `lineEveryMs` instead, and a short ingest prints none.
 */
export function showProgress(
  stream: ProgressStream,
  lineEveryMs: number = DEFAULTS.ingest.progressLineMs,
): ProgressDisplay {
  return stream.isTTY === true ? new TerminalProgress(stream) : new PlainProgress(stream, lineEveryMs);
}

const FORMATS: Readonly<Record<'read' | 'embed', string>> = {
  read: 'Reading   {bar} {value}/{total} files | {pages} pages | {rate} files/s | {eta_formatted} left',
  embed: 'Embedding {bar} {value}/{total} chunks | {rate} chunks/s | {eta_formatted} left',
};

class TerminalProgress implements ProgressDisplay {
  private bar: cliProgress.SingleBar | undefined;
  private stage: IngestProgress['stage'] | undefined;
  private startedAt = 0;

  constructor(private readonly stream: ProgressStream) {}

  update = (progress: IngestProgress): void => {
    if (progress.stage !== this.stage) {
      this.bar?.stop();
      this.bar = undefined;
      this.stage = progress.stage;
      this.startedAt = performance.now();
      if (progress.stage === 'write') {
        this.stream.write('Writing the index…\n');
        return;
      }
      this.bar = new cliProgress.SingleBar(
        { stream: this.stream, format: FORMATS[progress.stage], hideCursor: true, etaBuffer: 20, fps: 5 },
        cliProgress.Presets.shades_classic,
      );
      const [value, total] = counts(progress);
      this.bar.start(total, value, payload(progress, 0));
      return;
    }
    if (progress.stage === 'write') return;
    const [value] = counts(progress);
    this.bar?.update(value, payload(progress, rate(value, this.startedAt)));
  };

  stop = (): void => {
    this.bar?.stop();
    this.bar = undefined;
  };
}

class PlainProgress implements ProgressDisplay {
  private latest: IngestProgress | undefined;
  private stage: IngestProgress['stage'] | undefined;
  private startedAt = 0;
  private lastLine: string | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stream: ProgressStream,
    lineEveryMs: number,
  ) {
    this.timer = setInterval(() => this.print(), lineEveryMs);
    this.timer.unref();
  }

  update = (progress: IngestProgress): void => {
    if (progress.stage !== this.stage) {
      this.stage = progress.stage;
      this.startedAt = performance.now();
    }
    this.latest = progress;
  };

  stop = (): void => {
    clearInterval(this.timer);
    // A log that showed the work going on also shows where it ended.
    if (this.lastLine !== undefined) this.print();
  };

  private print(): void {
    const progress = this.latest;
    if (progress === undefined) return;
    const line = plainLine(progress, this.startedAt);
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.stream.write(`${line}\n`);
  }
}

/** One line saying where an ingest is, for logs: « reading 12/40 files (345 pages), 3.1 files/s, about 8 s left ». */
export function plainLine(progress: IngestProgress, startedAt: number): string {
  if (progress.stage === 'write') return 'ingest: writing the index';
  const [value, total] = counts(progress);
  const perSecond = rate(value, startedAt);
  const unit = progress.stage === 'read' ? 'files' : 'chunks';
  const parts = [
    `ingest: ${progress.stage === 'read' ? 'reading' : 'embedding'} ${value}/${total} ${unit}` +
      (progress.stage === 'read' && progress.pages > 0 ? ` (${progress.pages} pages)` : ''),
    `${perSecond.toFixed(1)} ${unit}/s`,
  ];
  if (perSecond > 0 && value < total) parts.push(`about ${formatSeconds((total - value) / perSecond)} left`);
  return parts.join(', ');
}

function counts(progress: Exclude<IngestProgress, { stage: 'write' }>): [number, number] {
  return progress.stage === 'read' ? [progress.files, progress.totalFiles] : [progress.chunks, progress.totalChunks];
}

function payload(progress: Exclude<IngestProgress, { stage: 'write' }>, perSecond: number): object {
  return { pages: progress.stage === 'read' ? progress.pages : 0, rate: perSecond.toFixed(1) };
}

function rate(done: number, startedAt: number): number {
  const seconds = (performance.now() - startedAt) / 1000;
  return seconds > 0 ? done / seconds : 0;
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

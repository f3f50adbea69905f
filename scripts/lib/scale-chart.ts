import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The figures of one corpus that the chart draws. */
export interface ChartRow {
  chunks: number;
  ingestSeconds: number;
  coldStartSeconds: number;
  rssAfterQuestionsMb: number;
  server: { p95: number };
}

/**
 * Writes a log–log SVG chart of ingest time, cold start, server RSS and query p95 against the number of chunks, one
 * panel each, with a dashed line of linear growth through the smallest corpus: a measure that grows more slowly
 * than the data stays below it. A baseline (an earlier run) is drawn beside the measured figures when given. Drawn by Vega-Lite, which renders SVG in Node without a browser or a canvas.
 */
export async function writeScaleChart(
  rows: readonly ChartRow[],
  file: string,
  subtitle: string,
  baseline?: { name: string; rows: readonly ChartRow[] },
): Promise<void> {
  const measures: Array<[string, (row: ChartRow) => number]> = [
    ['ingest (s)', (row) => row.ingestSeconds],
    ['cold start to /healthz (s)', (row) => row.coldStartSeconds],
    ['server RSS after the questions (MB)', (row) => row.rssAfterQuestionsMb],
    ['query p95, server time (ms)', (row) => row.server.p95],
  ];
  const sorted = [...rows].sort((a, b) => a.chunks - b.chunks);
  const values = measures.flatMap(([measure, value]) => {
    const first = sorted[0];
    return sorted.flatMap((row) => [
      { measure, chunks: row.chunks, value: value(row), series: baseline === undefined ? 'measured' : 'after' },
      ...(first === undefined
        ? []
        : [
            { measure, chunks: row.chunks, value: (value(first) * row.chunks) / first.chunks, series: 'linear growth' },
          ]),
    ]);
  });
  for (const [measure, value] of measures) {
    for (const row of baseline?.rows ?? [])
      values.push({ measure, chunks: row.chunks, value: value(row), series: baseline?.name ?? '' });
  }
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'How the costs grow with the corpus (log–log)', subtitle },
    data: { values },
    facet: { field: 'measure', type: 'nominal', title: null, sort: measures.map(([measure]) => measure) },
    columns: 2,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'chunks', type: 'quantitative', scale: { type: 'log' }, title: 'chunks' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'series', type: 'nominal', title: null },
        strokeDash: { field: 'series', type: 'nominal', title: null },
      },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, svg);
}

import { readFile } from 'node:fs/promises';
import { parseTimestamp } from '../contracts/reading.js';
import { ValidationError } from '../errors/index.js';

/** Labelled anomaly windows by key, as in NAB's `labels/combined_windows.json`. */
export type Labels = Map<string, [number, number][]>;

/**
 * Parses a labels file's text: an object of key → list of [start, end] timestamps (NAB's
 * `YYYY-MM-DD HH:MM:SS.ffffff`, read as UTC, or epoch ms, or ISO with a zone). A bad shape or time is
 * a ValidationError naming the key.
 */
export function parseLabels(text: string, source = 'labels'): Labels {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`${source}: not JSON (${(err as Error).message})`, 'bad_json');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ValidationError(`${source}: expected an object of name → [[start, end], …]`);
  const labels: Labels = new Map();
  for (const [key, spans] of Object.entries(json)) {
    if (!Array.isArray(spans))
      throw new ValidationError(`${source}: ${JSON.stringify(key)} is not a list of [start, end]`);
    labels.set(
      key,
      spans.map((span: unknown) => {
        const pair = Array.isArray(span) && span.length === 2 ? span.map(parseTimestamp) : [];
        if (pair.length !== 2 || pair.some((t) => !Number.isFinite(t)))
          throw new ValidationError(
            `${source}: ${JSON.stringify(key)} has ${JSON.stringify(span)}, not a [start, end] pair of times`,
          );
        return [Math.min(pair[0]!, pair[1]!), Math.max(pair[0]!, pair[1]!)] as [number, number];
      }),
    );
  }
  return labels;
}

/** Reads and parses a labels file (see parseLabels). */
export async function readLabels(path: string): Promise<Labels> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ValidationError(`--labels ${path}: ${(err as Error).message}`, 'no_file');
  }
  return parseLabels(text, `--labels ${path}`);
}

const lastSegment = (s: string) => s.slice(s.lastIndexOf('/') + 1);

/**
 * The labelled windows of `streamId`: those of the keys equal to it, or whose file name without
 * `.csv` is the stream id's last path segment (`realTraffic/speed_7578.csv` labels `speed_7578`).
 */
export function labelsFor(labels: Labels | undefined, streamId: string): [number, number][] {
  if (!labels) return [];
  const exact = labels.get(streamId);
  if (exact) return exact;
  const name = lastSegment(streamId);
  for (const [key, spans] of labels)
    if (lastSegment(key).replace(/\.csv$/i, '') === name) return spans;
  return [];
}

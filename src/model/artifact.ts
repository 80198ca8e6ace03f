import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { ArtifactError } from '../errors/index.js';
import { quietly } from './build.js';
import type { ModelConfig } from './config.js';
import type { Normalisation } from './normalise.js';
import type { TrainingSummary } from './train.js';

/**
 * A model artifact, one self-contained byte string (stored as one Redis value or one file):
 *
 *   "SQAE" | u32le format version | u32le header length | header (UTF-8 JSON) | weight bytes
 *
 * The header holds the tfjs topology and weight specs (any tfjs loader can read them), seqae's model
 * config, the normalisation, the training summary, the creation time and the SHA-256 of the weight
 * bytes. Reading checks every length and the digest before building anything, so a truncated or
 * corrupt artifact is an ArtifactError and never a half-loaded model.
 */
export const ARTIFACT_FORMAT_VERSION = 1;
const MAGIC = 'SQAE';
const PREFIX = 12;

export interface ArtifactHeader {
  config: ModelConfig;
  normalisation: Normalisation;
  summary?: TrainingSummary;
  createdAt: number;
  topology: unknown;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightBytes: number;
  sha256: string;
}

const headerSchema = z.object({
  config: z
    .object({ variant: z.string(), nIn: z.number(), nOut: z.number(), features: z.number() })
    .passthrough(),
  normalisation: z.object({
    kind: z.enum(['zscore', 'minmax', 'none']),
    offset: z.array(z.number()),
    scale: z.array(z.number()),
  }),
  summary: z.unknown().optional(),
  createdAt: z.number(),
  topology: z.record(z.string(), z.unknown()),
  weightSpecs: z.array(
    z.object({ name: z.string(), shape: z.array(z.number()), dtype: z.literal('float32') }),
  ),
  weightBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export async function encodeArtifact(
  model: tfl.LayersModel,
  meta: Omit<ArtifactHeader, 'topology' | 'weightSpecs' | 'weightBytes' | 'sha256'>,
): Promise<Uint8Array> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved!.weightData!));
  const header: ArtifactHeader = {
    ...meta,
    topology: saved!.modelTopology,
    weightSpecs: saved!.weightSpecs!,
    weightBytes: weights.byteLength,
    sha256: createHash('sha256').update(weights).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(PREFIX + json.length + weights.byteLength);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(ARTIFACT_FORMAT_VERSION, 4);
  out.writeUInt32LE(json.length, 8);
  json.copy(out, PREFIX);
  out.set(weights, PREFIX + json.length);
  return out;
}

/** Checks and splits an artifact; throws ArtifactError saying what is wrong. */
export function readArtifact(bytes: Uint8Array): { header: ArtifactHeader; weights: Uint8Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREFIX || buf.toString('latin1', 0, 4) !== MAGIC) {
    throw new ArtifactError('not a seqae model artifact (bad magic)');
  }
  const version = buf.readUInt32LE(4);
  if (version !== ARTIFACT_FORMAT_VERSION) {
    throw new ArtifactError(
      `unsupported artifact format version ${version} (this seqae reads ${ARTIFACT_FORMAT_VERSION})`,
    );
  }
  const headerLength = buf.readUInt32LE(8);
  if (PREFIX + headerLength > buf.length)
    throw new ArtifactError('truncated artifact: header incomplete');
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + headerLength));
  } catch (err) {
    throw new ArtifactError('corrupt artifact header: not JSON', err);
  }
  const checked = headerSchema.safeParse(parsed);
  if (!checked.success) {
    throw new ArtifactError(
      `corrupt artifact header: ${checked.error.issues[0]?.path.join('.')} ${checked.error.issues[0]?.message}`,
    );
  }
  const header = parsed as ArtifactHeader;
  const weights = buf.subarray(PREFIX + headerLength);
  const expected = header.weightSpecs.reduce(
    (n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1),
    0,
  );
  if (weights.length !== header.weightBytes || expected !== header.weightBytes) {
    throw new ArtifactError(
      `truncated artifact: ${weights.length} weight bytes, expected ${header.weightBytes}`,
    );
  }
  if (createHash('sha256').update(weights).digest('hex') !== header.sha256) {
    throw new ArtifactError('corrupt artifact: weight digest mismatch');
  }
  return { header, weights };
}

/** Builds the tfjs model of a checked artifact. */
export async function modelFromArtifact(
  header: ArtifactHeader,
  weights: Uint8Array,
): Promise<tfl.LayersModel> {
  const weightData = weights.buffer.slice(
    weights.byteOffset,
    weights.byteOffset + weights.byteLength,
  ) as ArrayBuffer;
  const handler = tf.io.fromMemory({
    modelTopology: header.topology as tf.io.ModelJSON['modelTopology'],
    weightSpecs: header.weightSpecs,
    weightData,
  });
  try {
    return await quietly(() => tfl.loadLayersModel(handler));
  } catch (err) {
    throw new ArtifactError(`artifact topology does not load: ${(err as Error).message}`, err);
  }
}

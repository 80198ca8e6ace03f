import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ArtifactError } from '../errors/index.js';
import type { ModelMeta, ModelVersion } from './index.js';

/**
 * A model version as one file, what the registry keeps of it (`seqae train --out`, `seqae infer
 * --model-file`): "SQMV" | u32le metadata length | metadata (UTF-8 JSON) | the model artifact.
 * The metadata carries the error statistics that turn errors into anomaly scores, which the artifact
 * alone does not.
 */
const MAGIC = 'SQMV';
const PREFIX = 8;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export function writeModelFile(path: string, version: ModelVersion): void {
  const meta = { ...version.meta, artifactSha256: sha256(version.artifact) };
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.alloc(PREFIX);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length, 4);
  writeFileSync(path, Buffer.concat([head, json, version.artifact]));
}

/** Reads a model file; one that is not one, truncated or changed is an ArtifactError. */
export function readModelFile(path: string): ModelVersion {
  const bytes = readFileSync(path);
  if (bytes.length < PREFIX || bytes.toString('latin1', 0, 4) !== MAGIC)
    throw new ArtifactError(`${path}: not a seqae model file (written by seqae train --out)`);
  const length = bytes.readUInt32LE(4);
  if (PREFIX + length > bytes.length) throw new ArtifactError(`${path}: truncated`);
  let meta: ModelMeta;
  try {
    meta = JSON.parse(bytes.toString('utf8', PREFIX, PREFIX + length)) as ModelMeta;
  } catch (err) {
    throw new ArtifactError(`${path}: metadata is not JSON`, err);
  }
  const artifact = bytes.subarray(PREFIX + length);
  if (meta.artifactSha256 !== sha256(artifact))
    throw new ArtifactError(`${path}: the model's bytes do not match their digest (truncated?)`);
  return { meta, artifact };
}

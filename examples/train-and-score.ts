/**
 * Train a model on a clean sine and score a copy of it with a spike: the windows over the spike
 * score highest. No services needed.
 *
 *   node --conditions=seqae-source --import tsx examples/train-and-score.ts
 *
 * (In a project that installed seqae: `import … from 'seqae'` and run it with tsx, no condition.)
 * Prints one JSON line: the training loss, the spike's position and the windows scored as anomalies.
 */
import {
  SequenceAutoencoder,
  datasetFromSeries,
  initBackend,
  logErrorStats,
  trainingZScoring,
} from 'seqae';

const N_IN = 16;
const PERIOD = 32;
const SPIKE_AT = 150;
/** A score of 0.997 is an error three standard deviations above those of training (see trainingZScoring). */
const ALERT = 0.997;
const sine = (length: number) =>
  Array.from({ length }, (_, i) => [Math.sin((2 * Math.PI * i) / PERIOD)]);
/** Every window of N_IN consecutive readings; window s ends at reading s + N_IN - 1 (its seq). */
const windowsOf = (series: number[][]) =>
  Array.from({ length: series.length - N_IN + 1 }, (_, s) => series.slice(s, s + N_IN));

// #region model (docs/model.md)
await initBackend('auto'); // tfjs-node, else wasm, else cpu
const model = SequenceAutoencoder.create({ nIn: N_IN, units: 16, epochs: 25, seed: 1 });
const training = sine(512);
const summary = await model.train(datasetFromSeries(model.config, training), {
  onEpoch: (p) => console.error(JSON.stringify(p)),
});
// reconstruction, prediction, embedding and reconstructionError of every window, as flat arrays
const trained = await model.infer(windowsOf(training));
const bytes = await model.save(); // artifact: topology, weights, normalisation, summary
const again = await SequenceAutoencoder.load(bytes);
// #endregion
model.dispose();

// What errors look like on clean data: the scale of the anomaly score.
const stats = { reconstruction: logErrorStats(trained.reconstructionError!) };

// Scored by the model loaded back from its artifact.
const test = sine(256);
test[SPIKE_AT]![0]! += 3;
const scored = await again.infer(windowsOf(test));
const scores = Array.from(scored.reconstructionError!, (e, s) => ({
  seq: s + N_IN - 1,
  score: trainingZScoring.score({ reconstructionError: e, predictionError: null }, stats),
}));
const top = scores.reduce((a, b) => (b.score > a.score ? b : a));
console.log(
  JSON.stringify({
    loss: summary.final.loss,
    spikeAt: SPIKE_AT,
    windows: scores.length,
    top,
    anomalies: scores.filter((s) => s.score >= ALERT).map((s) => s.seq),
  }),
);
again.dispose();

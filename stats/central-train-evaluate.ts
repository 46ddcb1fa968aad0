/**
 * The central reference of train_evaluate (stats/kinds/train-evaluate.ts), written independently
 * of the kind's row cells and count formulas: the pooled rows' held-out side (the same keyed-hash
 * split, stats/train/holdout.ts), encodeFeatures, the model's forward pass (predict), each
 * prediction replaced by the centre of its bin (found by scanning the edges k/B), then the per-row
 * metrics of stats/train/metrics.ts (auc, accuracy, logLoss, calibration) on those centres.
 */
import type { Dataset } from './dataset.ts';
import type { TrainEvaluateResult } from './kinds/types.ts';
import { evalBins } from './kinds/train-evaluate.ts';
import { trainParts } from './kinds/train-round.ts';
import type { Query } from './query-types.ts';
import type { Schema } from './schema.ts';
import { encodeFeatures } from './train/features.ts';
import { evaluationRows } from './train/holdout.ts';
import { accuracy, auc, calibration, logLoss } from './train/metrics.ts';
import { network, predict } from './train/model.ts';

export function centralTrainEvaluate(q: Query, schema: Schema, dataset: Dataset): TrainEvaluateResult {
  const { spec, enc, model } = trainParts(q, schema);
  const B = evalBins(q);
  const net = network(model, enc.d);
  const params = Float64Array.from(q.state!.slice(0, net.parameterCount));
  const data = encodeFeatures({ columns: q.columns, target: q.target!, positive: q.positive!, filter: q.filter, coding: spec.coding ?? 'treatment' }, schema, evaluationRows(dataset, spec));
  const p = predict(net, params, data.X);
  const edges = Array.from({ length: B + 1 }, (_, k) => k / B);
  const pos = new Array<number>(B).fill(0);
  const neg = new Array<number>(B).fill(0);
  const centres = new Float64Array(data.rows);
  for (let i = 0; i < data.rows; i++) {
    let b = 0;
    for (let k = 1; k < B; k++) if (edges[k]! < p[i]!) b = k; // the last edge below p
    centres[i] = (b + 0.5) / B;
    (data.y[i] === 1 ? pos : neg)[b]!++;
  }
  let brier = 0;
  for (let i = 0; i < data.rows; i++) brier += (centres[i]! - data.y[i]!) ** 2;
  const cal = calibration(centres, data.y, B);
  const n = data.rows;
  const a = auc(centres, data.y);
  return {
    kind: 'train_evaluate', n, notes: [], target: q.target!, positive: [...q.positive!], holdout: spec.holdout ?? 0, edges,
    positiveCounts: pos, negativeCounts: neg, positives: pos.reduce((s, c) => s + c, 0),
    auc: Number.isNaN(a) ? null : a, accuracy: n > 0 ? accuracy(centres, data.y) : null, logLoss: n > 0 ? logLoss(centres, data.y) : null,
    brier: n > 0 ? brier / n : null, ece: n > 0 ? cal.ece : null,
    calibration: cal.bins.map((c, b) => ({ lo: b / B, hi: (b + 1) / B, count: c.count, predicted: (b + 0.5) / B, observed: c.observed })),
  };
}

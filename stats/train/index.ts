/**
 * Models for federated training (issue 16): feature encoding, logistic regression and MLP with
 * per-example gradients, clipped gradient sums, Poisson sampling, server optimizers, the central
 * reference training and evaluation metrics. Pure computation; docs/training.md § Models.
 */
export { encodeDataset, encodeFeatures, featureEncoding, MAX_FEATURES, MAX_TRAIN_COLUMNS, originalScaleCoefficients, predictorEncoder, rowEncoder } from './features.ts';
export type { CategoricalCoding, EncodedData, Feature, FeatureEncoding, FeatureSpec } from './features.ts';
export { forward, forwardProbabilities, initParams, logit, logits, logLossOfLogit, loss, MAX_CLASSES, MAX_HIDDEN_LAYERS, MAX_HIDDEN_UNITS, MAX_PARAMETERS, ModelError, network, parameterCount, perExampleGradient, predict, seedBytes, sigmoid, uniform53 } from './model.ts';
export type { ModelSpec, Network } from './model.ts';
export { clipFactor, clippedGradientSum, clippedGroupGradientSum, l2norm, patientContributionBound, sampleRows } from './clip.ts';
export type { ClippedSum } from './clip.ts';
export { FEDADAM_DEFAULTS, initOptimizerState, serverUpdate, trainCentral } from './central.ts';
export type { CentralOptions, CentralResult, OptimizerState, ServerOptimizer } from './central.ts';
export { accuracy, auc, aucFromCounts, calibration, evaluate, LOG_LOSS_EPS, logLoss, metricsFromCounts, scoreBin } from './metrics.ts';
export type { CalibrationBin, CountCalibrationBin } from './metrics.ts';
export { checkHoldout, evaluationRows, HOLDOUT_DOMAIN, holdoutMask, holdoutRows, holdoutUniforms, MAX_HOLDOUT, trainingRows } from './holdout.ts';

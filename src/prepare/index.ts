/** Image preparation: stored instances to volumes, and a model's declared steps to input tensors. */
export { buildVolume, tryBuildVolume, assembleVolume, type BuildVolumeOptions } from './build-volume';
export { WorkerPool, type WorkerPoolOptions } from './decode-pool';
export { readFrames, UnusableImageError, type DecodedFrame, type DecodedInstance } from './read-frames';
export { prepareSlice, volumeIntensityRanges, volumeStatistics, volumeRangeKey, stepsNeedRegions, type PreparedSlice, type SliceInput, type PrepareOptions, type VolumeRanges } from './pipeline';
export { exportModelInputs, type ModelInputs } from './export-model-inputs';
export { toNchwBatch, type NchwBatch } from './batch';
export { RegionMissingError, resolveRegion, type SliceRegions, type RegionShape, type RegionMask } from './regions';
export { PreparationStepSchema, type PreparationStep } from './steps';
export type { Volume, Slice } from './volume-types';
export type { PlanarImage, GridMap } from './image';

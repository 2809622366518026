export type {
  AnalyzedImage,
  Box,
  Candidate,
  DetectedFace,
  Engine,
  GalleryFace,
  MatchOptions,
  RecognitionPipeline,
  RecognitionResult,
  RecognizedFace,
  RecognizedFaceWithDescriptor,
} from './types.js';
export {
  EmptyImageError,
  EngineError,
  ImageError,
  MissingModelsError,
  MultipleFacesError,
  NoFaceError,
  NotAFileError,
  NotAnImageError,
  TooManyPixelsError,
  TruncatedImageError,
  UnsupportedFormatError,
} from './errors.js';
export { loadEngine, pickEnrollmentFace, verifyImages } from './engine.js';
export type { EngineOptions, LoadedEngine, StageTimings } from './engine.js';
export { createGalleryIndex, DEFAULT_MATCH, euclidean, otherPipelineWarning, recognizeFaces } from './matcher.js';
export { checkRule, decide, DEFAULT_RULE, DEFAULT_VERIFY_THRESHOLD } from './decision.js';
export type { Decision, MatchRule, UnknownReason } from './decision.js';
export type { GalleryIndex, MatchResult } from './matcher.js';
export { decodeImage, DEFAULT_MAX_INPUT_PIXELS, probeImage, readImageFile, sniffFormat } from './decode.js';
export type { DecodeOptions, ImageFormat, ImageProbe, RgbImage } from './decode.js';
export type { TfBackendChoice } from './backend.js';
export { DEFAULT_STRATEGY } from './detect.js';
export type { DetectionPass, DetectionStrategy } from './detect.js';

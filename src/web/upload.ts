import type { Request, RequestHandler, Response } from 'express';
import multer from 'multer';
import { probeImage } from '../recognition/decode.js';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';
import { sanitizeFilename } from './params.js';

/** A validated upload, still only in memory: nothing has been stored yet. */
export interface ReceivedImage {
  buffer: Buffer;
  /** Sanitised client file name (see `sanitizeFilename`). */
  filename: string;
  /** From the probed format, never from the client's header. */
  contentType: string;
  width: number;
  height: number;
  format: string;
}

/** Size limits of uploads: bytes on the wire, pixels once decoded. */
export interface UploadLimits {
  maxUploadBytes: number;
  maxInputPixels: number;
}

/**
 * multer with memory storage (nothing touches disk) and tight limits: one file, a few short
 * fields. `defParamCharset: 'utf8'` because browsers and fetch send raw UTF-8 file names.
 */
export function createMultipart(limits: UploadLimits): multer.Multer {
  return multer({
    storage: multer.memoryStorage(),
    defParamCharset: 'utf8',
    limits: {
      fileSize: limits.maxUploadBytes,
      files: 1,
      fields: 10,
      fieldSize: 1024,
      fieldNameSize: 100,
      parts: 12,
      headerPairs: 20,
    },
  });
}

/** Room for multipart framing and the small fields on top of the file itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * Middleware for a multipart route with one file in `field`: 415 when the body is not
 * multipart at all, 413 at once when the declared length cannot fit (without reading the
 * body, and closing the connection), multer's limits otherwise (its errors are classified
 * in `problem.ts`).
 */
export function multipartFile(upload: multer.Multer, field: string, maxUploadBytes: number): RequestHandler {
  const single = upload.single(field);
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) {
      throw new UnsupportedMediaTypeError(`send multipart/form-data with the image in field "${field}"`, { code: 'not-multipart' });
    }
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > maxUploadBytes + MULTIPART_OVERHEAD_BYTES) {
      // Reading (draining) a body we will refuse anyway only costs bandwidth: hang up after answering.
      res.set('Connection', 'close');
      throw new PayloadTooLargeError(`the upload is ${declared} bytes; at most ${maxUploadBytes} are accepted`, { code: 'file-too-large' });
    }
    single(req, res, (err?: unknown) => {
      if (!err) {
        next();
        return;
      }
      // busboy's own parse errors (no boundary, cut-off body) are plain Errors.
      const e = err as { name?: string };
      next(e?.name === 'MulterError' ? err : new BadRequestError(`malformed multipart body: ${(err as Error).message}`, { code: 'malformed-multipart', cause: err }));
    });
  };
}

/** Longer names than this are refused outright; shorter ones are sanitised and capped. */
export const MAX_FILENAME_LENGTH = 1024;

/**
 * Refuse file names no real client sends: control characters (NUL included) and names over
 * {@link MAX_FILENAME_LENGTH}. Path segments and unicode are fine: `sanitizeFilename` keeps the
 * last segment and replaces what it does not allow.
 */
export function checkFilename(name: string | undefined): void {
  if (!name) return;
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new BadRequestError('the file name contains control characters', { code: 'bad-filename' });
  if (name.length > MAX_FILENAME_LENGTH) throw new BadRequestError(`the file name is longer than ${MAX_FILENAME_LENGTH} characters`, { code: 'bad-filename' });
}

/**
 * The uploaded file of a request that went through {@link multipartFile}, probed before
 * anything is stored: a missing file is 400, an unusable image throws the probe's
 * ImageError (mapped in `problem.ts`), and a multi-frame image is 415.
 */
export async function receivedImage(req: Request, _res: Response, field: string, limits: UploadLimits): Promise<ReceivedImage> {
  const file = req.file;
  if (!file) throw new BadRequestError(`no file in field "${field}"`, { code: 'missing-file' });
  checkFilename(file.originalname);
  const probe = await probeImage(file.buffer, { maxInputPixels: limits.maxInputPixels });
  if (probe.pages > 1) {
    throw new UnsupportedMediaTypeError(`animated or multi-page images are not accepted (${probe.pages} frames)`, { code: 'animated-image' });
  }
  return {
    buffer: file.buffer,
    filename: sanitizeFilename(file.originalname),
    contentType: `image/${probe.format}`,
    width: probe.width,
    height: probe.height,
    format: probe.format,
  };
}

/** OpenAPI pieces for face quality, landmarks and pose (src/recognition/quality.ts, docs/face-quality.md). */
import { type Json } from './openapi-parts.js';

const point: Json = { type: 'object', required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } };

export const qualitySchemas: Json = {
  FaceQuality: {
    type: 'object',
    required: ['sharpness', 'brightness', 'size', 'score'],
    description: 'How usable a face is (docs/face-quality.md).',
    properties: {
      sharpness: { type: 'number', minimum: 0, maximum: 1, description: '1 minus the no-reference blur (Crété-Roffet 2007) of the face at 100 px: how much edge contrast survives a 9-tap box blur. Independent of brightness.' },
      brightness: { type: 'number', minimum: 0, maximum: 1, description: 'Mean luma of the face over 255.' },
      size: { type: 'number', description: 'Side of the face in image pixels (outer eyebrow ends to chin, from the landmarks).' },
      score: { type: 'number', minimum: 0, maximum: 1, description: 'Product of one ramp per measure and one for the pose; what minQuality and minEnrollQuality compare.' },
    },
  },
  HeadPose: {
    type: 'object',
    required: ['yaw', 'pitch', 'roll'],
    description: 'Degrees, from the landmarks: yaw > 0 turned toward the image’s right, pitch > 0 looking down, roll > 0 tilted counter-clockwise.',
    properties: { yaw: { type: 'number' }, pitch: { type: 'number' }, roll: { type: 'number' } },
  },
  RecognizedFace: {
    type: 'object',
    required: ['box', 'score', 'match', 'candidates'],
    properties: {
      box: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' } } },
      score: { type: 'number', description: 'Detection confidence.' },
      match: { oneOf: [{ type: 'null' }, { type: 'object', properties: { identity: { type: 'string' }, distance: { type: 'number' } } }] },
      reason: { enum: ['no-close-identity', 'ambiguous', 'low-quality'], description: 'Why `match` is null. `low-quality`: the face scored under minQuality and was not matched; it is not a stranger.' },
      candidates: { type: 'array', items: { type: 'object', properties: { identity: { type: 'string' }, distance: { type: 'number' } } } },
      landmarks: {
        type: 'array',
        items: point,
        description: '5 points (centre of the eye on the image’s left, of the eye on its right, nose tip, mouth corner on the left, on the right), or the 68 of the iBUG scheme with `landmarks=68`.',
      },
      pose: { $ref: '#/components/schemas/HeadPose' },
      quality: { $ref: '#/components/schemas/FaceQuality' },
    },
  },
};

/** Form fields of a recognition request. */
export const recognizeQualityFields: Json = {
  minQuality: { type: 'number', minimum: 0, maximum: 1, description: 'Faces scoring under this are not matched (`reason: "low-quality"`). Default: the collection’s minQuality, else 0 (no gate). A client key may only raise it.' },
  landmarks: { enum: [5, 68], description: 'Landmarks per face in the result; default 5.' },
};

/** Form fields of an enrollment request. */
export const enrollQualityFields: Json = {
  force: { type: 'boolean', description: 'Enroll even a face scoring under the collection’s minEnrollQuality.' },
  landmarks: { enum: [5, 68], description: 'Landmarks of the enrolled face in the job result; default 5.' },
};

/** The collection settings, as create and PATCH bodies take them. */
export const collectionQualitySettings: Json = {
  minQuality: { type: ['number', 'null'], minimum: 0, maximum: 1, description: 'Recognition: faces scoring under this are `low-quality`, not matched. Absent or null: the service default 0 (no gate).' },
  minEnrollQuality: { type: ['number', 'null'], minimum: 0, maximum: 1, description: 'Enrollment: faces scoring under this are refused (422, `low-quality`) unless `force=true`. Absent or null: the service default 0.35.' },
};

export const enrollRefusal = 'No face; several faces (without `largest`); or a face under the collection’s minEnrollQuality (code `low-quality`, `reason` one of too-small, too-blurry, too-dark, too-bright, profile; `force=true` overrides). The job itself is `done`, with `result.refused`.';

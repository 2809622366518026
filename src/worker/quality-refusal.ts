import type { EnrollRefusal } from '../jobs/types.js';
import { lowQualityReason } from '../recognition/quality.js';
import type { DetectedFace } from '../recognition/types.js';

const ADVICE = {
  'too-small': 'the face is too small; use a closer or larger photo',
  'too-blurry': 'the face is blurred; use a sharper photo',
  'too-dark': 'the face is too dark; use a better lit photo',
  'too-bright': 'the face is overexposed; use a photo with less light on the face',
  profile: 'the face is turned away; use a photo facing the camera',
} as const;

/** The refusal of an enrollment face under `minEnrollQuality`, naming the measure that costs it most. */
export function qualityRefusal(face: DetectedFace, faces: number, minEnrollQuality: number): EnrollRefusal {
  const quality = face.quality ?? { sharpness: 0, brightness: 0, size: 0, score: 0 };
  const reason = lowQualityReason(quality, face.pose ?? { yaw: 0, pitch: 0, roll: 0 });
  return {
    reason,
    faces,
    message: `The face's quality score ${quality.score} is under this collection's minEnrollQuality ${minEnrollQuality}: ${ADVICE[reason]}, or send force=true to enroll it anyway.`,
    quality: { ...quality },
    minEnrollQuality,
  };
}

/** The event types an endpoint can subscribe to. */
export const WEBHOOK_EVENTS = ['job.done', 'job.dead-lettered', 'unknown.created'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export function isWebhookEvent(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);
}

/** The JSON body of every delivery (Standard Webhooks' recommended envelope). */
export interface WebhookPayload {
  type: WebhookEventType;
  /** ISO time of the event (not of the attempt: that is the `webhook-timestamp` header). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** `submittedBy` of delivery jobs: no API key owns them, so only operators read them. */
export const WEBHOOK_JOB_OWNER = 'facefleet:webhooks';

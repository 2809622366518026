/**
 * The one place AWS SDK clients are built. Every client gets a bounded per-request timeout
 * (socket and connect, via @smithy/node-http-handler), the SDK's `standard` retry mode with a
 * bounded number of attempts, and otherwise the SDK's own configuration chain: region and
 * credentials from the environment, shared config or instance role, and endpoint overrides
 * from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` / `_SQS` / `_DYNAMODB` / `_EC2`, which
 * SDK v3 (>= 3.4xx, checked on the installed 3.1169) reads itself. That is how one binary runs
 * against AWS or the local emulators without a code path of its own.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface AwsClientOptions {
  /** Region; default: the SDK's chain (AWS_REGION, shared config). */
  region?: string;
  /** Per-request socket timeout, ms. Default 10 000. Long polls add their wait on top. */
  requestTimeoutMs?: number;
  /** Attempts per call in the SDK's `standard` retry mode (first try included). Default 3. */
  maxAttempts?: number;
  /** Static credentials (tests, emulators); default: the SDK's provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Explicit endpoints per service (tests). In production leave unset and use the SDK's
   * `AWS_ENDPOINT_URL_*` variables instead.
   */
  endpoints?: { s3?: string; sqs?: string; dynamodb?: string; ec2?: string };
  /**
   * S3 path-style addressing (`http://host/bucket/key`). Needed by emulators on a host name;
   * the SDK already uses path style for IP-address endpoints. Default false.
   */
  s3ForcePathStyle?: boolean;
}

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  /** lib-dynamodb over {@link AwsClients.dynamodb}: plain JS values in, plain JS values out. */
  doc: DynamoDBDocumentClient;
  ec2: EC2Client;
  /** Destroy every client's sockets. Idempotent. */
  destroy(): void;
}

/** The defaults of {@link AwsClientOptions}. */
export const AWS_CLIENT_DEFAULTS = { requestTimeoutMs: 10_000, maxAttempts: 3 } as const;

function common(options: AwsClientOptions) {
  const requestTimeout = options.requestTimeoutMs ?? AWS_CLIENT_DEFAULTS.requestTimeoutMs;
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryMode: 'standard' as const,
    maxAttempts: Math.max(1, options.maxAttempts ?? AWS_CLIENT_DEFAULTS.maxAttempts),
    requestHandler: new NodeHttpHandler({
      requestTimeout,
      // A connect that takes longer than a few seconds will not succeed; fail over to a retry.
      connectionTimeout: Math.min(requestTimeout, 3_000),
      // Without this, this handler version only logs a warning when the timeout passes and
      // keeps waiting: a silent endpoint would hang the call forever.
      throwOnRequestTimeout: true,
    }),
  };
}

/** Just the EC2 client (the controller's fleet needs nothing else). */
export function createEc2Client(options: AwsClientOptions = {}): EC2Client {
  return new EC2Client({ ...common(options), ...(options.endpoints?.ec2 ? { endpoint: options.endpoints.ec2 } : {}) });
}

/** Build the four service clients (and the DynamoDB document client) from `options`. */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const ep = options.endpoints ?? {};
  const s3 = new S3Client({
    ...common(options),
    ...(ep.s3 ? { endpoint: ep.s3 } : {}),
    ...(options.s3ForcePathStyle ? { forcePathStyle: true } : {}),
    // Checksums only where S3 requires them: emulators reject the newer default trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const sqs = new SQSClient({
    ...common(options),
    ...(ep.sqs ? { endpoint: ep.sqs } : {}),
    // Send every call to the configured endpoint, not to the host inside the queue URL: an
    // emulator's queue URLs name hosts like sqs.us-east-1.localhost that may not resolve, and
    // on AWS the two are the same anyway.
    useQueueUrlAsEndpoint: false,
  });
  const dynamodb = new DynamoDBClient({ ...common(options), ...(ep.dynamodb ? { endpoint: ep.dynamodb } : {}) });
  const doc = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const ec2 = createEc2Client(options);
  let destroyed = false;
  return {
    s3,
    sqs,
    dynamodb,
    doc,
    ec2,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const c of [s3, sqs, doc, dynamodb, ec2]) c.destroy();
    },
  };
}

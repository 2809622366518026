/**
 * In-process AWS emulators for the AWS adapter tests: dynalite (DynamoDB) and fauxqs 1.9.2
 * (S3 and SQS), each on 127.0.0.1 port 0. Every suite starts its own, uses its own prefix,
 * and calls stop().
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { startFauxqs } from 'fauxqs';
import type { AwsClientOptions } from '../../src/aws/clients.js';

const require = createRequire(import.meta.url);
type DynaliteFactory = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; maxItemSizeKb?: number }) => Server;
const dynalite = require('dynalite') as DynaliteFactory;

export const FAKE_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
export const TEST_REGION = 'us-east-1';

export interface Emulators {
  endpoints: { s3: string; sqs: string; dynamodb: string };
  region: string;
  /** Options for createAwsClients: endpoints, static fake credentials, region, short timeouts. */
  clientOptions: AwsClientOptions;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const fauxqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const dyn = dynalite({ createTableMs: 5, deleteTableMs: 5, updateTableMs: 5 });
  try {
    await new Promise<void>((resolve, reject) => {
      dyn.once('error', reject);
      dyn.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await fauxqs.stop();
    throw err;
  }
  const dynamodb = `http://127.0.0.1:${(dyn.address() as AddressInfo).port}`;
  const faux = `http://127.0.0.1:${fauxqs.port}`;
  const endpoints = { s3: faux, sqs: faux, dynamodb };
  let stopped = false;
  return {
    endpoints,
    region: TEST_REGION,
    clientOptions: { region: TEST_REGION, credentials: { ...FAKE_CREDENTIALS }, endpoints, requestTimeoutMs: 5_000, maxAttempts: 2 },
    async stop() {
      if (stopped) return;
      stopped = true;
      dyn.closeAllConnections?.();
      await Promise.all([fauxqs.stop(), new Promise<void>((r) => dyn.close(() => r()))]);
    },
  };
}

/** A fresh resource prefix for one suite or test: valid for S3, SQS and DynamoDB names. */
export function testPrefix(label = 'ff'): string {
  return `${label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12) || 'ff'}-${randomBytes(4).toString('hex')}`;
}

#!/usr/bin/env node
/**
 * `facefleet`: the one entry point. Each command wires the adapters it needs from config.
 */
import { Command, CommanderError } from 'commander';
import { toFacefleetError } from '../errors.js';
import { registerCollectionCommands } from './collection-commands.js';
import { registerEngineCommands } from './engine-commands.js';
import { registerOpsCommands } from './ops-commands.js';
import { registerProcessCommands } from './process-commands.js';
import { registerWorkerCommand } from './worker-command.js';

export function buildProgram(): Command {
  const program = new Command('facefleet')
    .description('Face recognition as durable jobs: enroll, recognize and verify faces; run the web tier, workers and controller.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerProcessCommands(program);
  registerWorkerCommand(program);
  registerEngineCommands(program);
  registerOpsCommands(program);
  registerCollectionCommands(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const fe = toFacefleetError(err);
    process.stderr.write(`error: ${fe.message}${fe.code !== 'unexpected' ? ` (${fe.code})` : ''}\n`);
    process.exitCode = 1;
  }
}

await main();

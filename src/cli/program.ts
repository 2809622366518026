/**
 * The `facefleet` command line: commands and their flags. Each process runs from `src/processes/`.
 */
import { Command, CommanderError } from 'commander';
import { toFacefleetError } from '../errors.js';
import { registerCollectionCommands } from './collection-commands.js';
import { registerEngineCommands } from './engine-commands.js';
import { registerOpsCommands } from './ops-commands.js';
import { registerProcessCommands } from './process-commands.js';
import { registerUnknownCommands } from './unknown-commands.js';
import { registerWorkerCommand } from './worker-command.js';

export function buildProgram(): Command {
  const program = new Command('facefleet')
    .description('Face recognition as durable jobs: enroll, recognize and verify faces; run the web tier, workers and controller.')
    .version('0.2.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerProcessCommands(program);
  registerWorkerCommand(program);
  registerEngineCommands(program);
  registerOpsCommands(program);
  registerCollectionCommands(program);
  registerUnknownCommands(program);
  return program;
}

/** Parse `argv` (as `process.argv`: node, script, then the arguments) and run the command; failures set `process.exitCode`. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
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

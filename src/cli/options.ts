import type { Command } from 'commander';
import { loadConfig, type Config, type Flags } from '../config.js';
export { loggerFor } from '../log.js';

/** Options every command accepts. Only what the user passed reaches `loadConfig`. */
export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'where the embedded stores live (env FACEFLEET_DATA_DIR, default ./.facefleet)')
    .option('--backend <local|aws>', 'store backend (env FACEFLEET_BACKEND, default local)')
    .option('--prefix <name>', 'AWS resource name prefix (env FACEFLEET_PREFIX, default facefleet)')
    .option('--log-level <level>', 'pino log level (env FACEFLEET_LOG_LEVEL, default info; CLI tools default to warn)')
    .option('--log-format <json|pretty>', 'log lines as JSON or for people (env FACEFLEET_LOG_FORMAT; default pretty on a terminal, else json)');
}

/** `--pipeline`, for every command that runs the engine or starts workers that do: `.option(...PIPELINE_OPTION)`. */
export const PIPELINE_OPTION = ['--pipeline <name>', 'recognition pipeline: standard | dlib-ensemble (env FACEFLEET_PIPELINE, default standard)'] as const;

/** `--engine-backend`, beside every {@link PIPELINE_OPTION}. */
export const ENGINE_BACKEND_OPTION = ['--engine-backend <name>', 'where the nets run: auto | ort | wasm (env FACEFLEET_ENGINE_BACKEND, default auto: ONNX Runtime where it loads)'] as const;

/** Parse a positive number flag, with a clear message. */
export function parseNumber(name: string, options: { integer?: boolean; min?: number; max?: number } = {}) {
  return (value: string): number => {
    const n = Number(value);
    const bad =
      value.trim() === '' ||
      !Number.isFinite(n) ||
      (options.integer && !Number.isInteger(n)) ||
      (options.min !== undefined && n < options.min) ||
      (options.max !== undefined && n > options.max);
    if (bad) {
      const range = [options.min !== undefined ? `>= ${options.min}` : '', options.max !== undefined ? `<= ${options.max}` : ''].filter(Boolean).join(' and ');
      throw new Error(`${name} must be ${options.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** Build the config from the merged command options (camelCase keys as commander gives them). */
export function configFrom(opts: Record<string, unknown>, defaults: Flags = {}): Config {
  const flags: Flags = {};
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') flags[key] = value;
  }
  return loadConfig(flags, process.env, defaults);
}

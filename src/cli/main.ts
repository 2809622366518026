#!/usr/bin/env node
/**
 * `facefleet`: the one entry point. Each command wires the adapters it needs from config.
 */
import { runCli } from './program.js';

await runCli(process.argv);

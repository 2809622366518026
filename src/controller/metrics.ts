/**
 * The controller's Prometheus gauges. They live on a registry of their own (or one passed in);
 * the web tier owns `GET /metrics` and merges this registry into its output.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { BREAKER_STATES, type BreakerState } from '../machines/breaker.js';
import { SCALER_STATES, type ScalerState } from '../machines/scaler.js';

export interface ControllerMetrics {
  registry: Registry;
  /** Record the scaler's state and the fleet counts after a tick. */
  observeTick(status: { scalerState: ScalerState; desired: number; running: number; pending: number }): void;
  /** Record a breaker's state (1 for the current state, 0 for the others). */
  observeBreaker(name: string, state: BreakerState): void;
  /** Count a scale action the controller ran (`launch` or `stop`), by how many instances. */
  countAction(action: 'launch' | 'stop' | 'retire', instances: number): void;
}

export interface ControllerMetricsOptions {
  /** Register on this registry. Default: a new one. */
  registry?: Registry;
}

export function createControllerMetrics(options: ControllerMetricsOptions = {}): ControllerMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const scalerState = new Gauge({ name: 'facefleet_scaler_state', help: 'The scaler machine state: 1 for the current state', labelNames: ['state'], registers });
  const desired = new Gauge({ name: 'facefleet_fleet_desired', help: 'Workers the scaler wants', registers });
  const running = new Gauge({ name: 'facefleet_fleet_running', help: 'Fleet instances running', registers });
  const pending = new Gauge({ name: 'facefleet_fleet_pending', help: 'Fleet instances booting', registers });
  const breaker = new Gauge({ name: 'facefleet_breaker_state', help: 'Circuit breaker state: 1 for the current state', labelNames: ['name', 'state'], registers });
  const actions = new Counter({ name: 'facefleet_scale_instances_total', help: 'Instances launched, stopped or retired by the controller', labelNames: ['action'], registers });
  for (const s of SCALER_STATES) scalerState.set({ state: s }, s === 'idle' ? 1 : 0);

  return {
    registry,
    observeTick(status) {
      for (const s of SCALER_STATES) scalerState.set({ state: s }, s === status.scalerState ? 1 : 0);
      desired.set(status.desired);
      running.set(status.running);
      pending.set(status.pending);
    },
    observeBreaker(name, state) {
      for (const s of BREAKER_STATES) breaker.set({ name, state: s }, s === state ? 1 : 0);
    },
    countAction(action, instances) {
      actions.inc({ action }, instances);
    },
  };
}

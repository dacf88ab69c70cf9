// Active health checks of real servers: the monitor the gateway runs and the
// shapes and defaults its config schema maps onto.
export {
  HEALTH_CHECK_DEFAULTS,
  HTTP_BODY_LIMIT,
  HealthConfigError,
  normalizeTarget,
  type HealthCheckConfig,
  type HealthState,
  type HealthTarget,
  type HttpCheckConfig,
} from './check';
export { HealthMonitor, firstProbeDelays, type HealthMonitorOptions } from './monitor';
export type { Probe, ProbeDone } from './probe';
export { httpProbe } from './probe-http';
export { tcpProbe } from './probe-tcp';

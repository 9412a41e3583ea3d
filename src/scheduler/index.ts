export { Scheduler } from './scheduler.js';
export type { JobResult, JobSpec, JobStats, PassReport, SampleResult, SchedulerOptions } from './types.js';

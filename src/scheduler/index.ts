export { type Decision, type ScheduledPass, Scheduler } from './scheduler.js';
export type { JobHandle, JobStats, PassReport, SchedulerOptions, Sequence } from './types.js';

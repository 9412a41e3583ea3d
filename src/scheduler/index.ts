export { type Decision, type ScheduledPass, Scheduler } from './scheduler.js';
export { DEFAULT_BATCH_ENTRIES, type JobHandle, type JobStats, type PassReport, type SchedulerOptions, type Sequence } from './types.js';

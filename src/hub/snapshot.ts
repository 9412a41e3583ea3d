import { ErrorCodes, MdlmError } from '../errors.js';
import { type RemoteFile, downloadIntoCache, listFiles, lookupCommit } from './download.js';
import { COMMIT_SHA, RepoCache } from './hf-cache.js';
import { OFFLINE_ADVICE, describeNetworkFailure, describeTarget, hubFailure, isNetworkFailure } from './hub-errors.js';
import type { HubSettings } from './settings.js';

/** Why a snapshot came from the cache without asking the hub. */
export type CacheOnlyReason = 'offline' | 'hub-unreachable';

export interface DownloadProgress {
  phase: 'download';
  file: string;
  done: number;
  total: number;
}

export interface HubSession {
  settings: HubSettings;
  onProgress: (event: DownloadProgress) => void;
  /** Things the user should hear about, such as running on a possibly outdated cache. */
  notices: string[];
}

export interface SnapshotRequest {
  repo: string;
  revision: string;
  /** Files to have locally; those the repository lacks are simply not in `present`. */
  files: readonly string[];
}

export interface Snapshot {
  repo: string;
  revision: string;
  commit: string;
  dir: string;
  present: Set<string>;
  cacheOnly?: CacheOnlyReason;
}

/**
 * A repository at a revision, as local files in the HF cache. Online: one request resolves
 * the revision to a commit (none when the revision is a commit), then files the cache knows
 * nothing about are listed and fetched. Offline, or when the hub cannot be reached: the cache
 * alone, without a single request.
 */
export async function fetchSnapshot(request: SnapshotRequest, session: HubSession): Promise<Snapshot> {
  const cache = new RepoCache(session.settings.cacheDir, request.repo);
  if (session.settings.offline) return snapshotFromCache(cache, request, session.settings, 'offline');
  let plan: DownloadPlan;
  try {
    plan = await planDownloads(cache, request, session.settings);
  } catch (error) {
    if (!isNetworkFailure(error)) throw hubFailure(error, request, session.settings);
    return fallBackToCache(cache, request, session, error);
  }
  await downloadPlanned(cache, plan, request, session);
  await cache.recordRef(request.revision, plan.commit);
  return snapshotAt(cache, request, plan.commit);
}

/** Fails unless the snapshot has every file in `required`, saying what to do about it. */
export function requireFiles(snapshot: Snapshot, required: readonly string[], settings: HubSettings): void {
  const missing = required.filter((file) => !snapshot.present.has(file));
  if (missing.length === 0) return;
  const target = describeTarget(snapshot);
  if (snapshot.cacheOnly !== undefined) {
    const cached = missing.length === required.length ? 'is not' : `is only partly (missing ${missing.join(', ')})`;
    throw new MdlmError(
      ErrorCodes.hubUnreachable,
      `${target} at commit ${snapshot.commit} ${cached} in the Hugging Face cache at ${settings.cacheDir}, and ${cacheOnlyCause(snapshot.cacheOnly, settings)}. ${OFFLINE_ADVICE}`,
    );
  }
  throw new MdlmError(ErrorCodes.hubNotFound, `${target} (commit ${snapshot.commit}) has no ${missing.join(' and ')} on the hub at ${settings.hubUrl}; is it an MDLM or GPT-2 model repository?`);
}

interface DownloadPlan {
  commit: string;
  /** Files the cache knew nothing about, and which of them the hub has. */
  unknown: string[];
  remote: RemoteFile[];
}

/** The metadata requests: the first contact with the hub, so a network failure here means "use the cache". */
async function planDownloads(cache: RepoCache, request: SnapshotRequest, settings: HubSettings): Promise<DownloadPlan> {
  const commit = COMMIT_SHA.test(request.revision) ? request.revision : await lookupCommit(cache.repo, request.revision, settings);
  const unknown = await unknownFiles(cache, commit, request.files);
  const remote = unknown.length === 0 ? [] : await listFiles(cache.repo, commit, unknown, settings);
  return { commit, unknown, remote };
}

async function downloadPlanned(cache: RepoCache, plan: DownloadPlan, request: SnapshotRequest, session: HubSession): Promise<void> {
  for (const path of plan.unknown) {
    const file = plan.remote.find((entry) => entry.path === path);
    if (file === undefined) {
      await cache.recordAbsent(plan.commit, path);
      continue;
    }
    const onBytes = (done: number, total: number) => session.onProgress({ phase: 'download', file: path, done, total });
    await downloadIntoCache(cache, plan.commit, file, session.settings, onBytes).catch((error: unknown) => {
      throw hubFailure(error, { ...request, file: path }, session.settings);
    });
  }
}

async function unknownFiles(cache: RepoCache, commit: string, files: readonly string[]): Promise<string[]> {
  const states = await Promise.all(files.map((file) => cache.fileState(commit, file)));
  return files.filter((_, index) => states[index] === 'unknown');
}

async function fallBackToCache(cache: RepoCache, request: SnapshotRequest, session: HubSession, failure: unknown): Promise<Snapshot> {
  const cause = `the hub at ${session.settings.hubUrl} is unreachable (${describeNetworkFailure(failure)})`;
  const snapshot = await snapshotFromCache(cache, request, session.settings, 'hub-unreachable', cause);
  session.notices.push(`${cause}: using ${describeTarget(request)} from the Hugging Face cache (commit ${snapshot.commit}), which may be out of date`);
  return snapshot;
}

async function snapshotFromCache(cache: RepoCache, request: SnapshotRequest, settings: HubSettings, reason: CacheOnlyReason, cause = cacheOnlyCause(reason, settings)): Promise<Snapshot> {
  const commit = await cache.commitFor(request.revision);
  if (commit === undefined) {
    throw new MdlmError(
      ErrorCodes.hubUnreachable,
      `${describeTarget(request)} is not in the Hugging Face cache at ${settings.cacheDir}, and ${cause}. ${OFFLINE_ADVICE}`,
    );
  }
  return { ...(await snapshotAt(cache, request, commit)), cacheOnly: reason };
}

function cacheOnlyCause(reason: CacheOnlyReason, settings: HubSettings): string {
  return reason === 'offline'
    ? 'offline mode (HF_HUB_OFFLINE) allows no download'
    : `the hub at ${settings.hubUrl} is unreachable`;
}

async function snapshotAt(cache: RepoCache, request: SnapshotRequest, commit: string): Promise<Snapshot> {
  const states = await Promise.all(request.files.map((file) => cache.fileState(commit, file)));
  const present = new Set(request.files.filter((_, index) => states[index] === 'present'));
  return { repo: request.repo, revision: request.revision, commit, dir: cache.snapshotDir(commit), present };
}

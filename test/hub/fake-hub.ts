import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Hugging Face hub on loopback that answers the routes @huggingface/hub calls, with the
 * headers huggingface.co sends: model info at a revision, paths-info, and /resolve/ with
 * range support, where LFS files (*.safetensors) redirect to a CDN route as on the real hub.
 * It records every request, and can fail, cut or corrupt responses on demand.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

interface FakeCommit {
  sha: string;
  files: Map<string, Buffer>;
}

interface FakeRepo {
  commits: Map<string, FakeCommit>;
  refs: Map<string, string>;
  token?: string;
}

type DownloadFault = 'cut' | 'stall' | 'corrupt';
type Fault = { kind: 'status'; pattern: RegExp; status: number } | { kind: DownloadFault; file: string };

const LFS_POINTER_VERSION = 'version https://git-lfs.github.com/spec/v1';

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
export const gitBlobId = (bytes: Buffer): string => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const isLfs = (path: string): boolean => path.endsWith('.safetensors');
const lfsPointer = (bytes: Buffer): Buffer => Buffer.from(`${LFS_POINTER_VERSION}\noid sha256:${sha256(bytes)}\nsize ${bytes.length}\n`);

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  private readonly repos = new Map<string, FakeRepo>();
  private readonly faults: Fault[] = [];
  private readonly blobsBySha256 = new Map<string, { path: string; bytes: Buffer }>();
  private commits = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeHub> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hub = new FakeHub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => {
      hub.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    return hub;
  }

  /** Adds a commit holding `files`, points `branch` (default main) and `tags` at it, and returns its sha. */
  commit(repo: string, files: Record<string, Buffer>, options: { branch?: string; tags?: string[] } = {}): string {
    const entry = this.repos.get(repo) ?? { commits: new Map(), refs: new Map() };
    this.repos.set(repo, entry);
    const sha = createHash('sha1').update(`${repo}:${++this.commits}`).digest('hex');
    entry.commits.set(sha, { sha, files: new Map(Object.entries(files)) });
    for (const ref of [options.branch ?? 'main', ...(options.tags ?? [])]) entry.refs.set(ref, sha);
    for (const [path, bytes] of Object.entries(files)) this.blobsBySha256.set(sha256(bytes), { path, bytes });
    return sha;
  }

  /** Points branch or tag `ref` of `repo` at `sha`. */
  setRef(repo: string, ref: string, sha: string): void {
    this.repos.get(repo)?.refs.set(ref, sha);
  }

  /** From now on `repo` answers 401 unless the request carries `token`, as a gated repository does. */
  gate(repo: string, token: string): void {
    const entry = this.repos.get(repo);
    if (entry === undefined) throw new Error(`no repo ${repo}`);
    entry.token = token;
  }

  /** Every later request whose path matches gets `status`, until clearFaults(). */
  failWith(pattern: RegExp, status: number): void {
    this.faults.push({ kind: 'status', pattern, status });
  }

  /** The next full download of `file` stops half-way: headers promise every byte, then the socket is destroyed. */
  cutNextDownload(file: string): void {
    this.faults.push({ kind: 'cut', file });
  }

  /** The next full download of `file` sends half of it, then nothing more, keeping the connection open. */
  stallNextDownload(file: string): void {
    this.faults.push({ kind: 'stall', file });
  }

  /** The next full download of `file` delivers every byte, one of them wrong. */
  corruptNextDownload(file: string): void {
    this.faults.push({ kind: 'corrupt', file });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, authorization: req.headers.authorization });
    const status = this.faults.find((fault) => fault.kind === 'status' && fault.pattern.test(url.pathname));
    if (status?.kind === 'status') return sendError(res, status.status, 'Internal Error', 'InternalError');
    const route = matchRoute(url.pathname);
    if (route === undefined) return sendError(res, 404, 'Not found', 'NotFound');
    if (route.kind === 'cdn') return this.serveCdn(req, res, route.sha256);
    const repo = this.repos.get(route.repo);
    if (repo === undefined) return sendError(res, 404, 'Repository not found', 'RepoNotFound');
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      return sendError(res, 401, `Access to model ${route.repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`, 'GatedRepo');
    }
    const commit = repo.commits.get(repo.refs.get(route.revision) ?? route.revision);
    if (commit === undefined) return sendError(res, 404, `Invalid rev id: ${route.revision}`, 'RevisionNotFound');
    if (route.kind === 'info') return sendJson(res, modelInfo(route.repo, commit));
    if (route.kind === 'paths-info') return sendJson(res, pathsInfo(commit, await readJsonBody(req)));
    return this.serveResolve(req, res, commit, route.path);
  }

  private serveResolve(req: IncomingMessage, res: ServerResponse, commit: FakeCommit, path: string): void {
    const bytes = commit.files.get(path);
    if (bytes === undefined) return sendError(res, 404, 'Entry not found', 'EntryNotFound');
    res.setHeader('X-Repo-Commit', commit.sha);
    if (isLfs(path)) {
      const pointer = lfsPointer(bytes);
      res.writeHead(302, {
        Location: `${this.url}/cdn/${sha256(bytes)}`,
        ETag: `"${gitBlobId(pointer)}"`,
        'X-Linked-Etag': `"${sha256(bytes)}"`,
        'X-Linked-Size': String(bytes.length),
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    serveBytes(req, res, bytes, gitBlobId(bytes));
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse, digest: string): void {
    const blob = this.blobsBySha256.get(digest);
    if (blob === undefined) return sendError(res, 404, 'Not found', 'NotFound');
    const fault = req.headers.range === undefined ? this.takeDownloadFault(blob.path) : undefined;
    if (fault === 'cut' || fault === 'stall') {
      res.writeHead(200, { 'Content-Length': String(blob.bytes.length), ETag: `"${digest}"` });
      res.write(blob.bytes.subarray(0, blob.bytes.length >> 1), () => fault === 'cut' && req.socket.destroy());
      return;
    }
    serveBytes(req, res, fault === 'corrupt' ? corrupted(blob.bytes) : blob.bytes, digest);
  }

  private takeDownloadFault(path: string): DownloadFault | undefined {
    const index = this.faults.findIndex((fault) => fault.kind !== 'status' && fault.file === path);
    if (index === -1) return undefined;
    const [fault] = this.faults.splice(index, 1);
    return fault === undefined || fault.kind === 'status' ? undefined : fault.kind;
  }
}

type Route =
  | { kind: 'info'; repo: string; revision: string }
  | { kind: 'paths-info'; repo: string; revision: string }
  | { kind: 'resolve'; repo: string; revision: string; path: string }
  | { kind: 'cdn'; sha256: string };

function matchRoute(pathname: string): Route | undefined {
  const info = /^\/api\/models\/(.+)\/(revision|paths-info)\/([^/]+)$/.exec(pathname);
  if (info !== null) {
    const [, repo = '', kind, encodedRevision = ''] = info;
    const revision = decodeURIComponent(encodedRevision);
    return kind === 'revision' ? { kind: 'info', repo, revision } : { kind: 'paths-info', repo, revision };
  }
  const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(pathname);
  if (resolve !== null) {
    const [, repo = '', revision = '', path = ''] = resolve;
    return { kind: 'resolve', repo, revision: decodeURIComponent(revision), path: decodeURIComponent(path) };
  }
  const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(pathname);
  return cdn === null ? undefined : { kind: 'cdn', sha256: cdn[1] ?? '' };
}

function modelInfo(repo: string, commit: FakeCommit): object {
  const date = new Date(0).toISOString();
  return {
    _id: commit.sha.slice(0, 24),
    id: repo,
    modelId: repo,
    author: repo.split('/')[0],
    sha: commit.sha,
    lastModified: date,
    createdAt: date,
    private: false,
    gated: false,
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: [],
    pipeline_tag: null,
    library_name: 'transformers',
    siblings: [...commit.files.keys()].map((rfilename) => ({ rfilename })),
  };
}

function pathsInfo(commit: FakeCommit, body: unknown): object[] {
  const { paths = [], expand = false } = body as { paths?: string[]; expand?: boolean };
  return paths.flatMap((path) => {
    const bytes = commit.files.get(path);
    if (bytes === undefined) return [];
    const pointer = lfsPointer(bytes);
    return [
      {
        type: 'file',
        path,
        size: bytes.length,
        oid: gitBlobId(isLfs(path) ? pointer : bytes),
        ...(isLfs(path) && { lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: pointer.length } }),
        ...(expand && { lastCommit: { id: commit.sha, title: 'Upload', date: new Date(0).toISOString() } }),
      },
    ];
  });
}

function serveBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, etag: string): void {
  const headers = { ETag: `"${etag}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range === null) {
    res.writeHead(200, { ...headers, 'Content-Length': String(bytes.length) });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return;
  }
  const start = Number(range[1]);
  const end = range[2] === '' ? bytes.length - 1 : Math.min(Number(range[2]), bytes.length - 1);
  res.writeHead(206, { ...headers, 'Content-Length': String(end - start + 1), 'Content-Range': `bytes ${start}-${end}/${bytes.length}` });
  res.end(req.method === 'HEAD' ? undefined : bytes.subarray(start, end + 1));
}

function corrupted(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const middle = copy.length >> 1;
  copy[middle] = (copy[middle] ?? 0) ^ 0xff;
  return copy;
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Error-Code': code, 'X-Error-Message': message });
  res.end(JSON.stringify({ error: message }));
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The zip side of a torch.save archive. yauzl (a widely used, maintained reader) parses the
 * central directory, validates entry names and sizes, handles zip64, and streams data.pkl;
 * storages are then read synchronously, record by record, at the offsets it found, so that a
 * weight is read only when asked for and no storage is ever held by the archive. yauzl
 * closes the descriptor it reads through when it is closed, so the synchronous reads use a
 * descriptor of their own.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readInto } from '../../util/files.js';
import { inflateRawSync } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { ErrorCodes, MdlmError } from '../../errors.js';

const STORED = 0;
const DEFLATED = 8;

/** Where a record's bytes are in the file. */
export interface RecordLocation {
  name: string;
  dataStart: number;
  compressedSize: number;
  size: number;
  deflated: boolean;
}

export class TorchArchive {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly zip: ZipFile,
    private readonly entries: ReadonlyMap<string, Entry>,
    /** The folder every record sits in: torch.save names it after the file. */
    private readonly prefix: string,
    private readonly fileSize: number,
  ) {
    this.fd = fd;
  }

  static async open(path: string): Promise<TorchArchive> {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path}: cannot open (${(cause as Error).message})`, { cause });
    }
    let zip: ZipFile | undefined;
    try {
      zip = await openZip(path);
      const entries = await listEntries(path, zip);
      return new TorchArchive(path, fd, zip, entries, archivePrefix(path, entries), fstatSync(fd).size);
    } catch (error) {
      zip?.close();
      closeSync(fd);
      throw error;
    }
  }

  has(record: string): boolean {
    return this.entries.has(this.prefix + record);
  }

  /** A record's uncompressed size, or undefined when the archive lacks it. */
  recordSize(record: string): number | undefined {
    return this.entries.get(this.prefix + record)?.uncompressedSize;
  }

  /** Reads a whole (small) record such as data.pkl, inflating it if needed. */
  async read(record: string, maxBytes: number): Promise<Uint8Array> {
    const entry = this.entry(record);
    if (entry.uncompressedSize > maxBytes) {
      throw this.corrupt(`${entry.fileName} is ${entry.uncompressedSize} bytes, more than the ${maxBytes} this reader accepts`);
    }
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (cause) {
      throw this.corrupt(`cannot read ${entry.fileName} (${(cause as Error).message})`, cause);
    }
  }

  /** Finds a record's data (its local header says where), checking it lies inside the file. */
  async locate(record: string): Promise<RecordLocation> {
    const entry = this.entry(record);
    if (entry.isEncrypted() || (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED)) {
      throw this.corrupt(`${entry.fileName} is encrypted or compressed with method ${entry.compressionMethod}`);
    }
    let dataStart: number;
    try {
      ({ fileDataStart: dataStart } = await this.zip.readLocalFileHeaderPromise(entry, { minimal: true }));
    } catch (cause) {
      throw this.corrupt(`bad local header for ${entry.fileName} (${(cause as Error).message})`, cause);
    }
    if (dataStart + entry.compressedSize > this.fileSize) {
      throw this.corrupt(`${entry.fileName} runs past the end of the file (truncated)`);
    }
    return {
      name: entry.fileName,
      dataStart,
      compressedSize: entry.compressedSize,
      size: entry.uncompressedSize,
      deflated: entry.compressionMethod === DEFLATED,
    };
  }

  /** Reads bytes [start, start + length) of a record's data into a fresh, aligned buffer. */
  readRange(location: RecordLocation, start: number, length: number): Uint8Array {
    if (!location.deflated) return this.readAt(location.dataStart + start, length, location.name);
    const data = this.inflate(location);
    return new Uint8Array(data.subarray(start, start + length));
  }

  close(): void {
    if (this.fd === undefined) return;
    this.zip.close();
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** A deflated record is inflated whole (torch.save stores records uncompressed; zip tools may not). */
  private inflate(location: RecordLocation): Buffer {
    let data: Buffer;
    try {
      data = inflateRawSync(this.readAt(location.dataStart, location.compressedSize, location.name), {
        maxOutputLength: Math.max(location.size, 1),
      });
    } catch (cause) {
      throw this.corrupt(`cannot inflate ${location.name} (${(cause as Error).message})`, cause);
    }
    if (data.length !== location.size) throw this.corrupt(`${location.name} inflates to ${data.length} bytes, not ${location.size}`);
    return data;
  }

  private readAt(position: number, length: number, name: string): Uint8Array {
    const fd = this.openFd();
    const bytes = new Uint8Array(new ArrayBuffer(length));
    if (readInto(fd, bytes, position) < length) throw this.corrupt(`unexpected end of file reading ${name}`);
    return bytes;
  }

  private entry(record: string): Entry {
    const entry = this.entries.get(this.prefix + record);
    if (entry === undefined) throw this.corrupt(`the archive has no record ${this.prefix}${record}`);
    return entry;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    return this.fd;
  }

  private corrupt(message: string, cause?: unknown): MdlmError {
    return new MdlmError(ErrorCodes.corruptFile, `${this.path}: ${message}`, { cause });
  }
}

async function openZip(path: string): Promise<ZipFile> {
  try {
    // Loaded here, not with the module: only a command that opens a .ckpt needs it.
    const { openPromise } = await import('yauzl');
    return await openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (cause) {
    throw new MdlmError(
      ErrorCodes.corruptFile,
      `${path}: not a readable zip archive (${(cause as Error).message}); torch.save writes a zip file, so this one is truncated, corrupt or in torch's legacy pre-1.6 format`,
      { cause },
    );
  }
}

function listEntries(path: string, zip: ZipFile): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Entry>();
    zip.on('entry', (entry: Entry) => {
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (cause: Error) => {
      reject(new MdlmError(ErrorCodes.corruptFile, `${path}: corrupt zip directory (${cause.message})`, { cause }));
    });
    zip.readEntry();
  });
}

function archivePrefix(path: string, entries: ReadonlyMap<string, Entry>): string {
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new MdlmError(
      ErrorCodes.corruptFile,
      `${path}: a torch.save archive holds one <name>/data.pkl, this zip has ${pickles.length}`,
    );
  }
  return (pickles[0] as string).slice(0, -'data.pkl'.length);
}

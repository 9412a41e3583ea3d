/**
 * Keeps one GPU architecture's machine code in the fatbins of a CUDA shared library, so that
 * onnxruntime's CUDA provider (230 MB, its GPU code already compressed) travels to an sm_90 host
 * in a part that fits one device call (bench/gpu/pack.sh).
 *
 *   node --import tsx bench/gpu/fatbin.ts list LIBRARY
 *   node --import tsx bench/gpu/fatbin.ts strip --arch 90 LIBRARY OUT
 *
 * NVIDIA's own tool for this, nvprune, takes relocatable objects and static libraries only (on a
 * shared library it stops with "not relocatable"). So this rewrites each fatbin in place: it stays
 * at its offset (the registration wrappers in .nvFatBinSegment point at its start, and no other
 * relocation points into .nv_fatbin: both checked), its header's size covers only the kept
 * entries, moved unchanged to just after the header, and the bytes after them are zeroed, so that
 * xz takes them to nearly nothing. A fatbin with no entry for the architecture is left whole (on
 * that GPU it had nothing to load either). On a GPU of the kept architecture the CUDA runtime finds
 * exactly the machine code it would have chosen before: a cubin runs only on its own major
 * architecture, and a library with PTX (which the driver compiles for newer GPUs) is refused. The
 * output is read back and compared: each kept entry byte for byte, every byte outside .nv_fatbin.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const FATBIN_MAGIC = 0xba55ed50;
const WRAPPER_MAGIC = 0x466243b1;
const WRAPPER_BYTES = 24;
const RELA_BYTES = 24;
const SHT_RELA = 4;
const ENTRY_KINDS: Record<number, string> = { 1: 'ptx', 2: 'cubin' };

interface Section {
  name: string;
  type: number;
  address: bigint;
  offset: number;
  size: number;
}

interface Entry {
  /** Offset in the file. */
  offset: number;
  bytes: number;
  kind: string;
  arch: number;
}

interface Fatbin {
  offset: number;
  headerBytes: number;
  /** Bytes of the fatbin as it lies in the section: header and entries. */
  bytes: number;
  entries: Entry[];
}

function sections(elf: Buffer): Section[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const tableOffset = Number(elf.readBigUInt64LE(0x28));
  const entryBytes = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const raw = Array.from({ length: count }, (_, index) => {
    const at = tableOffset + index * entryBytes;
    return { nameAt: elf.readUInt32LE(at), type: elf.readUInt32LE(at + 4), address: elf.readBigUInt64LE(at + 16), offset: Number(elf.readBigUInt64LE(at + 24)), size: Number(elf.readBigUInt64LE(at + 32)) };
  });
  const names = raw[elf.readUInt16LE(0x3e)];
  if (names === undefined) throw new Error('no section-name table');
  return raw.map(({ nameAt, ...section }) => {
    const start = names.offset + nameAt;
    return { ...section, name: elf.toString('latin1', start, elf.indexOf(0, start)) };
  });
}

function section(all: Section[], name: string): Section {
  const found = all.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no ${name} section: not a library with CUDA device code`);
  return found;
}

/** A fatbin at `offset`: its header and entries, as the CUDA runtime reads them. */
function readFatbin(elf: Buffer, offset: number): Fatbin {
  if (elf.readUInt32LE(offset) !== FATBIN_MAGIC) throw new Error(`no fatbin header at 0x${offset.toString(16)}`);
  const headerBytes = elf.readUInt16LE(offset + 6);
  const bytes = headerBytes + Number(elf.readBigUInt64LE(offset + 8));
  const entries: Entry[] = [];
  for (let at = offset + headerBytes; at < offset + bytes; ) {
    const entryBytes = elf.readUInt32LE(at + 4) + Number(elf.readBigUInt64LE(at + 8));
    entries.push({ offset: at, bytes: entryBytes, kind: ENTRY_KINDS[elf.readUInt16LE(at)] ?? `kind ${elf.readUInt16LE(at)}`, arch: elf.readUInt32LE(at + 28) });
    at += entryBytes;
  }
  if (entries.reduce((sum, entry) => sum + entry.bytes, headerBytes) !== bytes) throw new Error(`the entries of the fatbin at 0x${offset.toString(16)} overrun it`);
  return { offset, headerBytes, bytes, entries };
}

/**
 * The fatbins the registration wrappers point at (the only way the runtime reaches them), each
 * checked to end before the next begins; and no relocation may point inside one, so that a fatbin
 * may shrink in place.
 */
function readFatbins(elf: Buffer, all: Section[], fatbinSection: Section): Fatbin[] {
  const fileOffset = (address: bigint) => Number(address - fatbinSection.address) + fatbinSection.offset;
  const wrappers = section(all, '.nvFatBinSegment');
  const starts = new Set<number>();
  for (let at = wrappers.offset; at < wrappers.offset + wrappers.size; at += WRAPPER_BYTES) {
    if (elf.readUInt32LE(at) !== WRAPPER_MAGIC) throw new Error(`no fatbin wrapper at 0x${at.toString(16)}`);
    starts.add(fileOffset(elf.readBigUInt64LE(at + 8)));
  }
  const fatbins = [...starts].sort((a, b) => a - b).map((offset) => readFatbin(elf, offset));
  fatbins.forEach((fatbin, index) => {
    const limit = fatbins[index + 1]?.offset ?? fatbinSection.offset + fatbinSection.size;
    if (fatbin.offset < fatbinSection.offset || fatbin.offset + fatbin.bytes > limit) throw new Error(`the fatbin at 0x${fatbin.offset.toString(16)} overlaps the next`);
  });
  for (const rela of all.filter((candidate) => candidate.type === SHT_RELA)) {
    for (let at = rela.offset; at < rela.offset + rela.size; at += RELA_BYTES) {
      const target = fileOffset(elf.readBigInt64LE(at + 16));
      if (target >= fatbinSection.offset && target < fatbinSection.offset + fatbinSection.size && !starts.has(target)) {
        throw new Error(`a relocation in ${rela.name} points inside a fatbin (file offset 0x${target.toString(16)})`);
      }
    }
  }
  return fatbins;
}

interface Library {
  elf: Buffer;
  fatbinSection: Section;
  fatbins: Fatbin[];
}

function readLibrary(elf: Buffer): Library {
  const all = sections(elf);
  const fatbinSection = section(all, '.nv_fatbin');
  const fatbins = readFatbins(elf, all, fatbinSection);
  return { elf, fatbinSection, fatbins };
}

const MIB = 1024 * 1024;

/** Entries and bytes per kind and architecture. */
function describe({ fatbins }: Library): string[] {
  const totals = new Map<string, { entries: number; bytes: number }>();
  for (const entry of fatbins.flatMap((fatbin) => fatbin.entries)) {
    const key = `${entry.kind} sm_${entry.arch}`;
    const total = totals.get(key) ?? { entries: 0, bytes: 0 };
    totals.set(key, { entries: total.entries + 1, bytes: total.bytes + entry.bytes });
  }
  return [...totals].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([key, { entries, bytes }]) => `${key}: ${entries} entries, ${(bytes / MIB).toFixed(2)} MiB`);
}

function kept(fatbin: Fatbin, arch: number): Entry[] {
  return fatbin.entries.filter((entry) => entry.arch === arch);
}

function strip(library: Library, arch: number): Buffer {
  // PTX of an older architecture is compiled by the driver for a newer GPU: dropping it could lose a kernel.
  if (library.fatbins.some((fatbin) => fatbin.entries.some((entry) => entry.kind !== 'cubin'))) {
    throw new Error('this library carries PTX (or entries of an unknown kind): keeping only one architecture\'s cubins could lose kernels');
  }
  const out = Buffer.from(library.elf);
  for (const fatbin of library.fatbins) {
    const entries = kept(fatbin, arch);
    if (entries.length === 0) continue;
    let at = fatbin.offset + fatbin.headerBytes;
    for (const entry of entries) at += library.elf.copy(out, at, entry.offset, entry.offset + entry.bytes);
    out.writeBigUInt64LE(BigInt(at - fatbin.offset - fatbin.headerBytes), fatbin.offset + 8);
    out.fill(0, at, fatbin.offset + fatbin.bytes);
  }
  return out;
}

/** Reads `stripped` back as the runtime will and compares it with what it must hold. */
function verify(original: Library, stripped: Buffer, arch: number): Library {
  const { elf, fatbinSection } = original;
  const unchanged = (start: number, end: number) => stripped.subarray(start, end).equals(elf.subarray(start, end));
  if (stripped.length !== elf.length || !unchanged(0, fatbinSection.offset) || !unchanged(fatbinSection.offset + fatbinSection.size, elf.length)) {
    throw new Error('the stripped library differs outside .nv_fatbin');
  }
  const result = readLibrary(stripped);
  const after = new Map(result.fatbins.map((fatbin) => [fatbin.offset, fatbin.entries]));
  for (const fatbin of original.fatbins) {
    const expected = kept(fatbin, arch).length === 0 ? fatbin.entries : kept(fatbin, arch);
    const actual = after.get(fatbin.offset) ?? [];
    const same = (entry: Entry, index: number) => {
      const want = expected[index] as Entry;
      return stripped.subarray(entry.offset, entry.offset + entry.bytes).equals(elf.subarray(want.offset, want.offset + want.bytes));
    };
    if (actual.length !== expected.length || !actual.every(same)) throw new Error(`the fatbin at 0x${fatbin.offset.toString(16)} does not hold exactly its sm_${arch} entries`);
  }
  return result;
}

const Command = z.discriminatedUnion('command', [
  z.object({ command: z.literal('list'), library: z.string() }),
  z.object({ command: z.literal('strip'), arch: z.coerce.number().int().positive(), library: z.string(), out: z.string() }),
]);

function main(): void {
  const { values, positionals } = parseArgs({ options: { arch: { type: 'string' } }, allowPositionals: true });
  const [command, library, out] = positionals;
  const args = Command.parse({ command, library, out, arch: values.arch });
  const original = readLibrary(readFileSync(args.library));
  console.log(`${args.library}: ${original.fatbins.length} fatbins, ${(original.fatbinSection.size / MIB).toFixed(1)} MiB`);
  for (const line of describe(original)) console.log(`  ${line}`);
  if (args.command === 'list') return;
  const stripped = strip(original, args.arch);
  const result = verify(original, stripped, args.arch);
  writeFileSync(args.out, stripped, { mode: 0o755 });
  const whole = original.fatbins.filter((fatbin) => kept(fatbin, args.arch).length === 0).map((fatbin) => `0x${fatbin.offset.toString(16)} (${fatbin.entries.map((entry) => `sm_${entry.arch}`).join(', ')})`);
  console.log(`${args.out}: every fatbin now holds only its sm_${args.arch} entries, checked byte for byte${whole.length === 0 ? '' : `; left whole, having none: ${whole.join(', ')}`}`);
  for (const line of describe(result)) console.log(`  ${line}`);
}

main();

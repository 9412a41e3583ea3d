/**
 * The command-line side of a request-parameter table (src/api/params.ts): one option per
 * field (a group's parts each get their own), values parsed by the fields' own zod schemas
 * within the command line's bounds, a group's parts given together or not at all.
 */
import { Option } from 'commander';
import { z } from 'zod';
import type { FieldParam, FlagSpec, GroupParam, ParamTable, RequestBounds, RequestOf } from '../api/index.js';
import { kebab } from './options.js';

type FieldNames<Table extends ParamTable> = { [Name in keyof Table]: Table[Name] extends FieldParam ? Name : never }[keyof Table];
type PartsOf<Table extends ParamTable> = { [Name in keyof Table]: Table[Name] extends GroupParam<infer Parts> ? Parts : never }[keyof Table];

/** What parses a table's flags: each field's value by its name, each part of a group by the part's. */
export type FlagShape<Table extends ParamTable> = { [Name in FieldNames<Table>]: z.ZodType<z.output<ReturnType<Table[Name]['field']>>> } & {
  [Part in keyof PartsOf<Table>]: z.ZodType<z.output<ReturnType<PartsOf<Table>[Part]['field']>> | undefined>;
};

interface Flag {
  name: string;
  option: Option;
  /** Its value's schema: the field's, or a group part's, which may be left out. */
  value: (bounds: RequestBounds) => z.ZodType;
}

function flag(name: string, spec: FlagSpec, value: Flag['value']): Flag {
  const option = new Option(`--${spec.name ?? kebab(name)}${spec.value === undefined ? '' : ` ${spec.value}`}`, spec.help);
  return { name, option: spec.default === undefined ? option : option.default(spec.default), value };
}

/** A table's flags in its order. */
function flagsOf(table: ParamTable): Flag[] {
  return Object.entries(table).flatMap(([name, param]) =>
    'parts' in param
      ? Object.entries(param.parts).map(([part, { flag: spec, field }]) => flag(part, spec, (bounds) => field(bounds).optional()))
      : [flag(name, param.flag, param.field)],
  );
}

/** Flags arrive as text: a field that is a number reads it as one, as z.coerce.number() would. */
function fromText(value: z.ZodType): z.ZodType {
  const inner = value instanceof z.ZodOptional ? value.unwrap() : value;
  return inner instanceof z.ZodNumber ? z.preprocess((text) => (typeof text === 'string' ? Number(text) : text), value) : value;
}

/** The commander options of a table, in its order. */
export function requestOptions(table: ParamTable): Option[] {
  return flagsOf(table).map(({ option }) => option);
}

/** The zod fields that parse a table's flags (read by flagValues), within `bounds`. */
export function flagShape<Table extends ParamTable>(table: Table, bounds: RequestBounds): FlagShape<Table> {
  return Object.fromEntries(flagsOf(table).map(({ name, value }) => [name, fromText(value(bounds))])) as FlagShape<Table>;
}

/** Commander's values under the parameters' names: a switch such as --no-special-tokens has an attribute name of its own. */
export function flagValues(table: ParamTable, raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(flagsOf(table).map(({ name, option }) => [name, raw[option.attributeName()]]));
}

/** Refuses a group given in part: `give both --stride-length and --num-strides, or neither`. */
export function groupsTogether(table: ParamTable): (flags: Record<string, unknown>, ctx: z.RefinementCtx) => void {
  const groups = Object.values(table).flatMap((param) => ('parts' in param ? [flagsOf(param.parts)] : []));
  return (flags, ctx) => {
    for (const parts of groups) {
      const given = parts.filter(({ name }) => flags[name] !== undefined).length;
      if (given > 0 && given < parts.length) {
        const flags = parts.map(({ option }) => option.long).join(' and ');
        ctx.addIssue({ code: 'custom', path: [(parts[0] as Flag).name], message: `give both ${flags}, or neither` });
      }
    }
  };
}

/** A table's values in parsed flags, under the service's names, a group's parts put back together. */
export function requestFromFlags<Table extends ParamTable>(table: Table, flags: Record<string, unknown>): RequestOf<Table> {
  return Object.fromEntries(
    Object.entries(table).map(([name, param]) => {
      if (!('parts' in param)) return [name, flags[name]];
      const parts = Object.keys(param.parts);
      return [name, parts.every((part) => flags[part] === undefined) ? undefined : Object.fromEntries(parts.map((part) => [part, flags[part]]))];
    }),
  ) as RequestOf<Table>;
}

/**
 * Request parameters declared once, in tables keyed by the service's camelCase names: each
 * entry gives the HTTP field (its zod schema: domain, bounds and description, as the OpenAPI
 * document shows it) and the command-line flag. The HTTP name is the snake_case of the key
 * and the flag its kebab-case; the server builds its body schemas with httpShape and reads
 * bodies back with requestOf, the CLI builds its options and their parsing from the same
 * entries (src/cli/request-flags.ts).
 */
import { z } from 'zod';
import type { Limits } from './server-config.js';

/** What bounds the fields: the server's limits and the model's window (on the command line, bounds that only catch typos). */
export interface RequestBounds {
  limits: Pick<Limits, 'maxSteps' | 'maxNumSamples' | 'maxStrides'>;
  modelLength: number;
}

/** How a parameter reads on the command line. */
export interface FlagSpec {
  /** The value's placeholder in --help (`<n>`); absent for a switch. */
  value?: string;
  /** The flag, when it is not the key in kebab-case (`no-special-tokens` for a switch that turns a default off). */
  name?: string;
  help: string;
  /** The default --help shows: the flag's text when it is not given. */
  default?: string;
}

/** One HTTP field and one flag. */
export interface FieldParam {
  field: (bounds: RequestBounds) => z.ZodType;
  flag: FlagSpec;
}

/** An object field (`semi_ar`) whose parts are flags of their own on the command line, given together or not at all. */
export interface GroupParam<Parts extends Record<string, FieldParam> = Record<string, FieldParam>> {
  field: (bounds: RequestBounds) => z.ZodType;
  parts: Parts;
}

export type Param = FieldParam | GroupParam;
export type ParamTable = Record<string, Param>;

type SnakeCase<Name extends string> = Name extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : Name;

/** A table's HTTP fields, by their snake_case names. */
export type HttpShape<Table extends ParamTable> = { [Name in keyof Table & string as SnakeCase<Name>]: ReturnType<Table[Name]['field']> };

/** A body holding a table's fields (and perhaps others). */
export type HttpBody<Table extends ParamTable> = { [Name in keyof HttpShape<Table>]?: z.output<HttpShape<Table>[Name]> };

/** A table's values as the service names them. */
export type RequestOf<Table extends ParamTable> = {
  [Name in keyof Table]: Table[Name] extends GroupParam<infer Parts> ? RequestOf<Parts> | undefined : z.output<ReturnType<Table[Name]['field']>>;
};

export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** An object field of required parts, itself optional. */
export function group<Parts extends Record<string, FieldParam>>(parts: Parts, description: string) {
  return {
    parts,
    field: (bounds: RequestBounds) => z.strictObject(httpShape(parts, bounds)).describe(description).optional(),
  };
}

/** The zod fields of a table, in its order, under their HTTP names. */
export function httpShape<Table extends ParamTable>(table: Table, bounds: RequestBounds): HttpShape<Table> {
  return Object.fromEntries(Object.entries(table).map(([name, param]) => [snakeCase(name), param.field(bounds)])) as HttpShape<Table>;
}

/** A table's values in a validated body, under the service's names. */
export function requestOf<Table extends ParamTable>(table: Table, body: HttpBody<Table>): RequestOf<Table> {
  const values = body as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(table).map(([name, param]) => {
      const value = values[snakeCase(name)];
      return [name, 'parts' in param && value !== undefined ? requestOf(param.parts, value as HttpBody<ParamTable>) : value];
    }),
  ) as RequestOf<Table>;
}

import type { Static, TSchema } from '@sinclair/typebox';
import { FormatRegistry } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { isIsoTime, isUuid } from './patterns.ts';

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isIsoTime);
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', isUuid);

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Validator<T> {
  check(value: unknown): value is T;
  /** Parses JSON bytes and validates them; never throws. */
  parse(payload: Buffer | string): Parsed<T>;
  validate(value: unknown): Parsed<T>;
}

interface Checker {
  Check(value: unknown): boolean;
  Errors(value: unknown): { First(): { path: string; message: string } | undefined };
}

/**
 * In a browser the dashboard's content security policy forbids generating code (`new Function`,
 * what the compiler does): there the schema is interpreted, with the same answers.
 */
const inBrowser = typeof (globalThis as { document?: unknown }).document !== 'undefined';

function checker(schema: TSchema): Checker {
  if (!inBrowser) return TypeCompiler.Compile(schema);
  return { Check: (v) => Value.Check(schema, v), Errors: (v) => Value.Errors(schema, v) };
}

/** Compiles a schema once; both ends of a contract use the same compiled validator. */
export function compile<S extends TSchema>(schema: S): Validator<Static<S>> {
  const compiled = checker(schema);
  const validate = (value: unknown): Parsed<Static<S>> => {
    if (compiled.Check(value)) return { ok: true, value };
    const first = compiled.Errors(value).First();
    const where = first?.path || '/';
    return { ok: false, error: `invalid at ${where}: ${first?.message ?? 'does not match schema'}` };
  };
  return {
    check: (v): v is Static<S> => compiled.Check(v),
    validate,
    parse(payload) {
      let value: unknown;
      try {
        value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
      } catch (err) {
        return { ok: false, error: `not JSON: ${(err as Error).message}` };
      }
      return validate(value);
    },
  };
}

/**
 * How the services check their configuration (node-agent YAML, master and gateway environment):
 * every reader adds what is wrong to one `ConfigProblems`, and the service throws its own
 * ConfigError once, listing every problem, so an operator fixes them all in one go.
 */
import { Kind, type Static, type TObject, type TSchema, Type, TypeRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export class ConfigProblems {
  private readonly problems: string[] = [];

  add(problem: string): void {
    this.problems.push(problem);
  }

  /**
   * Runs a reader that throws at its first problem (a shared parser's own checks): its message,
   * after `prefix`, becomes one problem here and `fallback` stands in for the value.
   */
  attempt<T>(read: () => T, fallback: T, prefix = ''): T {
    try {
      return read();
    } catch (err) {
      this.add(`${prefix}${(err as Error).message}`);
      return fallback;
    }
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /** Every problem, each once, in the order found. */
  list(): string[] {
    return [...new Set(this.problems)];
  }

  /** Throws the error `fail` makes of the problems, when there are any. */
  throwIfAny(fail: (problems: string[]) => Error): void {
    if (!this.empty) throw fail(this.list());
  }
}

/**
 * A parsed document against its schema, defaults filled in (on a copy): the typed value, and
 * one problem per mismatch as `key.path: message` (with the pattern where one was broken). A
 * schema with a `problem` text (the env schemas below) is reported as `key problem` instead,
 * `{value}` in it standing for the trimmed value and `{json}` for it as a JSON string.
 */
export function checkSchema<S extends TSchema>(schema: S, doc: unknown, problems: ConfigProblems): Static<S> {
  const value = Value.Default(schema, structuredClone(doc));
  for (const err of Value.Errors(schema, value)) {
    const where = err.path ? err.path.slice(1).replaceAll('/', '.') : '(top level)';
    const problem: unknown = err.schema.problem;
    if (typeof problem === 'string') {
      const raw = String(err.value).trim();
      problems.add(
        `${where} ${problem.replaceAll('{value}', raw).replaceAll('{json}', JSON.stringify(raw))}`,
      );
      continue;
    }
    const hint = err.schema.pattern ? ` (pattern ${err.schema.pattern})` : '';
    problems.add(`${where}: ${err.message}${hint}`);
  }
  return value as Static<S>;
}

// --- Environment variables -----------------------------------------------------------------
// A service's environment is an object of optional strings: each variable's form (digits in a
// range, one of some words, a URL's scheme) is checked by its schema, and the service turns the
// checked strings into its typed config. Blank variables count as unset. A variable's `problem`
// is what the operator reads when it is malformed.

/** The variables `schema` names, from `env`, blank ones left out, checked at once. */
export function checkEnv<P extends Record<string, TSchema>>(
  schema: TObject<P>,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblems,
): Partial<Record<keyof P, string>> {
  const doc: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw.trim() !== '') doc[key] = raw;
  }
  return checkSchema(schema, doc, problems) as Partial<Record<keyof P, string>>;
}

/** A variable of any text, or of text that matches `pattern` (told by `problem` otherwise). */
export function EnvText(options: { pattern?: string; problem?: string; description?: string } = {}) {
  return Type.Optional(Type.String(options));
}

/** One of `values` (surrounding blanks allowed). */
export function EnvOneOf(values: readonly string[], problem: string) {
  const words = values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return Type.Optional(Type.String({ pattern: `^\\s*(${words})\\s*$`, problem }));
}

const ENV_INTEGER = 'EnvInteger';
const DIGITS = /^\s*\d+\s*$/;
if (!TypeRegistry.Has(ENV_INTEGER))
  TypeRegistry.Set<{ minimum: number; maximum: number }>(ENV_INTEGER, (schema, value) => {
    if (typeof value !== 'string' || !DIGITS.test(value)) return false;
    const n = Number(value);
    return Number.isSafeInteger(n) && n >= schema.minimum && n <= schema.maximum;
  });

/**
 * Digits for an integer from `minimum` to `maximum`. As JSON Schema it reads as a string of
 * digits; the range is checked by its kind, registered above.
 */
export function EnvInteger(minimum: number, maximum: number, problem: string) {
  return Type.Optional(
    Type.Unsafe<string>({
      [Kind]: ENV_INTEGER,
      type: 'string',
      pattern: DIGITS.source,
      minimum,
      maximum,
      problem,
    }),
  );
}

/** The integer of a variable EnvInteger checked, else `fallback`. */
export function envInt(raw: string | undefined, fallback: number): number {
  return raw === undefined ? fallback : Number(raw);
}

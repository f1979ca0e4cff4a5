/**
 * How the services check their configuration (node-agent YAML, master and gateway environment):
 * every reader adds what is wrong to one `ConfigProblems`, and the service throws its own
 * ConfigError once, listing every problem, so an operator fixes them all in one go.
 */
import type { Static, TSchema } from '@sinclair/typebox';
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
 * one problem per mismatch as `key.path: message` (with the pattern where one was broken).
 */
export function checkSchema<S extends TSchema>(schema: S, doc: unknown, problems: ConfigProblems): Static<S> {
  const value = Value.Default(schema, structuredClone(doc));
  for (const err of Value.Errors(schema, value)) {
    const where = err.path ? err.path.slice(1).replaceAll('/', '.') : '(top level)';
    const hint = err.schema.pattern ? ` (pattern ${err.schema.pattern})` : '';
    problems.add(`${where}: ${err.message}${hint}`);
  }
  return value as Static<S>;
}

import { readFile } from 'node:fs/promises';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';

/**
 * Loads Prisma's schema engine compiled to WebAssembly. The package imports its `.wasm`
 * file as an ES module, which Node rejects, so the module is instantiated here by hand and
 * handed to the generated bindings. The native engine binary is not needed anywhere.
 */
type Bindings = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

let bindings: Promise<Bindings> | undefined;

// The Node typings this project builds against do not declare the WebAssembly global.
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(
    module: object,
    imports: Record<string, unknown>,
  ): Promise<{ exports: Record<string, unknown> }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

async function loadBindings(): Promise<Bindings> {
  const bgUrl = import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const wasmPath = new URL('schema_engine_bg.wasm', bgUrl);
  const bg: Bindings = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  const module = await wasmApi.compile(await readFile(wasmPath));
  // The engine races its lock and connect operations against timers (10 s) that are never
  // cleared; unref'd, they no longer keep a finished process alive for those 10 s.
  const imports: Record<string, unknown> = { ...bg };
  for (const name of Object.keys(imports)) {
    if (!name.startsWith('__wbg_setTimeout_')) continue;
    imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
  }
  const instance = await wasmApi.instantiate(module, { './schema_engine_bg.js': imports });
  const exports = instance.exports as unknown as { __wbindgen_start: () => void };
  // The bindings keep a reference to the instance's exports for all later calls.
  (bg as unknown as { __wbg_set_wasm: (w: unknown) => void }).__wbg_set_wasm(instance.exports);
  exports.__wbindgen_start();
  return bg;
}

export interface EngineHandle {
  engine: SchemaEngine;
  close(): Promise<void>;
}

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

/**
 * The pg adapter runs a migration script by splitting it at every `;`, which breaks any
 * statement with a semicolon inside (a function body, a string). Send the script whole, as
 * `prisma migrate deploy` with the native engine does: PostgreSQL runs a multi-statement
 * simple query as one implicit transaction.
 */
function wholeScripts(adapter: PgAdapter): PgAdapter {
  const driver = adapter.underlyingDriver();
  const onError = (adapter as unknown as { onError(err: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await driver.query(script);
    } catch (err) {
      onError(err);
    }
  };
  return adapter;
}

/** Opens a schema engine connected to `databaseUrl` through the pg driver adapter. */
export async function openSchemaEngine(
  databaseUrl: string,
  schemaPath: string,
  log: (line: string) => void = () => {},
): Promise<EngineHandle> {
  bindings ??= loadBindings();
  const bg = await bindings;
  const datamodel = await readFile(schemaPath, 'utf8');
  const factory = new PrismaPg({ connectionString: databaseUrl, max: 2 });
  // The engine opens its connections through the factory and never closes them; while one
  // stays open it keeps holding the migration advisory lock. Track them to dispose on close.
  const opened: { dispose(): Promise<void>; underlyingDriver(): { end(): Promise<void> } }[] = [];
  const tracking = Object.assign(Object.create(Object.getPrototypeOf(factory)), factory, {
    connect: async () => {
      const adapter = wholeScripts(await factory.connect());
      opened.push(adapter);
      return adapter;
    },
    connectToShadowDb: async () => {
      const adapter = wholeScripts(await factory.connectToShadowDb());
      opened.push(adapter);
      return adapter;
    },
  }) as PrismaPg;
  const adapter = bindMigrationAwareSqlAdapterFactory(tracking);
  const engine = await bg.SchemaEngine.new(
    { datamodels: [[schemaPath, datamodel]] },
    (line: string) => log(line),
    adapter,
  );
  return {
    engine,
    close: async () => {
      engine.free();
      const adapters = opened.splice(0);
      await Promise.allSettled(adapters.map((a) => a.dispose()));
      // Each adapter owns a pool; ending it lets the process exit without idle timers.
      const pools = new Set(adapters.map((a) => a.underlyingDriver()));
      await Promise.allSettled([...pools].map((p) => p.end()));
    },
  };
}

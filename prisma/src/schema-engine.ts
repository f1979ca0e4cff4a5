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
  const instance = await wasmApi.instantiate(module, {
    './schema_engine_bg.js': bg,
  });
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
  const adapter = bindMigrationAwareSqlAdapterFactory(factory);
  const engine = await bg.SchemaEngine.new(
    { datamodels: [[schemaPath, datamodel]] },
    (line: string) => log(line),
    adapter,
  );
  return {
    engine,
    close: async () => {
      engine.free();
    },
  };
}

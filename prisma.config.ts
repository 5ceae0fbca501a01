// Prisma CLI configuration for EAWE.
//
// Prisma owns the schema of record (schema.prisma) and writes its migrations into
// eawe/db/migrations so they ship inside the Python package; EAWE applies them with
// eawe/db/migrate.py, which records them in Prisma's own `_prisma_migrations` table.
//
// The CLI runs fully offline: `engine: "js"` selects the WebAssembly schema engine
// bundled in the `prisma` package (no native engine download) and reaches PostgreSQL
// through the pure-JS `pg` driver adapter. That engine opens a connection even for
// `migrate diff`, so every command except validate/format needs DATABASE_URL.
// .ci/prisma-check.sh supplies a throwaway embedded PostgreSQL and the placeholder
// engine paths that stop the CLI from looking for native engines; use
// `.ci/prisma-check.sh run <prisma args>` for any other Prisma command.
import { randomUUID } from "node:crypto";

import { PrismaPg } from "@prisma/adapter-pg";
import { parse } from "pg-connection-string";
import { defineConfig } from "prisma/config";

type PgConfig = {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  allowExitOnIdle: boolean;
};

// Explicit fields rather than `connectionString`: the shadow database is reached by
// overriding `database`, which a connection string would silently win over.
// pg-connection-string reads every libpq URI form, including the Unix-socket
// `postgresql://user@/db?host=/dir` that the embedded server hands out.
function pgConfig(url: string): PgConfig {
  const { host, port, user, password, database } = parse(url);
  return {
    host: host ?? undefined,
    port: port ? Number(port) : undefined,
    user: user || undefined,
    password: password || undefined,
    database: database ?? undefined,
    // Idle pooled connections would otherwise keep the CLI alive for the 10 s idle timeout.
    allowExitOnIdle: true,
  };
}

// While describing a database the WebAssembly schema engine reads catalog columns
// of type `name` (e.g. `pg_namespace.nspname`) and `"char"` (e.g.
// `pg_constraint.contype`), which @prisma/adapter-pg 6.19 refuses ("Column type
// 'name' could not be deserialized"). Both arrive from `pg` as plain strings: `name`
// is handed to the engine as Text, `"char"` as Character (what it reads contype as).
const NAME_OID = 19;
const CHAR_OID = 18;
const TEXT_OID = 25;
const COLUMN_TYPE_CHARACTER = 6; // ColumnTypeEnum.Character in @prisma/driver-adapter-utils
const CHAR_COLUMNS = Symbol("eawe.charColumns");

// A multi-statement script yields an array of results, each with its own `fields`.
type PgResult = { fields?: { dataTypeID: number }[] };
type Query = { [CHAR_COLUMNS]?: number[] };
type CatalogReader = {
  performIO(query: Query): Promise<PgResult | PgResult[]>;
  queryRaw(query: Query): Promise<{ columnTypes: number[] }>;
  startTransaction?: (...args: unknown[]) => Promise<object>;
};

function readCatalogTypes<T extends object>(queryable: T): T {
  const target = queryable as T & CatalogReader;
  const performIO = target.performIO.bind(target);
  target.performIO = async (query) => {
    const result = await performIO(query);
    for (const part of Array.isArray(result) ? result : [result]) {
      (part.fields ?? []).forEach((field, index) => {
        if (field.dataTypeID === CHAR_OID) query[CHAR_COLUMNS]?.push(index);
        if (field.dataTypeID === NAME_OID || field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID;
      });
    }
    return result;
  };
  const queryRaw = target.queryRaw.bind(target);
  target.queryRaw = async (query) => {
    const charColumns: number[] = [];
    const result = await queryRaw({ ...query, [CHAR_COLUMNS]: charColumns });
    for (const index of charColumns) result.columnTypes[index] = COLUMN_TYPE_CHARACTER;
    return result;
  };
  const startTransaction = target.startTransaction?.bind(target);
  if (startTransaction) {
    target.startTransaction = async (...args) => readCatalogTypes(await startTransaction(...args));
  }
  return queryable;
}

// @prisma/adapter-pg 6.19 runs a script by splitting it on ";", which breaks any
// dollar-quoted function body (the audit trigger). Send it whole instead, as the
// classic engine does: PostgreSQL runs a multi-statement simple query atomically.
type ScriptRunner = {
  client: { query(sql: string): Promise<unknown> };
  onError(error: unknown): never;
  executeScript(script: string): Promise<void>;
};

function runScriptsWhole<T extends object>(adapter: T): T {
  const target = adapter as T & ScriptRunner;
  target.executeScript = async (script) => {
    try {
      await target.client.query(script);
    } catch (error) {
      target.onError(error);
    }
  };
  return adapter;
}

async function connectPg(config: PgConfig) {
  return runScriptsWhole(readCatalogTypes(await new PrismaPg(config).connect()));
}

// Prisma's own factory also drops the shadow database before closing the pool that
// is still connected to it, so `migrate diff --from-migrations` fails with "database
// ... is being accessed by other users". This one closes first, then drops (FORCE
// as a backstop for a connection the engine may still hold).
class EawePrismaPg extends PrismaPg {
  private readonly pg: PgConfig;

  constructor(config: PgConfig) {
    super(config);
    this.pg = config;
  }

  override async connect() {
    return connectPg(this.pg);
  }

  override async connectToShadowDb() {
    const admin = await connectPg(this.pg);
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await admin.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = await connectPg({ ...this.pg, database });
    const closeShadow = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await closeShadow();
      try {
        await admin.executeScript(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await admin.dispose();
      }
    };
    return shadow;
  }
}

export default defineConfig({
  schema: "schema.prisma",
  migrations: {
    path: "eawe/db/migrations",
  },
  experimental: {
    adapter: true,
  },
  engine: "js",
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (!url) {
      throw new Error(
        "DATABASE_URL is not set: this Prisma command needs a PostgreSQL connection " +
          "(run it through `.ci/prisma-check.sh run ...`, which starts a throwaway server)",
      );
    }
    return new EawePrismaPg(pgConfig(url));
  },
});

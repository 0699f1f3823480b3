/**
 * The PostgreSQL store: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&pool=N&...]`
 * (`postgresql://` too), for several nodes on one database. Every table lives in `schema`
 * (default `public`; created if missing). Versioned migrations run at open().
 *
 * This file is the entry: the store, and everything other folders import. The parts:
 * ./postgres-config.ts (URL and settings), ./postgres-backend.ts (pool, batches, reads),
 * ./postgres-batch.ts (a batch as statements), ./postgres-sql.ts (the statements),
 * ./postgres-errors.ts (what an error means), ./postgres-migrate.ts (migrations).
 */
import { GroupCommitStore } from './group-commit.js';
import { PostgresBackend } from './postgres-backend.js';
import { postgresConfig, type PostgresStoreOptions } from './postgres-config.js';

export { PostgresBackend } from './postgres-backend.js';
export {
  checkSchemaName, parsePostgresUrl, PG_TYPES, poolConfig, postgresConfig, type PostgresConfig, type PostgresStoreOptions, type PostgresUrl,
} from './postgres-config.js';
export { pgMessage } from './postgres-errors.js';
export { migratePostgres, postgresSchemaVersion, readSchemaVersion } from './postgres-migrate.js';

/** `postgres://...`: PostgreSQL through a pool, batches pipelined on one connection each. */
export class PostgresStore extends GroupCommitStore {
  readonly schema: string;
  private readonly pg: PostgresBackend;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const config = postgresConfig(url, opts);
    const backend = new PostgresBackend(config);
    super(config.label, backend, opts);
    this.schema = config.schema;
    this.pg = backend;
  }

  /** The schema version after open() (0 before). */
  get schemaVersion(): number {
    return this.pg.schemaVersion;
  }
}

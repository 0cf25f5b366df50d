export {
  type Database,
  type DatabaseOptions,
  openDatabase,
  type Queryable,
  type QueryResult,
} from "./database.js";
export { type MigrationSet, migrate } from "./migrate.js";
export { createTestDatabase, type TestDatabase } from "./test-database.js";

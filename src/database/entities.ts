import { AdminUnit } from '../directory/admin-unit.entity';

/** Every TypeORM entity; the data source, the migration generator and the tests use this one list. */
export const ENTITIES = [AdminUnit];

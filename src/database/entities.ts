import { AdminUnit } from '../directory/admin-unit.entity';
import { Organization } from '../directory/organization.entity';
import { User } from '../identity/user.entity';

/** Every TypeORM entity; the data source, the migration generator and the tests use this one list. */
export const ENTITIES = [AdminUnit, Organization, User];

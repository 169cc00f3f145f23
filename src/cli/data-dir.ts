import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, loadConfig } from '../config/config';
import { KEYRING_FILE } from '../crypto/file-key-provider';

/**
 * Refuses to run a command-line tool on a HAVEN_DATA_DIR that is not the service's (e.g. started from another
 * directory with the default `./data`): without it the development key provider would make a new keyring there,
 * and the embedded server a new, empty cluster. `database`: the tool also needs the embedded cluster when no
 * DATABASE_URL is set.
 */
export function assertExistingDataDir(config: ReturnType<typeof loadConfig>, database: boolean): void {
  const missing: string[] = [];
  const keyVariables = config.keys.masterKey !== undefined || config.keys.masterKeyFile !== undefined;
  const keyring = join(config.dataDir, 'keys', KEYRING_FILE);
  if (!keyVariables && !existsSync(keyring)) missing.push(`no keyring at ${keyring}`);
  const cluster = join(config.dataDir, 'postgres', 'PG_VERSION');
  if (database && !config.database.url && !existsSync(cluster))
    missing.push(`no embedded database at ${dirname(cluster)}`);
  if (missing.length) {
    throw new ConfigError([
      `HAVEN_DATA_DIR (${config.dataDir}): ${missing.join('; ')}. Point it at the service's data directory, ` +
        `or set HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE${database ? ' and DATABASE_URL' : ''}.`,
    ]);
  }
}

import 'reflect-metadata';
import { runAdminTool } from './admin-tool';

const USAGE = `usage: users:create-admin --username <name> < password-file

Creates the first administrator of an installation (refused while an active administrator exists). The
initial password is read from standard input (its first line), never from the command line; the account must
choose its own at its first sign-in and set up two-factor authentication. Uses the service's configuration
(HAVEN_DATA_DIR, DATABASE_URL / DATABASE_APP_URL, HAVEN_MASTER_KEY(_FILE)).
`;

runAdminTool('users:create-admin', USAGE, async (users, username, password) => {
  const admin = await users.createFirstAdmin(username, password);
  return (
    `Created the administrator ${admin.username} (${admin.id}). At the first sign-in it must choose its own ` +
    'password and set up two-factor authentication.'
  );
});

import 'reflect-metadata';
import { runAdminTool } from './admin-tool';

const USAGE = `usage: users:reset-admin --username <name> < password-file

Puts an administrator's account right when no other administrator can: sets a new password, read from
standard input (its first line), never from the command line, and removes its two-factor authentication
(a lost phone, or ten wrong codes in a row). Every session of the account ends; at its next sign-in it must
choose its own password and set up two-factor again. On the access log (user.update, reason
user.reset_by_operator). Uses the service's configuration (HAVEN_DATA_DIR, DATABASE_URL / DATABASE_APP_URL,
HAVEN_MASTER_KEY(_FILE)).
`;

runAdminTool('users:reset-admin', USAGE, async (users, username, password) => {
  const admin = await users.resetAdminByOperator(username, password);
  return (
    `Reset the administrator ${admin.username} (${admin.id})${admin.active ? '' : ' (disabled: still disabled)'}. ` +
    'At the next sign-in it must choose its own password and set up two-factor authentication.'
  );
});

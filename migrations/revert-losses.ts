/**
 * What reverting a migration takes away that applying it again does not give back, by migration name, as
 * `migration:revert` tells the operator before asking for `--yes`. Every migration whose down() drops a table or a
 * column is listed (a test checks it); one whose loss is rebuilt says so. Written for the operator: what is lost
 * and what that means, never how.
 */
export const REVERT_LOSES: Readonly<Record<string, string>> = {
  Foundation1764000000000: 'every administrative unit and the demo seed record (the whole directory)',
  CryptoDataKeys1764000000200: 'every data key: every encrypted record becomes unreadable for good',
  Identity1764000000300: 'every account, organisation, service area, session revocation and sign-in count',
  AccessLog1764000000400: 'the whole access log and its checkpoints',
  Cases1764000000500: 'every case, consent, referral and note',
  BreakGlass1764000000600: 'every emergency access grant and its review',
  ReferralPlaces1764000001100:
    "nothing that is not rebuilt: the referrals' copies of their case's place, copied again when re-applied",
  CaseCounts1764000001200:
    'nothing that is not rebuilt: the counts of cases per commune, counted again when re-applied',
  KekFloors1764000001300:
    'the KEK floors: until keys:rotate raises them again, an instance with an older keyring may wrap new data keys with a retired KEK version',
  PasswordChangeRequired1764000001400:
    'which accounts must change their password first: a forced change (after an administrator made or reset the account) is lifted',
  StepUps1764000001500: "the sessions' recent step-ups: administrators step up again",
  ServicesDelivered1764000002000: 'the services providers recorded as delivered on completed referrals',
  KekChecks1764000002200:
    'the record of which key each KEK version is: an instance holding another key under a known version is no longer refused until each version is checked again',
  DateOfBirthIndex1764000002400:
    'nothing that is not rebuilt: the blind index of the date of birth alone (written again by the re-derivation)',
  OrganizationNameKey1764000002700:
    "nothing that is not rebuilt: the organisations' name keys, computed again when re-applied",
  TotpFailures1764000003000:
    'the counts of wrong authenticator codes: a ten-code lock an administrator has not yet ended is lifted',
  CaseDerivations1764000003400:
    'which rules derived each case: once re-applied, every case is derived again in the background',
  OrganizationsRetired1764000004000:
    'which organisations were retired: they are listed and take referrals again (the referrals their retirement revoked stay revoked)',
  SchemaRequirements1764000004400:
    'which migrations an older release cannot run without: such a release then starts on this schema with a warning instead of being refused',
  ReferralConsentExpiry1764000004300:
    "nothing that is not rebuilt: the referrals' copies of their consent's expiry, copied again when re-applied",
  AccountsMadeInDemo1764000004900:
    "which accounts the demo's accounts made: they are no longer the demo's, and stay usable once the demo stops",
};

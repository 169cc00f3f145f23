import { Foundation1764000000000 } from './1764000000000-Foundation';
import { CryptoDataKeys1764000000200 } from './1764000000200-CryptoDataKeys';
import { Identity1764000000300 } from './1764000000300-Identity';
import { AccessLog1764000000400 } from './1764000000400-AccessLog';
import { Cases1764000000500 } from './1764000000500-Cases';
import { BreakGlass1764000000600 } from './1764000000600-BreakGlass';
import { ListIndexes1764000000700 } from './1764000000700-ListIndexes';
import { CaseNumbers1764000000800 } from './1764000000800-CaseNumbers';
import { InboxIndex1764000000900 } from './1764000000900-InboxIndex';
import { ReportIndexes1764000001000 } from './1764000001000-ReportIndexes';
import { ReferralPlaces1764000001100 } from './1764000001100-ReferralPlaces';
import { CaseCounts1764000001200 } from './1764000001200-CaseCounts';
import { KekFloors1764000001300 } from './1764000001300-KekFloors';
import { PasswordChangeRequired1764000001400 } from './1764000001400-PasswordChangeRequired';
import { StepUps1764000001500 } from './1764000001500-StepUps';
import { CaseEndsReferrals1764000001600 } from './1764000001600-CaseEndsReferrals';
import { OrganizationChangeEndsReferrals1764000001700 } from './1764000001700-OrganizationChangeEndsReferrals';
import { ServiceRoleNarrowed1764000001800 } from './1764000001800-ServiceRoleNarrowed';
import { ShreddedCasesClosed1764000001900 } from './1764000001900-ShreddedCasesClosed';
import { ServicesDelivered1764000002000 } from './1764000002000-ServicesDelivered';
import { CheckpointIdsGenerated1764000002100 } from './1764000002100-CheckpointIdsGenerated';
import { KekChecks1764000002200 } from './1764000002200-KekChecks';
import { CheckpointTriggerPinned1764000002300 } from './1764000002300-CheckpointTriggerPinned';
import { DateOfBirthIndex1764000002400 } from './1764000002400-DateOfBirthIndex';
import { CheckpointsBySeq1764000002500 } from './1764000002500-CheckpointsBySeq';
import { AccessLogReturnedIds1764000002600 } from './1764000002600-AccessLogReturnedIds';
import { OrganizationNameKey1764000002700 } from './1764000002700-OrganizationNameKey';
import { ReferralReportCases1764000002800 } from './1764000002800-ReferralReportCases';
import { ChainHeadsWithinSequence1764000002900 } from './1764000002900-ChainHeadsWithinSequence';
import { TotpFailures1764000003000 } from './1764000003000-TotpFailures';
import { GrantsByUser1764000003100 } from './1764000003100-GrantsByUser';
import { ReferralReportConsents1764000003200 } from './1764000003200-ReferralReportConsents';
import { InboxLiveFirst1764000003300 } from './1764000003300-InboxLiveFirst';
import { CaseDerivations1764000003400 } from './1764000003400-CaseDerivations';
import { NotesAppendOnly1764000003500 } from './1764000003500-NotesAppendOnly';
import { ShreddedFactsCleared1764000003600 } from './1764000003600-ShreddedFactsCleared';
import { AccountChangeWindows1764000003700 } from './1764000003700-AccountChangeWindows';
import { InboxPendingFirst1764000003800 } from './1764000003800-InboxPendingFirst';
import { RiskNotAssessed1764000003900 } from './1764000003900-RiskNotAssessed';
import { OrganizationsRetired1764000004000 } from './1764000004000-OrganizationsRetired';
import { RevokeCauseValidated1764000004100 } from './1764000004100-RevokeCauseValidated';
import { UnitsFixedForService1764000004200 } from './1764000004200-UnitsFixedForService';
import { ReferralConsentExpiry1764000004300 } from './1764000004300-ReferralConsentExpiry';
import { SchemaRequirements1764000004400 } from './1764000004400-SchemaRequirements';
import { GuardFunctionsPinned1764000004500 } from './1764000004500-GuardFunctionsPinned';
import { RetiredOrganizationNamesFree1764000004550 } from './1764000004550-RetiredOrganizationNamesFree';
import { OrganizationNameSpellings1764000004600 } from './1764000004600-OrganizationNameSpellings';
import { InboxNewestAnswered1764000004700 } from './1764000004700-InboxNewestAnswered';
import { BlindIndexesByCommune1764000004800 } from './1764000004800-BlindIndexesByCommune';
import { AccountsMadeInDemo1764000004900 } from './1764000004900-AccountsMadeInDemo';

/**
 * Every migration, in order. A new migration file must be added here (a test checks that every file in
 * this folder is listed), so the app, the CLI and the tests all apply exactly the same set.
 */
export const MIGRATIONS = [
  Foundation1764000000000,
  CryptoDataKeys1764000000200,
  Identity1764000000300,
  AccessLog1764000000400,
  Cases1764000000500,
  BreakGlass1764000000600,
  ListIndexes1764000000700,
  CaseNumbers1764000000800,
  InboxIndex1764000000900,
  ReportIndexes1764000001000,
  ReferralPlaces1764000001100,
  CaseCounts1764000001200,
  KekFloors1764000001300,
  PasswordChangeRequired1764000001400,
  StepUps1764000001500,
  CaseEndsReferrals1764000001600,
  OrganizationChangeEndsReferrals1764000001700,
  ServiceRoleNarrowed1764000001800,
  ShreddedCasesClosed1764000001900,
  ServicesDelivered1764000002000,
  CheckpointIdsGenerated1764000002100,
  KekChecks1764000002200,
  CheckpointTriggerPinned1764000002300,
  DateOfBirthIndex1764000002400,
  CheckpointsBySeq1764000002500,
  AccessLogReturnedIds1764000002600,
  OrganizationNameKey1764000002700,
  ReferralReportCases1764000002800,
  ChainHeadsWithinSequence1764000002900,
  TotpFailures1764000003000,
  GrantsByUser1764000003100,
  ReferralReportConsents1764000003200,
  InboxLiveFirst1764000003300,
  CaseDerivations1764000003400,
  NotesAppendOnly1764000003500,
  ShreddedFactsCleared1764000003600,
  AccountChangeWindows1764000003700,
  InboxPendingFirst1764000003800,
  RiskNotAssessed1764000003900,
  OrganizationsRetired1764000004000,
  RevokeCauseValidated1764000004100,
  UnitsFixedForService1764000004200,
  ReferralConsentExpiry1764000004300,
  SchemaRequirements1764000004400,
  GuardFunctionsPinned1764000004500,
  RetiredOrganizationNamesFree1764000004550,
  OrganizationNameSpellings1764000004600,
  InboxNewestAnswered1764000004700,
  BlindIndexesByCommune1764000004800,
  AccountsMadeInDemo1764000004900,
];

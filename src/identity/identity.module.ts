import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { createSecretKey } from 'node:crypto';
import { PassportModule } from '@nestjs/passport';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { PasswordHasher } from '../crypto/password-hasher';
import { DirectoryModule } from '../directory/directory.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { demoAccountsStepProvider } from './demo-accounts';
import { IdentityMaintenanceService } from './identity-maintenance.service';
import { JwtStrategy } from './jwt.strategy';
import { LocalAuthGuard } from './local-auth.guard';
import { LocalStrategy } from './local.strategy';
import { LoginThrottleService } from './login-throttle.service';
import { ReauthenticationService } from './reauthentication.service';
import { StepUpService } from './step-up.service';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, TokenService } from './token.service';
import { TotpSecretCipher } from './totp-secret.cipher';
import { TotpService } from './totp.service';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/** Accounts, sign-in (password + TOTP), access tokens, sign-out and the sign-in throttle. */
@Module({
  imports: [
    DirectoryModule,
    PassportModule.register({ session: false }),
    JwtModule.registerAsync({
      // HS256 with the token-signing key the crypto module derives from the master secret.
      useFactory: (keys: PurposeKeys, config: AppConfig) => ({
        secret: createSecretKey(keys.tokenSigningKey()), // a KeyObject: see jwt.strategy.ts
        signOptions: {
          algorithm: TOKEN_ALGORITHM,
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          expiresIn: config.auth.accessTokenTtlSeconds,
        },
        verifyOptions: { algorithms: [TOKEN_ALGORITHM], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE },
      }),
      inject: [PurposeKeys, APP_CONFIG],
    }),
  ],
  controllers: [AuthController, UsersController],
  providers: [
    PasswordHasher,
    UsersRepository,
    UsersService,
    LoginThrottleService,
    ReauthenticationService,
    StepUpService,
    TokenService,
    TotpSecretCipher,
    TotpService,
    AuthService,
    LocalStrategy,
    LocalAuthGuard,
    JwtStrategy,
    IdentityMaintenanceService,
    demoAccountsStepProvider,
  ],
  exports: [PasswordHasher, UsersService, TokenService, ReauthenticationService, demoAccountsStepProvider],
})
export class IdentityModule {}

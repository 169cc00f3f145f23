import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logger.module';
import { LoginThrottleService } from './login-throttle.service';
import { StepUpService } from './step-up.service';
import { TokenService } from './token.service';

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/** Deletes revoked-token rows past their token's expiry and throttle rows whose window and lock are over. */
@Injectable()
export class IdentityMaintenanceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly tokens: TokenService,
    private readonly throttle: LoginThrottleService,
    private readonly stepUps: StepUpService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Safe on several instances at once: plain DELETEs of expired rows. */
  async prune(): Promise<{ revokedTokens: number; throttleRows: number; stepUps: number }> {
    try {
      const revokedTokens = await this.tokens.pruneRevoked();
      const throttleRows = await this.throttle.prune();
      const stepUps = await this.stepUps.prune();
      return { revokedTokens, throttleRows, stepUps };
    } catch (e) {
      this.logger.warn({ err: e }, 'identity maintenance failed; will retry');
      return { revokedTokens: 0, throttleRows: 0, stepUps: 0 };
    }
  }
}

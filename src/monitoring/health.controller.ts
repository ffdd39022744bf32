import { Controller, Get, HttpCode } from '@nestjs/common';

@Controller('health')
export class HealthController {
  /** Liveness: the process answers. Touches no dependency, so a database outage never restarts pods. */
  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

import { Injectable } from '@nestjs/common';

/** The lazy loader's Nest face. Its tiers, strategies and prefetch land with the lazy-loader issue. */
@Injectable()
export class LazyLoaderService {}

import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, Max, Min } from 'class-validator';

/** Query of `POST /stream-captions`: `variations`, `chunk_size`, `enable_compression`. */
export class StreamCaptionsQuery {
  @Type(() => Number) @IsInt() @Min(1) @Max(100)
  variations: number = 5;

  @Type(() => Number) @IsInt() @Min(1) @Max(100)
  chunk_size: number = 10;

  // Only the words true/false: "yes" or "1" are a 422, not a silent guess.
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  enable_compression: boolean = true;
}

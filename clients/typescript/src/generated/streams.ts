// Generated from openapi.json by scripts/streams.mjs (npm run openapi): do not edit.
import type { components } from './api.js';

type S = components['schemas'];

/** One item of each streamed response body, by operation id and media type. */
export interface StreamItems {
  processBatch: {
    'application/x-ndjson': S['BatchItemDto'] | S['BatchSummaryDto'] | S['StreamError'];
    'text/event-stream': { event: 'result'; data: S['BatchItemDto']; id?: string } | { event: 'progress'; data: S['BatchProgressDto']; id?: string } | { event: 'done'; data: S['BatchSummaryDto']; id?: string } | { event: 'error'; data: S['StreamError']; id?: string };
  };
  streamBatchEvents: {
    'text/event-stream': { event: 'progress'; data: S['BatchEventDataDto']; id?: string } | { event: 'ended'; data: S['BatchEventDataDto']; id?: string } | { event: 'error'; data: S['StreamError']; id?: string };
  };
  getBatchResults: {
    'application/x-ndjson': S['BatchResultLineDto'] | S['StreamError'];
  };
  exportCaptionHistory: {
    'application/x-ndjson': S['HistoryRowDto'] | S['StreamError'];
  };
  streamCaptions: {
    'application/x-ndjson': S['CaptionStreamItem'] | S['StreamError'];
    'text/event-stream': { event: 'variation'; data: S['CaptionStreamItem']; id?: string } | { event: 'done'; data: S['StreamDone']; id?: string } | { event: 'error'; data: S['StreamError']; id?: string };
  };
}

/** One line of each NDJSON request body, by operation id and media type. */
export interface UploadItems {
  processBatch: {
    'application/x-ndjson': S['CaptionGenerationRequest'];
  };
  createBatch: {
    'application/x-ndjson': S['BatchJobRequest'];
  };
}

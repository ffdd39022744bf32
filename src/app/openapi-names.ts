/**
 * Operation ids and one-line summaries, by `METHOD /path` under the API prefix: names a generated
 * client would give its methods. A route not listed is named by {@link operationIdOf}'s rule and
 * summarised by the first sentence of its TSDoc.
 */
const NAMES: Record<string, { id: string; summary: string }> = {
  'POST /captions': { id: 'generateCaptions', summary: 'Generate caption variations' },
  'POST /stream-captions': { id: 'streamCaptions', summary: 'Stream caption variations as they are drafted' },
  'GET /caption-history': { id: 'listCaptionHistory', summary: 'List caption history, a page at a time' },
  'GET /caption-history/export': { id: 'exportCaptionHistory', summary: 'Export caption history as one stream' },
  'POST /batch-process': { id: 'processBatch', summary: 'Run a batch of caption requests, streaming results' },
  'POST /batches': { id: 'createBatch', summary: 'Create a durable batch job' },
  'GET /batches': { id: 'listBatches', summary: 'List batch jobs, newest first' },
  'GET /batches/{id}': { id: 'getBatch', summary: 'Get a batch job' },
  'GET /batches/{id}/results': { id: 'getBatchResults', summary: 'Stream the results of a batch job' },
  'GET /batches/{id}/events': { id: 'streamBatchEvents', summary: 'Stream the progress of a batch job' },
  'POST /batches/{id}/cancel': { id: 'cancelBatch', summary: 'Cancel a batch job' },
  'GET /health': { id: 'getHealth', summary: 'Overall health' },
  'GET /health/live': { id: 'getLiveness', summary: 'Liveness probe' },
  'GET /health/ready': { id: 'getReadiness', summary: 'Readiness probe' },
  'GET /stats': { id: 'getStats', summary: "The lazy loader's figures since start" },
  'GET /cache/status': { id: 'getCacheStatus', summary: 'Both cache tiers now' },
  'POST /cache/clear': { id: 'clearCache', summary: 'Empty both cache tiers' },
  'GET /metrics': { id: 'getMetrics', summary: 'Prometheus metrics' },
};

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The operation id of a route: from the table, else `<handler><Controller>` from Nest's default
 * `Controller_handler` (`BatchJobsController_create` → `createBatchJobs`).
 */
export function operationIdOf(route: string, nestId: string): string {
  const listed = NAMES[route]?.id;
  if (listed) return listed;
  const [controller = '', handler = ''] = nestId.split('_');
  return `${handler}${upperFirst(controller.replace(/Controller$/, ''))}`;
}

/** A one-line summary: from the table, else the TSDoc's first sentence (the whole text stays the description). */
export function summaryOf(route: string, tsdoc: string | undefined): string | undefined {
  const listed = NAMES[route]?.summary;
  if (listed) return listed;
  if (!tsdoc) return undefined;
  const line = tsdoc.replace(/\s+/g, ' ').trim();
  const end = line.search(/[.:;](\s|$)/);
  return (end === -1 ? line : line.slice(0, end)).slice(0, 120);
}

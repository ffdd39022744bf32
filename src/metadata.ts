/* eslint-disable */
export default async () => {
    const t = {};
    return { "@nestjs/swagger": { "models": [], "controllers": [[import("./monitoring/health.controller.js"), { "HealthController": { "live": { summary: "Liveness: the process answers. Touches no dependency, so a database outage never restarts pods." }, "ready": { summary: "Readiness: the database, the disk cache directory (writable, room for its budget) and memory\nare usable. 503 when one is not, and from the moment a graceful shutdown begins.", type: Object } } }], [import("./monitoring/metrics.controller.js"), { "MetricsController": { "metrics": { summary: "Every metric of the service in the Prometheus text format.", type: String } } }]] } };
};
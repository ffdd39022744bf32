/**
 * Bytes in a mebibyte. Every `*_MB` setting and every `*_mb` figure (memory, disk tier, free
 * space) counts in these units; multiply to get bytes, divide to report.
 */
export const MB = 1024 * 1024;

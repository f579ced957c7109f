/**
 * `GET /metrics` of a rendezvous node in the Prometheus text exposition format (version 0.0.4).
 * @module
 */

/**
 * One metric family: a name, a help line, a type and its samples (label set → value).
 * @example
 * ```ts
 * import type { MetricFamily } from "./metrics.ts";
 * const family: MetricFamily = {
 *   name: "rendezvous_executors_online", help: "Executors with a socket on this node",
 *   type: "gauge", samples: [{ value: 3 }],
 * };
 * ```
 */
export interface MetricFamily {
  /** Metric name, e.g. `rendezvous_streams`. */
  name: string;
  /** One line for `# HELP`. */
  help: string;
  /** Prometheus type for `# TYPE`. */
  type: "counter" | "gauge";
  /** One sample per label set. */
  samples: { labels?: Record<string, string>; value: number }[];
}

/**
 * Content type of {@linkcode renderMetrics}'s text.
 * @example
 * ```ts
 * import { METRICS_CONTENT_TYPE } from "./metrics.ts";
 * new Response("", { headers: { "content-type": METRICS_CONTENT_TYPE } });
 * ```
 */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

/**
 * Renders metric families as Prometheus text.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "./metrics.ts";
 * renderMetrics([{
 *   name: "rendezvous_frames_routed_total", help: "Frames forwarded", type: "counter",
 *   samples: [{ labels: { direction: "to_executor" }, value: 12 }],
 * }]);
 * // # HELP rendezvous_frames_routed_total Frames forwarded
 * // # TYPE rendezvous_frames_routed_total counter
 * // rendezvous_frames_routed_total{direction="to_executor"} 12
 * ```
 */
export function renderMetrics(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replaceAll("\n", " ")}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const set = labels.length === 0
        ? ""
        : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      lines.push(`${family.name}${set} ${Number.isFinite(sample.value) ? sample.value : 0}`);
    }
  }
  return lines.join("\n") + "\n";
}

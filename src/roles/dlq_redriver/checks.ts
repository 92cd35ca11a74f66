/**
 * Advice on a dlq_redriver section that `validate` and `provision plan` print without failing:
 * a source whose stream (declared in `roles.stream_provisioner`) has workqueue or interest
 * retention deletes a message as soon as its consumer terminates it, so with `keep_payload: off`
 * the DLQ entry of such a message can hold provenance only.
 * @module
 */
import type { Config } from "../schemas.ts";
import type { CheckProblem } from "../../config/checks.ts";

/** Advice for `roles.dlq_redriver.sources` (empty when the section is off or has none). */
export function dlqAdvice(config: Config): CheckProblem[] {
  const dlq = config.roles.dlq_redriver;
  if (!dlq || !dlq.enabled) return [];
  const streams = config.roles.stream_provisioner?.streams ?? [];
  const advice: CheckProblem[] = [];
  dlq.sources.forEach((source, i) => {
    if (source.keep_payload !== "off") return;
    const declared = streams.find((s) => s.name === source.stream);
    if (!declared || declared.retention === "limits") return;
    advice.push({
      path: ["roles", "dlq_redriver", "sources", i, "keep_payload"],
      message: `stream ${source.stream} has ${declared.retention} retention: a message ` +
        `${source.consumer} terminates is deleted before it can be captured, so its DLQ entry ` +
        "holds provenance only; set keep_payload: mirror (the default) to keep its payload",
    });
  });
  return advice;
}

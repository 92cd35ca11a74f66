/**
 * The upload service's two documents, validated with zod: the event on `FILE_UPLOADS` and the
 * envelope metadata object. Both are tolerant where producers evolve (a field added by a newer
 * producer is passed through, not refused: the day one is added must not send every upload to
 * the DLQ) and strict where it matters (every field we use is checked).
 * @module
 */
import { z } from "zod";
import { permanent } from "./failure.ts";

/**
 * The upload event. The seven fields are required; other fields are kept and passed to the
 * handler unchanged. `event_id` and `file_uuid` are any 8-4-4-4-12 hex id (not only RFC 4122
 * variants): they become a KV key, a directory name and a message id, so their shape is what
 * keeps them safe there.
 */
export const uploadEventSchema = z.looseObject({
  event_id: z.guid(),
  email: z.string().min(1),
  file_uuid: z.guid(),
  s3_data_key: z.string().min(1),
  s3_metadata_key: z.string().min(1),
  bucket_name: z.string().min(1),
  /** Milliseconds since the epoch (a fraction is tolerated). */
  timestamp: z.number().nonnegative(),
});

/** The fields every upload event must have. */
export const REQUIRED_EVENT_FIELDS: readonly string[] = Object.keys(uploadEventSchema.shape);

/** A validated upload event (with any extra fields the producer sent). */
export type UploadEvent = z.output<typeof uploadEventSchema>;

/** A parsed event and the names of the fields it has beyond {@link REQUIRED_EVENT_FIELDS}. */
export interface ParsedEvent {
  /** The event. */
  event: UploadEvent;
  /** Unknown field names, for a debug log (once per name). */
  extra: string[];
}

/**
 * The envelope metadata (`metadata.json` beside the data object). Extra fields are allowed so a
 * producer that adds one does not stop processing; the ones we use are checked.
 */
export const envelopeMetadataSchema = z.object({
  version: z.literal("1.0"),
  kek: z.string().min(1),
  algorithm: z.literal("AES-GCM-256"),
  original_filename: z.string().min(1),
  original_size: z.number().int().nonnegative(),
  encrypted_size: z.number().int().nonnegative(),
  verification_status: z.unknown().optional(),
  timestamp: z.unknown().optional(),
});

/** Validated envelope metadata. */
export type EnvelopeMetadata = z.output<typeof envelopeMetadataSchema>;

function describe(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

function parseJson(data: Uint8Array, what: string, reason: "invalid_event" | "invalid_metadata") {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (err) {
    throw permanent(reason, `${what} is not JSON: ${(err as Error).message}`);
  }
}

/** Parses a message payload into an upload event; throws a permanent `invalid_event`. */
export function parseUploadEvent(data: Uint8Array): ParsedEvent {
  const result = uploadEventSchema.safeParse(parseJson(data, "the message", "invalid_event"));
  if (!result.success) {
    throw permanent("invalid_event", `not an upload event: ${describe(result.error)}`);
  }
  const extra = Object.keys(result.data).filter((k) => !REQUIRED_EVENT_FIELDS.includes(k));
  return { event: result.data, extra };
}

/** Parses the metadata object; throws a permanent `invalid_metadata`. */
export function parseEnvelopeMetadata(data: Uint8Array, key: string): EnvelopeMetadata {
  const result = envelopeMetadataSchema.safeParse(
    parseJson(data, `metadata ${key}`, "invalid_metadata"),
  );
  if (!result.success) {
    throw permanent("invalid_metadata", `metadata ${key}: ${describe(result.error)}`);
  }
  return result.data;
}

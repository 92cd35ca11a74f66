/**
 * The upload service's two documents, validated with zod: the event on `FILE_UPLOADS` (exactly the
 * producer's fields; anything else is invalid input) and the envelope metadata object.
 * @module
 */
import { z } from "zod";
import { permanent } from "./failure.ts";

/** The upload event, exactly as the producer sends it. */
export const uploadEventSchema = z.strictObject({
  event_id: z.uuid(),
  email: z.string().min(1),
  file_uuid: z.uuid(),
  s3_data_key: z.string().min(1),
  s3_metadata_key: z.string().min(1),
  bucket_name: z.string().min(1),
  timestamp: z.number().int().nonnegative(),
});

/** A validated upload event. */
export type UploadEvent = z.output<typeof uploadEventSchema>;

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

/** Parses a message payload into an {@link UploadEvent}; throws a permanent `invalid_event`. */
export function parseUploadEvent(data: Uint8Array): UploadEvent {
  const result = uploadEventSchema.safeParse(parseJson(data, "the message", "invalid_event"));
  if (!result.success) {
    throw permanent("invalid_event", `not an upload event: ${describe(result.error)}`);
  }
  return result.data;
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

/**
 * Claims an event while its download already runs: the claim is a KV round trip or two, and the
 * GETs need not wait for it. Only the claim's holder ever moves the file into place (another
 * delivery of the event may be working on the same path) and runs the handler.
 * @module
 */
import type { ClaimResult, Dedupe } from "./dedupe.ts";
import { download, type Downloaded, type DownloadOptions } from "./download.ts";
import type { UploadEvent } from "./event.ts";
import type { PulledMsg } from "./pulled.ts";

/** What {@link claimWhileDownloading} needs from the running role. */
export interface ClaimDeps {
  /** Claims. */
  dedupe: Dedupe;
  /** Where and how files are downloaded (without a signal). */
  downloads: DownloadOptions;
  /** Fires at the grace deadline: the download is killed. */
  abort: AbortSignal;
}

/** The claim, and the download started beside it. */
export interface ClaimedDownload {
  /** The claim's outcome. */
  claimed: ClaimResult;
  /** The download: to be awaited when claimed, else already cancelled and settled. */
  downloading: Promise<Downloaded>;
}

/**
 * Claims the event while its download already runs. The file is moved into place only once the
 * claim is held, and the handler runs only then; when the claim is not ours the download is
 * cancelled. Rejects (download cancelled) when the claim could not be made.
 */
export async function claimWhileDownloading(
  deps: ClaimDeps,
  msg: PulledMsg,
  event: UploadEvent,
): Promise<ClaimedDownload> {
  const claiming = deps.dedupe.claim(event.event_id, msg.info.streamSequence);
  const cancel = new AbortController();
  const signal = AbortSignal.any([deps.abort, cancel.signal]);
  const placeAfter = claiming.then((c) => {
    if (c.kind !== "claimed") throw new Error("not claimed");
  });
  placeAfter.catch(() => {/* the download may end before it waits for this */});
  const downloading = download(event, { ...deps.downloads, signal, placeAfter });
  downloading.catch(() => {/* awaited in runUpload() or dropped below */});
  let claimed: ClaimResult;
  try {
    claimed = await claiming;
  } catch (err) {
    cancel.abort();
    await downloading.catch(() => {});
    throw err;
  }
  if (claimed.kind !== "claimed") {
    cancel.abort();
    await downloading.catch(() => {});
  }
  return { claimed, downloading };
}

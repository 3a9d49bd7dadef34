// Publishing helpers for the Cascade browser client: the default simulcast encodings, the
// addTrack request that describes a track to the SFU, and codec preferences.

import { TrackKind, TrackSource } from './cascade-models.js';

/** The default camera simulcast: rids q, h, f at 1/4, 1/2 and full resolution, lowest first. */
export const DEFAULT_SIMULCAST = Object.freeze([
  Object.freeze({ rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 }),
  Object.freeze({ rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 }),
  Object.freeze({ rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_700_000 }),
]);

/**
 * Works out how a track is published: its source and name, its send encodings (null for the
 * browser's default single encoding) and the addTrack request (PROTOCOL.md "Publisher
 * connection"), with simulcast layer sizes derived from the track's current size.
 */
export function describeTrack(track, opts = {}) {
  const isVideo = track.kind === 'video';
  const source = opts.source || (isVideo ? TrackSource.CAMERA : TrackSource.MICROPHONE);
  const name = opts.name || (isVideo ? 'camera' : 'microphone');
  const settings = track.getSettings ? track.getSettings() : {};
  const width = settings.width || 0;
  const height = settings.height || 0;
  let encodings = null;
  let simulcast = false;
  if (isVideo && (opts.encodings || (opts.simulcast ?? source === TrackSource.CAMERA))) {
    encodings = (opts.encodings || DEFAULT_SIMULCAST).map((e) => ({ ...e }));
    simulcast = encodings.length > 1;
  } else if (isVideo && opts.maxBitrate) {
    encodings = [{ maxBitrate: opts.maxBitrate }];
  }
  const req = { cid: track.id, name, kind: isVideo ? TrackKind.VIDEO : TrackKind.AUDIO, source };
  if (width) req.width = width;
  if (height) req.height = height;
  if (simulcast) {
    req.layers = encodings.map((e) => {
      const scale = e.scaleResolutionDownBy || 1;
      const l = { rid: e.rid };
      if (width) l.width = Math.round(width / scale);
      if (height) l.height = Math.round(height / scale);
      if (e.maxBitrate) l.bitrate = e.maxBitrate;
      return l;
    });
  }
  return { source, name, encodings, simulcast, req };
}

/** Puts codec (e.g. 'VP8') first in a video transceiver's codec preferences, if the browser can. */
export function preferCodec(transceiver, codec) {
  if (!codec || !transceiver.setCodecPreferences || !window.RTCRtpReceiver?.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities('video');
  if (!caps) return;
  const want = `video/${codec}`.toLowerCase();
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === want);
  if (!first.length) return;
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== want);
  try {
    transceiver.setCodecPreferences([...first, ...rest]);
  } catch (err) {
    console.warn('cascade: setCodecPreferences failed', err);
  }
}

/** Opens the camera and publishes it on room with q/h/f simulcast. */
export async function publishCamera(room, constraints = {}) {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 }, ...constraints };
  const ms = await navigator.mediaDevices.getUserMedia({ video });
  const track = ms.getVideoTracks()[0];
  try {
    return await room.publishTrack(track, { source: TrackSource.CAMERA, name: 'camera', simulcast: true, stream: ms });
  } catch (err) {
    track.stop();
    throw err;
  }
}

/** Opens the microphone and publishes it on room. */
export async function publishMicrophone(room, constraints = {}) {
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...constraints };
  const ms = await navigator.mediaDevices.getUserMedia({ audio });
  const track = ms.getAudioTracks()[0];
  try {
    return await room.publishTrack(track, { source: TrackSource.MICROPHONE, name: 'microphone', stream: ms });
  } catch (err) {
    track.stop();
    throw err;
  }
}

/** Captures a screen, window or tab (and its audio when asked) and publishes it on room. */
export async function publishScreenShare(room, { audio = false, maxBitrate = 2_500_000, frameRate = 15 } = {}) {
  const ms = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: frameRate } }, audio });
  const [video] = ms.getVideoTracks();
  const pubs = [];
  try {
    if ('contentHint' in video) video.contentHint = 'detail';
    pubs.push(await room.publishTrack(video, { source: TrackSource.SCREEN_SHARE, name: 'screen', simulcast: false, maxBitrate, stream: ms }));
    const [sound] = ms.getAudioTracks();
    if (sound) {
      pubs.push(await room.publishTrack(sound, { source: TrackSource.SCREEN_SHARE_AUDIO, name: 'screen-audio', stream: ms }));
    }
  } catch (err) {
    ms.getTracks().forEach((t) => t.stop());
    throw err;
  }
  return pubs;
}

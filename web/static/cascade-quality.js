// Video quality for the Cascade browser client (signaling/PROTOCOL.md, "Quality: preferences,
// stream state and dynacast"):
//
//   - TrackSettingsController: the subscriber side. For each received video track it tells
//     the SFU how large the track is rendered (ResizeObserver on the elements it is attached
//     to), whether it is visible at all (IntersectionObserver, page visibility) and what the
//     app prefers (highest layer, priority, paused), with `trackSettings` messages that are
//     debounced and sent only when something changed.
//   - StreamStates: what the SFU says each received track gets (`streamState`): the layer
//     being forwarded, the layer it is switching to, why, and the downlink estimate.
//   - applySubscribedLayers: the publisher side of dynacast (`subscribedLayers`): turns
//     simulcast encodings nobody receives off and back on with RTCRtpSender.setParameters.

import { enumName, int64 } from './cascade-util.js';

/** Stream states as they appear on the wire. */
export const StreamState = Object.freeze({
  ACTIVE: 'STREAM_STATE_ACTIVE',
  PAUSED_BANDWIDTH: 'STREAM_STATE_PAUSED_BANDWIDTH',
  PAUSED_PREFERENCE: 'STREAM_STATE_PAUSED_PREFERENCE',
});

/** The priority a pinned track gets (PROTOCOL.md: pinned tiles use e.g. 10). */
export const PIN_PRIORITY = 10;

/** The simulcast rids, lowest first. */
export const RIDS = Object.freeze(['q', 'h', 'f']);

const MAX_PRIORITY = 2 ** 31 - 1;

/** Checks and normalises track preferences: {maxRid, priority, disabled}. */
export function normPreferences(prefs = {}, base = { maxRid: '', priority: 0, disabled: false }) {
  const out = { ...base };
  if (prefs.maxRid !== undefined && prefs.maxRid !== null) {
    const rid = String(prefs.maxRid);
    if (rid !== '' && !RIDS.includes(rid)) throw new RangeError(`cascade: maxRid must be "", "q", "h" or "f", not "${rid}"`);
    out.maxRid = rid;
  }
  if (prefs.priority !== undefined && prefs.priority !== null) {
    const p = Math.trunc(Number(prefs.priority));
    if (!Number.isFinite(p)) throw new RangeError(`cascade: priority must be a number, not ${prefs.priority}`);
    out.priority = Math.max(-MAX_PRIORITY, Math.min(MAX_PRIORITY, p));
  }
  if (prefs.pinned !== undefined) out.priority = prefs.pinned ? PIN_PRIORITY : 0;
  if (prefs.disabled !== undefined) out.disabled = !!prefs.disabled;
  return out;
}

/**
 * Sends `trackSettings` for received video tracks. The Room tells it which tracks are
 * subscribed (subscribed/unsubscribed/forget); the app attaches elements and sets
 * preferences (through RemoteTrackPublication.attach and setPreferences).
 *
 * A track's settings are: the largest rendered size among its visible elements (CSS pixels
 * times the pixel density); disabled when the app says so, or when elements were attached
 * and none is visible now (scrolled away, display: none, detached, page hidden); and the
 * app's maxRid and priority. They are sent debounceMs after the last change (preference
 * changes at once), only while the track is subscribed, and only when they differ from what
 * was last sent.
 */
export class TrackSettingsController {
  /**
   * @param {object} opts
   * @param {(msg: object) => boolean} opts.send sends a signaling request; false when it could not
   * @param {number} [opts.debounceMs=300]
   * @param {'screen'|number} [opts.pixelDensity='screen'] multiplier from CSS to video pixels
   * @param {boolean} [opts.pauseWhenPageHidden=true] disable attached tracks while the page is hidden
   */
  constructor({ send, debounceMs = 300, pixelDensity = 'screen', pauseWhenPageHidden = true }) {
    this._send = send;
    this._debounceMs = debounceMs;
    this._pixelDensity = pixelDensity;
    this._pauseWhenHidden = pauseWhenPageHidden;
    this._tracks = new Map(); // trackSid -> entry
    this._els = new Map(); // element -> {tsid, width, height, intersecting}
    this._resize = typeof ResizeObserver === 'function' ? new ResizeObserver((es) => this._onResize(es)) : null;
    this._intersect = typeof IntersectionObserver === 'function' ? new IntersectionObserver((es) => this._onIntersect(es)) : null;
    this._onVisibility = () => {
      for (const e of this._tracks.values()) if (e.elements.size || e.everAttached) this._schedule(e);
    };
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', this._onVisibility);
  }

  _entry(tsid) {
    let e = this._tracks.get(tsid);
    if (!e) {
      e = {
        tsid,
        video: false,
        subscribed: false,
        elements: new Set(),
        everAttached: false,
        prefs: normPreferences(),
        sentKey: '',
        sent: null,
        timer: null,
      };
      this._tracks.set(tsid, e);
    }
    return e;
  }

  /** The track is being received (video says whether settings apply to it). */
  subscribed(tsid, video) {
    const e = this._entry(tsid);
    e.subscribed = true;
    e.video = !!video;
    // A fresh subscription gets the SFU's defaults (no size limit, not paused), so those
    // need not be sent.
    e.sentKey = JSON.stringify({ trackSids: [tsid], disabled: false });
    e.sent = null;
    if (e.video) this._schedule(e, 0);
  }

  /** The track stopped being received: elements are let go; preferences are kept. */
  unsubscribed(tsid) {
    const e = this._tracks.get(tsid);
    if (!e) return;
    e.subscribed = false;
    clearTimeout(e.timer);
    e.timer = null;
    for (const el of [...e.elements]) this._release(e, el);
    e.everAttached = false;
    e.sentKey = '';
    e.sent = null;
  }

  /** The track is gone (unpublished): forget everything about it. */
  forget(tsid) {
    this.unsubscribed(tsid);
    this._tracks.delete(tsid);
  }

  /** Starts watching el as a place where tsid is shown. */
  attach(tsid, el) {
    const cur = this._els.get(el);
    if (cur && cur.tsid === tsid) return;
    if (cur) this.detach(cur.tsid, el);
    const e = this._entry(tsid);
    e.elements.add(el);
    e.everAttached = true;
    // Until the observers report (within a frame), assume the element shows at its layout size.
    this._els.set(el, { tsid, width: el.clientWidth || 0, height: el.clientHeight || 0, intersecting: true });
    if (this._resize) this._resize.observe(el);
    if (this._intersect) this._intersect.observe(el);
    this._schedule(e);
  }

  /** Stops watching el (every element of tsid when el is omitted). */
  detach(tsid, el) {
    const e = this._tracks.get(tsid);
    if (!e) return;
    for (const x of el ? [el] : [...e.elements]) this._release(e, x);
    this._schedule(e);
  }

  _release(e, el) {
    if (!e.elements.delete(el)) return;
    this._els.delete(el);
    if (this._resize) this._resize.unobserve(el);
    if (this._intersect) this._intersect.unobserve(el);
  }

  /** Merges preferences ({maxRid, priority, pinned, disabled}); returns the result. */
  setPreferences(tsid, prefs) {
    const e = this._entry(tsid);
    e.prefs = normPreferences(prefs, e.prefs);
    this._schedule(e, 0);
    return { ...e.prefs };
  }

  preferences(tsid) {
    const e = this._tracks.get(tsid);
    return e ? { ...e.prefs } : normPreferences();
  }

  /** The settings last sent for tsid (the trackSettings body), or null. */
  sentSettings(tsid) {
    const e = this._tracks.get(tsid);
    return e && e.sent ? { ...e.sent, trackSids: [...e.sent.trackSids] } : null;
  }

  /** The elements tsid is attached to. */
  elements(tsid) {
    const e = this._tracks.get(tsid);
    return e ? [...e.elements] : [];
  }

  /** What would be sent for tsid now. */
  settings(tsid) {
    return this._compute(this._entry(tsid));
  }

  close() {
    for (const e of this._tracks.values()) clearTimeout(e.timer);
    this._tracks.clear();
    this._els.clear();
    if (this._resize) this._resize.disconnect();
    if (this._intersect) this._intersect.disconnect();
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this._onVisibility);
  }

  _onResize(entries) {
    for (const en of entries) {
      const s = this._els.get(en.target);
      if (!s) continue;
      const box = en.contentBoxSize && en.contentBoxSize[0];
      s.width = box ? box.inlineSize : en.contentRect.width;
      s.height = box ? box.blockSize : en.contentRect.height;
      const e = this._tracks.get(s.tsid);
      if (e) this._schedule(e);
    }
  }

  _onIntersect(entries) {
    for (const en of entries) {
      const s = this._els.get(en.target);
      if (!s) continue;
      s.intersecting = en.isIntersecting;
      const e = this._tracks.get(s.tsid);
      if (e) this._schedule(e);
    }
  }

  _density() {
    if (typeof this._pixelDensity === 'number' && this._pixelDensity > 0) return this._pixelDensity;
    return (typeof window !== 'undefined' && window.devicePixelRatio) || 1;
  }

  _compute(e) {
    const pageHidden = this._pauseWhenHidden && typeof document !== 'undefined' && document.visibilityState === 'hidden';
    let w = 0;
    let h = 0;
    let visible = 0;
    for (const el of e.elements) {
      const s = this._els.get(el);
      if (!s || !s.intersecting || !(s.width > 0) || !(s.height > 0) || !el.isConnected) continue;
      visible++;
      w = Math.max(w, s.width);
      h = Math.max(h, s.height);
    }
    const hiddenByView = e.everAttached && (visible === 0 || pageHidden);
    const out = { trackSids: [e.tsid], disabled: e.prefs.disabled || hiddenByView };
    if (visible) {
      const d = this._density();
      out.width = Math.max(1, Math.round(w * d));
      out.height = Math.max(1, Math.round(h * d));
    }
    if (e.prefs.maxRid) out.maxRid = e.prefs.maxRid;
    if (e.prefs.priority) out.priority = e.prefs.priority;
    return out;
  }

  _schedule(e, delay = this._debounceMs) {
    if (!e.subscribed || !e.video) return;
    // Debounced: every change restarts the wait; an immediate change sends at once.
    clearTimeout(e.timer);
    e.timer = setTimeout(() => this._flush(e), delay);
  }

  _flush(e) {
    e.timer = null;
    if (!e.subscribed || !e.video || this._tracks.get(e.tsid) !== e) return;
    const s = this._compute(e);
    const key = JSON.stringify(s);
    if (key === e.sentKey) return;
    if (this._send({ trackSettings: s })) {
      e.sentKey = key;
      e.sent = s;
    }
  }
}

/** A StreamStateInfo with every field present and the state as its name. */
export function normStreamState(s = {}) {
  return {
    participantSid: s.participantSid || s.participant_sid || '',
    trackSid: s.trackSid || s.track_sid || '',
    state: enumName('streamState', s.state),
    currentRid: s.currentRid || s.current_rid || '',
    targetRid: s.targetRid || s.target_rid || '',
    reason: s.reason || '',
  };
}

/** The SFU's view of what this subscriber gets of each track, from `streamState` messages. */
export class StreamStates {
  constructor() {
    this.tracks = new Map(); // trackSid -> normalised StreamStateInfo plus updatedAt
    this.estimateBps = 0;
  }

  /**
   * Merges one StreamStateUpdate. Returns the states that changed (new objects) and whether
   * the estimate changed. Tracks not listed keep their state.
   */
  apply(update = {}) {
    const changed = [];
    for (const raw of update.streams || []) {
      const s = normStreamState(raw);
      if (!s.trackSid) continue;
      const old = this.tracks.get(s.trackSid);
      if (
        old &&
        old.state === s.state &&
        old.currentRid === s.currentRid &&
        old.targetRid === s.targetRid &&
        old.reason === s.reason &&
        old.participantSid === s.participantSid
      ) {
        continue;
      }
      const next = Object.freeze({ ...s, updatedAt: Date.now() });
      this.tracks.set(s.trackSid, next);
      changed.push(next);
    }
    const est = int64(update.estimateBps ?? update.estimate_bps);
    const estimateChanged = est !== this.estimateBps;
    this.estimateBps = est;
    return { changed, estimateChanged };
  }

  get(tsid) {
    return this.tracks.get(tsid) || null;
  }

  forget(tsid) {
    this.tracks.delete(tsid);
  }

  clear() {
    this.tracks.clear();
    this.estimateBps = 0;
  }
}

/** A SubscribedLayersUpdate's layers as [{rid, active}]. */
export function normSubscribedLayers(layers = []) {
  return layers.map((l) => ({ rid: (l && l.rid) || '', active: !!(l && l.active) }));
}

/**
 * Sets each encoding of sender active or not as layers say (matched by rid; an encoding
 * without a rid matches a layer with rid ""); encodings the update does not name keep their
 * state. Resolves with whether anything changed. Callers serialize calls per sender:
 * setParameters fails when parameters from an older getParameters are applied.
 */
export async function applySubscribedLayers(sender, layers) {
  if (!sender || !sender.getParameters) return false;
  const want = new Map(layers.map((l) => [l.rid, l.active]));
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) return false;
  let changed = false;
  for (const enc of params.encodings) {
    const active = want.get(enc.rid || '');
    if (active === undefined || (enc.active !== false) === active) continue;
    enc.active = active;
    changed = true;
  }
  if (changed) await sender.setParameters(params);
  return changed;
}

/**
 * The quality state of one Room: the trackSettings controller, the stream states and the
 * dynacast side of its local publications. It reads room.options and emits on the room.
 */
export class RoomQuality {
  constructor(room) {
    this.room = room;
    const o = room.options;
    this.settings = new TrackSettingsController({
      send: (msg) => room._send(msg),
      debounceMs: o.settingsDebounceMs,
      pixelDensity: o.pixelDensity,
      pauseWhenPageHidden: o.pauseWhenPageHidden,
    });
    this.states = new StreamStates();
    this.pendingLayers = new Map(); // trackSid -> layers that arrived before the publication
  }

  attach(tsid, el) {
    this.settings.attach(tsid, el);
  }

  detach(tsid, el) {
    this.settings.detach(tsid, el);
  }

  elements(tsid) {
    return this.settings.elements(tsid);
  }

  /** A received track ended: its elements are let go and its stream state dropped. */
  unsubscribed(tsid) {
    this.settings.unsubscribed(tsid);
    this.states.forget(tsid);
  }

  /** A track is gone for good: its preferences too. */
  forget(tsid) {
    this.settings.forget(tsid);
    this.states.forget(tsid);
    this.pendingLayers.delete(tsid);
  }

  onStreamState(update) {
    const room = this.room;
    const { changed, estimateChanged } = this.states.apply(update);
    for (const st of changed) {
      let p = room.participants.get(st.participantSid) || null;
      if (!p) for (const q of room.participants.values()) if (q.tracks.has(st.trackSid)) p = q;
      room.emit('streamStateChanged', st, (p && p.tracks.get(st.trackSid)) || null, p);
    }
    if (estimateChanged) room.emit('bandwidthEstimateChanged', this.states.estimateBps);
  }

  onSubscribedLayers(update) {
    const tsid = update.trackSid || update.track_sid || '';
    const layers = normSubscribedLayers(update.layers);
    const lp = this.room.localParticipant;
    const pub = lp && lp.tracks.get(tsid);
    // trackPublished and the first subscribedLayers may arrive back to back, before
    // publishTrack has registered the publication: keep the layers until it does.
    if (pub) this.setLayers(pub, layers);
    else if (tsid) this.pendingLayers.set(tsid, layers);
  }

  /** A local publication got its sid: apply layers that arrived before it. */
  localPublished(pub) {
    const early = this.pendingLayers.get(pub.sid);
    if (!early) return;
    this.pendingLayers.delete(pub.sid);
    this.setLayers(pub, early);
  }

  setLayers(pub, layers) {
    const room = this.room;
    pub.subscribedLayers = layers;
    room.emit('subscribedLayersChanged', pub, layers);
    if (!room.options.dynacast) return;
    // Serialized per sender; each run applies the latest layers, so a burst settles at once.
    pub._layerQueue.run(async () => {
      if (room.state !== 'connected' || room.localParticipant.tracks.get(pub.sid) !== pub) return;
      try {
        await applySubscribedLayers(pub.sender, pub.subscribedLayers);
      } catch (err) {
        console.warn(`cascade: cannot set the active layers of ${pub.sid}`, err);
      }
    });
  }

  close() {
    this.settings.close();
    this.states.clear();
    this.pendingLayers.clear();
  }
}

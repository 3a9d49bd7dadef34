// The Cascade demo page: a small conferencing app on top of cascade.js. It is also what the
// browser end-to-end test drives, through window.cascadeDemo.

import { Room, TrackSource, StreamState } from './cascade.js';

const $ = (id) => document.getElementById(id);

const ui = {
  lobby: $('lobby'),
  form: $('join-form'),
  roomInput: $('room-input'),
  nameInput: $('name-input'),
  tokenFields: $('token-fields'),
  urlInput: $('url-input'),
  tokenInput: $('token-input'),
  joinButton: $('join-button'),
  lobbyError: $('lobby-error'),
  shareLink: $('share-link'),
  call: $('call'),
  grid: $('grid'),
  roomLabel: $('room-label'),
  status: $('status'),
  mic: $('btn-mic'),
  cam: $('btn-cam'),
  screen: $('btn-screen'),
  statsBtn: $('btn-stats'),
  chatBtn: $('btn-chat'),
  chatBadge: $('chat-badge'),
  leave: $('btn-leave'),
  chat: $('chat'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatInput: $('chat-input'),
  audioSinks: $('audio-sinks'),
  unmuteAudio: $('unmute-audio'),
  toast: $('toast'),
};

// Chat messages received from others, oldest first: {from, identity, participantSid, text, at}.
const chatLog = [];

const app = {
  room: null,
  tiles: new Map(), // key ("local", "<sid>", "<sid>/screen", "local/screen") -> tile
  audio: new Map(), // remote audio trackSid -> <audio>
  mic: null, // LocalTrackPublication
  cam: null,
  screen: [], // LocalTrackPublications of the current screen share
  statsTimer: null,
  unread: 0,
};

// Hooks for people poking at the page from the console and for automated tests.
window.cascadeDemo = {
  get room() {
    return app.room;
  },
  state: 'idle', // idle | joining | joined | left | error
  errors: [],
  chatLog,
  join,
  leave,
  sendChat,
  stats,
  streamStates,
  pin,
};

function setState(s, text) {
  window.cascadeDemo.state = s;
  ui.status.textContent = text ?? s;
}

let toastTimer = null;
function toast(msg) {
  ui.toast.textContent = msg;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (ui.toast.hidden = true), 6000);
}

function reportError(where, err) {
  const msg = `${where}: ${err && err.message ? err.message : err}`;
  console.error(`cascade demo: ${msg}`, err);
  window.cascadeDemo.errors.push(msg);
  toast(msg);
}

function defaultSignalURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/signal`;
}

function slug(s) {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'guest'
  );
}

// Identities must be unique in a room (a second join with the same identity replaces the
// first), so two tabs using one display name get different identities.
function makeIdentity(name) {
  const rnd = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).slice(0, 5);
  return `${slug(name)}-${rnd}`;
}

// Returns {url, token}: from the development endpoint when the server has one, else from
// the pasted fields (revealing them the first time).
async function credentials(roomName, name) {
  if (!ui.tokenFields.hidden && ui.tokenInput.value.trim()) {
    return { url: ui.urlInput.value.trim() || defaultSignalURL(), token: ui.tokenInput.value.trim() };
  }
  const q = new URLSearchParams({ room: roomName, identity: makeIdentity(name), name });
  let resp;
  try {
    resp = await fetch(`/v1/dev/token?${q}`, { cache: 'no-store' });
  } catch (err) {
    resp = null;
  }
  if (!resp || resp.status === 404 || resp.status === 405) {
    ui.tokenFields.hidden = false;
    ui.urlInput.value ||= defaultSignalURL();
    throw new Error('no development token endpoint here: paste an access token');
  }
  if (!resp.ok) throw new Error(`token request failed: ${resp.status} ${await resp.text()}`);
  const body = await resp.json();
  return { url: body.url || defaultSignalURL(), token: body.token };
}

async function join(roomName, name) {
  if (app.room) return;
  roomName = roomName.trim();
  name = name.trim();
  setState('joining', 'joining…');
  ui.joinButton.disabled = true;
  ui.lobbyError.hidden = true;
  try {
    const { url, token } = await credentials(roomName, name);
    const room = new Room();
    wireRoom(room);
    app.room = room;
    await room.connect(url, token);
    const params = new URLSearchParams({ room: roomName, name });
    history.replaceState(null, '', `/?${params}`);
    enterCall(room, roomName);
    setState('joined', 'connected');
    await publishDevices(room);
  } catch (err) {
    if (app.room) {
      app.room.disconnect();
      app.room = null;
    }
    setState('error', 'not connected');
    const text = err.code && err.code !== err.message ? `${err.message} (${err.code})` : err.message || String(err);
    ui.lobbyError.textContent = text;
    ui.lobbyError.hidden = false;
    window.cascadeDemo.errors.push(`join: ${text}`);
    ui.lobby.hidden = false;
    ui.call.hidden = true;
  } finally {
    ui.joinButton.disabled = false;
  }
}

// Opens camera and microphone with one permission prompt (falling back to each alone) and
// publishes what it got.
async function publishDevices(room) {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  let tracks = [];
  try {
    tracks = (await navigator.mediaDevices.getUserMedia({ video, audio })).getTracks();
  } catch (err) {
    for (const c of [{ video }, { audio }]) {
      try {
        tracks.push(...(await navigator.mediaDevices.getUserMedia(c)).getTracks());
      } catch (e) {
        reportError(c.video ? 'camera' : 'microphone', e);
      }
    }
  }
  const v = tracks.find((t) => t.kind === 'video');
  const a = tracks.find((t) => t.kind === 'audio');
  if (v) showLocalVideo('local', v);
  const jobs = [];
  if (v) jobs.push(room.publishTrack(v, { source: TrackSource.CAMERA, name: 'camera', simulcast: true }).then((p) => (app.cam = p)));
  if (a) jobs.push(room.publishTrack(a, { source: TrackSource.MICROPHONE, name: 'microphone' }).then((p) => (app.mic = p)));
  for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected') reportError('publish', r.reason);
  ui.cam.disabled = !app.cam;
  ui.mic.disabled = !app.mic;
}

function enterCall(room, roomName) {
  const title = room.room.name || roomName;
  ui.lobby.hidden = true;
  ui.call.hidden = false;
  ui.roomLabel.textContent = `# ${title}`;
  document.title = `${title} · Cascade`;
  const me = room.localParticipant;
  ensureTile('local', `${me.displayName} (you)`, { local: true });
  for (const p of room.participants.values()) ensureTile(p.sid, p.displayName);
  addSystemLine(`You joined ${title}.`);
}

function leave() {
  if (!app.room) return;
  app.room.disconnect();
}

function wireRoom(room) {
  room.on('participantJoined', (p) => {
    ensureTile(p.sid, p.displayName);
    addSystemLine(`${p.displayName} joined.`);
  });
  room.on('participantUpdated', (p) => {
    const t = app.tiles.get(p.sid);
    if (t) setTileName(t, p.displayName);
  });
  room.on('participantLeft', (p) => {
    for (const key of [...app.tiles.keys()]) if (key === p.sid || key.startsWith(`${p.sid}/`)) removeTile(key);
    addSystemLine(`${p.displayName} left.`);
  });
  room.on('trackSubscribed', (track, pub, p) => {
    if (track.kind === 'video') {
      const screen = pub.source === TrackSource.SCREEN_SHARE;
      const key = screen ? `${p.sid}/screen` : p.sid;
      const t = ensureTile(key, screen ? `${p.displayName} · screen` : p.displayName, { screen });
      t.videoTrackSid = pub.sid;
      // attach() also reports the tile's size and visibility to the SFU (trackSettings).
      pub.attach(t.video);
      if (t.pinned) pub.setPinned(true);
      showStreamState(t, pub.streamState);
      t.el.classList.toggle('no-video', pub.muted);
    } else {
      attachAudio(pub.sid, track);
      const t = ensureTile(p.sid, p.displayName);
      t.audioTrackSid = pub.sid;
      t.el.classList.toggle('muted-audio', pub.muted);
    }
  });
  room.on('trackUnsubscribed', (track, pub, p) => {
    if (!pub || !p) return;
    if (track.kind === 'video') {
      const key = pub.source === TrackSource.SCREEN_SHARE ? `${p.sid}/screen` : p.sid;
      const t = app.tiles.get(key);
      if (!t || t.videoTrackSid !== pub.sid) return;
      if (key.endsWith('/screen')) removeTile(key);
      else {
        t.video.srcObject = null;
        t.videoTrackSid = '';
        t.el.classList.add('no-video');
        showStreamState(t, null);
      }
    } else {
      detachAudio(pub.sid);
    }
  });
  room.on('trackMuted', (pub, p, muted) => {
    const t = app.tiles.get(p.sid);
    if (!t) return;
    if (pub.isVideo && pub.source === TrackSource.CAMERA) t.el.classList.toggle('no-video', muted);
    if (pub.isAudio) t.el.classList.toggle('muted-audio', muted);
  });
  room.on('streamStateChanged', (st) => {
    for (const t of app.tiles.values()) if (t.videoTrackSid === st.trackSid) showStreamState(t, st);
  });
  room.on('activeSpeakers', (speakers) => {
    const speaking = new Set(speakers.map((s) => (s.isLocal ? 'local' : s.participantSid)));
    for (const [key, t] of app.tiles) t.el.classList.toggle('speaking', speaking.has(key));
  });
  room.on('dataReceived', (msg) => {
    if (msg.topic !== 'chat') return;
    const from = (msg.participant && msg.participant.displayName) || msg.participantIdentity || msg.participantSid || 'someone';
    const entry = { from, identity: msg.participantIdentity, participantSid: msg.participantSid, text: msg.text, at: Date.now() };
    chatLog.push(entry);
    addChatLine(entry.from, entry.text, false);
  });
  room.on('localTrackUnpublished', (pub) => {
    if (pub.source === TrackSource.SCREEN_SHARE) {
      app.screen = app.screen.filter((x) => x !== pub);
      removeTile('local/screen');
      setToggle(ui.screen, false, 'on');
    }
  });
  room.on('connectionStateChanged', ({ target, state }) => {
    if (state === 'failed' || state === 'disconnected') ui.status.textContent = `${target} ${state}`;
    else if (state === 'connected' && window.cascadeDemo.state === 'joined') ui.status.textContent = 'connected';
  });
  room.on('error', (err) => reportError(err.request ? `server (${err.request})` : 'room', err));
  room.on('disconnected', (reason) => {
    stopStats();
    for (const key of [...app.tiles.keys()]) removeTile(key);
    for (const sid of [...app.audio.keys()]) detachAudio(sid);
    app.room = null;
    app.mic = app.cam = null;
    app.screen = [];
    ui.call.hidden = true;
    ui.lobby.hidden = false;
    setState('left', 'not connected');
    if (reason !== 'LEAVE_REASON_CLIENT_REQUEST') {
      ui.lobbyError.textContent = `Disconnected: ${reason}`;
      ui.lobbyError.hidden = false;
    }
    for (const b of [ui.mic, ui.cam, ui.screen, ui.statsBtn]) setToggle(b, false, b === ui.statsBtn || b === ui.screen ? 'on' : 'off');
    document.title = 'Cascade';
    ui.roomLabel.textContent = '';
  });
}

// ------------------------------------------------------------------ tiles

const SVG_NS = 'http://www.w3.org/2000/svg';
const PIN_PATHS =
  '<svg class="ico" viewBox="0 0 24 24" aria-hidden="true"><path d="M9 4h6l-1 6 4 4H6l4-4zM12 14v7"/></svg>';
const MIC_OFF_PATHS =
  '<title>microphone muted</title><rect x="9" y="3" width="6" height="11" rx="3"/>' +
  '<path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/>';

function ensureTile(key, name, { local = false, screen = false } = {}) {
  let t = app.tiles.get(key);
  if (t) {
    setTileName(t, name);
    return t;
  }
  const el = document.createElement('div');
  el.className = 'tile no-video';
  if (local) el.classList.add('local');
  if (screen) el.classList.add('screen');
  el.dataset.key = key;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through the <audio> sinks
  video.addEventListener('loadeddata', () => el.classList.remove('no-video'));
  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  avatar.append(document.createElement('span'));
  const label = document.createElement('div');
  label.className = 'label';
  const mic = document.createElementNS(SVG_NS, 'svg');
  mic.setAttribute('viewBox', '0 0 24 24');
  mic.setAttribute('class', 'ico mic-off');
  mic.innerHTML = MIC_OFF_PATHS;
  const nameEl = document.createElement('span');
  label.append(mic, nameEl);
  const stats = document.createElement('pre');
  stats.className = 'stats';
  stats.hidden = !app.statsTimer;
  const paused = document.createElement('div');
  paused.className = 'paused';
  paused.hidden = true;
  el.append(video, avatar, label, stats, paused);
  t = { key, el, video, avatar, nameEl, stats, paused, pinBtn: null, pinned: false, videoTrackSid: '', audioTrackSid: '' };
  if (!local) {
    const pinBtn = document.createElement('button');
    pinBtn.type = 'button';
    pinBtn.className = 'pin';
    pinBtn.title = 'Pin: receive this video first and in the best quality';
    pinBtn.setAttribute('aria-pressed', 'false');
    pinBtn.innerHTML = PIN_PATHS;
    pinBtn.addEventListener('click', () => setPinned(t, !t.pinned));
    el.append(pinBtn);
    t.pinBtn = pinBtn;
  }
  setTileName(t, name);
  if (key === 'local') ui.grid.prepend(el);
  else ui.grid.append(el);
  app.tiles.set(key, t);
  layoutGrid();
  return t;
}

function setTileName(t, name) {
  t.nameEl.textContent = name;
  t.avatar.firstChild.textContent = (name || '?').trim().charAt(0);
}

function removeTile(key) {
  const t = app.tiles.get(key);
  if (!t) return;
  t.video.srcObject = null;
  t.el.remove();
  app.tiles.delete(key);
  layoutGrid();
}

function layoutGrid() {
  const n = Math.max(1, app.tiles.size);
  const cols = Math.ceil(Math.sqrt(n));
  ui.grid.style.setProperty('--cols', String(cols));
  ui.grid.dataset.cols = String(cols);
}

// Pinning raises the tile's video priority at the SFU (bandwidth goes to it first) and
// makes the tile larger, so its rendered size asks for a higher layer too.
function setPinned(t, pinned) {
  t.pinned = pinned;
  t.el.classList.toggle('pinned', pinned);
  if (t.pinBtn) {
    t.pinBtn.setAttribute('aria-pressed', String(pinned));
    t.pinBtn.title = pinned ? 'Unpin' : 'Pin: receive this video first and in the best quality';
  }
  if (app.room && t.videoTrackSid) app.room.setTrackPreferences(t.videoTrackSid, { pinned });
}

const STATE_TEXT = {
  [StreamState.ACTIVE]: 'active',
  [StreamState.PAUSED_BANDWIDTH]: 'paused for bandwidth',
  [StreamState.PAUSED_PREFERENCE]: 'paused by preference',
};

// Shows a notice on a tile whose video the SFU has paused.
function showStreamState(t, st) {
  const paused = !!st && st.state !== StreamState.ACTIVE;
  t.el.classList.toggle('stream-paused', paused);
  t.paused.hidden = !paused;
  if (paused) t.paused.textContent = st.state === StreamState.PAUSED_BANDWIDTH ? 'Video paused: not enough bandwidth' : 'Video paused';
}

function showLocalVideo(key, track, opts = {}) {
  const t = ensureTile(key, key === 'local' ? `${app.room.localParticipant.displayName} (you)` : 'Your screen', { local: true, ...opts });
  t.video.srcObject = new MediaStream([track]);
}

function attachAudio(trackSid, track) {
  detachAudio(trackSid);
  const el = document.createElement('audio');
  el.autoplay = true;
  el.srcObject = new MediaStream([track]);
  ui.audioSinks.append(el);
  app.audio.set(trackSid, el);
  el.play().catch(() => {
    // Autoplay with sound needs a user gesture on a page the user has not touched yet.
    ui.unmuteAudio.hidden = false;
  });
}

function detachAudio(trackSid) {
  const el = app.audio.get(trackSid);
  if (!el) return;
  el.srcObject = null;
  el.remove();
  app.audio.delete(trackSid);
}

// ------------------------------------------------------------------ chat

async function sendChat(text) {
  text = String(text).trim();
  if (!text || !app.room) return false;
  await app.room.sendData(text, { topic: 'chat', reliable: true });
  addChatLine('You', text, true);
  return true;
}

function addChatLine(from, text, mine) {
  const li = document.createElement('li');
  if (mine) li.className = 'mine';
  const f = document.createElement('span');
  f.className = 'from';
  f.textContent = from;
  const body = document.createElement('span');
  body.textContent = text;
  li.append(f, body);
  appendChat(li);
  if (!mine && ui.chat.hidden) {
    app.unread++;
    ui.chatBadge.textContent = String(app.unread);
    ui.chatBadge.hidden = false;
  }
}

function addSystemLine(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  appendChat(li);
}

function appendChat(li) {
  const atBottom = ui.chatLog.scrollHeight - ui.chatLog.scrollTop - ui.chatLog.clientHeight < 40;
  ui.chatLog.append(li);
  if (atBottom) ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

// ------------------------------------------------------------------ stats

/** Per-track stats of the current room (see Room.getStats in cascade.js). */
async function stats() {
  if (!app.room) return { remote: [], local: [] };
  return app.room.getStats();
}

/**
 * What the SFU says this page receives of each subscribed track, with the settings and
 * preferences the page sent: {estimateBps, tracks: [{participantSid, identity, name,
 * trackSid, kind, source, state, currentRid, targetRid, reason, settings, preferences}]}.
 * state is '' until the SFU has reported on the track.
 */
function streamStates() {
  const room = app.room;
  if (!room) return { estimateBps: 0, tracks: [] };
  const tracks = [];
  for (const p of room.participants.values()) {
    for (const pub of p.tracks.values()) {
      const st = room.streamState(pub.sid);
      if (!pub.track && !st) continue;
      tracks.push({
        participantSid: p.sid,
        identity: p.identity,
        name: p.name,
        trackSid: pub.sid,
        kind: pub.isVideo ? 'video' : 'audio',
        source: pub.source,
        state: st ? st.state : '',
        currentRid: st ? st.currentRid : '',
        targetRid: st ? st.targetRid : '',
        reason: st ? st.reason : '',
        settings: room.trackSettings(pub.sid),
        preferences: room.trackPreferences(pub.sid),
      });
    }
  }
  return { estimateBps: room.bandwidthEstimate, tracks };
}

/**
 * Pins (or with pinned = false unpins) a remote tile, found by tile key, participant sid,
 * identity or name. Returns whether a tile was found.
 */
function pin(who, pinned = true) {
  if (!app.room) return false;
  let t = app.tiles.get(who);
  if (!t) {
    for (const p of app.room.participants.values()) {
      if (p.sid === who || p.identity === who || p.name === who) t = app.tiles.get(p.sid);
    }
  }
  if (!t || !t.pinBtn) return false;
  setPinned(t, !!pinned);
  return true;
}

const LAYER_NAME = { q: 'q (low)', h: 'h (medium)', f: 'f (high)' };

// The overlay lines about a received video's layer: what is forwarded, what the SFU is
// switching to and why, the stream state, and the size this page asked for.
function layerLines(st, sent) {
  const lines = [];
  if (st) {
    const cur = LAYER_NAME[st.currentRid] || st.currentRid || '-';
    const why = st.reason ? ` (${st.reason})` : '';
    if (st.targetRid && st.targetRid !== st.currentRid) lines.push(`layer ${cur} → ${LAYER_NAME[st.targetRid] || st.targetRid}${why}`);
    else lines.push(`layer ${cur}${why}`);
    lines.push(`stream ${STATE_TEXT[st.state] || st.state}`);
  } else {
    lines.push('layer ? (no stream state yet)');
  }
  if (sent) {
    const want = sent.disabled ? 'paused' : sent.width ? `${sent.width}x${sent.height}` : 'any size';
    lines.push(`asked ${want}${sent.maxRid ? ` ≤${sent.maxRid}` : ''}${sent.priority ? ` prio ${sent.priority}` : ''}`);
  }
  return lines;
}

function startStats() {
  for (const t of app.tiles.values()) t.stats.hidden = false;
  const tick = async () => {
    if (!app.room) return;
    try {
      renderStats(await app.room.getStats());
    } catch (err) {
      console.warn('cascade demo: stats failed', err);
    }
  };
  app.statsTimer = setInterval(tick, 1000);
  tick();
}

function stopStats() {
  clearInterval(app.statsTimer);
  app.statsTimer = null;
  for (const t of app.tiles.values()) t.stats.hidden = true;
}

const kbps = (bps) => `${Math.round(bps / 1000)} kbps`;

function renderStats(s) {
  const byTrack = new Map(s.remote.map((r) => [r.trackSid, r]));
  for (const t of app.tiles.values()) {
    const lines = [];
    if (t.key === 'local') {
      const cam = s.local.find((l) => l.source === TrackSource.CAMERA);
      for (const l of cam ? cam.layers : []) {
        if (!l.active) {
          lines.push(`${l.rid || '-'} off (nobody receives it)`);
          continue;
        }
        lines.push(`${l.rid || '-'} ${l.width}x${l.height} ${Math.round(l.fps || 0)}fps ${kbps(l.bitrate)}${l.qualityLimitationReason !== 'none' ? ` (${l.qualityLimitationReason})` : ''}`);
      }
      const mic = s.local.find((l) => l.source === TrackSource.MICROPHONE);
      if (mic && mic.layers[0]) lines.push(`audio ${kbps(mic.layers[0].bitrate)}`);
      if (s.publisher) lines.push(`rtt ${Math.round(s.publisher.rttMs)} ms, out ≤ ${kbps(s.publisher.availableOutgoingBitrate)}`);
    } else if (t.key === 'local/screen') {
      const sc = s.local.find((l) => l.source === TrackSource.SCREEN_SHARE);
      for (const l of sc ? sc.layers : []) lines.push(`${l.width}x${l.height} ${Math.round(l.fps || 0)}fps ${kbps(l.bitrate)}`);
    } else {
      const v = byTrack.get(t.videoTrackSid);
      if (v) {
        lines.push(`${v.codec.replace('video/', '')} ${v.width}x${v.height} ${Math.round(v.fps || 0)}fps`);
        lines.push(`video ${kbps(v.bitrate)} loss ${v.packetLossPct.toFixed(1)}%`);
        lines.push(`jitter ${v.jitterMs.toFixed(0)} ms, decoded ${v.framesDecoded}`);
      }
      if (t.videoTrackSid) lines.push(...layerLines(app.room.streamState(t.videoTrackSid), app.room.trackSettings(t.videoTrackSid)));
      if (t.videoTrackSid || t.audioTrackSid) lines.push(`SFU estimate ${s.bandwidthEstimate ? kbps(s.bandwidthEstimate) : '-'}`);
      const a = byTrack.get(t.audioTrackSid);
      if (a) lines.push(`audio ${kbps(a.bitrate)} loss ${a.packetLossPct.toFixed(1)}%`);
    }
    t.stats.textContent = lines.join('\n') || 'no media';
  }
}

// ------------------------------------------------------------------ controls

function setToggle(btn, active, cls) {
  btn.classList.toggle(cls, active);
  btn.setAttribute('aria-pressed', String(active));
}

ui.mic.addEventListener('click', () => {
  if (!app.room || !app.mic) return;
  const muted = !app.mic.muted;
  app.room.setMuted(app.mic, muted);
  setToggle(ui.mic, muted, 'off');
  ui.mic.title = muted ? 'Unmute microphone' : 'Mute microphone';
  const t = app.tiles.get('local');
  if (t) t.el.classList.toggle('muted-audio', muted);
});

ui.cam.addEventListener('click', () => {
  if (!app.room || !app.cam) return;
  const muted = !app.cam.muted;
  app.room.setMuted(app.cam, muted);
  setToggle(ui.cam, muted, 'off');
  ui.cam.title = muted ? 'Turn camera on' : 'Turn camera off';
  const t = app.tiles.get('local');
  if (t) t.el.classList.toggle('no-video', muted);
});

ui.screen.addEventListener('click', async () => {
  if (!app.room) return;
  if (app.screen.length) {
    for (const pub of app.screen) await app.room.unpublishTrack(pub);
    return;
  }
  try {
    app.screen = await app.room.publishScreenShare();
    showLocalVideo('local/screen', app.screen[0].track, { screen: true });
    setToggle(ui.screen, true, 'on');
  } catch (err) {
    if (err.name !== 'NotAllowedError') reportError('screen share', err);
  }
});

ui.statsBtn.addEventListener('click', () => {
  const on = !app.statsTimer;
  if (on) startStats();
  else stopStats();
  setToggle(ui.statsBtn, on, 'on');
});

ui.chatBtn.addEventListener('click', () => {
  ui.chat.hidden = !ui.chat.hidden;
  setToggle(ui.chatBtn, !ui.chat.hidden, 'on');
  if (!ui.chat.hidden) {
    app.unread = 0;
    ui.chatBadge.hidden = true;
  }
});

ui.leave.addEventListener('click', leave);

ui.chatForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = ui.chatInput.value;
  ui.chatInput.value = '';
  try {
    await sendChat(text);
  } catch (err) {
    reportError('chat', err);
  }
});

ui.unmuteAudio.addEventListener('click', () => {
  ui.unmuteAudio.hidden = true;
  for (const el of app.audio.values()) el.play().catch(() => {});
});

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  join(ui.roomInput.value, ui.nameInput.value);
});

function updateShareLink() {
  const q = new URLSearchParams({ room: ui.roomInput.value.trim() || 'R', name: '…' });
  ui.shareLink.textContent = `${location.origin}/?${q}`.replace('%E2%80%A6', '…');
}
ui.roomInput.addEventListener('input', updateShareLink);

window.addEventListener('pagehide', () => {
  if (app.room) app.room.disconnect();
});

// ------------------------------------------------------------------ start

const params = new URLSearchParams(location.search);
ui.roomInput.value = params.get('room') || `room-${Math.random().toString(36).slice(2, 7)}`;
ui.nameInput.value = params.get('name') || localStorage.getItem('cascade.name') || '';
ui.nameInput.addEventListener('change', () => localStorage.setItem('cascade.name', ui.nameInput.value.trim()));
updateShareLink();
setToggle(ui.chatBtn, true, 'on');
setState('idle', 'not connected');
if (params.get('room') && params.get('name')) join(params.get('room'), params.get('name'));

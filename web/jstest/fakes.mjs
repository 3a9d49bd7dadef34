// Just enough of the browser for the client modules to run under node: a scripted
// WebSocket, peer connections that negotiate with themselves, senders whose parameters can
// be read back, media stream stand-ins, and observers the tests fire by hand.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class FakeWebSocket {
  static OPEN = 1;
  static last = null;

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = []; // parsed JSON of every frame sent
    this.onServerFrame = null; // (msg, ws) => void, set by the test
    FakeWebSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      if (this.onopen) this.onopen();
    }, 0);
  }

  send(text) {
    const msg = JSON.parse(text);
    this.sent.push(msg);
    if (this.onServerFrame) queueMicrotask(() => this.onServerFrame(msg, this));
  }

  /** Delivers a server frame to the client. */
  deliver(msg) {
    if (this.onmessage) this.onmessage({ data: JSON.stringify(msg) });
  }

  close() {
    this.readyState = 3;
  }

  sentOf(key) {
    return this.sent.filter((m) => key in m).map((m) => m[key]);
  }
}

export class FakeSender {
  constructor(encodings) {
    this.encodings = (encodings || [{}]).map((e) => ({ active: true, ...e }));
    this.calls = 0;
    this._txn = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;
  }

  getParameters() {
    this._txn++;
    return { transactionId: String(this._txn), encodings: this.encodings.map((e) => ({ ...e })) };
  }

  async setParameters(p) {
    if (p.transactionId !== String(this._txn)) throw new Error('InvalidModificationError: stale transaction');
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await sleep(5);
    this.inFlight--;
    this.calls++;
    this.encodings = p.encodings.map((e) => ({ ...e }));
  }

  active() {
    return Object.fromEntries(this.encodings.map((e) => [e.rid || '', e.active !== false]));
  }
}

export class FakePeerConnection {
  constructor() {
    this.localDescription = null;
    this.remoteDescription = null;
    this.transceivers = [];
    this.connectionState = 'new';
  }

  createDataChannel(label) {
    return { label, readyState: 'connecting', addEventListener() {}, send() {} };
  }

  async createOffer() {
    return { type: 'offer', sdp: 'v=0 offer' };
  }

  async createAnswer() {
    return { type: 'answer', sdp: 'v=0 answer' };
  }

  async setLocalDescription(d) {
    this.localDescription = d;
  }

  async setRemoteDescription(d) {
    this.remoteDescription = d;
  }

  async addIceCandidate() {}

  addTransceiver(track, init) {
    const t = { track, init, sender: new FakeSender(init.sendEncodings), setCodecPreferences() {} };
    this.transceivers.push(t);
    return t;
  }

  removeTrack() {}

  close() {
    this.connectionState = 'closed';
  }
}

export class FakeTrack {
  static n = 0;

  constructor(kind, settings = {}) {
    this.kind = kind;
    this.id = `${kind}-${++FakeTrack.n}`;
    this.enabled = true;
    this._settings = settings;
  }

  getSettings() {
    return this._settings;
  }

  addEventListener() {}

  stop() {}
}

export class FakeMediaStream {
  constructor(tracks = [], id = `stream-${Math.random()}`) {
    this._tracks = tracks;
    this.id = id;
  }

  getTracks() {
    return this._tracks;
  }

  addEventListener() {}
}

// Observers keep their targets; the tests call fire() with entries.
export class FakeResizeObserver {
  static all = [];

  constructor(cb) {
    this.cb = cb;
    this.targets = new Set();
    FakeResizeObserver.all.push(this);
  }

  observe(el) {
    this.targets.add(el);
  }

  unobserve(el) {
    this.targets.delete(el);
  }

  disconnect() {
    this.targets.clear();
  }

  static resize(el, width, height) {
    for (const o of FakeResizeObserver.all) {
      if (o.targets.has(el)) o.cb([{ target: el, contentRect: { width, height }, contentBoxSize: [{ inlineSize: width, blockSize: height }] }]);
    }
  }
}

export class FakeIntersectionObserver {
  static all = [];

  constructor(cb) {
    this.cb = cb;
    this.targets = new Set();
    FakeIntersectionObserver.all.push(this);
  }

  observe(el) {
    this.targets.add(el);
  }

  unobserve(el) {
    this.targets.delete(el);
  }

  disconnect() {
    this.targets.clear();
  }

  static intersect(el, isIntersecting) {
    for (const o of FakeIntersectionObserver.all) if (o.targets.has(el)) o.cb([{ target: el, isIntersecting }]);
  }
}

export function fakeElement(tag = 'video', width = 0, height = 0) {
  return { tagName: tag.toUpperCase(), clientWidth: width, clientHeight: height, isConnected: true, srcObject: null };
}

export const fakeDocument = {
  visibilityState: 'visible',
  _listeners: new Set(),
  addEventListener(type, fn) {
    if (type === 'visibilitychange') this._listeners.add(fn);
  },
  removeEventListener(type, fn) {
    this._listeners.delete(fn);
  },
  setVisibility(v) {
    this.visibilityState = v;
    for (const fn of [...this._listeners]) fn();
  },
  createElement(tag) {
    return fakeElement(tag);
  },
};

/** Installs the fakes as globals. */
export function installBrowserFakes() {
  Object.assign(globalThis, {
    window: globalThis,
    document: fakeDocument,
    devicePixelRatio: 1,
    WebSocket: FakeWebSocket,
    RTCPeerConnection: FakePeerConnection,
    MediaStream: FakeMediaStream,
    ResizeObserver: FakeResizeObserver,
    IntersectionObserver: FakeIntersectionObserver,
  });
}

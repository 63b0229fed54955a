// The real-time WebSocket (/v1/realtime): resumes after the last position it saw.

export class Realtime {
  constructor(base, token, onFrame, onState) {
    this.base = base;
    this.token = token;
    this.onFrame = onFrame;
    this.onState = onState || (() => {});
    this.position = null;
    this.socket = null;
    this.closed = false;
    this.retry = 500;
  }

  url() {
    const url = new URL("v1/realtime", this.base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.token) {
        socket.send(JSON.stringify({ type: "auth", token: this.token, after: this.position }));
      }
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.position !== null && frame.position !== undefined) this.position = frame.position;
      if (frame.type === "ready") {
        this.retry = 500;
        this.onState("live");
      }
      this.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      this.onState(event.code === 4001 ? "signed-out" : "offline");
      if (this.closed || event.code === 4001 || event.code === 4003) return;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 15000);
    });
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
  }
}

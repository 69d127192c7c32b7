// Blufio's chat page. It talks to the gateway it was served from: the REST API (/v1/...)
// with the token as a Bearer header, and /ws (the token as ?token=) for streamed turns.
// Message text only ever reaches the page as text nodes (BlufioMarkdown builds the nodes).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    signin: $("signin"), form: $("signin-form"), token: $("token"), remember: $("remember"),
    signinError: $("signin-error"), app: $("app"), sidebar: $("sidebar"), menu: $("menu"),
    sessions: $("sessions"), more: $("more"), spend: $("spend"), signout: $("signout"),
    newChat: $("new"), log: $("log"), composer: $("composer"), input: $("input"),
    send: $("send"), stop: $("stop"), status: $("status"), title: $("title"),
  };
  const PAGE = 20;
  const KEY = "blufio.token";
  const state = {
    token: null, current: null, offset: 0, socket: null, outbox: [], retry: 0,
    views: new Map(),  // frame id -> the view of a turn (see newTurn)
    counter: 0,
  };
  // Timings the browser test reads: when each turn's first delta arrived and was on screen.
  const timings = (window.blufioTimings = { firstDeltas: [] });

  function el(tag, parent, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }

  // --- money and time, for people -------------------------------------------------------

  function usd(amount) {
    if (amount === null || amount === undefined) return "–";
    if (amount === 0) return "$0";
    return amount >= 1 ? `$${amount.toFixed(2)}` : `$${amount.toPrecision(2)}`;
  }

  function when(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return iso;
    const today = new Date();
    return date.toDateString() === today.toDateString()
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { month: "short", day: "numeric" });
  }

  function tokens(usage) {
    if (!usage) return "";
    const input = (usage.input_tokens || 0) + (usage.cache_read_input_tokens || 0)
      + (usage.cache_creation_input_tokens || 0);
    return `${input} in · ${usage.output_tokens || 0} out tokens`;
  }

  // --- the API --------------------------------------------------------------------------

  class SignedOut extends Error {}

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
    if (response.status === 401) throw new SignedOut("not accepted");
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  function failed(error) {
    if (error instanceof SignedOut) {
      signOut("Your token is no longer accepted (expired or revoked). Sign in with a new one.");
    } else {
      setStatus(String(error.message || error), true);
    }
  }

  // --- signing in and out ---------------------------------------------------------------

  function storedToken() {
    return sessionStorage.getItem(KEY) || localStorage.getItem(KEY);
  }

  function showSignIn(message) {
    ui.app.hidden = true;
    ui.signin.hidden = false;
    ui.signinError.textContent = message || "";
    ui.token.focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const token = ui.token.value.trim();
    if (!token) return;
    state.token = token;
    ui.signinError.textContent = "Checking…";
    try {
      await api(`/v1/sessions?limit=1`);
    } catch (error) {
      state.token = null;
      ui.signinError.textContent = error instanceof SignedOut
        ? "That token was not accepted: it is wrong, expired or revoked. Make one with `blufio auth token`."
        : `Cannot reach the gateway: ${error.message}`;
      return;
    }
    (ui.remember.checked ? localStorage : sessionStorage).setItem(KEY, token);
    ui.token.value = "";
    start();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    state.token = null;
    if (state.socket) {
      state.socket.onclose = null;
      state.socket.close();
      state.socket = null;
    }
    showSignIn(message);
  }

  function start() {
    ui.signin.hidden = true;
    ui.app.hidden = false;
    connect();
    openSession(decodeURIComponent(location.hash.slice(1)) || null);
    loadSessions(true);
    ui.input.focus();
  }

  // --- sessions -------------------------------------------------------------------------

  async function loadSessions(reset) {
    if (reset) state.offset = 0;
    let page;
    try {
      page = await api(`/v1/sessions?limit=${PAGE}&offset=${state.offset}`);
    } catch (error) {
      return failed(error);
    }
    if (reset) ui.sessions.replaceChildren();
    for (const session of page.data) {
      const button = el("button", el("li", ui.sessions));
      button.type = "button";
      button.dataset.id = session.id;
      el("span", button, `${session.channel} · ${session.message_count} messages`);
      el("small", button, `${when(session.updated_at)} · ${session.id.slice(0, 8)}`);
      button.setAttribute("aria-current", String(session.id === state.current));
      button.addEventListener("click", () => { openSession(session.id); closeDrawer(); });
    }
    state.offset += page.data.length;
    ui.more.hidden = !page.has_more;
  }

  function markCurrent() {
    for (const button of ui.sessions.querySelectorAll("button")) {
      button.setAttribute("aria-current", String(button.dataset.id === state.current));
    }
    ui.title.textContent = state.current ? `Session ${state.current.slice(0, 8)}` : "New conversation";
  }

  async function openSession(id) {
    state.current = id;
    history.replaceState(null, "", id ? `#${encodeURIComponent(id)}` : location.pathname);
    markCurrent();
    ui.log.replaceChildren();
    refreshSpend();
    if (!id) {
      el("p", ui.log, "Say something to start a conversation.", "empty");
      updateButtons();
      return;
    }
    let session;
    try {
      session = await api(`/v1/sessions/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!(error instanceof SignedOut) && state.current === id) openSession(null);  // gone
      return failed(error);
    }
    if (state.current !== id) return;  // another session was opened meanwhile
    transmit({ type: "watch", session_id: id, id: `w${++state.counter}` });  // its scheduled runs
    showHistory(session.messages);
    for (const view of state.views.values()) {  // a turn still running in this session
      if (view.sessionId === id && !view.done) ui.log.append(view.user, view.bubble);
    }
    updateButtons();
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function showHistory(messages) {
    let assistant = null;
    for (const message of messages) {
      const blocks = Array.isArray(message.content) ? message.content : [];
      const text = blocks.filter((b) => b.type === "text").map((b) => b.text).join("");
      if (message.role === "user") {
        for (const block of blocks.filter((b) => b.type === "tool_result" && b.is_error)) {
          const line = assistant && assistant.tools[block.tool_use_id];
          if (line) line.classList.add("failed");
        }
        if (!text) continue;  // tool results only: the assistant's turn goes on
        el("div", ui.log, text, "msg user");
        assistant = null;
        continue;
      }
      if (!assistant) assistant = bubble();
      for (const block of blocks.filter((b) => b.type === "tool_use")) {
        assistant.tools[block.id] = toolLine(assistant, block.name);
      }
      if (text) assistant.text += (assistant.text ? "\n\n" : "") + text;
      BlufioMarkdown.render(assistant.text, assistant.body);
      assistant.meta.textContent = tokens(message.usage);
    }
  }

  // --- the spend ------------------------------------------------------------------------

  async function refreshSpend() {
    const query = state.current ? `?session_id=${encodeURIComponent(state.current)}` : "";
    let usage;
    try {
      usage = await api(`/v1/usage${query}`);
    } catch (error) {
      return error instanceof SignedOut ? failed(error) : undefined;
    }
    ui.spend.replaceChildren();
    for (const [label, period] of [["Today", usage.today], ["This month", usage.month]]) {
      const line = el("div", ui.spend);
      el("span", line, `${label}: `);
      el("strong", line, usd(period.cost_usd), period.remaining_usd === 0 ? "over" : "");
      el("span", line, period.budget_usd === null ? " (no budget)" : ` of ${usd(period.budget_usd)}`);
    }
    if (usage.session) {
      el("div", ui.spend, `This conversation: ${usd(usage.session.cost_usd)} · ${tokens(usage.session.usage)}`);
    }
  }

  // --- turns on screen ------------------------------------------------------------------

  function bubble() {
    const node = el("div", ui.log, null, "msg assistant");
    const tools = el("div", node);
    const body = el("div", node, null, "body");
    const meta = el("div", node, "", "meta");
    return { bubble: node, toolBox: tools, body, meta, text: "", tools: {} };
  }

  function toolLine(view, name) {
    return el("div", view.toolBox, `⚙ ${name}`, "tool");
  }

  function atBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  }

  // Redraw a turn's text at the next frame (once per frame however many deltas came).
  function draw(view) {
    if (view.drawing) return;
    view.drawing = true;
    requestAnimationFrame(() => {
      view.drawing = false;
      const follow = atBottom();
      BlufioMarkdown.render(view.text, view.body);
      view.body.classList.toggle("typing", !view.done);
      if (follow) ui.log.scrollTop = ui.log.scrollHeight;
      if (view.firstArrived !== undefined && view.firstShown === undefined) {
        view.firstShown = performance.now();
        timings.firstDeltas.push(view.firstShown - view.firstArrived);
      }
    });
  }

  function newTurn(text) {
    const empty = ui.log.querySelector(".empty");
    if (empty) empty.remove();
    const follow = atBottom();
    const user = el("div", ui.log, text, "msg user");
    const view = Object.assign(bubble(), { user, ref: `m${++state.counter}`, sessionId: state.current, done: false });
    view.body.classList.add("typing");
    state.views.set(view.ref, view);
    if (follow) ui.log.scrollTop = ui.log.scrollHeight;
    return view;
  }

  function visible(view) {
    return view.sessionId === state.current;
  }

  function finish(view, frame) {
    view.done = true;
    view.body.classList.remove("typing");
    if (frame.type === "message") {
      const cost = frame.cost_usd !== undefined ? ` · ${usd(frame.cost_usd)}` : "";
      view.meta.textContent = (frame.stop_reason === "cancelled" ? "Stopped · " : "") + tokens(frame.usage) + cost;
    } else {
      view.bubble.classList.add("error");
      view.meta.textContent = frame.error.message;
    }
    draw(view);
    state.views.delete(view.ref);
    updateButtons();
    refreshSpend();
    loadSessions(true);
  }

  function onFrame(frame) {
    const view = state.views.get(frame.id);
    if (!view) {
      if (frame.origin === "schedule" && frame.type === "message" && frame.session_id === state.current) {
        openSession(state.current);  // a scheduled run of this session: show it as stored
      } else if (frame.type === "error" && !/^[cw]/.test(String(frame.id || ""))) {
        setStatus(frame.error.message, true);
      }
      return;
    }
    switch (frame.type) {
      case "session":
        if (view.sessionId === state.current) state.current = frame.session_id;
        view.sessionId = frame.session_id;
        if (visible(view)) history.replaceState(null, "", `#${encodeURIComponent(view.sessionId)}`);
        markCurrent();
        loadSessions(true);
        if (view.stopWanted) stop();
        break;
      case "delta":
        if (view.firstArrived === undefined) view.firstArrived = performance.now();
        view.text += frame.text;
        draw(view);
        break;
      case "turn":  // resumed after a reconnect: the text so far
        view.text = frame.text;
        draw(view);
        break;
      case "tool":
        view.lastTool = toolLine(view, frame.name);
        break;
      case "tool_result":
        if (view.lastTool && frame.is_error) view.lastTool.classList.add("failed");
        break;
      case "idle":  // it ended while we were away: it is stored, show it from there
        finish(view, { type: "message", stop_reason: "" });
        if (visible(view)) openSession(view.sessionId);
        break;
      case "message":
      case "error":
        finish(view, frame);
        break;
    }
  }

  // --- the socket -----------------------------------------------------------------------

  function setStatus(text, bad) {
    ui.status.textContent = text;
    ui.status.classList.toggle("bad", Boolean(bad));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(state.token)}`);
    state.socket = socket;
    socket.onopen = () => {
      state.retry = 0;
      setStatus("Connected");
      for (const view of state.views.values()) {  // turns that went on while we were away
        if (view.sessionId) transmit({ type: "resume", session_id: view.sessionId, id: view.ref });
      }
      for (const frame of state.outbox.splice(0)) transmit(frame);
    };
    socket.onmessage = (event) => onFrame(JSON.parse(event.data));
    socket.onclose = () => {
      if (state.socket !== socket) return;
      state.socket = null;
      const delay = Math.min(500 * 2 ** state.retry++, 8000);
      setStatus("Reconnecting…", true);
      setTimeout(async () => {
        try {
          await api("/v1/sessions?limit=1");  // a revoked token signs out, not loops
        } catch (error) {
          if (error instanceof SignedOut) return failed(error);
        }
        if (state.token) connect();
      }, delay);
    };
  }

  function transmit(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
    } else {
      state.outbox.push(frame);
    }
  }

  // --- sending and stopping -------------------------------------------------------------

  function running() {
    return [...state.views.values()].filter((v) => visible(v) && !v.done);
  }

  function updateButtons() {
    const busy = running().length > 0;
    ui.stop.hidden = !busy;
    ui.send.hidden = busy;
  }

  function sendMessage(event) {
    if (event) event.preventDefault();
    const text = ui.input.value.trim();
    if (!text || running().length) return;
    ui.input.value = "";
    resizeInput();
    const view = newTurn(text);
    const frame = { type: "message", content: text, id: view.ref };
    if (state.current) frame.session_id = state.current;
    transmit(frame);
    updateButtons();
  }

  function stop() {
    for (const view of running()) {
      if (!view.sessionId) {
        view.stopWanted = true;  // its session is not known yet; stop it when it is
        continue;
      }
      transmit({ type: "cancel", session_id: view.sessionId, id: `c${++state.counter}` });
    }
    ui.input.focus();
  }

  function resizeInput() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 192)}px`;
  }

  function closeDrawer() {
    ui.sidebar.classList.remove("open");
    ui.menu.setAttribute("aria-expanded", "false");
  }

  // --- wiring ---------------------------------------------------------------------------

  ui.form.addEventListener("submit", signIn);
  ui.composer.addEventListener("submit", sendMessage);
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendMessage(event);
  });
  ui.input.addEventListener("input", resizeInput);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && running().length) stop();
  });
  ui.stop.addEventListener("click", stop);
  ui.newChat.addEventListener("click", () => { openSession(null); closeDrawer(); ui.input.focus(); });
  ui.more.addEventListener("click", () => loadSessions(false));
  ui.signout.addEventListener("click", () => signOut(""));
  ui.menu.addEventListener("click", () => {
    const open = ui.sidebar.classList.toggle("open");
    ui.menu.setAttribute("aria-expanded", String(open));
  });

  state.token = storedToken();
  if (state.token) start(); else showSignIn();
})();

// The emulated Slack client: channels, messages, threads, reactions, slash commands and App Home,
// kept live by server-sent events. It acts only through the emulator's /_ws/ endpoints, which
// are the same control API the tests use.
"use strict";

(function () {
  const { renderMrkdwn, escapeHtml, emojiFor } = window.Mrkdwn;
  const { renderBlocks, readInputs } = window.BlockKit;
  const $ = (id) => document.getElementById(id);

  const REACTIONS = [
    ["+1", "👍"], ["-1", "👎"], ["joy", "😂"], ["upside_down_face", "🙃"],
    ["white_check_mark", "✅"], ["x", "❌"], ["face_palm", "🤦"], ["unamused", "😒"],
    ["heart", "❤️"], ["tada", "🎉"], ["eyes", "👀"], ["fire", "🔥"],
  ];
  const SUBCOMMANDS = [
    ["help", "Usage for every subcommand"],
    ["status", "Active models, running job, feedback since the last job"],
    ["retrain classifier", "Retrain the classifier now (admins)"],
    ["retrain generator", "Retrain the generator now (admins)"],
    ["jobs", "The last 10 tuning jobs"],
    ["promote ", "Promote a model version (admins)"],
    ["rollback classifier", "Roll the classifier back (admins)"],
    ["rollback generator", "Roll the generator back (admins)"],
    ["threshold ", "Flagging threshold 0..1 for this channel (admins)"],
    ["mode ", "react | reply | off for this channel (admins)"],
    ["stats", "Chart of feedback and model metrics"],
    ["optout", "Stop flagging and storing your messages"],
    ["optin", "Start again"],
    ["forget-me", "Delete your stored messages and feedback"],
  ];

  const LOCK = '<svg width="12" height="12" viewBox="0 0 16 16" aria-label="private"><path fill="currentColor" d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 1 0-4 0v2z"/></svg>';
  const params = new URLSearchParams(location.search);
  const state = {
    me: params.get("user") || localStorage.getItem("ws-user") || "U_YOU",
    users: {},
    channels: [],
    route: { kind: "channel", channel: "C_GENERAL" },
    thread: null, // {channel, ts}
    pickerFor: null,
  };

  // -- helpers --------------------------------------------------------------------------------
  async function api(path, body) {
    const opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: state.me, ...body }),
    };
    const sep = path.includes("?") ? "&" : "?";
    const resp = await fetch(body === undefined ? `${path}${sep}user=${state.me}` : path, opts);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok || data.ok === false) toast(data.error ? `Error: ${data.error}` : `Request failed (${resp.status})`);
    return data;
  }

  let toastTimer = null;
  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  function initials(user) {
    const name = (user && user.real_name) || "?";
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("");
  }

  function avatar(userId) {
    const user = state.users[userId];
    const node = document.createElement("div");
    node.className = "avatar" + (user && user.is_bot ? " bot" : "");
    node.style.background = (user && user.color) || "#616061";
    node.textContent = initials(user);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function timeOf(ts) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function channelById(id) { return state.channels.find((c) => c.id === id); }

  function dmChannel() { return state.channels.find((c) => c.is_im); }

  function blockCtx(source) {
    return {
      users: state.users,
      fileUrl: (id) => `/files/${id}/file`,
      onAction: (element, blockId, value) => runAction(element, value, source),
    };
  }

  // -- actions -------------------------------------------------------------------------------
  async function runAction(element, value, source) {
    if (element.confirm && !(await confirmDialog(element.confirm))) return;
    await api("/_ws/action", { action_id: element.action_id, value, ...source });
  }

  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const overlay = $("overlay");
      const ctx = blockCtx({});
      overlay.innerHTML = "";
      const box = document.createElement("div");
      box.className = "dialog";
      box.setAttribute("role", "alertdialog");
      box.innerHTML = `<h3>${window.BlockKit.textHtml(confirm.title || { type: "plain_text", text: "Are you sure?" }, ctx)}</h3>
        <div class="dialog-text">${window.BlockKit.textHtml(confirm.text, ctx)}</div>
        <div class="dialog-buttons"><button type="button" class="bk-button" data-answer="no">${escapeHtml((confirm.deny || {}).text || "Cancel")}</button>
        <button type="button" class="bk-button ${confirm.style === "danger" ? "danger" : "primary"}" data-answer="yes">${escapeHtml((confirm.confirm || {}).text || "Yes")}</button></div>`;
      overlay.append(box);
      overlay.hidden = false;
      box.addEventListener("click", (ev) => {
        const answer = ev.target.dataset && ev.target.dataset.answer;
        if (!answer) return;
        overlay.hidden = true;
        overlay.innerHTML = "";
        resolve(answer === "yes");
      });
    });
  }

  async function toggleReaction(channel, ts, name) {
    await api("/_ws/react", { channel, ts, name });
  }

  async function send(text, channel, threadTs) {
    const trimmed = text.trim();
    if (!trimmed) return;
    if (trimmed.startsWith("/")) {
      await api("/_ws/command", { channel, text: trimmed });
    } else {
      await api("/_ws/post", { channel, text: toWire(trimmed), thread_ts: threadTs || null });
    }
  }

  // "@sarcasm-bot hi" → "<@U_BOT> hi", as Slack's client does when you pick a completion.
  function toWire(text) {
    return text.replace(/@([a-z0-9._-]+)/gi, (m, name) => {
      const user = Object.values(state.users).find((u) => u.name === name);
      return user ? `<@${user.id}>` : m;
    });
  }

  // -- rendering -----------------------------------------------------------------------------
  function renderMessage(msg, channel, opts) {
    const node = document.createElement("div");
    const streaming = (streams[msg.ts] || {}).streaming;
    node.className = "message" + (msg.ephemeral ? " ephemeral" : "") + (streaming ? " streaming" : "");
    node.dataset.ts = msg.ts;
    node.dataset.user = msg.user || "";
    node.append(avatar(msg.user));
    const body = document.createElement("div");
    body.className = "message-body";
    const user = state.users[msg.user] || { real_name: msg.user || "unknown" };
    body.innerHTML = `<div class="meta"><span class="name">${escapeHtml(user.real_name)}</span>` +
      (user.is_bot ? '<span class="badge">APP</span>' : "") +
      `<span class="time">${timeOf(msg.ts)}</span>` +
      (msg.edited ? '<span class="edited">(edited)</span>' : "") + "</div>";
    if (msg.ephemeral) {
      body.insertAdjacentHTML("afterbegin", '<div class="only-you">👁 Only visible to you</div>');
    }
    const source = msg.ephemeral ? { channel, ts: msg.ts } : { channel, ts: msg.ts };
    if (msg.blocks && msg.blocks.length) {
      body.append(renderBlocks(msg.blocks, blockCtx(source)));
    } else if (msg.text) {
      const text = document.createElement("div");
      text.className = "text";
      text.innerHTML = renderMrkdwn(msg.text, state.users);
      body.append(text);
    }
    for (const file of msg.files || []) body.append(renderFile(file));
    if (!msg.ephemeral) {
      body.append(renderReactions(msg, channel));
      if (opts.showReplies && msg.reply_count) {
        const link = document.createElement("button");
        link.type = "button";
        link.className = "replies-link";
        link.innerHTML = `<span class="reply-avatars"></span>${msg.reply_count} ${msg.reply_count === 1 ? "reply" : "replies"}<span class="last-reply">Last reply ${timeOf(msg.latest_reply)}</span>`;
        const faces = link.querySelector(".reply-avatars");
        for (const u of msg.reply_users || []) faces.append(avatar(u));
        link.addEventListener("click", () => openThread(channel, msg.ts));
        body.append(link);
      }
      node.append(hoverActions(msg, channel, opts));
    }
    node.append(body);
    return node;
  }

  function renderFile(file) {
    const wrap = document.createElement("div");
    wrap.className = "file";
    if ((file.mimetype || "").startsWith("image/")) {
      wrap.innerHTML = `<div class="file-title">${escapeHtml(file.title || file.name)}</div><a href="${escapeHtml(file.url_private)}" target="_blank" rel="noopener"><img class="file-image" src="${escapeHtml(file.url_private)}" alt="${escapeHtml(file.alt_txt || file.title || file.name)}"></a>`;
    } else {
      wrap.innerHTML = `<a class="file-card" href="${escapeHtml(file.url_private)}" target="_blank" rel="noopener">📄 ${escapeHtml(file.title || file.name)}</a>`;
    }
    return wrap;
  }

  function renderReactions(msg, channel) {
    const row = document.createElement("div");
    row.className = "reactions";
    for (const r of msg.reactions || []) {
      const pill = document.createElement("button");
      pill.type = "button";
      pill.className = "reaction" + (r.users.includes(state.me) ? " mine" : "");
      pill.dataset.name = r.name;
      pill.title = `${r.users.map((u) => (state.users[u] || { name: u }).name).join(", ")} reacted with :${r.name}:`;
      pill.innerHTML = `<span class="emoji">${emojiFor(r.name)}</span><span class="count">${r.count}</span>`;
      pill.addEventListener("click", () => toggleReaction(channel, msg.ts, r.name));
      row.append(pill);
    }
    if ((msg.reactions || []).length) {
      const add = document.createElement("button");
      add.type = "button";
      add.className = "reaction add-reaction";
      add.title = "Add reaction";
      add.textContent = "☺+";
      add.addEventListener("click", (ev) => openPicker(ev.currentTarget, channel, msg.ts));
      row.append(add);
    }
    return row;
  }

  function hoverActions(msg, channel, opts) {
    const bar = document.createElement("div");
    bar.className = "hover-actions";
    const react = document.createElement("button");
    react.type = "button";
    react.className = "icon-button react-button";
    react.title = "Add reaction";
    react.textContent = "☺";
    react.addEventListener("click", (ev) => openPicker(ev.currentTarget, channel, msg.ts));
    bar.append(react);
    if (opts.showReplies) {
      const reply = document.createElement("button");
      reply.type = "button";
      reply.className = "icon-button reply-button";
      reply.title = "Reply in thread";
      reply.textContent = "💬";
      reply.addEventListener("click", () => openThread(channel, msg.ts));
      bar.append(reply);
    }
    return bar;
  }

  function openPicker(anchor, channel, ts) {
    const picker = $("picker");
    picker.innerHTML = "";
    for (const [name, glyph] of REACTIONS) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "picker-emoji";
      b.dataset.name = name;
      b.title = `:${name}:`;
      b.textContent = glyph;
      b.addEventListener("click", async () => {
        picker.hidden = true;
        await toggleReaction(channel, ts, name);
      });
      picker.append(b);
    }
    const rect = anchor.getBoundingClientRect();
    picker.hidden = false;
    picker.style.top = `${Math.max(8, Math.min(window.innerHeight - picker.offsetHeight - 8, rect.bottom + 4))}px`;
    picker.style.left = `${Math.max(8, Math.min(window.innerWidth - picker.offsetWidth - 8, rect.right - picker.offsetWidth))}px`;
    state.pickerFor = ts;
  }

  document.addEventListener("click", (ev) => {
    const picker = $("picker");
    if (!picker.hidden && !picker.contains(ev.target) && !ev.target.closest(".react-button, .add-reaction")) {
      picker.hidden = true;
    }
  });

  function renderSidebar() {
    const list = $("channel-list");
    const dms = $("dm-list");
    list.innerHTML = "";
    dms.innerHTML = "";
    const current = state.route.kind === "channel" ? state.route.channel : null;
    for (const c of state.channels) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = c.is_im ? "#/app/messages" : `#/${c.id}`;
      a.className = "nav-item" + (c.id === current ? " active" : "") + (c.member ? "" : " not-member");
      a.dataset.channel = c.id;
      a.innerHTML = c.is_im
        ? `<span class="app-dot"></span>${escapeHtml(c.name)}`
        : `<span class="hash">${c.is_private ? LOCK : "#"}</span>${escapeHtml(c.name)}`;
      li.append(a);
      (c.is_im ? dms : list).append(li);
    }
    $("nav-app").classList.toggle("active", state.route.kind === "app");
    const select = $("user-switcher");
    if (!select.options.length) {
      for (const u of Object.values(state.users).filter((x) => !x.is_bot)) {
        const o = document.createElement("option");
        o.value = u.id;
        o.textContent = `${u.real_name}${u.is_admin ? " (admin)" : ""}`;
        select.append(o);
      }
    }
    select.value = state.me;
  }

  function scrollToBottom(node, force) {
    const near = node.scrollHeight - node.scrollTop - node.clientHeight < 120;
    if (force || near) node.scrollTop = node.scrollHeight;
  }

  async function refreshChannel(force) {
    const channelId = state.route.kind === "app" ? (dmChannel() || {}).id : state.route.channel;
    const data = await api(`/_ws/state?channel=${encodeURIComponent(channelId || "")}`);
    state.users = Object.fromEntries((data.users || []).map((u) => [u.id, u]));
    state.channels = data.channels || [];
    window.Mrkdwn.channels = Object.fromEntries(state.channels.map((c) => [c.id, c]));
    $("app-status").textContent = data.app_connected ? "● sarcasm-bot connected" : "○ no app connected";
    $("app-status").classList.toggle("connected", !!data.app_connected);
    renderSidebar();
    if (state.route.kind === "app" && state.route.tab === "home") return;
    const channel = channelById(channelId);
    const box = $("messages");
    const wasEmpty = !box.childElementCount;
    box.innerHTML = "";
    const all = [...(data.messages || []), ...(data.ephemerals || [])].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    if (!all.length) {
      box.innerHTML = `<div class="empty">This is the very beginning of ${channel && !channel.is_im ? "#" + escapeHtml(channel.name) : "your messages with sarcasm-bot"}.</div>`;
    }
    for (const msg of all) box.append(renderMessage(msg, channelId, { showReplies: true }));
    scrollToBottom(box, force || wasEmpty);
  }

  async function refreshThread() {
    if (!state.thread) return;
    const { channel, ts } = state.thread;
    const data = await api(`/_ws/thread?channel=${channel}&ts=${ts}`);
    const box = $("thread-messages");
    box.innerHTML = "";
    if (!data.parent) {
      box.innerHTML = '<div class="empty">This message was deleted.</div>';
      return;
    }
    box.append(renderMessage(data.parent, channel, { showReplies: false }));
    const count = data.replies.length;
    box.insertAdjacentHTML("beforeend", `<div class="reply-count">${count} ${count === 1 ? "reply" : "replies"}</div>`);
    const all = [...data.replies, ...data.ephemerals].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    for (const msg of all) box.append(renderMessage(msg, channel, { showReplies: false }));
    scrollToBottom(box, false);
  }

  async function refreshHome() {
    if (!(state.route.kind === "app" && state.route.tab === "home")) return refreshModal();
    const data = await api("/_ws/home");
    const pane = $("home-pane");
    pane.innerHTML = "";
    if (data.view) {
      pane.append(renderBlocks(data.view.blocks, blockCtx({})));
    } else {
      pane.innerHTML = '<div class="empty">sarcasm-bot has not published a Home tab for you yet.</div>';
    }
    renderModal(data.modal, data.errors);
  }

  async function refreshModal() {
    const data = await api("/_ws/home");
    renderModal(data.modal, data.errors);
  }

  // Show the app's response_action "errors" under their input blocks ("" on top), as Slack does;
  // the typed values stay.
  function showModalErrors(box, errors) {
    for (const old of box.querySelectorAll(".bk-input-error")) old.remove();
    for (const [blockId, text] of Object.entries(errors || {})) {
      const note = document.createElement("div");
      note.className = "bk-input-error";
      note.textContent = text;
      const field = blockId ? box.querySelector(`[data-block-id="${CSS.escape(blockId)}"]`) : null;
      if (field) field.closest(".bk-input").append(note);
      else box.querySelector("h3").after(note);
    }
  }

  function renderModal(modal, errors) {
    const overlay = $("overlay");
    const existing = overlay.querySelector(".modal");
    if (!modal) {
      if (existing) { overlay.hidden = true; overlay.innerHTML = ""; }
      return;
    }
    if (existing && existing.dataset.viewId === modal.id && existing.dataset.hash === modal.hash) {
      showModalErrors(existing, errors);
      return;
    }
    overlay.innerHTML = "";
    const box = document.createElement("div");
    box.className = "dialog modal";
    box.dataset.viewId = modal.id;
    box.dataset.hash = modal.hash;
    const ctx = blockCtx({});
    box.innerHTML = `<h3>${window.BlockKit.textHtml(modal.title || { type: "plain_text", text: "sarcasm-bot" }, ctx)}</h3>`;
    box.append(renderBlocks(modal.blocks, ctx));
    const buttons = document.createElement("div");
    buttons.className = "dialog-buttons";
    buttons.innerHTML = `<button type="button" class="bk-button" data-answer="close">${escapeHtml((modal.close || {}).text || "Cancel")}</button>` +
      (modal.submit ? `<button type="button" class="bk-button primary" data-answer="submit">${escapeHtml(modal.submit.text)}</button>` : "");
    buttons.addEventListener("click", async (ev) => {
      const answer = ev.target.dataset && ev.target.dataset.answer;
      if (answer === "submit") await api("/_ws/submit", { values: readInputs(box) });
      if (answer === "close") { await api("/_ws/close", {}); overlay.hidden = true; overlay.innerHTML = ""; }
    });
    box.append(buttons);
    overlay.append(box);
    overlay.hidden = false;
    showModalErrors(box, errors);
  }

  // -- routing -------------------------------------------------------------------------------
  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
    if (parts[0] === "app") return { kind: "app", tab: parts[1] === "messages" ? "messages" : "home" };
    return { kind: "channel", channel: parts[0] || "C_GENERAL", ts: parts[1] || null };
  }

  async function applyRoute() {
    state.route = parseRoute();
    if (state.route.kind === "app") { state.thread = null; $("thread-pane").hidden = true; }
    const isHome = state.route.kind === "app" && state.route.tab === "home";
    $("app-tabs").hidden = state.route.kind !== "app";
    $("tab-home").classList.toggle("active", isHome);
    $("tab-messages").classList.toggle("active", state.route.kind === "app" && !isHome);
    $("home-pane").hidden = !isHome;
    $("messages").hidden = isHome;
    $("composer-form").hidden = isHome;
    $("messages").innerHTML = "";
    await refreshChannel(true);
    if (state.route.kind === "app") {
      $("channel-title").innerHTML = '<span class="app-dot big"></span>sarcasm-bot';
      $("channel-topic").textContent = "Spots sarcasm, answers in kind, learns from your reactions";
      $("composer").placeholder = "Message sarcasm-bot";
      if (isHome) {
        await api("/_ws/home/open", {});
        await refreshHome();
      }
    } else {
      const c = channelById(state.route.channel) || { name: state.route.channel, topic: "" };
      $("channel-title").innerHTML = `${c.is_private ? LOCK : "#"} ${escapeHtml(c.name)}`;
      $("channel-topic").textContent = c.topic || "";
      $("composer").placeholder = `Message #${c.name}`;
      if (state.route.ts) openThread(state.route.channel, state.route.ts);
    }
  }

  function currentChannel() {
    return state.route.kind === "app" ? (dmChannel() || {}).id : state.route.channel;
  }

  function openThread(channel, ts) {
    state.thread = { channel, ts };
    const c = channelById(channel);
    $("thread-channel").textContent = c ? (c.is_im ? "sarcasm-bot" : `#${c.name}`) : "";
    $("thread-pane").hidden = false;
    refreshThread();
    $("thread-composer").focus();
  }

  // -- composer completion -------------------------------------------------------------------
  function completionsFor(text) {
    const slash = text.match(/^\/([a-z-]*)(?:\s+(.*))?$/i);
    if (slash) {
      if (slash[2] === undefined && !"sarcasm".startsWith(slash[1].toLowerCase())) return [];
      const rest = (slash[2] || "").toLowerCase();
      return SUBCOMMANDS.filter(([sub]) => slash[2] === undefined || sub.startsWith(rest))
        .map(([sub, help]) => ({ label: `/sarcasm ${sub}`, help, value: `/sarcasm ${sub}` }));
    }
    const at = text.match(/(^|\s)@([a-z0-9._-]*)$/i);
    if (at) {
      const users = Object.values(state.users).sort((a, b) => (b.is_bot ? 1 : 0) - (a.is_bot ? 1 : 0));
      return users.filter((u) => u.name.startsWith(at[2].toLowerCase()))
        .map((u) => ({ label: `@${u.name}`, help: u.real_name, value: text.slice(0, text.length - at[2].length - 1) + `@${u.name} ` }));
    }
    return [];
  }

  let selected = 0;
  function showCompletions() {
    const text = $("composer").value;
    const items = completionsFor(text);
    const box = $("completions");
    if (!items.length || items.some((i) => i.value.trim() === text.trim() && items.length === 1)) {
      box.hidden = true;
      return;
    }
    selected = Math.min(selected, items.length - 1);
    box.innerHTML = "";
    items.forEach((item, i) => {
      const row = document.createElement("div");
      row.className = "completion" + (i === selected ? " selected" : "");
      row.dataset.value = item.value;
      row.innerHTML = `<span class="completion-label">${escapeHtml(item.label)}</span><span class="completion-help">${escapeHtml(item.help)}</span>`;
      row.addEventListener("mousedown", (ev) => { ev.preventDefault(); pick(item.value); });
      box.append(row);
    });
    box.hidden = false;
  }

  function pick(value) {
    $("composer").value = value;
    $("completions").hidden = true;
    $("composer").focus();
  }

  $("composer").addEventListener("input", () => { selected = 0; showCompletions(); });
  $("composer").addEventListener("keydown", async (ev) => {
    const box = $("completions");
    const rows = [...box.querySelectorAll(".completion")];
    if (!box.hidden && rows.length) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        selected = (selected + (ev.key === "ArrowDown" ? 1 : rows.length - 1)) % rows.length;
        showCompletions();
        return;
      }
      if (ev.key === "Tab" || (ev.key === "Enter" && !ev.shiftKey && rows[selected].dataset.value.trim() !== $("composer").value.trim())) {
        ev.preventDefault();
        pick(rows[selected].dataset.value);
        return;
      }
      if (ev.key === "Escape") { box.hidden = true; return; }
    }
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      $("composer-form").requestSubmit();
    }
  });
  $("composer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("composer").value;
    $("composer").value = "";
    $("completions").hidden = true;
    await send(text, currentChannel(), null);
  });
  $("thread-composer").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("thread-form").requestSubmit(); }
  });
  $("thread-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("thread-composer").value;
    $("thread-composer").value = "";
    if (state.thread) await send(text, state.thread.channel, state.thread.ts);
  });
  $("thread-close").addEventListener("click", () => { state.thread = null; $("thread-pane").hidden = true; });
  $("user-switcher").addEventListener("change", (ev) => {
    state.me = ev.target.value;
    localStorage.setItem("ws-user", state.me);
    applyRoute();
    refreshThread();
  });
  window.addEventListener("hashchange", applyRoute);

  // -- live updates --------------------------------------------------------------------------
  let pending = new Set();
  let timer = null;
  function scheduleRefresh(scope) {
    pending.add(scope);
    if (timer) return;
    timer = setTimeout(async () => {
      const todo = pending;
      pending = new Set();
      timer = null;
      const channel = currentChannel();
      if (todo.has(channel)) await refreshChannel(false);
      if (state.thread && todo.has(state.thread.channel)) await refreshThread();
      if (todo.has(`home:${state.me}`) || todo.has(`modal:${state.me}`)) await refreshHome();
    }, 50);
  }

  // A streamed reply (chat.startStream/appendStream) grows in place, without a refetch; its stop
  // refetches, so the final blocks (buttons) render.
  const streams = {};
  function patchStream(stream) {
    streams[stream.ts] = stream;
    if (!stream.streaming) return false;
    const nodes = document.querySelectorAll(`.message[data-ts="${stream.ts}"]`);
    for (const node of nodes) {
      node.classList.add("streaming");
      let text = node.querySelector(".message-body > .text");
      if (!text) {
        text = document.createElement("div");
        text.className = "text";
        node.querySelector(".message-body").append(text);
      }
      text.innerHTML = renderMrkdwn(stream.text, state.users);
    }
    return nodes.length > 0;
  }

  function connect() {
    const source = new EventSource("/_ws/stream");
    source.onmessage = (ev) => {
      const change = JSON.parse(ev.data);
      if (change.stream && patchStream(change.stream)) return;
      scheduleRefresh(change.scope);
    };
    source.onopen = () => { document.body.dataset.live = "1"; };
  }

  connect();
  applyRoute();
})();

/* The playground page: a Teams-like conversation view talking to the real bot.
 *
 * The page never builds Teams activities: it tells /playground/api/* what the chosen persona
 * did, and the server posts the activity Teams would send to the bot's /api/messages. What
 * the bot sends back reaches the page through the Bot Connector stand-in and the event stream.
 */
"use strict";

(function () {
  const API = "/playground/api";
  const CARD = "application/vnd.microsoft.card.adaptive";
  const PEOPLE_DATASET = "graph.microsoft.com/users";

  const state = {
    config: null,
    viewer: null, // persona object
    place: "channel",
    threadRoot: null, // entry id of the thread being replied to
    entries: new Map(), // id -> entry view
    nodes: new Map(), // id -> {version, element}
    notes: new Map(), // card entry id -> {text, error}
    refreshed: new Set(), // card entry ids whose refresh action was invoked
    calls: [],
    attach: false,
    editing: null, // entry id being edited
    source: null,
    rulesFile: null,
    rulesFileStamp: "",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  };

  async function api(path, body) {
    const response = await fetch(API + path, body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* empty body */ }
    if (!response.ok) throw new Error((data && data.message) || `HTTP ${response.status}`);
    return data;
  }

  // ------------------------------------------------------------------ markdown and cards
  const markdown = window.markdownit ? window.markdownit({ html: false, linkify: true, breaks: true }) : null;
  if (markdown) {
    AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
      result.outputHtml = markdown.render(text);
      result.didProcess = true;
    };
  }
  const hostConfig = new AdaptiveCards.HostConfig(window.TEAMS_LIGHT_HOST_CONFIG);

  /* Teams' people picker (Input.ChoiceSet with Data.Query on graph users) needs Graph; here it
   * becomes a choice of the sample personas, whose values are Entra object ids as in Teams. */
  function degradePeoplePicker(node) {
    if (Array.isArray(node)) return node.map(degradePeoplePicker);
    if (!node || typeof node !== "object") return node;
    const copy = {};
    for (const [key, value] of Object.entries(node)) copy[key] = degradePeoplePicker(value);
    const query = copy["choices.data"];
    if (copy.type === "Input.ChoiceSet" && query && query.type === "Data.Query") {
      delete copy["choices.data"];
      if (!query.dataset || query.dataset === PEOPLE_DATASET) {
        const existing = new Set((copy.choices || []).map((c) => c.value));
        const people = [...state.config.personas, ...state.config.directory]
          .filter((p) => !existing.has(p.aad_object_id))
          .map((p) => ({ title: `${p.name}（${p.department}）`, value: p.aad_object_id }));
        copy.choices = [...(copy.choices || []), ...people];
      }
      if (copy.style === "filtered") copy.style = "compact";
      copy.placeholder = copy.placeholder || "ユーザーを選択";
    }
    return copy;
  }

  function renderCard(entry, content) {
    const host = el("div", { class: "card-host" });
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = hostConfig;
    card.onExecuteAction = (action) => executeAction(entry, action, host);
    try {
      card.parse(degradePeoplePicker(content));
      const rendered = card.render();
      if (rendered) host.append(rendered);
      maybeRefresh(entry, content);
    } catch (error) {
      host.append(el("div", { class: "card-note error", text: `カードを表示できません: ${error}` }));
    }
    return host;
  }

  /* Universal Actions refresh: Teams invokes the card's refresh action (trigger "automatic")
   * when a listed user (or, without userIds, anyone in a 1:1 chat) opens the card. Once per
   * card and page, since the refreshed card carries the same refresh again. */
  function maybeRefresh(entry, content) {
    const refresh = content && content.refresh;
    const action = refresh && refresh.action;
    if (!action || action.type !== "Action.Execute" || state.refreshed.has(entry.id)) return;
    const users = Array.isArray(refresh.userIds) ? refresh.userIds : null;
    if (users ? !users.includes(state.viewer.teams_id) : state.place !== "personal") return;
    state.refreshed.add(entry.id);
    api("/invoke", {
      viewer: state.viewer.key,
      entry_id: entry.id,
      verb: action.verb || "",
      data: action.data || {},
      action_id: action.id || null,
      trigger: "automatic",
    }).catch((error) => showNote(entry.id, `カードを更新できませんでした: ${error.message}`, true));
  }

  async function executeAction(entry, action, host) {
    if (action instanceof AdaptiveCards.OpenUrlAction) {
      window.open(action.url, "_blank", "noopener");
      return;
    }
    if (!(action instanceof AdaptiveCards.ExecuteAction)) {
      showNote(entry.id, "このボタン（Action.Submit など）は Teams の Universal Actions ではありません", true);
      return;
    }
    const data = action.data && typeof action.data === "object" ? action.data : {};
    const verb = action.verb || data.verb || "";
    host.classList.add("busy");
    try {
      const answer = await api("/invoke", {
        viewer: state.viewer.key,
        entry_id: entry.id,
        verb,
        data,
        action_id: action.id || null,
      });
      const body = answer.bot_body;
      if (answer.bot_status !== 200 || !body) {
        showNote(entry.id, `ボットの応答: HTTP ${answer.bot_status}`, true);
      } else if (body.type === "application/vnd.microsoft.activity.message") {
        showNote(entry.id, String(body.value || ""), false);
      } else if (body.type === "application/vnd.microsoft.error") {
        showNote(entry.id, (body.value && body.value.message) || "エラーが発生しました", true);
      } else {
        state.notes.delete(entry.id); // the card itself changed (pushed by the stream)
      }
    } catch (error) {
      showNote(entry.id, `送信できませんでした: ${error.message}`, true);
    } finally {
      host.classList.remove("busy");
    }
  }

  function showNote(entryId, text, isError) {
    state.notes.set(entryId, { text, error: isError });
    state.nodes.delete(entryId);
    render();
  }

  // ------------------------------------------------------------------ entries
  function personaByKey(key) {
    return state.config.personas.find((p) => p.key === key);
  }

  function initials(name) {
    return (name || "?").replace(/\s+/g, "").slice(0, 2);
  }

  function formatTime(timestamp) {
    if (!timestamp) return "";
    const date = new Date(timestamp);
    return isNaN(date) ? "" : date.toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit" });
  }

  function inPlace(entry) {
    const c = state.config;
    if (state.place === "channel" || state.place === "thread") return entry.conversation_id === c.channel.id;
    if (state.place === "groupChat") return entry.conversation_id === c.group_chat.id;
    return entry.conversation_id === state.viewer.personal_conversation_id;
  }

  function entryNode(entry) {
    const cached = state.nodes.get(entry.id);
    const note = state.notes.get(entry.id);
    const version = `${entry.version}|${note ? note.text : ""}`;
    if (cached && cached.version === version) return cached.element;
    const element = buildEntry(entry, note);
    state.nodes.set(entry.id, { version, element });
    return element;
  }

  function buildEntry(entry, note) {
    if (entry.author === "system") {
      return el("div", { class: "system", "data-entry-id": entry.id, text: entry.activity.text || "" });
    }
    const isBot = entry.author === "bot";
    const persona = isBot ? null : personaByKey(entry.sender_key);
    const name = isBot ? state.config.bot.name : (persona ? persona.name : "不明");
    const mine = !isBot && persona && persona.key === state.viewer.key;
    const chat = state.place === "groupChat" || state.place === "personal";
    const classes = ["message"];
    if (mine && chat) classes.push("mine");
    if (entry.targeted) classes.push("targeted");
    const meta = el("div", { class: "meta" },
      el("span", { class: "name", text: name }),
      isBot ? el("span", { class: "app-tag", text: "アプリ" }) : null,
      el("span", { text: formatTime(entry.timestamp) }),
      entry.edited ? el("span", { class: "edited", text: "編集済み" }) : null,
      entry.targeted ? el("span", { class: "targeted-label", text: "◉ あなたにだけ表示されています" }) : null,
    );
    const content = el("div", { class: "content" });
    if (entry.deleted) {
      content.append(el("span", { class: "deleted", text: "このメッセージは削除されました" }));
    } else if (isBot) {
      fillBotContent(content, entry);
    } else {
      const html = el("div");
      html.innerHTML = entry.activity.html || ""; // built and escaped by the server
      content.append(html);
      for (const file of entry.activity.files || []) {
        content.append(el("div", { class: "file-chip" }, el("span", { text: "♪" }), el("span", { text: file.name })));
      }
      if (entry.activity.sample) content.append(el("div", { class: "sample-note", text: "（スレッドの見本。ボットには送られていません）" }));
    }
    if (note) content.append(el("div", { class: note.error ? "card-note error" : "card-note", text: note.text }));
    const bubble = el("div", { class: "bubble" }, meta, content);
    if (mine && !entry.activity.sample) {
      bubble.append(el("div", { class: "message-actions" },
        el("button", { class: "link-button edit-button", onclick: () => startEdit(entry), text: "編集" })));
    }
    const avatar = el("div", { class: isBot ? "avatar bot" : "avatar", text: isBot ? "P" : initials(name) });
    return el("div", { class: classes.join(" "), "data-entry-id": entry.id, "data-author": entry.author }, avatar, bubble);
  }

  function fillBotContent(content, entry) {
    const activity = entry.activity || {};
    if (activity.text) {
      const text = el("div");
      if (markdown && activity.textFormat !== "plain") text.innerHTML = markdown.render(activity.text);
      else text.textContent = activity.text;
      content.append(text);
    }
    for (const attachment of activity.attachments || []) {
      if (attachment.contentType === CARD && attachment.content) content.append(renderCard(entry, attachment.content));
      else content.append(el("div", { class: "file-chip", text: `添付: ${attachment.contentType}` }));
    }
  }

  // ------------------------------------------------------------------ rendering
  function render() {
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const visible = [...state.entries.values()].filter(inPlace);
    const nodes = [];
    if (state.place === "channel" || state.place === "thread") {
      const roots = visible.filter((e) => !e.thread_root_id || e.thread_root_id === e.id);
      const replies = new Map();
      for (const e of visible) {
        if (e.thread_root_id && e.thread_root_id !== e.id) {
          if (!replies.has(e.thread_root_id)) replies.set(e.thread_root_id, []);
          replies.get(e.thread_root_id).push(e);
        }
      }
      for (const root of roots) {
        if (root.author === "system") { nodes.push(entryNode(root)); continue; }
        const post = el("div", { class: "post" + (state.place === "thread" && state.threadRoot === root.id ? " selected" : ""), "data-post-id": root.id });
        post.append(entryNode(root));
        const own = replies.get(root.id) || [];
        if (own.length) post.append(el("div", { class: "replies" }, ...own.map(entryNode)));
        post.append(el("button", { class: "link-button reply-button", onclick: () => replyTo(root.id), text: "↩ 返信" }));
        nodes.push(post);
      }
    } else {
      for (const e of visible) nodes.push(entryNode(e));
    }
    if (!nodes.length) nodes.push(el("div", { class: "empty", text: "まだメッセージはありません。下の入力欄から送ってみましょう。" }));
    box.replaceChildren(...nodes);
    if (atBottom) box.scrollTop = box.scrollHeight;
    renderHeader();
  }

  function renderHeader() {
    const c = state.config;
    const titles = {
      channel: [`${c.team.name} › ${c.channel.name}`, "チャンネルへの新しい投稿（conversationType: channel）"],
      thread: [`${c.team.name} › ${c.channel.name}（スレッド）`, "投稿への返信（conversation.id に ;messageid= が付きます）"],
      groupChat: [c.group_chat.name, "グループチャット（conversationType: groupChat）"],
      personal: [c.bot.name, "ボットとの1:1チャット（conversationType: personal）"],
    };
    $("conversation-title").textContent = titles[state.place][0];
    $("conversation-subtitle").textContent = titles[state.place][1];
    for (const item of document.querySelectorAll(".conv-item")) item.classList.toggle("active", item.dataset.place === state.place);
    $("mention-toggle").hidden = state.place === "personal";
    const target = $("compose-target");
    if (state.place === "thread") {
      const root = state.threadRoot && state.entries.get(state.threadRoot);
      target.hidden = false;
      target.textContent = root ? `返信先: ${snippet(root)}（「↩ 返信」で別の投稿を選べます）` : "返信先: 最新の投稿（なければ見本の投稿を作ります）";
    } else {
      target.hidden = true;
    }
    $("compose-files").replaceChildren(...(state.attach ? [el("span", { class: "file-chip" }, el("span", { text: "♪" }), el("span", { text: c.sample_audio.name }))] : []));
    $("attach-audio").classList.toggle("on", state.attach);
    $("compose-text").closest(".compose-box").classList.toggle("editing", Boolean(state.editing));
    $("cancel-edit").hidden = !state.editing;
    $("send").textContent = state.editing ? "保存" : "送信 ➤";
  }

  function snippet(entry) {
    const text = (entry.activity && (entry.activity.text || "")) || "";
    const plain = text || (entry.activity.html || "").replace(/<[^>]*>/g, "");
    return plain.length > 30 ? plain.slice(0, 30) + "…" : plain;
  }

  function renderPersona() {
    const p = state.viewer;
    $("persona-card").replaceChildren(
      el("b", { text: p.name }), el("br"),
      document.createTextNode(`${p.department}${p.role ? "・" + p.role : ""}`), el("br"),
      document.createTextNode("Teams ID: "), el("code", { text: p.teams_id }), el("br"),
      document.createTextNode("Entra オブジェクトID: "), el("code", { text: p.aad_object_id }),
    );
  }

  function renderCalls() {
    const list = $("connector-calls");
    const items = state.calls.slice(-40).reverse().map((call) =>
      el("li", { class: call.targeted ? "targeted" : "" , text: `${call.method} ${call.operation}${call.targeted ? " (targeted)" : ""} → ${call.status}` }));
    list.replaceChildren(...items);
  }

  // ------------------------------------------------------------------ actions
  function choosePlace(place) {
    state.place = place;
    if (place !== "thread") state.threadRoot = null;
    state.nodes.clear();
    render();
  }

  function replyTo(rootId) {
    state.place = "thread";
    state.threadRoot = rootId;
    state.nodes.clear();
    render();
    $("compose-text").focus();
  }

  function startEdit(entry) {
    state.editing = entry.id;
    $("compose-text").value = entry.activity.text || "";
    renderHeader();
    $("compose-text").focus();
  }

  function stopEdit() {
    state.editing = null;
    $("compose-text").value = "";
    renderHeader();
  }

  function setStatus(text, isError) {
    const status = $("compose-status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  async function send() {
    const text = $("compose-text").value;
    if (!text.trim()) {
      if (state.editing) {
        setStatus("編集後のメッセージを入力してください（やめるときは「編集をやめる」）。", true);
        return;
      }
      if (!state.attach) return;
    }
    $("send").disabled = true;
    try {
      if (state.editing) {
        const answer = await api("/edit", { viewer: state.viewer.key, entry_id: state.editing, text });
        setStatus(`編集を送りました（messageUpdate → HTTP ${answer.bot_status}）`);
        stopEdit();
      } else {
        const answer = await api("/send", {
          viewer: state.viewer.key,
          place: state.place,
          thread_root_id: state.place === "thread" ? state.threadRoot : null,
          text,
          mention_bot: state.place !== "personal" && $("mention-bot").checked,
          attach_sample_audio: state.attach,
        });
        if (state.place === "thread") state.threadRoot = answer.thread_root_id;
        setStatus(`送信しました（message → HTTP ${answer.bot_status}）`);
        $("compose-text").value = "";
        state.attach = false;
        renderHeader();
      }
    } catch (error) {
      setStatus(`送信できませんでした: ${error.message}`, true);
    } finally {
      $("send").disabled = false;
    }
  }

  async function install() {
    try {
      const answer = await api("/install", { viewer: state.viewer.key, place: state.place });
      setStatus(`アプリを追加しました（conversationUpdate, installationUpdate → HTTP ${answer.bot_statuses.join(", ")}）`);
    } catch (error) {
      setStatus(`追加できませんでした: ${error.message}`, true);
    }
  }

  // ------------------------------------------------------------------ event stream
  function connect() {
    if (state.source) state.source.close();
    document.body.dataset.connected = "false";
    const source = new EventSource(`${API}/stream?viewer=${encodeURIComponent(state.viewer.key)}`);
    state.source = source;
    source.addEventListener("snapshot", (event) => {
      const data = JSON.parse(event.data);
      state.entries = new Map(data.entries.map((e) => [e.id, e]));
      state.nodes.clear();
      state.calls = data.calls || [];
      document.body.dataset.connected = "true";
      render();
      renderCalls();
    });
    source.addEventListener("entry", (event) => {
      const entry = JSON.parse(event.data).entry;
      const previous = state.entries.get(entry.id);
      if (previous && previous.version !== entry.version) state.notes.delete(entry.id);
      state.entries.set(entry.id, entry);
      render();
    });
    source.addEventListener("reset", () => {
      if (state.editing) stopEdit(); // the message being edited is gone
      state.entries = new Map();
      state.nodes.clear();
      state.notes.clear();
      state.refreshed.clear();
      state.calls = [];
      state.threadRoot = null;
      render();
      renderCalls();
    });
    source.addEventListener("call", (event) => {
      state.calls.push(JSON.parse(event.data).call);
      if (state.calls.length > 200) state.calls.shift();
      renderCalls();
    });
    source.onerror = () => { document.body.dataset.connected = "false"; };
  }

  // ------------------------------------------------------------------ rules
  async function loadRules() {
    let rules;
    try { rules = await api("/rules"); } catch (error) { return; }
    $("rules-path").textContent = rules.path + (rules.exists ? "" : "（まだありません。作成して YAML ファイルを置くと、既定のルール policy_rules/rules/ に加えて読み込まれます）");
    const status = rules.status || {};
    const box = $("rules-status");
    box.className = "rules-status " + (status.ok ? "ok" : "bad");
    box.textContent = status.ok ? `✔ 読み込み済み（バージョン ${status.version || "-"}）` : `✖ ルールにエラーがあります（使用中のバージョン ${status.version || "-"}）`;
    const shortName = (file) => (file && file.startsWith(rules.path + "/") ? file.slice(rules.path.length + 1) : file || "");
    $("rules-errors").replaceChildren(...(status.errors || []).map((e) =>
      el("li", {}, el("code", { text: `${shortName(e.file)}${e.line ? ":" + e.line : ""}${e.field_path ? " " + e.field_path : ""}` }), el("br"), document.createTextNode(e.message_ja || e.message || ""))));
    const stampOf = (f) => `${f.size}|${f.mtime_ns}`;
    $("rules-files").replaceChildren(...rules.files.map((f) =>
      el("li", {}, el("button", { onclick: () => showRuleFile(f.name, stampOf(f)), text: f.name }), el("small", { text: `${f.size} バイト・${f.modified}` }))));
    const open = rules.files.find((f) => f.name === state.rulesFile);
    if (open && stampOf(open) !== state.rulesFileStamp) showRuleFile(open.name, stampOf(open));
  }

  /* The stamp comes from the listing taken before the text is fetched, so the text is never
   * older than the stamp; a later change shows as a new stamp at the next poll. */
  async function showRuleFile(name, stamp) {
    state.rulesFile = name;
    state.rulesFileStamp = stamp;
    const response = await fetch(`${API}/rules/file?name=${encodeURIComponent(name)}`);
    const pre = $("rules-content");
    pre.hidden = false;
    pre.textContent = response.ok ? await response.text() : "（読めませんでした）";
  }

  // ------------------------------------------------------------------ start
  function setViewer(key) {
    state.viewer = personaByKey(key) || state.config.personas[0];
    $("sender").value = state.viewer.key;
    state.editing = null;
    state.notes.clear();
    state.refreshed.clear();
    renderPersona();
    connect();
  }

  async function start() {
    state.config = await api("/config");
    const c = state.config;
    $("conv-channel-title").textContent = `${c.team.name} › ${c.channel.name}`;
    $("conv-group-title").textContent = c.group_chat.name;
    $("conv-personal-title").textContent = `${c.bot.name}（1:1）`;
    $("sample-audio-link").href = c.sample_audio.url;
    $("rules-path").textContent = c.rules_dir;
    for (const p of c.personas) $("sender").append(el("option", { value: p.key, text: `${p.name}（${p.department}${p.role ? "・" + p.role : ""}）` }));
    const params = new URLSearchParams(location.search);
    if (["channel", "thread", "groupChat", "personal"].includes(params.get("place"))) state.place = params.get("place");
    $("sender").addEventListener("change", (event) => setViewer(event.target.value));
    for (const item of document.querySelectorAll(".conv-item")) item.addEventListener("click", () => choosePlace(item.dataset.place));
    $("send").addEventListener("click", send);
    $("compose-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        send();
      }
    });
    $("attach-audio").addEventListener("click", () => { state.attach = !state.attach; renderHeader(); });
    $("cancel-edit").addEventListener("click", stopEdit);
    $("install").addEventListener("click", install);
    $("reset").addEventListener("click", () => {
      if (confirm("プレイグラウンドの会話をすべて消去します（ボットのデータベースはそのままです）。よろしいですか？")) {
        api("/reset", {})
          .then(() => { if (state.editing) stopEdit(); })
          .catch((error) => setStatus(`リセットできませんでした: ${error.message}`, true));
      }
    });
    $("toggle-rules").addEventListener("click", () => {
      const layout = document.querySelector(".layout");
      layout.classList.toggle("rules-hidden");
      $("toggle-rules").setAttribute("aria-expanded", String(!layout.classList.contains("rules-hidden")));
    });
    setViewer(params.get("as") || c.personas[0].key);
    render();
    loadRules();
    setInterval(loadRules, 1000);
  }

  start().catch((error) => setStatus(`初期化に失敗しました: ${error.message}`, true));
})();

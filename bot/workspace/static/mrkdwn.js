// Minimal Slack mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, <url|text>, <@U…>,
// <#C…>, :emoji:. https://docs.slack.dev/messaging/formatting-message-text/
"use strict";

const EMOJI = {
  "+1": "👍", thumbsup: "👍", "-1": "👎", thumbsdown: "👎", joy: "😂", laughing: "😆",
  upside_down_face: "🙃", white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌",
  no_entry_sign: "🚫", face_palm: "🤦", facepalm: "🤦", unamused: "😒", heart: "❤️",
  tada: "🎉", eyes: "👀", fire: "🔥", rocket: "🚀", wave: "👋", smile: "😄", sweat_smile: "😅",
  thinking_face: "🤔", hourglass_flowing_sand: "⏳", hourglass: "⌛", warning: "⚠️",
  robot_face: "🤖", chart_with_upwards_trend: "📈", bar_chart: "📊", trophy: "🏆",
  gear: "⚙️", lock: "🔒", wastebasket: "🗑️", rewind: "⏪", arrows_counterclockwise: "🔄",
  information_source: "ℹ️", question: "❓", exclamation: "❗", star: "⭐", sparkles: "✨",
  slightly_smiling_face: "🙂", neutral_face: "😐", rolling_eyes: "🙄", clap: "👏",
  white_circle: "⚪", large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡",
  speech_balloon: "💬", memo: "📝", mag: "🔍", checkered_flag: "🏁", no_entry: "⛔",
  clipboard: "📋", bust_in_silhouette: "👤", busts_in_silhouette: "👥", ok_hand: "👌",
  point_right: "👉", brain: "🧠", test_tube: "🧪", package: "📦", crown: "👑", zzz: "💤",
  hourglass_done: "⌛", wrench: "🔧", hammer_and_wrench: "🛠️", construction: "🚧",
  floppy_disk: "💾", inbox_tray: "📥", outbox_tray: "📤", x_mark: "❌", repeat: "🔁", stopwatch: "⏱️", calendar: "📅", bell: "🔔", mute: "🔇",
};

function emojiFor(name) {
  const base = String(name).split("::")[0];
  return EMOJI[base] || `:${name}:`;
}

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Slack escapes &, < and > in message text; undo that before our own escaping.
function unescapeSlack(text) {
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function renderInline(text, users) {
  // Pull out <…> links and mentions first so their insides are not formatted.
  const tokens = [];
  let src = String(text).replace(/<([^<>\n]+)>/g, (_, inner) => {
    tokens.push(inner);
    return `\u0000${tokens.length - 1}\u0000`;
  });
  const codes = [];
  src = src.replace(/`([^`\n]+)`/g, (_, code) => {
    codes.push(code);
    return `\u0001${codes.length - 1}\u0001`;
  });
  let html = escapeHtml(unescapeSlack(src));
  html = html
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<s>$2</s>")
    .replace(/:([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):/g, (m, name) => {
      const e = emojiFor(name);
      return e.startsWith(":") ? m : `<span class="emoji" title=":${name}:">${e}</span>`;
    })
    .replace(/\n/g, "<br>");
  html = html.replace(/\u0001(\d+)\u0001/g, (_, i) => `<code>${escapeHtml(unescapeSlack(codes[+i]))}</code>`);
  html = html.replace(/\u0000(\d+)\u0000/g, (_, i) => renderAngle(tokens[+i], users));
  return html;
}

function renderAngle(inner, users) {
  const [target, label] = inner.split("|");
  if (target.startsWith("@")) {
    const user = users && users[target.slice(1)];
    return `<span class="mention">@${escapeHtml(label || (user ? user.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    const channel = window.Mrkdwn.channels[target.slice(1)];
    return `<span class="mention">#${escapeHtml(label || (channel ? channel.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("!")) {
    return `<span class="mention">@${escapeHtml(target.slice(1).split("^")[0])}</span>`;
  }
  if (/^(https?:|mailto:)/.test(target)) {
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
  }
  return escapeHtml(`<${inner}>`);
}

function renderMrkdwn(text, users) {
  const parts = String(text || "").split("```");
  return parts
    .map((part, i) => (i % 2 ? `<pre>${escapeHtml(unescapeSlack(part.replace(/^\n/, "")))}</pre>` : renderInline(part, users)))
    .join("");
}

window.Mrkdwn = { renderMrkdwn, escapeHtml, emojiFor, EMOJI, channels: {} };

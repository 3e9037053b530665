// Block Kit rendering for messages, App Home and modals: header, section (text, fields,
// accessory), context, divider, actions (buttons with confirm dialogs, static selects), image
// (image_url or slack_file), rich_text, input. https://docs.slack.dev/reference/block-kit/blocks/
"use strict";

(function () {
  const { renderMrkdwn, escapeHtml } = window.Mrkdwn;

  function el(tag, cls, html) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (html !== undefined) node.innerHTML = html;
    return node;
  }

  function textHtml(obj, ctx) {
    if (!obj) return "";
    if (typeof obj === "string") return renderMrkdwn(obj, ctx.users);
    if (obj.type === "plain_text") {
      const text = escapeHtml(obj.text || "");
      return obj.emoji === false ? text : text.replace(/:([a-z0-9_+'-]+):/g, (m, n) => {
        const e = window.Mrkdwn.emojiFor(n);
        return e.startsWith(":") ? m : e;
      });
    }
    return renderMrkdwn(obj.text || "", ctx.users);
  }

  function imageSrc(obj, ctx) {
    if (obj.image_url) return obj.image_url;
    const file = obj.slack_file || {};
    if (file.url) return file.url;
    if (file.id) return ctx.fileUrl(file.id);
    return "";
  }

  function image(obj, ctx, cls) {
    const img = el("img", cls);
    img.src = imageSrc(obj, ctx);
    img.alt = obj.alt_text || "";
    img.loading = "lazy";
    return img;
  }

  function button(element, blockId, ctx) {
    const b = el("button", `bk-button ${element.style || ""}`.trim(), textHtml(element.text, ctx));
    b.type = "button";
    b.dataset.actionId = element.action_id || "";
    if (element.value !== undefined) b.dataset.value = element.value;
    if (element.url) {
      b.addEventListener("click", () => window.open(element.url, "_blank", "noopener"));
      return b;
    }
    b.addEventListener("click", () => ctx.onAction(element, blockId, element.value));
    return b;
  }

  function staticSelect(element, blockId, ctx) {
    const select = el("select", "bk-select");
    select.dataset.actionId = element.action_id || "";
    const placeholder = el("option", "", escapeHtml((element.placeholder || {}).text || "Choose…"));
    placeholder.value = "";
    select.append(placeholder);
    for (const opt of element.options || []) {
      const o = el("option", "", escapeHtml((opt.text || {}).text || opt.value));
      o.value = opt.value;
      select.append(o);
    }
    select.addEventListener("change", () => {
      if (select.value) ctx.onAction(element, blockId, select.value);
    });
    return select;
  }

  function interactive(element, blockId, ctx) {
    if (element.type === "button") return button(element, blockId, ctx);
    if (element.type === "static_select") return staticSelect(element, blockId, ctx);
    if (element.type === "image") return image(element, ctx, "bk-accessory-image");
    if (element.type === "overflow") {
      const wrap = el("span", "bk-overflow");
      for (const opt of element.options || []) {
        const b = el("button", "bk-button small", escapeHtml((opt.text || {}).text || opt.value));
        b.type = "button";
        b.addEventListener("click", () => ctx.onAction(element, blockId, opt.value));
        wrap.append(b);
      }
      return wrap;
    }
    return el("span", "bk-unsupported", escapeHtml(`[${element.type}]`));
  }

  function richText(block, ctx) {
    const out = [];
    const walk = (elements) => {
      for (const e of elements || []) {
        if (e.type === "text") out.push(e.text);
        else if (e.type === "user") out.push(`<@${e.user_id}>`);
        else if (e.type === "channel") out.push(`<#${e.channel_id}>`);
        else if (e.type === "link") out.push(e.text ? `<${e.url}|${e.text}>` : `<${e.url}>`);
        else if (e.type === "emoji") out.push(`:${e.name}:`);
        else if (e.elements) walk(e.elements);
      }
    };
    walk(block.elements);
    return el("div", "text", renderMrkdwn(out.join(""), ctx.users));
  }

  function input(block, ctx) {
    const wrap = el("label", "bk-input");
    wrap.append(el("span", "bk-input-label", textHtml(block.label, ctx)));
    const element = block.element || {};
    const field = element.multiline ? el("textarea") : el("input");
    field.dataset.blockId = block.block_id || "";
    field.dataset.actionId = element.action_id || "";
    field.dataset.inputType = element.type || "plain_text_input";
    if (element.initial_value) field.value = element.initial_value;
    if (element.max_length) field.maxLength = element.max_length; // Slack's client enforces it
    if (element.placeholder) field.placeholder = element.placeholder.text || "";
    wrap.append(field);
    return wrap;
  }

  function renderBlock(block, ctx) {
    const blockId = block.block_id || "";
    switch (block.type) {
      case "header":
        return el("div", "bk-header", textHtml(block.text, ctx));
      case "divider":
        return el("hr", "bk-divider");
      case "section": {
        const node = el("div", "bk-section");
        const body = el("div", "bk-section-body");
        if (block.text) body.append(el("div", "bk-text", textHtml(block.text, ctx)));
        if (block.fields) {
          const fields = el("div", "bk-fields");
          for (const f of block.fields) fields.append(el("div", "bk-field", textHtml(f, ctx)));
          body.append(fields);
        }
        node.append(body);
        if (block.accessory) node.append(interactive(block.accessory, blockId, ctx));
        return node;
      }
      case "context": {
        const node = el("div", "bk-context");
        for (const e of block.elements || []) {
          node.append(e.type === "image" ? image(e, ctx, "bk-context-image") : el("span", "", textHtml(e, ctx)));
        }
        return node;
      }
      case "actions": {
        const node = el("div", "bk-actions");
        for (const e of block.elements || []) node.append(interactive(e, blockId, ctx));
        return node;
      }
      case "image": {
        const node = el("figure", "bk-image");
        if (block.title) node.append(el("figcaption", "", textHtml(block.title, ctx)));
        node.append(image(block, ctx, "bk-image-img"));
        return node;
      }
      case "markdown": // a streamed reply's text once stopped (chat.stopStream)
        return el("div", "bk-markdown text", textHtml(block.text || "", ctx));
      case "rich_text":
        return richText(block, ctx);
      case "input":
        return input(block, ctx);
      default:
        return el("div", "bk-unsupported", escapeHtml(`[unsupported block: ${block.type}]`));
    }
  }

  function renderBlocks(blocks, ctx) {
    const root = el("div", "bk");
    for (const block of blocks || []) root.append(renderBlock(block, ctx));
    return root;
  }

  // Read a modal's inputs into view.state.values: {block_id: {action_id: {type, value}}}.
  function readInputs(root) {
    const values = {};
    for (const field of root.querySelectorAll("[data-input-type]")) {
      const block = (values[field.dataset.blockId] = values[field.dataset.blockId] || {});
      block[field.dataset.actionId] = { type: field.dataset.inputType, value: field.value };
    }
    return values;
  }

  window.BlockKit = { renderBlocks, readInputs, textHtml };
})();

// Markdown to DOM nodes, safe by construction: every piece of text becomes a text node
// (never innerHTML), the only attributes set are a link's href (http, https and mailto only)
// and a code block's class. Covers what models write: paragraphs, headings, fenced code,
// lists (one level of nesting), block quotes, tables, rules, and inline code, bold, italic,
// strike-through and links. An unclosed fence (a reply still streaming) renders as code.
"use strict";

const BlufioMarkdown = (() => {
  const INLINE = new RegExp([
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)",                  // 1,2 code span
    "\\[([^\\]\\n]+)\\]\\(\\s*<?([^\\s()<>]+)>?(?:\\s+\"[^\"]*\")?\\s*\\)", // 3,4 link
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*",                      // 5 strong
    "__(?=\\S)([\\s\\S]*?\\S)__",                              // 6 strong
    "~~(?=\\S)([\\s\\S]*?\\S)~~",                              // 7 strike
    "\\*(?=[^\\s*])([^*\\n]*?[^\\s*])\\*",                     // 8 emphasis
    "(?<![\\w])_(?=[^\\s_])([^_\\n]*?[^\\s_])_(?![\\w])",      // 9 emphasis
    "<((?:https?://|mailto:)[^>\\s]+)>",                       // 10 autolink
    "((?:https?://)[^\\s<]*[^\\s<.,:;\"')\\]!?])",             // 11 bare URL
  ].join("|"));

  function el(tag, parent, text) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // The URL if it is http, https or mailto; null for anything else (javascript:, data:...).
  function safeUrl(raw) {
    try {
      const url = new URL(raw, "https://invalid.invalid/");
      if (url.origin === "https://invalid.invalid") return null;  // relative: refuse
      return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(parent, href, label) {
    const url = safeUrl(href);
    if (!url) {  // shown as the text it was, never as a link
      parent.appendChild(document.createTextNode(label === href ? href : `${label} (${href})`));
      return;
    }
    const a = el("a", parent);
    a.href = url;
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
    if (label === href) a.textContent = label; else inline(label, a);
  }

  function inline(text, parent) {
    let rest = text;
    while (rest) {
      const m = INLINE.exec(rest);
      if (!m) break;
      if (m.index) parent.appendChild(document.createTextNode(rest.slice(0, m.index)));
      if (m[1]) el("code", parent, m[2].replace(/^ (.*) $/s, "$1"));
      else if (m[3]) link(parent, m[4], m[3]);
      else if (m[5] || m[6]) inline(m[5] || m[6], el("strong", parent));
      else if (m[7]) inline(m[7], el("del", parent));
      else if (m[8] || m[9]) inline(m[8] || m[9], el("em", parent));
      else if (m[10]) link(parent, m[10], m[10]);
      else if (m[11]) link(parent, m[11], m[11]);
      rest = rest.slice(m.index + m[0].length);
    }
    if (rest) parent.appendChild(document.createTextNode(rest));
  }

  // Inline text whose lines are joined by <br> (a single newline in a reply is meant).
  function inlineLines(lines, parent) {
    lines.forEach((line, i) => {
      if (i) el("br", parent);
      inline(line, parent);
    });
  }

  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
  const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const QUOTE = /^ {0,3}>\s?(.*)$/;
  const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

  function cells(line) {
    let row = line.trim();
    if (row.startsWith("|")) row = row.slice(1);
    if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
    return row.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
  }

  function table(lines, start, parent) {
    const head = cells(lines[start]);
    const align = cells(lines[start + 1]).map((c) =>
      c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "");
    const t = el("table", parent);
    const tr = el("tr", el("thead", t));
    head.forEach((c, i) => { const th = el("th", tr); if (align[i]) th.align = align[i]; inline(c, th); });
    const body = el("tbody", t);
    let i = start + 2;
    for (; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) {
      const row = el("tr", body);
      cells(lines[i]).slice(0, head.length).forEach((c, j) => {
        const td = el("td", row); if (align[j]) td.align = align[j]; inline(c, td);
      });
    }
    return i;
  }

  function list(lines, start, parent) {
    const first = ITEM.exec(lines[start]);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const node = el(ordered ? "ol" : "ul", parent);
    if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
    let i = start, item = null, text = [];
    const flush = () => { if (item) inlineLines(text, item); text = []; };
    while (i < lines.length) {
      const m = ITEM.exec(lines[i]);
      if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
        flush();
        item = el("li", node);
        text = [m[3]];
        i++;
      } else if (m && m[1].length > indent && item) {
        flush();
        i = list(lines, i, item);
      } else if (lines[i].trim() && /^\s+/.test(lines[i]) && item) {
        text.push(lines[i].trim());
        i++;
      } else {
        break;
      }
    }
    flush();
    return i;
  }

  function blocks(lines, parent) {
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) { i++; continue; }
      if ((m = FENCE.exec(line))) {
        const close = new RegExp(`^ {0,3}${m[1][0] === "`" ? "`" : "~"}{${m[1].length},}\\s*$`);
        const body = [];
        for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
        i++;
        const code = el("code", el("pre", parent), body.join("\n"));
        if (m[2]) code.className = "language-" + m[2].replace(/[^\w+#.-]/g, "");
      } else if ((m = HEADING.exec(line))) {
        inline(m[2], el("h" + m[1].length, parent));
        i++;
      } else if (RULE.test(line)) {
        el("hr", parent);
        i++;
      } else if (QUOTE.test(line)) {
        const quoted = [];
        for (; i < lines.length && (m = QUOTE.exec(lines[i])); i++) quoted.push(m[1]);
        blocks(quoted, el("blockquote", parent));
      } else if (ITEM.test(line)) {
        i = list(lines, i, parent);
      } else if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])
                 && lines[i + 1].includes("-")) {
        i = table(lines, i, parent);
      } else {
        const para = [];
        for (; i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i])
               && !QUOTE.test(lines[i]) && !(para.length && ITEM.test(lines[i])); i++) {
          para.push(lines[i]);
        }
        inlineLines(para, el("p", parent));
      }
    }
  }

  // Replace the children of `parent` with `text` rendered as Markdown.
  function render(text, parent) {
    const fragment = document.createDocumentFragment();
    blocks(String(text).replace(/\r\n?/g, "\n").split("\n"), fragment);
    parent.replaceChildren(fragment);
  }

  return { render, safeUrl };
})();

// The trace page's style sheet and script (see trace_page_assets.hpp).
//
// The script's rules: the data comes from JSON.parse of the trace-data
// element; every text goes into the DOM through textContent (never
// innerHTML); any error, and any load the Content-Security-Policy blocks,
// is written into a visible #trace-error element so that a test reading the
// DOM sees it. When every view is drawn, <body data-ready="1">.
#include "trace_page_assets.hpp"

namespace llama2::trace_page {

const char* const kStyle = R"CSS(
:root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --accent: #2f5bd3; --bg: #ffffff; --panel: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 0 0 4px; }
.sub { color: var(--muted); }
.stats { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0 6px; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
.stat b { display: block; font-size: 16px; }
.stat span { color: var(--muted); font-size: 12px; }
.notes { margin: 6px 0 0; padding-left: 18px; color: #8a4b00; }
nav { display: flex; gap: 4px; padding: 8px 24px 0; border-bottom: 1px solid var(--line); }
nav button { font: inherit; border: 1px solid var(--line); border-bottom: none; background: var(--panel); padding: 6px 14px; border-radius: 6px 6px 0 0; cursor: pointer; color: var(--ink); }
nav button.active { background: var(--bg); border-color: var(--accent); color: var(--accent); font-weight: 600; }
section.view { padding: 14px 24px 24px; }
.explain { color: var(--muted); margin: 0 0 10px; max-width: 900px; }
.legend { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 10px; font-size: 12px; color: var(--muted); }
.ramp { display: inline-block; width: 180px; height: 12px; border: 1px solid var(--line); vertical-align: middle; }
.swatch { display: inline-block; width: 14px; height: 12px; border: 1px solid var(--line); vertical-align: middle; }
.layout { display: flex; gap: 20px; align-items: flex-start; }
.text { flex: 1; white-space: pre-wrap; word-break: break-word; font: 15px/2 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.tok { border: 1px solid rgba(0,0,0,0.12); border-radius: 3px; padding: 1px 1px; margin: 0 1px 0 0; cursor: pointer; }
.tok.gen { border: 1px dashed #2f5bd3; }
.tok.raw { color: var(--muted); font-size: 11px; }
.tok.sel { outline: 2px solid var(--accent); }
.detail { width: 330px; flex: none; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-height: 120px; }
.detail table { border-collapse: collapse; width: 100%; font-size: 13px; }
.detail td { padding: 1px 4px; }
.detail td.p { text-align: right; font-variant-numeric: tabular-nums; width: 64px; }
.detail tr.hit td { font-weight: 700; color: var(--accent); }
.bar { height: 8px; background: #9db2ec; border-radius: 2px; }
code, .piece { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre; }
.scroll { overflow: auto; max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
table.lens { border-collapse: collapse; font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table.lens th, table.lens td { border: 1px solid #eef0f3; padding: 2px 3px; white-space: pre; max-width: 80px; overflow: hidden; text-overflow: ellipsis; }
table.lens th { background: var(--panel); font-weight: 600; position: sticky; top: 0; }
table.lens th.row { position: sticky; left: 0; z-index: 1; }
table.lens td.hit { font-weight: 700; }
table.lens tr.final th, table.lens tr.final td { border-top: 2px solid var(--ink); }
table.lens tr.actual td { color: var(--muted); }
.controls { display: flex; gap: 12px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
select { font: inherit; padding: 2px 4px; }
.attn { display: flex; gap: 20px; align-items: flex-start; flex-wrap: wrap; }
canvas.main { border: 1px solid var(--line); }
.thumbs { display: grid; gap: 4px; }
.thumbs .lab { font-size: 11px; color: var(--muted); align-self: center; }
canvas.thumb { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid var(--line); cursor: pointer; background: #fff; }
canvas.thumb.sel { outline: 2px solid var(--accent); }
.info { min-height: 20px; font-size: 13px; margin: 6px 0; }
table.card { border-collapse: collapse; }
table.card td { padding: 3px 14px 3px 0; border-bottom: 1px solid var(--line); }
table.card td.n { text-align: right; font-variant-numeric: tabular-nums; }
#trace-error { background: #fdecea; color: #8a1c12; padding: 8px 24px; white-space: pre-wrap; }
)CSS";

const char* const kScript = R"JS(
(function () {
  'use strict';
  var errorCount = 0;
  function reportError(message) {
    errorCount++;
    var box = document.getElementById('trace-error');
    if (!box) {
      box = document.createElement('div');
      box.id = 'trace-error';
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent += message + '\n';
    document.body.setAttribute('data-errors', String(errorCount));
  }
  window.addEventListener('error', function (e) { reportError('script error: ' + e.message); });
  document.addEventListener('securitypolicyviolation', function (e) {
    reportError('blocked by the Content-Security-Policy: ' + e.violatedDirective + ' ' + e.blockedURI);
  });

  // --- helpers: DOM from text only ------------------------------------------
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) parent.appendChild(arguments[i]);
    return parent;
  }
  function pct(p) {
    if (p === null || p === undefined) return '';
    if (p >= 0.995) return (100 * p).toFixed(1) + '%';
    if (p >= 0.001) return (100 * p).toFixed(2) + '%';
    return (100 * p).toExponential(1) + '%';
  }
  function fixed(v, d) { return v === null || v === undefined ? '-' : Number(v).toFixed(d); }
  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  // What a piece looks like on screen: spaces and line breaks made visible.
  function visible(text) { return String(text).replace(/\n/g, '\u21b5').replace(/\t/g, '\u2192'); }
  // In lists, grids and axes a space is shown as an open box, so " a" and "a" differ.
  function shown(text) { return visible(text).replace(/ /g, '\u2423'); }
  function pieceText(id) {
    var t = data.pieces[String(id)];
    return t === undefined ? '#' + id : shown(t);
  }
  function surprisalColour(bits) {
    var x = Math.min(Math.max(bits, 0), 16) / 16;  // 0 .. 16 bits
    return 'hsl(' + (50 - 45 * x).toFixed(0) + ', 90%, ' + (96 - 46 * x).toFixed(0) + '%)';
  }
  function probColour(p) {
    var x = Math.min(Math.max(p, 0), 1);
    return 'rgb(' + Math.round(255 - 200 * x) + ',' + Math.round(255 - 120 * x) + ',' + Math.round(255 - 40 * x) + ')';
  }
  function topTable(top, hitId) {
    var table = el('table');
    for (var i = 0; i < top.length; i++) {
      var tr = el('tr', top[i][0] === hitId ? 'hit' : '');
      var bar = el('div', 'bar');
      bar.style.width = Math.max(1, Math.round(100 * top[i][1])) + '%';
      add(tr, el('td', 'p', pct(top[i][1])), add(el('td'), el('span', 'piece', pieceText(top[i][0]))), add(el('td'), bar));
      add(table, tr);
    }
    return table;
  }

  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var P = data.positions, L = data.model.n_layers, H = data.model.n_heads;
  // A position's text, or its piece when it adds no text of its own (BOS, the
  // first byte of a character that a later byte token completes).
  function label(i) { return P[i].text !== '' ? P[i].text : P[i].piece; }
  var app = document.getElementById('app');
  document.title = 'trace: ' + data.model.name;

  // --- header ----------------------------------------------------------------
  var header = el('header');
  add(header, el('h1', '', 'Inside ' + (data.model.name || 'the model')));
  var generated = 0;
  for (var g = 0; g < P.length; g++) if (P[g].generated) generated++;
  add(header, el('div', 'sub', data.text.tokens + ' tokens of text' + (generated ? ' + ' + generated + ' generated' : '') +
      ', ' + data.text.bytes + ' bytes, ' + L + ' layers x ' + H + ' heads'));
  var stats = el('div', 'stats');
  stats.id = 'summary';
  function stat(value, label) { add(stats, add(el('div', 'stat'), el('b', '', value), el('span', '', label))); }
  stat(fixed(data.text.total_bits, 2), 'total bits');
  stat(fixed(data.text.bits_per_token, 4), 'bits per token');
  stat(fixed(data.text.bits_per_byte, 4), 'bits per byte');
  stat(fixed(data.text.perplexity, 4), 'perplexity');
  add(header, stats);
  if (data.notes.length) {
    var notes = el('ul', 'notes');
    notes.id = 'notes';
    data.notes.forEach(function (n) { add(notes, el('li', '', n)); });
    add(header, notes);
  }
  add(app, header);

  var nav = el('nav');
  add(app, nav);
  var views = {}, buttons = {};
  function addView(name, label) {
    var b = el('button', '', label);
    b.type = 'button';
    b.addEventListener('click', function () { show(name); history.replaceState(null, '', '#' + name); });
    buttons[name] = b;
    add(nav, b);
    var s = el('section', 'view');
    s.id = 'view-' + name;
    views[name] = s;
    add(app, s);
    return s;
  }
  var selectHead = null;  // (layer, head) -> shows that head in the attention view
  // name: a view, or "attention:LAYER:HEAD" (the page's address after '#').
  function show(name) {
    var parts = String(name).split(':');
    name = parts[0];
    if (name === 'attention' && parts.length === 3 && selectHead) selectHead(Number(parts[1]), Number(parts[2]));
    if (!views[name]) name = 'tokens';
    for (var k in views) {
      views[k].style.display = k === name ? '' : 'none';
      buttons[k].className = k === name ? 'active' : '';
    }
  }

  // --- 1. tokens and surprisal -----------------------------------------------
  (function () {
    var v = addView('tokens', 'Tokens and surprisal');
    add(v, el('h2', '', 'Tokens and surprisal'));
    add(v, el('p', 'explain', 'Each token is coloured by its surprisal: how many bits the model paid for it, ' +
        '-log2 p(token | the tokens before it). Pale tokens were expected, red ones were a surprise. ' +
        'Hover or click a token to see what the model expected there.'));
    var legend = el('div', 'legend');
    var ramp = el('span', 'ramp');
    ramp.style.background = 'linear-gradient(to right,' + [0, 4, 8, 12, 16].map(surprisalColour).join(',') + ')';
    var gen = el('span', 'swatch');
    gen.style.border = '1px dashed #2f5bd3';
    add(legend, el('span', '', '0 bits'), ramp, el('span', '', '16+ bits'), gen, el('span', '', 'generated by the model'));
    add(v, legend);
    var layout = el('div', 'layout'), text = el('div', 'text'), detail = el('div', 'detail');
    text.id = 'token-text';
    detail.id = 'token-detail';
    add(layout, text, detail);
    add(v, layout);
    var spans = [];
    function select(i) {
      spans.forEach(function (s, k) { s.classList.toggle('sel', k === i); });
      detail.textContent = '';
      var p = P[i];
      add(detail, el('h2', '', 'Position ' + i + (p.generated ? ' (generated)' : '')));
      add(detail, add(el('div'), el('span', '', 'token '), el('code', '', shown(label(i))), el('span', 'sub', '  piece ' + p.piece + ', id ' + p.id)));
      if (i > 0) {
        add(detail, el('div', '', 'p = ' + pct(p.prob) + ', rank ' + p.rank + ', ' + fixed(p.bits, 2) + ' bits'));
        add(detail, el('div', 'sub', 'What the model expected here:'));
        add(detail, topTable(P[i - 1].top, p.id));
      } else {
        add(detail, el('div', 'sub', 'The start of text (BOS): nothing predicts it.'));
      }
      if (i + 1 < P.length) {
        add(detail, el('div', 'sub', 'What it predicts next:'));
        add(detail, topTable(p.top, P[i + 1].id));
      }
    }
    P.forEach(function (p, i) {
      var s = el('span', 'tok' + (p.generated ? ' gen' : '') + (p.text === '' ? ' raw' : ''), visible(label(i)));
      if (i > 0) {
        s.style.background = surprisalColour(p.bits);
        s.title = fixed(p.bits, 2) + ' bits, p = ' + pct(p.prob) + ', rank ' + p.rank;
      }
      s.addEventListener('mouseenter', function () { select(i); });
      s.addEventListener('click', function () { select(i); });
      spans.push(s);
      add(text, s);
      if (p.text.indexOf('\n') >= 0) add(text, document.createTextNode('\n'));
    });
    select(P.length > 1 ? 1 : 0);
  })();

  // --- 2. logit lens ---------------------------------------------------------
  (function () {
    var v = addView('lens', 'Logit lens');
    add(v, el('h2', '', 'Logit lens'));
    add(v, el('p', 'explain', 'Each row sends the residual stream after one layer straight to the final norm and the ' +
        'classifier: the cell shows the token the model would predict if it stopped at that layer, shaded by the ' +
        'probability it gives the token that actually came next (bold: it is that token). The last row is the ' +
        "model's real prediction. Hover a cell for its top candidates."));
    var legend = el('div', 'legend'), ramp = el('span', 'ramp');
    ramp.style.background = 'linear-gradient(to right,' + [0, 0.25, 0.5, 0.75, 1].map(probColour).join(',') + ')';
    add(legend, el('span', '', 'p(actual next token) 0'), ramp, el('span', '', '1'));
    add(v, legend);
    var info = el('div', 'info');
    info.id = 'lens-info';
    add(v, info);
    var scroll = el('div', 'scroll'), table = el('table', 'lens');
    table.id = 'lens-grid';
    var head = el('tr');
    add(head, el('th', 'row', 'input'));
    P.forEach(function (p, i) { add(head, el('th', '', shown(label(i)))); });
    add(table, head);
    for (var l = 0; l < L; l++) {
      var tr = el('tr', l === L - 1 ? 'final' : '');
      add(tr, el('th', 'row', 'layer ' + l));
      for (var i = 0; i < P.length; i++) {
        var top = data.lens.top[l][i], pn = data.lens.next_prob[l][i];
        var hit = i + 1 < P.length && top.length && top[0][0] === P[i + 1].id;
        var td = el('td', hit ? 'hit' : '', top.length ? pieceText(top[0][0]) : '');
        if (pn !== null) td.style.background = probColour(pn);
        (function (l, i, top, pn) {
          td.addEventListener('mouseenter', function () {
            info.textContent = '';
            add(info, el('span', '', 'layer ' + l + ', position ' + i + ' (after '), el('code', '', shown(label(i))),
                el('span', '', ')' + (pn !== null ? ': p(next) = ' + pct(pn) + ';' : ';') + ' top: '));
            top.forEach(function (t, k) {
              add(info, el('code', '', pieceText(t[0])), el('span', '', ' ' + pct(t[1]) + (k + 1 < top.length ? ',  ' : '')));
            });
          });
        })(l, i, top, pn);
        add(tr, td);
      }
      add(table, tr);
    }
    var actual = el('tr', 'actual');
    add(actual, el('th', 'row', 'actual next'));
    P.forEach(function (p, i) { add(actual, el('td', '', i + 1 < P.length ? shown(label(i + 1)) : '')); });
    add(table, actual);
    add(v, add(scroll, table));
  })();

  // --- 3. attention ----------------------------------------------------------
  (function () {
    var v = addView('attention', 'Attention');
    var A = data.attention, N = A.positions, tri = N * (N + 1) / 2, kvMul = H / A.n_kv_heads;
    add(v, el('h2', '', 'Attention'));
    add(v, el('p', 'explain', 'Row q shows where the token at position q looks: how its query head spreads its ' +
        'attention (a softmax that sums to 1) over the keys of positions 0..q; nothing above the diagonal, since a ' +
        'token never sees the future. Click a small map to enlarge it.'));
    var bytes = A.data.map(function (b64) {
      var s = atob(b64), a = new Uint8Array(s.length);
      for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
      return a;
    });
    function weight(li, h, q, k) { return bytes[li][h * tri + q * (q + 1) / 2 + k] / 255; }
    function shade(w) { return [Math.round(255 - 235 * w), Math.round(255 - 185 * w), Math.round(255 - 120 * w)]; }
    var legend = el('div', 'legend'), ramp = el('span', 'ramp');
    ramp.style.background = 'linear-gradient(to right,' + [0, 0.5, 1].map(function (w) {
      return 'rgb(' + shade(w).join(',') + ')'; }).join(',') + ')';
    add(legend, el('span', '', 'weight 0'), ramp, el('span', '', '1'));
    add(v, legend);
    if (!A.layers.length || N === 0) {
      add(v, el('p', '', 'No attention was kept in this trace.'));
      return;
    }
    var controls = el('div', 'controls'), layerSel = el('select'), headSel = el('select'), kvInfo = el('span', 'sub');
    layerSel.id = 'att-layer';
    headSel.id = 'att-head';
    A.layers.forEach(function (l, li) { var o = el('option', '', 'layer ' + l); o.value = String(li); add(layerSel, o); });
    for (var h = 0; h < H; h++) { var o = el('option', '', 'head ' + h); o.value = String(h); add(headSel, o); }
    add(controls, layerSel, headSel, kvInfo);
    add(v, controls);
    var info = el('div', 'info');
    info.id = 'att-info';
    var attn = el('div', 'attn'), left = el('div'), canvas = el('canvas', 'main'), thumbs = el('div', 'thumbs');
    canvas.id = 'att-main';
    thumbs.id = 'att-thumbs';
    add(left, canvas, info);
    add(attn, left, thumbs);
    add(v, attn);
    var cell = Math.max(4, Math.min(22, Math.floor(480 / N))), margin = cell >= 10 ? 90 : 0;
    canvas.width = margin + N * cell;
    canvas.height = margin + N * cell;
    var current = { li: 0, h: 0 };
    function axisLabel(i) { var t = shown(label(i)); return t.length > 12 ? t.slice(0, 11) + '\u2026' : t; }
    function draw() {
      var ctx = canvas.getContext('2d'), li = current.li, h = current.h;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      for (var q = 0; q < N; q++) {
        for (var k = 0; k <= q; k++) {
          var c = shade(weight(li, h, q, k));
          ctx.fillStyle = 'rgb(' + c.join(',') + ')';
          ctx.fillRect(margin + k * cell, margin + q * cell, cell, cell);
        }
      }
      ctx.strokeStyle = '#d0d5dd';
      ctx.strokeRect(margin + 0.5, margin + 0.5, N * cell - 1, N * cell - 1);
      if (margin) {
        ctx.fillStyle = '#1d2330';
        ctx.font = Math.min(12, cell - 1) + 'px ui-monospace, Menlo, Consolas, monospace';
        ctx.textBaseline = 'middle';
        ctx.textAlign = 'right';
        for (var i = 0; i < N; i++) ctx.fillText(axisLabel(i), margin - 4, margin + i * cell + cell / 2);
        ctx.save();
        ctx.textAlign = 'left';
        for (var j = 0; j < N; j++) {
          ctx.setTransform(1, 0, 0, 1, margin + j * cell + cell / 2, margin - 4);
          ctx.rotate(-Math.PI / 2);
          ctx.fillText(axisLabel(j), 0, 0);
        }
        ctx.restore();
      }
      canvas.setAttribute('data-drawn', A.layers[li] + ':' + h);
      var kv = Math.floor(h / kvMul);
      kvInfo.textContent = kvMul > 1
          ? 'grouped-query attention: head ' + h + ' reads KV head ' + kv + ' (shared by heads ' + (kv * kvMul) + '-' + (kv * kvMul + kvMul - 1) + ')'
          : 'head ' + h + ' has its own keys and values (KV head ' + kv + ')';
      thumbCanvases.forEach(function (t) { t.c.classList.toggle('sel', t.li === li && t.h === h); });
    }
    canvas.addEventListener('mousemove', function (e) {
      var r = canvas.getBoundingClientRect();
      var k = Math.floor((e.clientX - r.left - margin) / cell), q = Math.floor((e.clientY - r.top - margin) / cell);
      if (q < 0 || k < 0 || q >= N || k > q) return;
      info.textContent = '';
      add(info, el('span', '', 'query '), el('code', '', shown(label(q))), el('span', '', ' (position ' + q + ') \u2192 key '),
          el('code', '', shown(label(k))), el('span', '', ' (position ' + k + '): ' + pct(weight(current.li, current.h, q, k))));
    });
    var thumbCanvases = [];
    thumbs.style.gridTemplateColumns = 'auto repeat(' + H + ', 58px)';
    add(thumbs, el('span', 'lab', ''));
    for (var hh = 0; hh < H; hh++) add(thumbs, el('span', 'lab', 'h' + hh));
    A.layers.forEach(function (l, li) {
      add(thumbs, el('span', 'lab', 'layer ' + l));
      for (var h = 0; h < H; h++) {
        var t = el('canvas', 'thumb');
        t.width = N;
        t.height = N;
        t.title = 'layer ' + l + ', head ' + h;
        var ctx = t.getContext('2d'), img = ctx.createImageData(N, N);
        for (var q = 0; q < N; q++) {
          for (var k = 0; k < N; k++) {
            var c = k <= q ? shade(Math.sqrt(weight(li, h, q, k))) : [255, 255, 255], o = 4 * (q * N + k);
            img.data[o] = c[0]; img.data[o + 1] = c[1]; img.data[o + 2] = c[2]; img.data[o + 3] = 255;
          }
        }
        ctx.putImageData(img, 0, 0);
        (function (li, h) {
          t.addEventListener('click', function () {
            current = { li: li, h: h };
            layerSel.value = String(li);
            headSel.value = String(h);
            draw();
          });
        })(li, h);
        thumbCanvases.push({ c: t, li: li, h: h });
        add(thumbs, t);
      }
    });
    selectHead = function (layer, h) {
      var li = A.layers.indexOf(layer);
      if (li < 0 || !(h >= 0 && h < H)) return;
      current = { li: li, h: h };
      layerSel.value = String(li);
      headSel.value = String(h);
      draw();
    };
    layerSel.addEventListener('change', function () { current.li = Number(layerSel.value); draw(); });
    headSel.addEventListener('change', function () { current.h = Number(headSel.value); draw(); });
    draw();
  })();

  // --- 4. the model card -----------------------------------------------------
  (function () {
    var v = addView('model', 'Model');
    var m = data.model;
    add(v, el('h2', '', 'The model card'));
    add(v, el('p', 'explain', "The numbers the info command prints for this model: its shape, where its parameters are, " +
        'and what one generated token costs.'));
    var table = el('table', 'card');
    table.id = 'model-card';
    function row(name, value) { add(table, add(el('tr'), el('td', '', name), el('td', 'n', value))); }
    var total = m.params.total;
    function part(name, n) { row('  ' + name, grouped(n) + '  (' + (total ? (100 * n / total).toFixed(1) : '0') + '%)'); }
    row('model', m.name);
    row('dim', m.dim);
    row('hidden_dim', m.hidden_dim);
    row('n_layers', m.n_layers);
    row('n_heads', m.n_heads);
    row('n_kv_heads', m.n_kv_heads + (m.n_kv_heads < m.n_heads ? ' (grouped-query attention)' : ''));
    row('head_size', m.head_size);
    row('vocab_size', m.vocab_size);
    row('context', m.context);
    row('rope_theta', m.rope_theta);
    row('norm_eps', m.norm_eps);
    row('classifier', m.shared_classifier ? 'shared with the embedding table' : 'separate');
    row('parameters', grouped(total));
    part('embedding', m.params.embedding);
    part('attention', m.params.attention);
    part('ffn', m.params.ffn);
    part('norms', m.params.norms);
    part('classifier', m.params.classifier);
    row('weight bytes', grouped(m.weight_bytes));
    row('FLOPs per token at t = 0', Number(m.flops_per_token_t0).toPrecision(4));
    row('FLOPs per token at full context', Number(m.flops_per_token_full).toPrecision(4));
    row('KV cache per token (fp32)', grouped(m.kv_bytes_per_token) + ' bytes');
    add(v, table);
  })();

  show(location.hash.slice(1));
  window.addEventListener('hashchange', function () { show(location.hash.slice(1)); });
  document.body.setAttribute('data-resources', String(performance.getEntriesByType('resource').length));
  document.body.setAttribute('data-ready', '1');
})();
)JS";

}  // namespace llama2::trace_page

/* phasewatch dashboard: renders window.PHASEWATCH (written by `phasewatch report`) with plotly.js.
   No network: every number comes from data.js; the Analyze form recomputes from embedded posterior draws. */
(function () {
  'use strict';
  var D = window.PHASEWATCH;
  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22',
    '#17becf', '#393b79', '#111111', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd', '#e6550d', '#31a354',
    '#756bb1', '#636363', '#fd8d3c', '#74c476', '#9e9ac8'];
  var SYMBOLS = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'x', 'triangle-down', 'star'];
  // The palette's third eight repeat the first eight's hues: each eight families get their own marker.
  function familySymbol(i) { return SYMBOLS[Math.floor(i / 8) % SYMBOLS.length]; }
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d']};
  var rendered = {};

  // ---------- small helpers ----------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'html') node.innerHTML = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function body(id) { return document.querySelector('#' + id + ' .body'); }
  function fmt(v, d) { return (v === null || v === undefined || isNaN(v)) ? '' : Number(v).toFixed(d === undefined ? 1 : d); }
  function signed(v, d) { var s = fmt(v, d); return (v > 0 ? '+' : '') + s; }
  function iv(o, d) { return signed(o.mean, d) + ' [' + signed(o.low, d) + ', ' + signed(o.high, d) + ']'; }
  function plural(n, word, many) { return n + ' ' + (n === 1 ? word : (many || word + 's')); }
  function shortUrl(u) {
    if (!u) return '';
    var m = /^https?:\/\/(?:www\.)?([^\/?#]+)([^?#]*)/.exec(u);
    if (!m) return u.length > 40 ? u.slice(0, 39) + '…' : u;
    var rest = m[2].replace(/\/$/, ''); var tail = rest.split('/').pop();
    return m[1] + (rest ? (rest.split('/').length > 2 ? '/…/' : '/') + (tail.length > 28 ? tail.slice(0, 27) + '…' : tail) : '');
  }
  function legendBelow(extra) {
    var l = {orientation: 'h', x: 0, xanchor: 'left', y: -0.18, yanchor: 'top', font: {size: 11}};
    Object.keys(extra || {}).forEach(function (k) { l[k] = extra[k]; });
    return l;
  }
  function layout(x, y, extra) {
    var l = {margin: {l: 56, r: 12, t: 28, b: 48}, xaxis: {title: {text: x}, zeroline: false, automargin: true},
      yaxis: {title: {text: y}, zeroline: false, automargin: true}, legend: legendBelow(), hovermode: 'closest',
      font: {family: 'system-ui, sans-serif', size: 12}, paper_bgcolor: '#fbfcfd', plot_bgcolor: '#fff'};
    Object.keys(extra || {}).forEach(function (k) { l[k] = extra[k]; });
    return l;
  }
  function plot(gd, traces, lay, config) {
    // A horizontal legend below the plot sits clear of the x-axis title whatever the figure's height.
    // On a phone Plotly's legend would crowd the plot, so it becomes an HTML list under the figure
    // (tap an entry to hide or show it).
    var lg = lay.legend, narrow = (gd.clientWidth || 1000) < 600;
    if (lg && lg.orientation === 'h' && lg.y < 0) lg.y = -Math.min(0.45, 78 / Math.max((gd.clientHeight || 500) - 120, 100));
    if (narrow && lay.showlegend !== false) {
      lay.showlegend = false;
      var old = gd.nextSibling; if (old && old.className === 'legend-html') old.remove();
      var list = el('div', {'class': 'legend-html'});
      traces.forEach(function (t, i) {
        if (t.showlegend === false || !t.name || t.type === 'heatmap') return;
        var m = t.marker || {}, colour = (typeof m.color === 'string' && m.color !== '#fff') ? m.color : (t.line && t.line.color) || t.fillcolor || '#333';
        var item = el('button', {type: 'button', 'class': 'entry', title: 'show or hide'}, [el('span', {'class': 'swatch', style: 'background:' + colour}), t.name]);
        item.addEventListener('click', function () {
          var group = traces.map(function (u, j) { return (t.legendgroup && u.legendgroup === t.legendgroup) || j === i ? j : -1; }).filter(function (j) { return j >= 0; });
          var hidden = item.classList.toggle('off');
          Plotly.restyle(gd, {visible: hidden ? 'legendonly' : true}, group);
        });
        list.appendChild(item);
      });
      gd.parentNode.insertBefore(list, gd.nextSibling);
    }
    return Plotly.newPlot(gd, traces, lay, config);
  }
  function fig(parent, cls, id) { var d = el('div', {'class': 'fig ' + (cls || ''), id: id}); parent.appendChild(d); return d; }

  // ---------- tables with sort, filter and CSV ----------
  function csvOf(columns, rows) {
    var q = function (v) {
      if (v === null || v === undefined) return '';
      var s = typeof v === 'object' ? JSON.stringify(v) : String(v);
      return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    return [columns.map(function (c) { return q(c.label); }).join(',')].concat(rows.map(function (r) {
      return columns.map(function (c) { return q(r[c.key]); }).join(',');
    })).join('\n') + '\n';
  }
  function table(parent, name, columns, rows, opts) {
    opts = opts || {};
    var box = el('div', {'class': 'tablebox', 'data-table': name});
    var bar = el('div', {'class': 'bar'});
    var link = el('a', {href: 'data:text/csv;charset=utf-8,' + encodeURIComponent(csvOf(columns, rows)),
      download: name + '.csv', 'class': 'csv', text: 'CSV (' + plural(rows.length, 'row') + ')'});
    var filter = null;
    if (opts.filter !== false && rows.length > 8) {
      filter = el('input', {type: 'search', placeholder: 'filter rows…', 'aria-label': 'filter ' + name, 'class': 'filter'});
      bar.appendChild(filter);
    }
    var count = el('span', {'class': 'muted count'});
    bar.appendChild(link); bar.appendChild(count);
    var tbl = el('table'); var thead = el('thead'); var tr = el('tr'); var tbody = el('tbody');
    columns.forEach(function (c, i) {
      var th = el('th', {text: c.label, title: 'sort by ' + c.label});
      th.addEventListener('click', function () { sortBy(i); });
      tr.appendChild(th);
    });
    thead.appendChild(tr); tbl.appendChild(thead); tbl.appendChild(tbody);
    var order = rows.slice(); var asc = {};
    function cell(c, r) {
      var v = r[c.key]; var td = el('td');
      if (c.type === 'num') { td.className = 'num'; td.textContent = typeof v === 'number' ? fmt(v, c.digits) : (v === null || v === undefined ? '' : v); }
      else if (c.type === 'url') { td.className = 'nowrap'; if (v) td.appendChild(el('a', {href: v, title: v, target: '_blank', rel: 'noopener', text: shortUrl(v)})); }
      else if (c.type === 'link') { td.appendChild(el('a', {href: c.href(r), text: v})); }
      else if (c.type === 'state') { td.appendChild(el('span', {'class': 'state ' + v, text: v})); }
      else { td.textContent = v === null || v === undefined ? '' : (typeof v === 'object' ? JSON.stringify(v) : v); if (c.nowrap) td.className = 'nowrap'; }
      return td;
    }
    function draw() {
      var needle = filter ? filter.value.trim().toLowerCase() : '';
      tbody.innerHTML = ''; var shown = 0;
      order.forEach(function (r) {
        if (needle && columns.map(function (c) { return r[c.key]; }).join(' ').toLowerCase().indexOf(needle) < 0) return;
        var row = el('tr'); columns.forEach(function (c) { row.appendChild(cell(c, r)); }); tbody.appendChild(row); shown++;
      });
      count.textContent = needle ? shown + ' of ' + rows.length + ' shown' : '';
    }
    function sortBy(i) {
      var k = columns[i].key; asc[k] = !asc[k];
      order.sort(function (a, b) {
        var x = a[k], y = b[k];
        var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x === null || x === undefined ? '' : x).localeCompare(String(y === null || y === undefined ? '' : y));
        return asc[k] ? c : -c;
      });
      draw();
    }
    if (filter) filter.addEventListener('input', draw);
    draw();
    box.appendChild(bar); box.appendChild(el('div', {'class': 'scroll'}, [tbl]));
    parent.appendChild(box);
    return box;
  }

  // ---------- numerics (bit-for-bit the registry's: numpy quantile 'linear', HDI by narrowest window) ----------
  function decode(b64) {
    var s = atob(b64); var bytes = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new Float64Array(bytes.buffer);
  }
  var draws = null;
  function posterior() {
    if (draws || !D.frontier) return draws;
    var P = D.frontier.draws; var labs = {};
    Object.keys(P.labs).forEach(function (k) { labs[k] = {a: decode(P.labs[k].a), b: decode(P.labs[k].b)}; });
    draws = {link: P.link || 'identity', x_ref: P.x_ref, mu_a: decode(P.mu_a), mu_b: decode(P.mu_b), noise_known: decode(P.noise_known),
      new_: {a: decode(P['new'].a), b: decode(P['new'].b), noise: decode(P['new'].noise)}, labs: labs};
    return draws;
  }
  function mean(v) { var s = 0; for (var i = 0; i < v.length; i++) s += v[i]; return s / v.length; }
  function quantile(sorted, q) {
    var n = sorted.length; var idx = q * (n - 1); var lo = Math.floor(idx); var hi = Math.min(lo + 1, n - 1); var t = idx - lo;
    var a = sorted[lo], b = sorted[hi], diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
  }
  function eti(values, prob) {
    var s = Float64Array.from(values).sort();
    return {mean: mean(values), low: quantile(s, (1 - prob) / 2), high: quantile(s, (1 + prob) / 2)};
  }
  function hdi(values, prob) {
    var s = Float64Array.from(values).sort(); var n = s.length; var w = Math.floor(prob * n); var best = 0, span = Infinity;
    for (var i = 0; i < n - w; i++) { var d = s[i + w] - s[i]; if (d < span) { span = d; best = i; } }
    return {mean: mean(values), low: s[best], high: s[best + w]};
  }
  // the model's scale: percentage points (identity) or log-odds of the score fraction (logit)
  function toLink(x, link) { if (link !== 'logit') return x; var f = Math.min(Math.max(x, 0.01), 99.99) / 100; return Math.log(f) - Math.log1p(-f); }
  function fromLink(v, link) { return link === 'logit' ? 100 / (1 + Math.exp(-v)) : v; }
  function predictive(lab, x) {
    var P = posterior(); var known = Object.prototype.hasOwnProperty.call(P.labs, lab);
    var a = known ? P.labs[lab].a : P.new_.a, b = known ? P.labs[lab].b : P.new_.b, noise = known ? P.noise_known : P.new_.noise;
    var out = new Float64Array(a.length); var dx = toLink(x, P.link) - P.x_ref;
    for (var i = 0; i < a.length; i++) out[i] = fromLink(a[i] + b[i] * dx + noise[i], P.link);
    return {draws: out, known: known};
  }
  function analyze(lab, x, y) {
    var P = posterior(); var dx = toLink(x, P.link) - P.x_ref; var h = new Float64Array(P.mu_a.length);
    for (var i = 0; i < h.length; i++) h[i] = y - fromLink(P.mu_a[i] + P.mu_b[i] * dx, P.link);
    var p = predictive(lab, x); var e = eti(p.draws, 0.95);
    var predicted = {mean: e.mean, low: Math.max(e.low, 0), high: Math.min(e.high, 100)};
    return {h: hdi(h, 0.95), predicted: predicted, lab_known: p.known, inside: predicted.low <= y && y <= predicted.high};
  }
  function classify(paramsB, hs, tqa) {
    var boundary = Math.sqrt(D.phase.isocline.ratio * hs / 100) * 100;
    return {phase: tqa > boundary ? 'bonus (above the isocline)' : 'tax (below the isocline)', boundary: boundary,
      size_vs_nc: D.phase.classifier_nc.map(function (n) {
        return (paramsB < n.billions ? 'below' : 'above') + ' N_c = ' + n.billions.toFixed(2) + 'B (' + n.label + ', quadratic fit on all points)';
      })};
  }
  window.phasewatchAnalyze = analyze; window.phasewatchClassify = classify;

  // ---------- label placement without overlaps ----------
  function placeLabels(gd, pts, on) {
    if (!on) { Plotly.relayout(gd, {annotations: []}); return; }
    var fl = gd._fullLayout; if (!fl || !fl.xaxis) return;
    var xa = fl.xaxis, ya = fl.yaxis; var placed = []; var notes = [];
    var marks = pts.map(function (p) { return {x: xa.l2p(p.x), y: ya.l2p(p.y)}; });
    function free(b) {
      if (b.x0 < 0 || b.x1 > xa._length || b.y0 < 0 || b.y1 > ya._length) return false;
      for (var i = 0; i < placed.length; i++) { var o = placed[i]; if (b.x0 < o.x1 && b.x1 > o.x0 && b.y0 < o.y1 && b.y1 > o.y0) return false; }
      for (var j = 0; j < marks.length; j++) { var m = marks[j]; if (m.x > b.x0 - 3 && m.x < b.x1 + 3 && m.y > b.y0 - 3 && m.y < b.y1 + 3) return false; }
      return true;
    }
    pts.forEach(function (p, k) {
      var px = marks[k].x, py = marks[k].y; if (px < 0 || px > xa._length || py < 0 || py > ya._length) return;
      var w = p.name.length * 6.2 + 4, h = 13;
      var tries = [[8, -h / 2, 'left'], [-8 - w, -h / 2, 'right'], [-w / 2, -h - 7, 'center'], [-w / 2, 7, 'center']];
      for (var t = 0; t < tries.length; t++) {
        var b = {x0: px + tries[t][0], y0: py + tries[t][1]}; b.x1 = b.x0 + w; b.y1 = b.y0 + h;
        if (free(b)) {
          placed.push(b);
          notes.push({x: p.x, y: p.y, xref: 'x', yref: 'y', text: p.name, showarrow: false, font: {size: 10, color: '#333'},
            xshift: tries[t][0] + (tries[t][2] === 'left' ? 0 : tries[t][2] === 'right' ? w : w / 2), yshift: -(tries[t][1] + h / 2),
            xanchor: tries[t][2]});
          return;
        }
      }
    });
    gd.__labelsPlaced = notes.length;
    Plotly.relayout(gd, {annotations: notes});
  }

  // ---------- pages ----------
  var PAGES = {};
  PAGES.overview = function (root) {
    root.appendChild(el('ul', {'class': 'findings'}, D.findings.map(function (f) { return el('li', {text: f}); })));
    var cards = el('div', {'class': 'cards'});
    function card(label, value, href) { cards.appendChild(el('div', {'class': 'card'}, [el('b', {text: label}), href ? el('a', {href: href, text: value}) : el('span', {text: value})])); }
    if (D.frontier) {
      card('coupling fit', '#' + D.frontier.fit.id + ' on ' + D.frontier.fit.panels + ' (' + plural(D.frontier.fit.n_models, 'model') + ')', '#frontier');
      card('frontier releases plotted', plural(D.frontier.points.length, 'release') + ', ' + D.frontier.since + ' outside the fit', '#frontier');
    }
    card('labs', plural(D.labs.length, 'lab'), '#labs');
    card('predictions', plural(D.predictions.items.length, 'prediction') + '; hash chain ' + (D.predictions.chain_ok ? 'intact' : 'BROKEN'), '#predictions');
    var Q = D.phase.nc_quadratic;
    card('N_c (quadratic vertex)', !Q ? 'not computed: run `' + D.phase.nc.command + '`' : Q.median_billions === null ? 'none' :
      fmt(Q.median_billions, 2) + 'B [' + fmt(Q.ci95_billions[0], 2) + ', ' + fmt(Q.ci95_billions[1], 2) + ']', '#phase');
    card('steering evaluations', String(D.steering.length), '#steering');
    root.appendChild(cards);
  };

  PAGES.frontier = function (root) {
    var F = D.frontier;
    if (!F) { root.appendChild(el('p', {text: 'No accepted coupling fit yet: run `phasewatch fit`.'})); return; }
    var fit = F.fit;
    root.appendChild(el('p', {text: 'Fit #' + fit.id + ' on ' + fit.panels + ' (' + plural(fit.n_models, 'model') + '; ' +
      (fit.converged ? 'converged' : 'NOT converged') + '). OLS: ' + fit.y + ' = ' + fit.ols.slope.toFixed(3) + '·' + fit.x + ' ' +
      (fit.ols.intercept < 0 ? '− ' : '+ ') + Math.abs(fit.ols.intercept).toFixed(1) + ', r = ' + signed(fit.ols.r, 3) +
      '. Posterior population slope ' + iv(fit.population_slope, 3) + '. ' + plural(F.points.length, 'frontier release') +
      ' with both scores: ' + (F.points.length - F.since) + ' in the fit (circles), ' + F.since + ' not (diamonds).'}));
    var labs = Object.keys(F.draws.labs);
    var bandSel = el('select', {id: 'band-lab', 'aria-label': 'predictive band for'}, [el('option', {value: '', text: 'a new lab'})].concat(labs.map(function (l) { return el('option', {value: l, text: l}); })));
    var showSel = el('select', {id: 'frontier-show', 'aria-label': 'show releases'}, [['all', 'all releases'], ['fit', 'in the fit'], ['since', 'not in the fit']].map(function (o) { return el('option', {value: o[0], text: o[1]}); }));
    var labels = el('input', {type: 'checkbox', id: 'frontier-labels'});
    root.appendChild(el('div', {'class': 'controls'}, [el('label', {}, ['95 % predictive band for ', bandSel]), el('label', {}, ['show ', showSel]),
      el('label', {}, [labels, ' model names (where they fit; zoom for more)'])]));
    var gd = fig(root, 'tall', 'frontier-fig');
    var labNames = []; F.points.forEach(function (p) { if (labNames.indexOf(p.lab) < 0) labNames.push(p.lab); }); labNames.sort();
    function visible(p) { var s = showSel.value; return s === 'all' || (s === 'fit') === p.in_fit; }
    function band() {
      var xs = []; for (var x = 10; x <= 92; x += 2) xs.push(x);
      var lab = bandSel.value, lo = [], hi = [], mid = []; var P = posterior();
      xs.forEach(function (x) {
        var e = eti(predictive(lab, x).draws, 0.95); lo.push(Math.max(e.low, 0)); hi.push(Math.min(e.high, 100));
        var t = 0; for (var i = 0; i < P.mu_a.length; i++) t += fromLink(P.mu_a[i] + P.mu_b[i] * (toLink(x, P.link) - P.x_ref), P.link); mid.push(t / P.mu_a.length);
      });
      var name = '95 % predictive band (' + (lab || 'a new lab') + ')';
      return [{x: xs, y: hi, mode: 'lines', line: {width: 0}, hoverinfo: 'skip', showlegend: false, name: name},
        {x: xs, y: lo, mode: 'lines', line: {width: 0}, fill: 'tonexty', fillcolor: 'rgba(31,78,121,0.13)', name: name, hoverinfo: 'skip'},
        {x: xs, y: mid, mode: 'lines', line: {color: '#555', width: 1.5}, name: 'population trend (posterior mean)', hoverinfo: 'skip'}];
    }
    function traces() {
      var out = band();
      out.push({x: [null], y: [null], mode: 'markers', name: 'in fit #' + fit.id, marker: {size: 10, color: '#fff', symbol: 'circle', line: {width: 1, color: '#111'}}, hoverinfo: 'skip'});
      out.push({x: [null], y: [null], mode: 'markers', name: 'not in the fit', marker: {size: 10, color: '#fff', symbol: 'diamond', line: {width: 1.8, color: '#111'}}, hoverinfo: 'skip'});
      labNames.forEach(function (lab, i) { [true, false].forEach(function (inFit) {
        var mine = F.points.filter(function (p) { return p.lab === lab && p.in_fit === inFit && visible(p); });
        out.push({x: mine.map(function (p) { return p.x; }), y: mine.map(function (p) { return p.y; }), mode: 'markers', type: 'scatter', name: lab,
          legendgroup: lab, showlegend: inFit === F.points.some(function (p) { return p.lab === lab && p.in_fit && visible(p); }), legendrank: 1000 + i,
          marker: {size: 10, color: PALETTE[i % PALETTE.length], symbol: inFit ? 'circle' : 'diamond', line: {width: inFit ? 0.5 : 1.8, color: '#111'}},
          customdata: mine.map(function (p) { return [p.name, p.lab, p.date || 'date unknown', signed(p.h), signed(p.h_low), signed(p.h_high), p.in_fit ? 'in fit #' + fit.id : 'not in the fit (logged since or another panel)']; }),
          hovertemplate: '<b>%{customdata[0]}</b><br>%{customdata[1]} · %{customdata[2]}<br>' + fit.x + ' %{x:.1f} · ' + fit.y + ' %{y:.1f}<br>h %{customdata[3]} pp [%{customdata[4]}, %{customdata[5]}]<br>%{customdata[6]}<extra></extra>'});
      }); });
      return out;
    }
    function shown() { return F.points.filter(visible).slice().sort(function (a, b) { return (b.x + b.y) - (a.x + a.y); }); }
    plot(gd, traces(), layout('SWE-bench Verified (%) — ' + fit.x, 'GPQA Diamond (%) — ' + fit.y, {xaxis: {title: {text: fit.x + ' (%)'}, range: [0, 95]}, yaxis: {title: {text: fit.y + ' (%)'}, range: [20, 100]}}), CONFIG).then(function () {
      gd.on('plotly_relayout', function (ev) { if (ev && !ev.annotations && labels.checked) placeLabels(gd, shown(), true); });
    });
    function redraw() { Plotly.react(gd, traces(), gd.layout, CONFIG).then(function () { placeLabels(gd, shown(), labels.checked); }); }
    bandSel.addEventListener('change', redraw); showSel.addEventListener('change', redraw);
    labels.addEventListener('change', function () { placeLabels(gd, shown(), labels.checked); });
    root.appendChild(el('h3', {text: 'h-field of every release (pp; + = reasoning-rich)'}));
    table(root, 'frontier-releases', [{key: 'name', label: 'model', nowrap: true}, {key: 'lab', label: 'lab'}, {key: 'date', label: 'date', nowrap: true},
      {key: 'x', label: fit.x, type: 'num'}, {key: 'y', label: fit.y, type: 'num'}, {key: 'h', label: 'h', type: 'num'},
      {key: 'h_low', label: 'h 2.5 %', type: 'num'}, {key: 'h_high', label: 'h 97.5 %', type: 'num'}, {key: 'where', label: 'in fit'}],
      F.points.map(function (p) { var r = Object.assign({}, p); r.where = p.in_fit ? 'yes' : 'no'; return r; }));
  };

  PAGES.analyze = function (root) {
    if (D.frontier) {
      var F = D.frontier; var labs = Object.keys(F.draws.labs);
      root.appendChild(el('h3', {text: 'A frontier release: ' + F.fit.x + ' and ' + F.fit.y}));
      root.appendChild(el('p', {'class': 'muted', text: 'Computed in this page from ' + F.draws.draws + ' posterior draws of fit #' + F.fit.id +
        (F.draws.thinned ? ' (every ' + F.draws.stride + 'th of ' + F.draws.total_draws + ')' : ' (all of them)') +
        ', as `phasewatch analyze` computes it: h-field as a 95 % HDI, the 95 % predictive interval (equal-tailed, cut to 0–100) for the lab.'}));
      var form = el('form', {'class': 'analyze', id: 'analyze-form'});
      var lab = el('select', {name: 'lab', id: 'an-lab'}, labs.map(function (l) { return el('option', {value: l, text: l}); }).concat([el('option', {value: '(new lab)', text: 'another lab (new)'})]));
      var x = el('input', {name: 'x', id: 'an-x', type: 'number', step: 'any', min: 0, max: 100, required: 'required', value: '70'});
      var y = el('input', {name: 'y', id: 'an-y', type: 'number', step: 'any', min: 0, max: 100, required: 'required', value: '85'});
      [el('label', {}, ['lab', lab]), el('label', {}, [F.fit.x + ' (%)', x]), el('label', {}, [F.fit.y + ' (%)', y]), el('button', {type: 'submit', text: 'Analyze'})].forEach(function (n) { form.appendChild(n); });
      var out = el('div', {'class': 'result', id: 'an-result', 'aria-live': 'polite', text: 'Type two scores and a lab.'});
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var xv = parseFloat(x.value), yv = parseFloat(y.value);
        if (!(xv >= 0 && xv <= 100 && yv >= 0 && yv <= 100)) { out.className = 'result'; out.textContent = 'Scores are percentages: give two numbers between 0 and 100.'; return; }
        var r = analyze(lab.value, xv, yv);
        out.className = 'result ' + (r.inside ? 'inside' : 'outside');
        out.setAttribute('data-json', JSON.stringify(r));
        var close = Math.min(Math.abs(yv - r.predicted.low), Math.abs(yv - r.predicted.high));
        out.innerHTML = '';
        [['h-field', signed(r.h.mean) + ' pp, 95 % HDI [' + signed(r.h.low) + ', ' + signed(r.h.high) + ']' + (r.h.low > 0 ? ' — reasoning-rich' : r.h.high < 0 ? ' — coding-rich' : ' — interval spans 0')],
          ['predicted ' + F.fit.y, fmt(r.predicted.mean) + ', 95 % [' + fmt(r.predicted.low) + ', ' + fmt(r.predicted.high) + ']' + (r.lab_known ? '' : ' (a lab the fit never saw: drawn from the hierarchy)')],
          ['verdict', (r.inside ? 'inside' : 'OUTSIDE') + ' the interval, ' + fmt(close) + ' pp from its nearer edge']].forEach(function (row) {
          out.appendChild(el('div', {}, [el('b', {text: row[0] + ': '}), row[1]]));
        });
      });
      root.appendChild(form); root.appendChild(out);
    }
    root.appendChild(el('h3', {text: 'A base model: HellaSwag and TruthfulQA MC2'}));
    root.appendChild(el('p', {'class': 'muted', text: 'The isocline TQA > √((a/b)·HS), a/b = ' + D.phase.isocline.ratio.toFixed(4) + ' (' + D.phase.isocline.calibration + '), and the size against N_c, as `phasewatch phase classify` does.' +
      (D.phase.classifier_nc.length < 2 ? ' Only ' + plural(D.phase.classifier_nc.length, 'N_c point') + ' stored: run `phasewatch phase reproduce` for both.' : '')}));
    var f2 = el('form', {'class': 'analyze', id: 'classify-form'});
    var p = el('input', {id: 'cl-params', type: 'number', step: 'any', min: 0, value: '6.9', required: 'required'});
    var hs = el('input', {id: 'cl-hs', type: 'number', step: 'any', min: 0, max: 100, value: '76', required: 'required'});
    var tq = el('input', {id: 'cl-tqa', type: 'number', step: 'any', min: 0, max: 100, value: '36', required: 'required'});
    [el('label', {}, ['parameters (B)', p]), el('label', {}, ['HellaSwag (%)', hs]), el('label', {}, ['TruthfulQA MC2 (%)', tq]), el('button', {type: 'submit', text: 'Classify'})].forEach(function (n) { f2.appendChild(n); });
    var out2 = el('div', {'class': 'result', id: 'cl-result', 'aria-live': 'polite', text: 'Type a size and two scores.'});
    f2.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var pv = parseFloat(p.value), hv = parseFloat(hs.value), tv = parseFloat(tq.value);
      if (!(pv > 0 && hv >= 0 && hv <= 100 && tv >= 0 && tv <= 100)) { out2.textContent = 'Give a positive size and two percentages.'; return; }
      var r = classify(pv, hv, tv); out2.setAttribute('data-json', JSON.stringify(r)); out2.innerHTML = '';
      out2.appendChild(el('div', {}, [el('b', {text: 'isocline: '}), r.phase + ': TruthfulQA ' + tv + ' vs boundary ' + r.boundary.toFixed(2) + ' (' + signed(tv - r.boundary, 2) + ' pp)']));
      r.size_vs_nc.forEach(function (s) { out2.appendChild(el('div', {}, [el('b', {text: 'size: '}), s])); });
    });
    root.appendChild(f2); root.appendChild(out2);
  };

  PAGES.labs = function (root) {
    if (!D.labs.length) { root.appendChild(el('p', {text: 'No accepted fit: no lab summaries.'})); return; }
    var gd = fig(root, 'short', 'slopes-fig');
    var L = D.labs.slice().sort(function (a, b) { return a.slope.mean - b.slope.mean; });
    var pop = D.frontier.fit.population_slope;
    plot(gd, [
      {x: L.map(function (l) { return l.slope.mean; }), y: L.map(function (l) { return l.lab + ' (n=' + l.n_releases + ')'; }), mode: 'markers', name: 'posterior slope, 95 % HDI',
        error_x: {type: 'data', symmetric: false, array: L.map(function (l) { return l.slope.high - l.slope.mean; }), arrayminus: L.map(function (l) { return l.slope.mean - l.slope.low; })},
        marker: {size: 9, color: '#1f4e79'}, hovertemplate: '%{y}: %{x:.3f}<extra></extra>'},
      {x: L.map(function (l) { return l.ols_slope; }), y: L.map(function (l) { return l.lab + ' (n=' + l.n_releases + ')'; }), mode: 'markers', name: "OLS slope (the paper's method)", marker: {symbol: 'x', size: 9, color: '#b03030'}}],
      layout('coupling slope dGPQA / dSWE', '', {shapes: [{type: 'rect', xref: 'x', yref: 'paper', x0: pop.low, x1: pop.high, y0: 0, y1: 1, fillcolor: 'rgba(0,0,0,0.07)', line: {width: 0}}],
        margin: {l: 130, r: 12, t: 10, b: 48}}), CONFIG);
    table(root, 'labs', [{key: 'lab', label: 'lab', type: 'link', href: function (r) { return '#labs/' + encodeURIComponent(r.lab); }}, {key: 'n_releases', label: 'releases', type: 'num', digits: 0},
      {key: 'slope_s', label: 'slope (95 % HDI)', nowrap: true}, {key: 'ols_slope', label: 'OLS slope', type: 'num', digits: 3}, {key: 'mean_h_s', label: 'mean h (95 % HDI)', nowrap: true},
      {key: 'direction', label: 'direction'}, {key: 'confidence', label: 'confidence'}],
      D.labs.map(function (l) { var r = Object.assign({}, l); r.slope_s = iv(l.slope, 3); r.mean_h_s = iv(l.mean_h, 1); return r; }), {filter: false});
    var pick = el('select', {id: 'lab-pick', 'aria-label': 'lab'}, D.labs.map(function (l) { return el('option', {value: l.lab, text: l.lab}); }));
    root.appendChild(el('div', {'class': 'controls'}, [el('label', {}, ['lab ', pick])]));
    var detail = el('div', {id: 'lab-detail'}); root.appendChild(detail);
    function show(name) {
      var l = D.labs.filter(function (x) { return x.lab === name; })[0] || D.labs[0]; pick.value = l.lab; detail.innerHTML = '';
      detail.appendChild(el('h3', {text: l.lab}));
      var cards = el('div', {'class': 'cards'});
      [['slope (95 % HDI)', iv(l.slope, 3) + (l.ols_slope === null ? '' : '; OLS ' + l.ols_slope.toFixed(3))], ['mean h (95 % HDI)', iv(l.mean_h, 1) + ' pp'],
        ['direction', l.direction], ['confidence', l.confidence + ' (noise ' + fmt(l.noise_pp) + ' pp)'], ['next measurement', l.next_measurement]].forEach(function (c) {
        cards.appendChild(el('div', {'class': 'card'}, [el('b', {text: c[0]}), el('span', {text: c[1]})]));
      });
      detail.appendChild(cards);
      var pts = l.trajectory.filter(function (t) { return t.date; });
      var g = fig(detail, 'short', 'lab-trajectory');
      plot(g, [{x: pts.map(function (t) { return t.date.length === 4 ? t.date + '-07-01' : t.date; }), y: pts.map(function (t) { return t.h; }), mode: 'lines+markers', name: l.lab,
        error_y: {type: 'data', symmetric: false, array: pts.map(function (t) { return t.h_high - t.h; }), arrayminus: pts.map(function (t) { return t.h - t.h_low; })},
        customdata: pts.map(function (t) { return [t.name, signed(t.h_low), signed(t.h_high)]; }),
        hovertemplate: '<b>%{customdata[0]}</b><br>%{x}<br>h %{y:+.1f} pp [%{customdata[1]}, %{customdata[2]}]<extra></extra>'}],
      layout('release date', 'h-field (pp; + = reasoning-rich)', {showlegend: false, shapes: [{type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 0, y1: 0, line: {color: '#999', width: 1}}]}), CONFIG);
      table(detail, 'lab-' + l.lab + '-releases', [{key: 'name', label: 'model', nowrap: true}, {key: 'date', label: 'date', nowrap: true}, {key: 'x', label: 'SWE', type: 'num'}, {key: 'h', label: 'h', type: 'num'}, {key: 'h_low', label: 'h 2.5 %', type: 'num'}, {key: 'h_high', label: 'h 97.5 %', type: 'num'}], l.trajectory, {filter: false});
      if (l.shifts.length) table(detail, 'lab-' + l.lab + '-shifts', [{key: 'before', label: 'before'}, {key: 'after', label: 'after'}, {key: 'delta_h', label: 'Δh', type: 'num'}, {key: 'kind', label: 'class'}], l.shifts, {filter: false});
    }
    pick.addEventListener('change', function () { location.hash = '#labs/' + encodeURIComponent(pick.value); });
    PAGES.labs.show = show;
  };

  function checks(node, side, out) {
    if (!node || typeof node !== 'object') return;
    if (node.metric) {
      out.push({side: side, metric: node.metric, benchmark: node.benchmark || [node.x, node.y].filter(Boolean).join(' vs '),
        test: (node.op || '') + ' ' + (node.threshold === undefined ? '' : node.threshold), value: node.value, met: node.result === true ? 'yes' : node.result === false ? 'no' : '',
        releases: (node.models || []).map(function (m) { return Array.isArray(m) ? m[0] + ' ' + m[1] : String(m); }).join('; ')});
      return;
    }
    ['all', 'any'].forEach(function (c) { if (Array.isArray(node[c])) node[c].forEach(function (n) { checks(n, side + (node[c].length > 1 ? ' (' + c + ')' : ''), out); }); });
  }
  function evidenceTable(parent, key, ev) {
    var found = []; ['pass', 'fail'].forEach(function (side) { checks((ev || {})[side], side, found); });
    if (found.length) {
      table(parent, 'prediction-' + key + '-evidence', [{key: 'side', label: 'condition'}, {key: 'metric', label: 'metric'}, {key: 'benchmark', label: 'benchmark'},
        {key: 'test', label: 'test', nowrap: true}, {key: 'value', label: 'value', type: 'num', digits: 2}, {key: 'met', label: 'met'}, {key: 'releases', label: 'releases (value)'}], found, {filter: false});
      return;
    }
    var rows = []; var nested = [];
    Object.keys(ev || {}).forEach(function (k) {
      var v = ev[k];
      if (Array.isArray(v) && v.length && typeof v[0] === 'object' && v[0] !== null && !Array.isArray(v[0])) nested.push([k, v]);
      else rows.push({field: k, value: typeof v === 'object' ? JSON.stringify(v) : v});
    });
    table(parent, 'prediction-' + key + '-evidence', [{key: 'field', label: 'evidence'}, {key: 'value', label: 'value'}], rows, {filter: false});
    nested.forEach(function (n) {
      var cols = []; n[1].forEach(function (r) { Object.keys(r).forEach(function (c) { if (cols.indexOf(c) < 0) cols.push(c); }); });
      parent.appendChild(el('h4', {text: n[0]}));
      table(parent, 'prediction-' + key + '-' + n[0], cols.map(function (c) { return {key: c, label: c}; }), n[1]);
    });
  }
  PAGES.predictions = function (root) {
    var P = D.predictions;
    root.appendChild(el('p', {text: P.chain, 'class': P.chain_ok ? 'muted' : ''}));
    table(root, 'predictions', [{key: 'key', label: 'key', type: 'link', href: function (r) { return '#predictions/' + encodeURIComponent(r.key); }}, {key: 'title', label: 'prediction'},
      {key: 'registered', label: 'registered', nowrap: true}, {key: 'deadline', label: 'deadline', nowrap: true}, {key: 'state', label: 'state', type: 'state'}, {key: 'note', label: 'why'}], P.items, {filter: false});
    var detail = el('div', {id: 'prediction-detail'}); root.appendChild(detail);
    PAGES.predictions.show = function (key) {
      detail.innerHTML = ''; var p = P.items.filter(function (x) { return x.key === key; })[0]; if (!p) return;
      detail.appendChild(el('h3', {text: p.title}));
      var cards = el('div', {'class': 'cards'});
      [['key', p.key], ['state (evaluated ' + p.evaluated_on + ')', p.state], ['window', p.registered + ' → ' + (p.deadline || 'the next releases')],
        ['probability stated', p.probability === null ? 'none' : String(p.probability)], ['benchmarks', p.benchmarks.join(', ')]].forEach(function (c) {
        cards.appendChild(el('div', {'class': 'card'}, [el('b', {text: c[0]}), el('span', {text: c[1]})]));
      });
      detail.appendChild(cards);
      detail.appendChild(el('p', {}, [el('b', {text: 'Statement: '}), p.statement]));
      detail.appendChild(el('p', {}, [el('b', {text: 'Why: '}), p.note]));
      detail.appendChild(el('details', {}, [el('summary', {text: 'criterion (machine-checkable)'}), el('pre', {'class': 'hash', text: JSON.stringify(p.criterion, null, 2)})]));
      evidenceTable(detail, p.key, p.evidence);
      detail.appendChild(el('h4', {text: 'state history (stored gradings)'}));
      if (p.history.length) table(detail, 'prediction-' + p.key + '-history', [{key: 'as_of', label: 'as of', nowrap: true}, {key: 'state', label: 'state', type: 'state'}, {key: 'panels', label: 'panels'}, {key: 'graded_at', label: 'graded at', nowrap: true}], p.history, {filter: false});
      else detail.appendChild(el('p', {'class': 'muted', text: 'Never graded with --store; run `phasewatch predictions grade`.'}));
      detail.appendChild(el('h4', {text: 'hash chain'}));
      table(detail, 'prediction-' + p.key + '-revisions', [{key: 'revision', label: 'revision', type: 'num', digits: 0}, {key: 'registered', label: 'registered'}, {key: 'hash', label: 'SHA-256'}], p.revisions, {filter: false});
      if (p.source) detail.appendChild(el('p', {}, ['source: ', /^https?:/.test(p.source) ? el('a', {href: p.source, text: shortUrl(p.source), title: p.source}) : p.source]));
    };
  };

  PAGES.saturation = function (root) {
    var S = D.saturation; var gd = fig(root, '', 'saturation-fig');
    plot(gd, S.benchmarks.map(function (b, i) {
      var kept = b.history.filter(function (h) { return h.spread !== null; });
      return {x: kept.map(function (h) { return h.date; }), y: kept.map(function (h) { return h.spread; }), mode: 'lines+markers', name: b.benchmark,
        line: {color: PALETTE[i % PALETTE.length]}, marker: {symbol: SYMBOLS[i % SYMBOLS.length], size: 7},
        customdata: kept.map(function (h) { return h.n; }), hovertemplate: b.benchmark + '<br>%{x}: spread %{y:.1f} pp (top %{customdata})<extra></extra>'};
    }), layout('quarter end', 'top-5 spread (pp)'), CONFIG);
    table(root, 'saturation-benchmarks', [{key: 'benchmark', label: 'benchmark'}, {key: 'spread', label: 'spread now (pp)', type: 'num'}, {key: 'n', label: 'releases', type: 'num', digits: 0}, {key: 'state', label: 'state'}], S.benchmarks, {filter: false});
    table(root, 'saturation-pairs', [{key: 'old', label: 'old axis'}, {key: 'new', label: 'new axis'}, {key: 'sigma', label: 'σ', type: 'num', digits: 3}, {key: 'advice', label: 'advice'}], S.pairs, {filter: false});
  };

  PAGES.phase = function (root) {
    var P = D.phase; var q = P.nc_quadratic; var g = P.nc_gamma;
    function ncText(e) { return e.median_billions === null ? 'none' : fmt(e.median_billions, 2) + 'B, 95 % [' + fmt(e.ci95_billions[0], 2) + ', ' + fmt(e.ci95_billions[1], 2) + ']'; }
    if (!q) {
      root.appendChild(el('p', {'class': 'warn', text: 'N_c has not been computed for this registry: run `' + P.nc.command + '` (or `phasewatch phase reproduce`), then `phasewatch report` again. The report shows stored results only.'}));
    } else {
      root.appendChild(el('p', {text: 'N_c from ' + P.nc_families.join(' + ') + ' (' + P.panel + ', ' + plural(P.nc_points, 'model') + '), as `' + P.nc.by + '` stored it on ' + P.nc.computed_at.slice(0, 10) +
        ' (' + P.nc.resamples + ' resamples, seed ' + P.nc.seed + '): quadratic vertex ' + ncText(q) + ' (' + q.valid_resamples + ' of ' + q.resamples +
        ' resamples valid); γ12 zero crossing ' + ncText(g) + '.' + (P.nc.current ? '' : ' The panel has changed since: run `' + P.nc.command + '` again.')}));
    }
    var fams = P.families.filter(function (f) { return f.points.length >= 2; });
    var ymin = 100, ymax = 0; fams.forEach(function (f) { f.points.forEach(function (p) { ymin = Math.min(ymin, p.truthfulqa); ymax = Math.max(ymax, p.truthfulqa); }); });
    var traces = q && q.ci95_billions ? [{x: [q.ci95_billions[0], q.ci95_billions[0], q.ci95_billions[1], q.ci95_billions[1]], y: [ymin - 2, ymax + 2, ymax + 2, ymin - 2], fill: 'toself', mode: 'lines', line: {width: 0},
      fillcolor: 'rgba(230,120,30,0.18)', name: 'N_c, 95 % interval', hoverinfo: 'skip'}] : [];
    fams.forEach(function (f, i) {
      traces.push({x: f.points.map(function (p) { return p.params_b; }), y: f.points.map(function (p) { return p.truthfulqa; }), mode: 'lines+markers', name: f.family,
        line: {color: PALETTE[i % PALETTE.length], width: 1.5}, marker: {symbol: familySymbol(i), size: 7},
        customdata: f.points.map(function (p) { return [p.name, p.hellaswag]; }), hovertemplate: '<b>%{customdata[0]}</b> (' + f.family + ')<br>%{x:.3g}B · TruthfulQA %{y:.1f} · HellaSwag %{customdata[1]:.1f}<extra></extra>'});
    });
    root.appendChild(el('h3', {text: 'TruthfulQA MC2 against size, per family'}));
    var gd = fig(root, 'tall', 'phase-size-fig');
    plot(gd, traces, layout('parameters (billions, log scale)', 'TruthfulQA MC2 (%)', {xaxis: {type: 'log', title: {text: 'parameters (billions, log scale)'}}}), CONFIG);
    root.appendChild(el('h3', {text: 'The isocline: bonus above, tax below'}));
    var hsAll = []; fams.forEach(function (f) { f.points.forEach(function (p) { hsAll.push(p.hellaswag); }); });
    var lo = Math.min.apply(null, hsAll) - 3, hi = Math.max.apply(null, hsAll) + 3; var xs = [], ys = [];
    for (var h = lo; h <= hi; h += (hi - lo) / 60) { xs.push(h); ys.push(Math.sqrt(P.isocline.ratio * h / 100) * 100); }
    var t2 = [{x: xs, y: ys, mode: 'lines', name: 'isocline TQA = √((a/b)·HS)', line: {color: '#111', dash: 'dash'}, hoverinfo: 'skip'}];
    fams.forEach(function (f, i) {
      t2.push({x: f.points.map(function (p) { return p.hellaswag; }), y: f.points.map(function (p) { return p.truthfulqa; }), mode: 'markers', name: f.family, showlegend: false,
        marker: {color: PALETTE[i % PALETTE.length], size: 7, symbol: familySymbol(i)}, customdata: f.points.map(function (p) { return [p.name, p.params_b]; }),
        hovertemplate: '<b>%{customdata[0]}</b> (' + f.family + ', %{customdata[1]:.3g}B)<br>HellaSwag %{x:.1f} · TruthfulQA %{y:.1f}<extra></extra>'});
    });
    var g2 = fig(root, '', 'phase-isocline-fig');
    plot(g2, t2, layout('HellaSwag (%)', 'TruthfulQA MC2 (%)', {legend: legendBelow({y: -0.16})}), CONFIG);
    var rows = []; P.families.forEach(function (f) { f.points.forEach(function (p) { rows.push({family: f.family, name: p.name, params_b: p.params_b, hellaswag: p.hellaswag, truthfulqa: p.truthfulqa}); }); });
    table(root, 'phase-points', [{key: 'family', label: 'family'}, {key: 'name', label: 'model', nowrap: true}, {key: 'params_b', label: 'params (B)', type: 'num', digits: 3}, {key: 'hellaswag', label: 'HellaSwag', type: 'num'}, {key: 'truthfulqa', label: 'TruthfulQA MC2', type: 'num'}], rows);
  };

  PAGES.coupling = function (root) {
    var C = D.coupling; var J = C.joint; var k = J ? J.benchmarks : C.benchmarks; var n = k.length;
    if (J) {
      root.appendChild(el('p', {'class': 'muted', text: 'Joint matrix #' + J.id + ' (live panel ' + J.panel + ' as of ' + J.as_of + ', fitted ' + J.created_at + '; ' + plural(J.n_models, 'model') + ', ' + Math.round(100 * J.missing_share) + ' % of cells missing, integrated out): ' + J.method + '.'}));
      root.appendChild(el('p', {'class': J.converged && !J.stale ? 'muted' : 'warn', text: 'Convergence: ' + J.gate + '. Staleness: ' + J.staleness + '.'}));
    } else {
      root.appendChild(el('p', {'class': 'muted', text: 'No joint matrix stored (run `phasewatch fit-matrix`); showing the pairwise-complete matrix: ' + C.method + '. Each cell: r and its interval (hover for n); blank: fewer than ' + C.min_pairs + ' models share the pair.'}));
    }
    if (!n) { root.appendChild(el('p', {text: 'Too few releases with two benchmarks in common.'})); return; }
    var pairs = J ? J.pairs : C.pairs; var what = J ? 'joint r' : 'r';
    var z = [], text = [], hover = [];
    for (var i = 0; i < n; i++) { z.push([]); text.push([]); hover.push([]); for (var j = 0; j < n; j++) { z[i].push(i === j ? 1 : null); text[i].push(i === j && J ? 'n=' + J.n_benchmark[k[i]] : ''); hover[i].push(i === j && J ? k[i] + ': ' + J.n_benchmark[k[i]] + ' models' : ''); } }
    pairs.forEach(function (p) {
      var i = k.indexOf(p.x), j = k.indexOf(p.y);
      [[i, j], [j, i]].forEach(function (ij) {
        z[ij[0]][ij[1]] = p.r; text[ij[0]][ij[1]] = p.r.toFixed(2) + '<br>[' + p.low.toFixed(2) + ', ' + p.high.toFixed(2) + ']';
        hover[ij[0]][ij[1]] = p.x + ' × ' + p.y + ': ' + what + ' ' + p.r.toFixed(3) + ' [' + p.low.toFixed(3) + ', ' + p.high.toFixed(3) + '], n = ' + p.n +
          (J && p.pairwise_r !== null ? '<br>pairwise r ' + p.pairwise_r.toFixed(3) + ' [' + p.pairwise_low.toFixed(3) + ', ' + p.pairwise_high.toFixed(3) + ']' : '');
      });
    });
    var gd = fig(root, 'tall', 'coupling-fig');
    var narrowText = text.map(function (row) { return row.map(function (t) { return t.split('<br>')[0]; }); });
    var wasNarrow = null;
    function fitWidth() {  // on a narrow screen a cell holds r alone
      var narrow = gd.clientWidth < 700; if (narrow === wasNarrow || !gd.data) return; wasNarrow = narrow;
      Plotly.restyle(gd, {text: [narrow ? narrowText : text], 'textfont.size': narrow ? 9 : 10, 'colorbar.thickness': narrow ? 8 : 12});
      Plotly.relayout(gd, {'xaxis.tickangle': narrow ? -90 : -35});  // upright names crowd each other on a phone
    }
    window.addEventListener('resize', fitWidth);
    plot(gd, [{type: 'heatmap', z: z, x: k, y: k, text: text, texttemplate: '%{text}', customdata: hover, hovertemplate: '%{customdata}<extra></extra>',
      zmin: -1, zmax: 1, colorscale: 'RdBu', reversescale: true, colorbar: {title: {text: what}, thickness: 12}, textfont: {size: 10}}],
    layout('', '', {xaxis: {tickangle: -35, automargin: true}, yaxis: {autorange: 'reversed', automargin: true}, margin: {l: 10, r: 10, t: 36, b: 10}}), CONFIG).then(fitWidth);
    if (J) {
      table(root, 'coupling-joint', [{key: 'x', label: 'benchmark x'}, {key: 'y', label: 'benchmark y'}, {key: 'n', label: 'models with both', type: 'num', digits: 0}, {key: 'r', label: 'joint r', type: 'num', digits: 3}, {key: 'low', label: 'HDI 2.5 %', type: 'num', digits: 3}, {key: 'high', label: 'HDI 97.5 %', type: 'num', digits: 3}, {key: 'p_positive', label: 'P(r > 0)', type: 'num', digits: 3}, {key: 'pairwise_r', label: 'pairwise r', type: 'num', digits: 3}, {key: 'pairwise_low', label: 'pairwise 2.5 %', type: 'num', digits: 3}, {key: 'pairwise_high', label: 'pairwise 97.5 %', type: 'num', digits: 3}], J.pairs, {filter: false});
      root.appendChild(el('h3', {text: 'Pairwise-complete (as of today)'}));
      root.appendChild(el('p', {'class': 'muted', text: C.method + '.'}));
    }
    table(root, 'coupling-pairs', [{key: 'x', label: 'benchmark x'}, {key: 'y', label: 'benchmark y'}, {key: 'n', label: 'models', type: 'num', digits: 0}, {key: 'r', label: 'r', type: 'num', digits: 3}, {key: 'low', label: 'r 2.5 %', type: 'num', digits: 3}, {key: 'high', label: 'r 97.5 %', type: 'num', digits: 3}, {key: 'slope', label: 'slope (logit y on logit x)', type: 'num', digits: 3}], C.pairs, {filter: false});
  };

  PAGES.steering = function (root) {
    if (!D.steering.length) { root.appendChild(el('p', {text: 'No steering evaluation stored yet: log an open-weight release with --hf-repo and run `phasewatch worker`.'})); return; }
    function pct(r) { return r ? r.k + '/' + r.n + ' (' + fmt(100 * r.value, 1) + ' %) [' + fmt(100 * r.low, 1) + ', ' + fmt(100 * r.high, 1) + ']' : ''; }
    function est(e) { return e ? fmt(100 * e.value, 1) + ' [' + fmt(100 * e.low, 1) + ', ' + fmt(100 * e.high, 1) + ']' : ''; }
    function spr(s) { return s ? fmt(100 * s.median, 1) + ' (' + fmt(100 * s.low, 1) + ' to ' + fmt(100 * s.high, 1) + ')' : ''; }
    D.steering.forEach(function (s, i) {
      var r = s.report; root.appendChild(el('h3', {text: s.model}));
      root.appendChild(el('p', {'class': 'muted', text: s.hf_repo + '@' + s.revision + ' · layer ' + r.layer + ' of ' + r.layers + ' (' + r.method + ') · probe accuracy on the test split ' + pct(r.probe_accuracy) + ', shuffled labels ' + pct(r.shuffled_label_baseline) + ' · worker ' + s.worker}));
      root.appendChild(el('p', {text: r.verdict || ''}));
      var gd = fig(root, 'short', 'steering-fig-' + i); var st = r.sweep.map(function (w) { return w.strength; });
      plot(gd, [{x: st, y: r.sweep.map(function (w) { return w.net ? 100 * w.net.value : null; }), mode: 'lines+markers', name: 'net corrected − broken (%)',
                 error_y: {type: 'data', symmetric: false, array: r.sweep.map(function (w) { return w.net ? 100 * (w.net.high - w.net.value) : 0; }), arrayminus: r.sweep.map(function (w) { return w.net ? 100 * (w.net.value - w.net.low) : 0; })}},
                {x: st, y: r.sweep.map(function (w) { return w.control_net ? 100 * w.control_net.median : null; }), mode: 'lines+markers', name: 'random directions (median)', line: {dash: 'dash'}}],
           layout('α (× typical residual norm)', 'net share of items (%)'), CONFIG);
      var rows = r.sweep.map(function (w) { return {strength: w.strength, corrected: pct(w.corrected), broken: pct(w.broken), net: est(w.net), control_net: spr(w.control_net), p_net: w.p_net, beats_control: w.beats_control ? 'yes' : 'no'}; });
      table(root, 'steering-' + i + '-sweep', [{key: 'strength', label: 'α', type: 'num', digits: 2}, {key: 'corrected', label: 'corrected'}, {key: 'broken', label: 'broken'}, {key: 'net', label: 'net (%)'}, {key: 'control_net', label: 'random directions net (%)'}, {key: 'p_net', label: 'p', type: 'num', digits: 3}, {key: 'beats_control', label: 'beats control'}], rows, {filter: false});
      if (r.mc_baseline) table(root, 'steering-' + i + '-truthfulqa', [{key: 'run', label: 'TruthfulQA (6-shot)'}, {key: 'mc1', label: 'MC1'}, {key: 'mc2', label: 'MC2 (%)'}],
        [{run: 'unsteered', mc1: pct(r.mc_baseline.mc1), mc2: est(r.mc_baseline.mc2)}, {run: 'steered', mc1: pct(r.mc_steered && r.mc_steered.mc1), mc2: est(r.mc_steered && r.mc_steered.mc2)}], {filter: false});
    });
  };

  PAGES.provenance = function (root) {
    root.appendChild(el('p', {text: 'Every observation with its source. Hover a link for the full address; the CSV has it whole.'}));
    table(root, 'panels', [{key: 'name', label: 'panel', nowrap: true}, {key: 'models', label: 'models', type: 'num', digits: 0}, {key: 'observations', label: 'observations', type: 'num', digits: 0}, {key: 'source', label: 'source', type: 'url'}, {key: 'licence', label: 'licence'}], D.provenance.panels, {filter: false});
    var cols = ['model', 'lab', 'kind', 'benchmark', 'value', 'setting', 'reported_by', 'retrieved_on', 'source_url'];
    table(root, 'observations', cols.map(function (c) { return {key: c, label: c.replace('_', ' '), type: c === 'value' ? 'num' : c === 'source_url' ? 'url' : undefined, digits: 2, nowrap: c === 'model' || c === 'retrieved_on'}; }),
      D.provenance.observations.map(function (r) { var o = {}; cols.forEach(function (c, i) { o[c] = r[i]; }); return o; }));
  };

  // ---------- router ----------
  function route() {
    var parts = (location.hash || '#overview').slice(1).split('/'); var page = PAGES[parts[0]] ? parts[0] : 'overview';
    document.querySelectorAll('main > section').forEach(function (s) { s.hidden = s.id !== page; });
    document.querySelectorAll('nav a').forEach(function (a) { a.classList.toggle('active', a.getAttribute('data-page') === page); });
    if (!rendered[page]) { rendered[page] = true; PAGES[page](body(page)); }
    if (PAGES[page].show) PAGES[page].show(decodeURIComponent(parts[1] || (page === 'labs' ? D.labs[0].lab : '')));
    document.querySelectorAll('#' + page + ' .js-plotly-plot').forEach(function (g) { Plotly.Plots.resize(g); });
    document.documentElement.setAttribute('data-page', page);
  }
  window.addEventListener('hashchange', route);
  route();
})();

// Draws a Sylva report (the model inlined as JSON in #sylva-model) or, in the
// dashboard, the same views fetched from its /api endpoints and refreshed as
// trials finish. Every text from the database goes into the page through
// textContent, never as markup.
'use strict';
(function () {
  const page = window.SylvaPage;  // {errors, plots, rendered, updates}
  const live = window.SYLVA_LIVE || null;
  const charts = {};  // id -> Chart
  const tables = {};  // experiment name -> table state

  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
    '#7f7f7f', '#bcbd22', '#17becf'];
  const STATE_COLORS = {COMPLETE: '#2ca02c', PRUNED: '#ff7f0e', FAIL: '#d62728',
    RUNNING: '#1f77b4', WAITING: '#999999'};

  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 12;
  // No legend entry for a series with nothing in it (no pruned trials, ...).
  Chart.defaults.plugins.legend.labels.filter = (item, data) =>
    data.datasets[item.datasetIndex].data.length > 0;

  // --- DOM helpers -------------------------------------------------------
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    for (const c of children || []) if (c) e.appendChild(c);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const k of Object.keys(attrs || {})) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(6)));
  }
  function duration(s) {
    if (s === null || s === undefined) return '';
    if (s < 120) return s.toFixed(1) + ' s';
    if (s < 7200) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(2) + ' h';
  }
  function slug(name, i) { return 'e' + i; }

  // A chart in a titled panel with an optional note under it. `count` is
  // what the tests read: the points of each dataset as drawn.
  function panel(parent, id, title, note, height) {
    const canvas = el('canvas', {id: id + '-canvas'});
    const box = el('div', {class: 'chart', style: 'height:' + (height || 320) + 'px'}, [canvas]);
    const p = el('section', {class: 'panel', id: id}, [el('h3', {text: title}), box]);
    if (note) p.appendChild(el('p', {class: 'note', text: note}));
    parent.appendChild(p);
    return {canvas, panel: p};
  }
  function draw(id, canvas, config) {
    if (charts[id]) charts[id].destroy();
    const chart = new Chart(canvas.getContext('2d'), config);
    charts[id] = chart;
    page.plots[id] = {type: config.type,
      datasets: chart.data.datasets.map(d => ({label: d.label, points: d.data.length}))};
    return chart;
  }

  // Draws vertical lines at `lines` x values (the rungs of halving).
  const verticalLines = {
    id: 'sylvaVerticalLines',
    afterDatasetsDraw(chart, args, opts) {
      if (!opts || !opts.lines) return;
      const {ctx, chartArea, scales} = chart;
      ctx.save();
      ctx.strokeStyle = '#888';
      ctx.setLineDash([4, 4]);
      opts.lines.forEach((x, i) => {
        const px = scales.x.getPixelForValue(x);
        if (px < chartArea.left || px > chartArea.right) return;
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.fillStyle = '#555';
        ctx.fillText('rung ' + x, px + 3, chartArea.top + 10 + (i % 2) * 12);
      });
      ctx.restore();
    },
  };
  Chart.register(verticalLines);

  // --- Views ---------------------------------------------------------------
  function summary(parent, e) {
    const s = e.summary;
    const rows = [
      ['space', s.space], ['strategy', s.strategy], ['evaluator', s.evaluator],
      ['objectives', s.objectives.map(o => o.name + (o.maximize ? ' (max)' : ' (min)')).join(', ')],
      ['budget', fmt(s.budget) + ' trials'], ['seed', s.seed], ['created', s.created],
      ['trials', Object.keys(s.states).filter(k => s.states[k] > 0)
        .map(k => s.states[k] + ' ' + k).join(', ') || 'none'],
      ['best', s.best ? fmt(s.best.value) + ' (trial ' + s.best.number + ', ' + s.best.key + ')'
        : 'none yet'],
      ['time', duration(s.seconds) + ' wall, ' + duration(s.busy_seconds) + ' in trials'],
      ['workers', s.workers + (s.workers === 1 ? ' process' : ' processes')],
    ];
    const table = el('table', {class: 'summary'});
    for (const [k, v] of rows) {
      table.appendChild(el('tr', null, [el('th', {text: k}), el('td', {text: v})]));
    }
    parent.appendChild(el('section', {class: 'panel', id: e.id + '-summary'},
      [el('h3', {text: 'Summary'}), table]));
  }

  function history(parent, e) {
    const h = e.history;
    const box = panel(parent, e.id + '-history', 'Optimization history: ' + h.objective +
      (h.maximize ? ' (higher is better)' : ' (lower is better)'), h.note, 340);
    const axis = el('select', {class: 'axis'}, [el('option', {value: 'number', text: 'by trial number'}),
      el('option', {value: 'time', text: 'by wall time (s)'})]);
    box.panel.insertBefore(axis, box.panel.children[1]);
    const build = (by) => {
      const x = p => by === 'number' ? p[0] : p[1];
      const pts = (arr, yi) => arr.filter(p => x(p) !== null).map(p => ({x: x(p), y: p[yi], n: p[0]}));
      const complete = pts(h.complete, 2), pruned = pts(h.pruned, 2);
      const best = pts(by === 'number' ? h.best : h.best_by_time, 2);
      if (best.length && h.last) {
        const lastX = by === 'number' ? h.last[0] : Math.max(...complete.map(p => p.x), best[best.length - 1].x);
        best.push({x: lastX, y: best[best.length - 1].y, n: null});
      }
      // Failed trials sit on the bottom edge.
      const ys = complete.concat(pruned).map(p => p.y);
      const low = ys.length ? Math.min(...ys) : 0;
      const failed = h.failed.filter(p => x(p) !== null).map(p => ({x: x(p), y: low, n: p[0]}));
      return {
        type: 'scatter',
        data: {datasets: [
          {label: 'complete', data: complete, backgroundColor: '#1f77b4', pointRadius: 2},
          {label: 'pruned', data: pruned, backgroundColor: '#ff7f0e', pointRadius: 2, pointStyle: 'triangle'},
          {label: 'failed', data: failed, backgroundColor: '#d62728', pointRadius: 3, pointStyle: 'crossRot', borderColor: '#d62728'},
          {label: 'best so far', data: best, type: 'line', stepped: 'before', borderColor: '#2ca02c',
            pointRadius: 0, borderWidth: 2, fill: false},
        ]},
        options: {parsing: false,
          scales: {x: {type: 'linear', title: {display: true, text: by === 'number' ? 'trial' : 'seconds'}},
            y: {title: {display: true, text: h.objective}}},
          plugins: {tooltip: {callbacks: {label: c => (c.raw.n !== null ? 'trial ' + c.raw.n + ': ' : '') + fmt(c.raw.y)}}}},
      };
    };
    draw(e.id + '-history', box.canvas, build('number'));
    axis.addEventListener('change', () => draw(e.id + '-history', box.canvas, build(axis.value)));
  }

  function curves(parent, e) {
    const c = e.curves;
    if (!c || !c.series) return;
    const box = panel(parent, e.id + '-curves', 'Learning curves: ' + c.metric +
      ' (pruned trials dashed, cut at their rung)', c.note, 340);
    const datasets = c.series.map((s, i) => ({
      label: 'trial ' + s.number + ' ' + s.state,
      data: s.points.map(p => ({x: p[0], y: p[1]})),
      borderColor: s.state === 'PRUNED' ? 'rgba(255,127,14,0.6)' : s.state === 'FAIL' ? 'rgba(214,39,40,0.7)' : COLORS[i % COLORS.length],
      borderDash: s.state === 'PRUNED' ? [5, 3] : [],
      pointRadius: 1, borderWidth: 1.5, fill: false,
    }));
    draw(e.id + '-curves', box.canvas, {type: 'line', data: {datasets},
      options: {parsing: false, scales: {x: {type: 'linear', title: {display: true, text: 'epoch'}},
        y: {title: {display: true, text: c.metric}}},
      plugins: {legend: {display: false}, sylvaVerticalLines: {lines: c.rungs}}}});
  }

  function pareto(parent, e) {
    const p = e.pareto;
    if (!p) return;
    const [a, b] = p.objectives;
    const box = panel(parent, e.id + '-pareto', 'Pareto front: ' + a + ' against ' + b +
      ' (' + p.counts.front + ' on the front of ' + p.counts.scored + ')', p.note, 360);
    const xy = arr => arr.map(q => ({x: q[0], y: q[1], n: q[2]}));
    draw(e.id + '-pareto', box.canvas, {type: 'scatter', data: {datasets: [
      {label: 'dominated', data: xy(p.dominated), backgroundColor: 'rgba(127,127,127,0.45)', pointRadius: 2},
      {label: 'Pareto front', data: xy(p.front), backgroundColor: '#d62728', borderColor: '#d62728',
        pointRadius: 4, showLine: true, stepped: true, borderWidth: 1.5},
    ]}, options: {parsing: false, scales: {x: {title: {display: true, text: a + (p.maximize[0] ? ' (max)' : ' (min)')}},
      y: {title: {display: true, text: b + (p.maximize[1] ? ' (max)' : ' (min)')}}},
    plugins: {tooltip: {callbacks: {label: c => 'trial ' + c.raw.n + ': ' + fmt(c.raw.x) + ', ' + fmt(c.raw.y)}}}}});
    if (!p.hypervolume) return;
    const hv = panel(parent, e.id + '-hypervolume', 'Hypervolume over trials (reference ' +
      fmt(p.reference[0]) + ', ' + fmt(p.reference[1]) + ')', null, 260);
    draw(e.id + '-hypervolume', hv.canvas, {type: 'line', data: {datasets: [{label: 'hypervolume',
      data: p.hypervolume.map(q => ({x: q[0], y: q[1]})), borderColor: '#9467bd', pointRadius: 0, fill: false}]},
    options: {parsing: false, scales: {x: {type: 'linear', title: {display: true, text: 'trial'}}}}});
  }

  function parallel(parent, e) {
    const p = e.parallel;
    if (!p) return;
    const box = panel(parent, e.id + '-parallel', 'Parallel coordinates: ' + p.axes.join(', ') +
      ' (front in red)', [p.note, p.front_note, p.hypervolume_note].filter(Boolean).join('; '), 360);
    const lo = p.axes.map((_, k) => Math.min(...p.lines.map(l => l.values[k])));
    const hi = p.axes.map((_, k) => Math.max(...p.lines.map(l => l.values[k])));
    const datasets = p.lines.map(l => ({
      label: 'trial ' + l.number,
      data: l.values.map((v, k) => hi[k] > lo[k] ? (v - lo[k]) / (hi[k] - lo[k]) : 0.5),
      borderColor: l.front ? 'rgba(214,39,40,0.9)' : 'rgba(31,119,180,0.25)',
      borderWidth: l.front ? 2 : 1, pointRadius: 0, fill: false,
    }));
    draw(e.id + '-parallel', box.canvas, {type: 'line', data: {labels: p.axes, datasets},
      options: {scales: {y: {min: 0, max: 1, title: {display: true, text: 'scaled to each axis'}}},
        plugins: {legend: {display: false}}}});
  }

  function importance(parent, e) {
    const imp = e.importance;
    if (!imp || !imp.decisions.length) return;
    const title = imp.kind === 'choices'
      ? 'Decision importance: share of the variance of ' + imp.objective + ' explained by each choice being used'
      : 'Decision importance: share of the variance of ' + imp.objective + ' explained by each decision';
    const h = Math.max(220, 22 * imp.decisions.length + 60);
    const box = panel(parent, e.id + '-importance', title, imp.note, h);
    draw(e.id + '-importance', box.canvas, {type: 'bar', data: {
      labels: imp.decisions.map(d => d.name),
      datasets: [{label: 'share of variance', data: imp.decisions.map(d => d.share), backgroundColor: '#17becf'}]},
    options: {indexAxis: 'y', scales: {x: {min: 0, max: 1}}, plugins: {legend: {display: false}}}});
    // Per choice: the mean objective, for the decision picked.
    const pick = el('select', {class: 'decision'});
    imp.decisions.forEach((d, i) => pick.appendChild(el('option', {value: String(i), text: d.name})));
    const byChoice = panel(parent, e.id + '-choices', 'Mean ' + imp.objective + ' per choice', null, 280);
    byChoice.panel.insertBefore(pick, byChoice.panel.children[1]);
    const show = () => {
      const d = imp.decisions[Number(pick.value)];
      draw(e.id + '-choices', byChoice.canvas, {type: 'bar', data: {
        labels: d.choices.map(c => c.label + ' (' + c.count + ' trials, sd ' + fmt(c.sd) + ')'),
        datasets: [{label: 'mean ' + imp.objective, data: d.choices.map(c => c.mean), backgroundColor: '#bcbd22'}]},
      options: {scales: {y: {beginAtZero: false, title: {display: true, text: 'mean ' + imp.objective}}},
        plugins: {legend: {display: false}}}});
    };
    pick.addEventListener('change', show);
    show();
  }

  function timeline(parent, e) {
    const t = e.timeline;
    if (!t || !t.bars.length) return;
    const h = Math.max(160, 28 * t.workers.length + 80);
    const box = panel(parent, e.id + '-timeline', 'Worker timeline (' + t.trials + ' trials on ' +
      t.workers.length + (t.workers.length === 1 ? ' worker' : ' workers') + '; crosses: failures and re-queues)',
      [t.note, t.marks_note].filter(Boolean).join('; '), h);
    const byState = {};
    for (const b of t.bars) {
      const state = STATE_COLORS[b[4]] ? b[4] : 'merged';
      (byState[state] = byState[state] || []).push({x: [b[1], b[2]], y: t.workers[b[0]], n: b[3], s: b[4]});
    }
    const datasets = Object.keys(byState).map(s => ({label: s, data: byState[s],
      backgroundColor: STATE_COLORS[s] || '#aec7e8', borderSkipped: false, barPercentage: 0.8,
      categoryPercentage: 1}));
    datasets.push({label: 'failures and re-queues', type: 'scatter',
      data: t.marks.map(m => ({x: m[1], y: t.workers[m[0]], n: m[3], s: m[2]})),
      backgroundColor: '#000', borderColor: '#000', pointStyle: 'crossRot', pointRadius: 5});
    draw(e.id + '-timeline', box.canvas, {type: 'bar', data: {labels: t.workers, datasets},
      options: {indexAxis: 'y', parsing: {xAxisKey: 'x', yAxisKey: 'y'},
        scales: {x: {type: 'linear', title: {display: true, text: 'seconds since the experiment began'}},
          y: {type: 'category', labels: t.workers, stacked: true}},
        plugins: {tooltip: {callbacks: {label: c => 'trial ' + c.raw.n + ' ' + c.raw.s}}}}});
  }

  // --- Architecture drawings (SVG) -----------------------------------------
  // The bracket form: "[rule child child ...]", words are leaves.
  function parseBracket(text) {
    const tokens = text.match(/\[|\]|[^\s\[\]]+/g) || [];
    let i = 0;
    function node() {
      if (tokens[i] !== '[') return {label: tokens[i++], children: []};
      i++;
      const n = {label: tokens[i++] || '', children: []};
      while (i < tokens.length && tokens[i] !== ']') n.children.push(node());
      i++;
      return n;
    }
    return tokens.length ? node() : null;
  }
  function leaves(n, out) {
    if (!n.children.length) out.push(n.label);
    for (const c of n.children) leaves(c, out);
    return out;
  }
  function countNodes(n) { return 1 + n.children.reduce((s, c) => s + countNodes(c), 0); }

  function drawTree(root) {
    const maxNodes = 400;
    let next = 0, depth = 0, drawn = 0;
    const placed = [];
    (function layout(n, d) {
      if (drawn >= maxNodes) return null;
      drawn++;
      depth = Math.max(depth, d);
      const kids = n.children.map(c => layout(c, d + 1)).filter(Boolean);
      const x = kids.length ? (kids[0].x + kids[kids.length - 1].x) / 2 : next++;
      const p = {x, d, label: n.label, kids, leaf: !n.children.length};
      placed.push(p);
      return p;
    })(root, 0);
    const dx = 74, dy = 46, w = Math.max(1, next) * dx + 20, h = (depth + 1) * dy + 20;
    const s = svg('svg', {width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, class: 'arch tree'});
    const px = p => 10 + p.x * dx + dx / 2, py = p => 18 + p.d * dy;
    for (const p of placed) {
      for (const k of p.kids) {
        s.appendChild(svg('line', {x1: px(p), y1: py(p) + 6, x2: px(k), y2: py(k) - 10, stroke: '#999'}));
      }
    }
    for (const p of placed) {
      s.appendChild(svg('text', {x: px(p), y: py(p), 'text-anchor': 'middle',
        class: p.leaf ? 'leaf' : 'rule', text: p.label.length > 14 ? p.label.slice(0, 13) + '…' : p.label}));
    }
    return {node: s, shapes: placed.length, note: drawn >= maxNodes ? 'the first ' + maxNodes + ' nodes drawn' : ''};
  }

  function drawChain(ops, stages) {
    const bw = 118, bh = 30, gap = 16, perRow = 6;
    const rows = Math.ceil((ops.length + 2) / perRow);
    const w = perRow * (bw + gap) + 20, h = rows * (bh + 34) + 20;
    const s = svg('svg', {width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, class: 'arch chain'});
    const items = ['input'].concat(ops, ['head']);
    // Where a stage begins (its first layer halves the resolution).
    const starts = new Set();
    let at = 0;
    for (const n of stages || []) { starts.add(at); at += n; }
    let shapes = 0;
    items.forEach((op, i) => {
      const r = Math.floor(i / perRow), c = i % perRow;
      const x = 10 + c * (bw + gap), y = 10 + r * (bh + 34);
      const layer = i - 1;
      const fill = op === 'identity' || op === 'none' || op === 'skip_connect' ? '#f0f0f0'
        : i === 0 || i === items.length - 1 ? '#dde8f5' : '#fff2cc';
      s.appendChild(svg('rect', {x, y, width: bw, height: bh, rx: 5, fill, stroke: starts.has(layer) && layer > 0 ? '#d62728' : '#666'}));
      s.appendChild(svg('text', {x: x + bw / 2, y: y + bh / 2 + 4, 'text-anchor': 'middle',
        text: op.length > 17 ? op.slice(0, 16) + '…' : op}));
      if (i + 1 < items.length && c + 1 < perRow) {
        s.appendChild(svg('line', {x1: x + bw, y1: y + bh / 2, x2: x + bw + gap, y2: y + bh / 2, stroke: '#666'}));
      }
      shapes++;
    });
    return {node: s, shapes, note: stages && stages.length ? 'red: a stage begins (resolution halves)' : ''};
  }

  function drawCell(ops) {
    // NB201: nodes 0..3; edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
    const edges = [[0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3]];
    const pos = [[40, 110], [190, 40], [340, 180], [490, 110]];
    const s = svg('svg', {width: 540, height: 230, viewBox: '0 0 540 230', class: 'arch cell'});
    let shapes = 0;
    edges.forEach(([a, b], k) => {
      const op = ops[k] || '?';
      if (op === 'none') return;
      const [x1, y1] = pos[a], [x2, y2] = pos[b];
      s.appendChild(svg('line', {x1, y1, x2, y2, stroke: op === 'skip_connect' ? '#999' : '#1f77b4',
        'stroke-width': 2, 'stroke-dasharray': op === 'skip_connect' ? '5,4' : ''}));
      s.appendChild(svg('text', {x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 5, 'text-anchor': 'middle', class: 'edge', text: op}));
      shapes++;
    });
    pos.forEach(([x, y], i) => {
      s.appendChild(svg('circle', {cx: x, cy: y, r: 16, fill: '#fff2cc', stroke: '#666'}));
      s.appendChild(svg('text', {x, y: y + 4, 'text-anchor': 'middle', text: String(i)}));
      shapes++;
    });
    return {node: s, shapes, note: 'edges marked none are left out; dashed: skip_connect'};
  }

  function drawArchitecture(t, spec) {
    const tree = parseBracket(t.canonical || '');
    if (spec.builder === 'cell' && tree) return drawCell(leaves(tree, []));
    if (spec.builder === 'supernet') return drawChain(t.key.split('/'), []);
    if (spec.builder === 'chain' && tree) {
      const c = drawChain(leaves(tree, []), spec.stages);
      return c;
    }
    if (tree) return drawTree(tree);
    return drawChain(t.key.split('/'), []);
  }

  function best(parent, e) {
    const b = e.best;
    if (!b || !b.trials.length) return;
    const p = el('section', {class: 'panel', id: e.id + '-best'}, [el('h3', {text: 'Best trials'})]);
    let shapes = [];
    b.trials.forEach((t, rank) => {
      const drawing = drawArchitecture(t, b);
      shapes.push(drawing.shapes);
      const metrics = Object.keys(t.metrics).map(k => k + ' ' + fmt(t.metrics[k])).join(', ');
      const card = el('div', {class: 'best'}, [
        el('h4', {text: '#' + (rank + 1) + ': trial ' + t.number + ', ' + fmt(t.value)}),
        el('p', {class: 'key', text: t.key}),
        el('p', {class: 'metrics', text: metrics}),
        el('div', {class: 'drawing'}, [drawing.node]),
      ]);
      if (drawing.note) card.appendChild(el('p', {class: 'note', text: drawing.note}));
      // Grammar spaces: the derivation tree too.
      if (b.builder !== 'cell' && b.builder !== 'supernet' && rank === 0) {
        const tree = parseBracket(t.canonical || '');
        if (tree && b.builder === 'chain' && countNodes(tree) > 1) {
          const details = el('details', null, [el('summary', {text: 'derivation tree'})]);
          details.appendChild(el('div', {class: 'drawing'}, [drawTree(tree).node]));
          card.appendChild(details);
        }
      }
      p.appendChild(card);
    });
    parent.appendChild(p);
    page.plots[e.id + '-best'] = {type: 'svg', datasets: shapes.map((n, i) => ({label: 'trial ' + b.trials[i].number, points: n}))};
  }

  // --- The trials table: sorted, searched and paged in the page --------------
  function trialsTable(parent, e) {
    const t = e.trials;
    const state = tables[e.name] || (tables[e.name] = {sort: 'number', desc: false, query: '', page: 0});
    const columns = ['number', 'state', 'key'].concat(t.metric_names, ['seconds', 'worker', 'retries', 'message']);
    // Keys decoded once each, when first shown, searched or sorted on.
    const keys = new Array(t.count);
    const keyText = i => keys[i] !== undefined ? keys[i] : (keys[i] =
      t.key[i] === '' ? '' : t.key[i].split('.').map(k => t.labels[Number(k)]).join('/'));
    const cell = (i, c) => {
      switch (c) {
        case 'number': return t.number[i];
        case 'state': return t.states[t.state[i]];
        case 'key': return keyText(i);
        case 'seconds': return t.seconds[i];
        case 'worker': return t.worker[i] < 0 ? '' : t.workers[t.worker[i]];
        case 'retries': return t.retries[i];
        case 'message': return t.messages[String(t.number[i])] || '';
        default: return t.metrics[c][i];
      }
    };
    const p = el('section', {class: 'panel', id: e.id + '-trials'}, [el('h3', {text: 'Trials (' + t.count + ')'})]);
    const search = el('input', {type: 'search', placeholder: 'search: state, key, message, number', value: state.query});
    const info = el('span', {class: 'info'});
    const prev = el('button', {text: '‹ previous'}), nextb = el('button', {text: 'next ›'});
    const table = el('table', {class: 'trials'});
    p.appendChild(el('div', {class: 'controls'}, [search, prev, nextb, info]));
    p.appendChild(table);
    parent.appendChild(p);
    const pageSize = 50;
    function render() {
      const q = state.query.toLowerCase();
      let rows = [];
      for (let i = 0; i < t.count; i++) {
        if (q && !(String(t.number[i]) === q || t.states[t.state[i]].toLowerCase().includes(q) ||
            keyText(i).toLowerCase().includes(q) || (t.messages[String(t.number[i])] || '').toLowerCase().includes(q))) continue;
        rows.push(i);
      }
      const c = state.sort;
      rows.sort((a, b) => {
        const x = cell(a, c), y = cell(b, c);
        const nx = x === null || x === undefined || x === '', ny = y === null || y === undefined || y === '';
        if (nx || ny) return nx === ny ? a - b : nx ? 1 : -1;  // blanks last
        const r = x < y ? -1 : x > y ? 1 : a - b;
        return state.desc ? -r : r;
      });
      const pages = Math.max(1, Math.ceil(rows.length / pageSize));
      state.page = Math.min(state.page, pages - 1);
      table.textContent = '';
      const head = el('tr');
      for (const col of columns) {
        const th = el('th', {text: col + (state.sort === col ? (state.desc ? ' ▼' : ' ▲') : '')});
        th.addEventListener('click', () => {
          if (state.sort === col) state.desc = !state.desc; else { state.sort = col; state.desc = false; }
          render();
        });
        head.appendChild(th);
      }
      table.appendChild(head);
      for (const i of rows.slice(state.page * pageSize, (state.page + 1) * pageSize)) {
        const tr = el('tr', {class: 'state-' + t.states[t.state[i]].toLowerCase()});
        for (const col of columns) tr.appendChild(el('td', {text: fmt(cell(i, col))}));
        table.appendChild(tr);
      }
      info.textContent = rows.length + ' of ' + t.count + ' trials, page ' + (state.page + 1) + ' of ' + pages;
      page.plots[e.id + '-trials'] = {type: 'table', datasets: [{label: 'rows', points: Math.min(pageSize, rows.length - state.page * pageSize)}], matching: rows.length};
    }
    search.addEventListener('input', () => { state.query = search.value; state.page = 0; render(); });
    prev.addEventListener('click', () => { state.page = Math.max(0, state.page - 1); render(); });
    nextb.addEventListener('click', () => { state.page++; render(); });
    render();
  }

  // --- Several experiments ---------------------------------------------------
  function comparison(parent, model) {
    const plots = model.comparison.plots.filter(p => p.series.length > 1);
    plots.forEach((p, k) => {
      const id = 'comparison-' + k;
      const box = panel(parent, id, 'Best ' + p.objective + ' so far, by trials finished' +
        (p.seeds.length ? ' (bands: mean and min-max over seeds)' : ''), null, 360);
      const datasets = [];
      p.series.forEach((s, i) => datasets.push({label: s.name, data: s.points.map(q => ({x: q[0], y: q[1]})),
        borderColor: COLORS[i % COLORS.length], stepped: 'before', pointRadius: 0, borderWidth: 1.5, fill: false}));
      p.seeds.forEach((g, i) => {
        const color = COLORS[(i + 3) % COLORS.length];
        datasets.push({label: 'min over ' + g.names.join(', '), data: g.min.map(q => ({x: q[0], y: q[1]})),
          borderColor: 'transparent', pointRadius: 0, fill: false});
        datasets.push({label: 'max over ' + g.names.join(', '), data: g.max.map(q => ({x: q[0], y: q[1]})),
          borderColor: 'transparent', backgroundColor: color + '33', pointRadius: 0, fill: '-1'});
        datasets.push({label: 'mean of ' + g.names.join(', '), data: g.mean.map(q => ({x: q[0], y: q[1]})),
          borderColor: color, borderWidth: 3, pointRadius: 0, fill: false});
      });
      draw(id, box.canvas, {type: 'line', data: {datasets}, options: {parsing: false,
        scales: {x: {type: 'linear', title: {display: true, text: 'trials finished'}},
          y: {title: {display: true, text: p.objective}}}}});
    });
  }

  // --- The page ----------------------------------------------------------------
  function render(model) {
    const root = document.getElementById('sylva-root');
    for (const id of Object.keys(charts)) { charts[id].destroy(); delete charts[id]; }
    page.plots = {};
    root.textContent = '';
    document.getElementById('sylva-database').textContent = model.database;
    document.getElementById('sylva-generated').textContent = (live ? 'live, updated ' : 'generated ') + model.generated;
    const nav = el('nav');
    root.appendChild(nav);
    if (!model.experiments.length) {
      root.appendChild(el('p', {class: 'empty', text: 'No experiments in this database yet.'}));
    }
    if (model.experiments.length > 1) {
      const section = el('section', {class: 'experiment', id: 'comparison'}, [el('h2', {text: 'Experiments compared'})]);
      root.appendChild(section);
      nav.appendChild(el('a', {href: '#comparison', text: 'comparison'}));
      comparison(section, model);
    }
    model.experiments.forEach((e, i) => {
      e.id = slug(e.name, i);
      nav.appendChild(el('a', {href: '#' + e.id, text: e.name}));
      const section = el('section', {class: 'experiment', id: e.id}, [el('h2', {text: 'Experiment ' + e.name})]);
      root.appendChild(section);
      const grid = el('div', {class: 'grid'});
      section.appendChild(grid);
      summary(grid, e);
      history(grid, e);
      curves(grid, e);
      pareto(grid, e);
      parallel(grid, e);
      importance(grid, e);
      timeline(grid, e);
      best(section, e);
      trialsTable(section, e);
    });
    page.rendered = true;
    page.updates = (page.updates || 0) + 1;
  }

  function start() {
    if (!live) {
      render(JSON.parse(document.getElementById('sylva-model').textContent));
      return;
    }
    // The dashboard: views refetched when an experiment's trials change; the
    // table's columns fetched from the first trial that was not finished.
    const known = {};  // name -> {version, trials}
    // A JSON answer, or an error naming what failed (nothing is kept from it).
    async function getJson(url) {
      const res = await fetch(url);
      const body = await res.json();
      if (!res.ok) throw new Error(url + ': ' + (body.error || res.status));
      return body;
    }
    async function poll() {
      try {
        const list = await getJson('api/experiments');
        const names = new Set(list.experiments.map(x => x.name));
        let changed = false;
        for (const name of Object.keys(known)) {
          if (!names.has(name)) { delete known[name]; changed = true; }
        }
        const experiments = [];
        for (const x of list.experiments) {
          let k = known[x.name];
          if (!k || k.id !== x.id) {  // new, or made again under the same name
            k = known[x.name] = {id: x.id, version: '', seq: -1, trials: null, views: null};
          }
          if (k.version !== x.version) {
            changed = true;
            const from = k.trials ? k.trials.settled : 0;
            const name = encodeURIComponent(x.name);
            const [views, cols] = await Promise.all([getJson('api/views?name=' + name),
              getJson('api/trials?name=' + name + '&from=' + from + '&seen=' + k.seq)]);
            k.views = views;
            k.trials = merge(k.trials, cols);
            k.seq = cols.seq;
            k.version = x.version;
          }
          experiments.push(Object.assign({}, k.views, {trials: k.trials}));
        }
        if (changed) {
          const comparisonData = list.experiments.length > 1 ? await getJson('api/comparison') : {plots: []};
          render({database: list.database, generated: list.generated, experiments, comparison: comparisonData});
        }
        if (list.problem) {
          document.getElementById('sylva-generated').textContent = 'cannot read the database: ' + list.problem;
        }
        page.polls = (page.polls || 0) + 1;
      } catch (err) {
        page.fetchErrors = (page.fetchErrors || 0) + 1;
        document.getElementById('sylva-generated').textContent = 'cannot reach the dashboard: ' + err;
      }
      setTimeout(poll, live.interval);
    }
    // Columns from trial `from` on replace those held from there; their
    // labels and workers are re-indexed into the held lists.
    function merge(held, cols) {
      if (!held || cols.first === 0) {
        cols.settled = settledFrom(cols);
        return cols;
      }
      const found = held.number.findIndex(n => n >= cols.first);
      const cut = found < 0 ? held.count : found;
      const labels = held.labels.slice(), workers = held.workers.slice();
      const labelIndex = new Map(labels.map((l, i) => [l, i]));
      const workerIndex = new Map(workers.map((w, i) => [w, i]));
      const intern = (map, list, v) => {
        if (!map.has(v)) { map.set(v, list.length); list.push(v); }
        return map.get(v);
      };
      const keys = cols.key.map(k => k === '' ? '' :
        k.split('.').map(j => intern(labelIndex, labels, cols.labels[Number(j)])).join('.'));
      const worker = cols.worker.map(w => w < 0 ? -1 : intern(workerIndex, workers, cols.workers[w]));
      const names = held.metric_names.concat(cols.metric_names.filter(m => !held.metric_names.includes(m)));
      const out = {first: 0, states: cols.states, labels, workers, metric_names: names, messages: {}};
      for (const f of ['number', 'state', 'started', 'seconds', 'retries']) {
        out[f] = held[f].slice(0, cut).concat(cols[f]);
      }
      out.key = held.key.slice(0, cut).concat(keys);
      out.worker = held.worker.slice(0, cut).concat(worker);
      out.metrics = {};
      for (const m of names) {
        const old = held.metrics[m] || new Array(held.count).fill(null);
        const fresh = cols.metrics[m] || new Array(cols.count).fill(null);
        out.metrics[m] = old.slice(0, cut).concat(fresh);
      }
      for (const n of Object.keys(held.messages)) if (Number(n) < cols.first) out.messages[n] = held.messages[n];
      for (const n of Object.keys(cols.messages)) out.messages[n] = cols.messages[n];
      out.count = out.number.length;
      out.settled = settledFrom(out);
      return out;
    }
    // The first trial number not yet finished (WAITING 0, RUNNING 1).
    function settledFrom(cols) {
      for (let i = 0; i < cols.count; i++) if (cols.state[i] <= 1) return cols.number[i];
      return cols.count ? cols.number[cols.count - 1] + 1 : 0;
    }
    poll();
  }

  try {
    start();
  } catch (err) {
    page.errors.push(String(err && err.stack || err));
    throw err;
  }
})();

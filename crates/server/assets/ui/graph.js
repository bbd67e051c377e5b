// rexist pivot graph: every <div class="pivot-graph" data-node="ID"> becomes
// a graph that grows node by node from GET /api/v1/graph?node=ID. Clicking a
// node (or Enter on it) fetches its neighbours and places them around it;
// the relation boxes hide edges, and with them the nodes only those edges
// reach. The words come from <template id="graph-words"> (base.html), so
// this file holds no text. Whatever was inside the div (a static SVG) stays
// until the first answer arrives, and stays for good if it fails.
(function () {
  "use strict";
  // Pages swapped in by htmx run this file again: set up once.
  if (window.rexistPivotGraph) { return; }
  window.rexistPivotGraph = true;

  var SVG = "http://www.w3.org/2000/svg";
  // Most nodes one graph holds: past this, a browser's SVG gets slow and
  // the drawing unreadable.
  var CAP = 300;
  var RING = 150; // distance of the first neighbours from the centre
  var GAP = 34; // least distance kept between two nodes
  var LABEL = 22; // characters of a label written on the drawing

  function words() {
    var t = document.getElementById("graph-words");
    var d = t ? t.dataset : {};
    var rel = {};
    try { rel = JSON.parse(d.relationWords || "{}"); } catch (e) { rel = {}; }
    return {
      get: function (k, n) {
        var w = d[k] || "";
        return n === undefined ? w : w.replace("{n}", String(n));
      },
      relation: function (name) { return rel[name] || name; }
    };
  }

  function el(name, attrs, parent, ns) {
    var e = ns ? document.createElementNS(SVG, name) : document.createElement(name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function svgEl(name, attrs, parent) { return el(name, attrs, parent, true); }

  function short(s) {
    return s.length > LABEL ? s.slice(0, LABEL - 1) + "\u2026" : s;
  }

  function Graph(box) {
    this.box = box;
    this.w = words();
    this.root = box.getAttribute("data-node");
    this.nodes = {}; // id -> {id, kind, type, label, href, x, y, expanded}
    this.order = []; // ids in the order they came
    this.edges = {}; // "from\u0000to\u0000relation" -> {from, to, relation}
    this.relations = []; // every relation seen, in order
    this.hidden = {}; // relation -> true when unticked
    this.selected = this.root;
    this.capped = false;
    this.built = false;
  }

  // The page's UI around the SVG, built on the first answer.
  Graph.prototype.build = function () {
    var w = this.w, self = this;
    this.box.textContent = "";
    this.box.classList.add("live");
    this.help = el("p", { "class": "graph-help muted" }, this.box);
    this.help.textContent = w.get("help");
    this.filters = el("fieldset", { "class": "graph-relations" }, this.box);
    el("legend", {}, this.filters).textContent = w.get("relations");
    this.svg = svgEl("svg", { "class": "pivot", role: "group", "aria-label": w.get("title") }, this.box);
    this.edgeLayer = svgEl("g", { "class": "edges" }, this.svg);
    this.nodeLayer = svgEl("g", { "class": "nodes" }, this.svg);
    this.bar = el("p", { "class": "graph-selected" }, this.box);
    this.status = el("p", { "class": "graph-status muted", role: "status", "aria-live": "polite" }, this.box);
    this.filters.addEventListener("change", function (e) {
      var r = e.target.getAttribute("data-relation");
      if (r === null) { return; }
      if (e.target.checked) { delete self.hidden[r]; } else { self.hidden[r] = true; }
      self.draw();
    });
    this.built = true;
  };

  Graph.prototype.say = function (text) {
    if (this.status) { this.status.textContent = text; }
  };

  Graph.prototype.fetch = function (id) {
    var self = this;
    var url = "/api/v1/graph?node=" + encodeURIComponent(id);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) {
            var msg = body && body.error && body.error.message ? body.error.message : String(r.status);
            throw new Error(msg);
          }
          return body;
        });
      })
      .catch(function (e) {
        var text = self.w.get("failed") + " " + e.message;
        if (self.built) { self.say(text); } else {
          var p = el("p", { "class": "graph-status bad", role: "status" });
          p.textContent = text;
          self.box.appendChild(p);
        }
        return null;
      });
  };

  // Adds a node; false when the cap is reached.
  Graph.prototype.add = function (n, x, y) {
    if (this.nodes[n.id]) { return true; }
    if (this.order.length >= CAP) { this.capped = true; return false; }
    this.nodes[n.id] = { id: n.id, kind: n.kind, type: n.type, label: n.label, href: n.href, x: x, y: y, expanded: false };
    this.order.push(n.id);
    return true;
  };

  // Places `fresh` around `centre`, away from where `centre` came from,
  // then pushes apart any that land on another node.
  Graph.prototype.place = function (centre, fresh, away) {
    var n = fresh.length;
    if (!n) { return; }
    var first = !away;
    var spread = first || n > 8 ? Math.PI * 2 : Math.PI * 1.2;
    var base = first ? -Math.PI / 2 : Math.atan2(away.y, away.x);
    var radius = Math.max(first ? RING : 90, (GAP * 1.2 * n) / spread);
    fresh.forEach(function (node, i) {
      var a = spread === Math.PI * 2
        ? base + (Math.PI * 2 * i) / n
        : base - spread / 2 + (n === 1 ? spread / 2 : (spread * i) / (n - 1));
      // Every other node a step further out, so neighbouring labels clear.
      var r = n > 12 && i % 2 ? radius + 45 : radius;
      node.x = centre.x + r * Math.cos(a);
      node.y = centre.y + r * Math.sin(a);
    });
    var all = this.order.map(function (id) { return this.nodes[id]; }, this);
    for (var round = 0; round < 30; round++) {
      var moved = false;
      fresh.forEach(function (a) {
        all.forEach(function (b) {
          if (a === b) { return; }
          var dx = a.x - b.x, dy = a.y - b.y, d = Math.sqrt(dx * dx + dy * dy);
          if (d >= GAP) { return; }
          if (d < 0.01) { dx = Math.cos(round); dy = Math.sin(round); d = 1; }
          var push = (GAP - d) / d;
          a.x += dx * push; a.y += dy * push;
          moved = true;
        });
      });
      if (!moved) { break; }
    }
  };

  Graph.prototype.merge = function (answer, from) {
    var self = this;
    var centre = answer.node;
    if (!this.nodes[centre.id]) { this.add(centre, 0, 0); }
    // A node asked for by another id (item:N for an entity) is known by its own.
    if (from !== centre.id && this.nodes[from] && !this.nodes[centre.id].expanded) {
      this.nodes[centre.id].x = this.nodes[from].x;
      this.nodes[centre.id].y = this.nodes[from].y;
    }
    var c = this.nodes[centre.id];
    c.expanded = true;
    var origin = this.nodes[this.root] || c;
    var away = c === origin ? null : { x: c.x - origin.x, y: c.y - origin.y };
    var fresh = [];
    (answer.nodes || []).forEach(function (n) {
      if (self.nodes[n.id]) { return; }
      if (self.add(n, c.x, c.y)) { fresh.push(self.nodes[n.id]); }
    });
    this.place(c, fresh, away);
    (answer.edges || []).forEach(function (e) {
      if (!self.nodes[e.from] || !self.nodes[e.to]) { return; }
      self.edges[e.from + "\u0000" + e.to + "\u0000" + e.relation] = e;
    });
    (answer.relations || []).forEach(function (r) {
      if (self.relations.indexOf(r) < 0) { self.relations.push(r); }
    });
    this.selected = centre.id;
    var notes = [];
    if (this.capped) { notes.push(this.w.get("cap", CAP)); }
    if (answer.omitted) { notes.push(this.w.get("omitted", answer.omitted)); }
    if (!fresh.length && !answer.omitted && !this.capped) { notes.push(this.w.get("none")); }
    this.filtersFor();
    this.draw();
    this.say(notes.join(" "));
    return centre.id;
  };

  Graph.prototype.filtersFor = function () {
    var self = this;
    this.relations.slice().sort().forEach(function (r) {
      if (self.filters.querySelector('input[data-relation="' + CSS.escape(r) + '"]')) { return; }
      var label = el("label", {}, self.filters);
      var box = el("input", { type: "checkbox", "data-relation": r }, label);
      box.checked = !self.hidden[r];
      label.appendChild(document.createTextNode(" " + self.w.relation(r)));
    });
  };

  // The nodes the root reaches through edges whose relation is shown.
  Graph.prototype.visible = function () {
    var seen = {}, queue = [this.root], self = this;
    seen[this.root] = true;
    var links = {};
    Object.keys(this.edges).forEach(function (k) {
      var e = self.edges[k];
      if (self.hidden[e.relation]) { return; }
      (links[e.from] = links[e.from] || []).push(e.to);
      (links[e.to] = links[e.to] || []).push(e.from);
    });
    while (queue.length) {
      var id = queue.shift();
      (links[id] || []).forEach(function (o) {
        if (!seen[o]) { seen[o] = true; queue.push(o); }
      });
    }
    return seen;
  };

  Graph.prototype.draw = function () {
    var self = this, w = this.w;
    var shown = this.visible();
    this.edgeLayer.textContent = "";
    this.nodeLayer.textContent = "";
    // One line per pair of nodes, whatever relations join them.
    var pairs = {};
    Object.keys(this.edges).forEach(function (k) {
      var e = self.edges[k];
      if (self.hidden[e.relation] || !shown[e.from] || !shown[e.to]) { return; }
      var key = e.from < e.to ? e.from + "\u0000" + e.to : e.to + "\u0000" + e.from;
      (pairs[key] = pairs[key] || { a: e.from, b: e.to, relations: [] }).relations.push(e.relation);
    });
    Object.keys(pairs).forEach(function (k) {
      var p = pairs[k], a = self.nodes[p.a], b = self.nodes[p.b];
      var line = svgEl("line", {
        x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1),
        "data-relations": p.relations.join(" ")
      }, self.edgeLayer);
      svgEl("title", {}, line).textContent = p.relations.map(w.relation).join(", ");
    });
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    this.order.forEach(function (id) {
      if (!shown[id]) { return; }
      var n = self.nodes[id];
      var g = svgEl("g", {
        "class": "gnode " + n.kind + (n.expanded ? " expanded" : "") + (id === self.root ? " root" : "") +
          (id === self.selected ? " selected" : ""),
        tabindex: "0", role: "button", "data-id": id,
        "aria-label": w.get("kind-" + n.kind) + ": " + n.label,
        transform: "translate(" + n.x.toFixed(1) + " " + n.y.toFixed(1) + ")"
      }, self.nodeLayer);
      svgEl("title", {}, g).textContent = w.get("kind-" + n.kind) + " (" + n.type + "): " + n.label;
      svgEl("circle", { r: id === self.root ? 11 : 7 }, g);
      var left = n.x < (self.nodes[self.root] || n).x - 1;
      svgEl("text", { x: left ? -10 : 10, y: 4, "text-anchor": left ? "end" : "start" }, g).textContent = short(n.label);
      minX = Math.min(minX, n.x); maxX = Math.max(maxX, n.x);
      minY = Math.min(minY, n.y); maxY = Math.max(maxY, n.y);
    });
    // Room for labels either side; never narrower than a phone's column.
    var pad = 150, width = Math.max(maxX - minX + 2 * pad, 360), height = Math.max(maxY - minY + 60, 200);
    var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    this.svg.setAttribute("viewBox", [cx - width / 2, cy - height / 2, width, height].map(function (v) { return v.toFixed(0); }).join(" "));
    this.showSelected();
  };

  Graph.prototype.showSelected = function () {
    var n = this.nodes[this.selected];
    this.bar.textContent = "";
    if (!n) { return; }
    el("span", { "class": "muted" }, this.bar).textContent = this.w.get("kind-" + n.kind) + " ";
    el("strong", {}, this.bar).textContent = n.label + " ";
    var a = el("a", { href: n.href, "class": "graph-open" }, this.bar);
    a.textContent = this.w.get("open");
  };

  Graph.prototype.expand = function (id) {
    var self = this, n = this.nodes[id];
    this.selected = id;
    if (!n || n.expanded) { this.draw(); this.focus(id); return Promise.resolve(); }
    this.say(this.w.get("loading"));
    this.box.setAttribute("aria-busy", "true");
    return this.fetch(id).then(function (answer) {
      self.box.removeAttribute("aria-busy");
      if (answer) { self.focus(self.merge(answer, id)); }
    });
  };

  Graph.prototype.focus = function (id) {
    var g = this.nodeLayer.querySelector('g[data-id="' + CSS.escape(id) + '"]');
    if (g) { g.focus(); }
  };

  Graph.prototype.start = function () {
    var self = this;
    this.box.setAttribute("aria-busy", "true");
    return this.fetch(this.root).then(function (answer) {
      self.box.removeAttribute("aria-busy");
      if (!answer) { return; }
      // The root is known by the id the answer gives it.
      self.root = answer.node.id;
      self.build();
      self.merge(answer, self.root);
      var onNode = function (e) {
        var g = e.target.closest && e.target.closest("g.gnode");
        return g ? g.getAttribute("data-id") : null;
      };
      self.svg.addEventListener("click", function (e) {
        var id = onNode(e);
        if (id) { self.expand(id); }
      });
      self.svg.addEventListener("keydown", function (e) {
        var id = onNode(e);
        if (id && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); self.expand(id); }
      });
      self.svg.addEventListener("focusin", function (e) {
        var id = onNode(e);
        if (id && id !== self.selected) {
          self.selected = id;
          self.nodeLayer.querySelectorAll("g.selected").forEach(function (g) { g.classList.remove("selected"); });
          e.target.closest("g.gnode").classList.add("selected");
          self.showSelected();
        }
      });
    });
  };

  function init(root) {
    (root || document).querySelectorAll(".pivot-graph[data-node]:not([data-graph])").forEach(function (box) {
      box.setAttribute("data-graph", "");
      if (!window.fetch) { return; }
      new Graph(box).start();
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();

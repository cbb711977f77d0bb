// Gesture typing on the Keyboard tab's on-screen keys: press on a letter key and slide across others.
// Pointer Events (mouse, touch, pen alike); the keyboard has touch-action: none (chargen/web/render.py),
// so a finger's slide is a gesture, not a scroll. While the pointer moves, a trail is drawn over the
// keyboard (a canvas fixed over the page, in client coordinates); on release the points and each
// letter key's box (client coordinates too, as the lane's "layout") go to window.chargenKb.gesture
// (chargen/web/keyboard.js), which asks the JSON lane for the words and inserts the best one.
// A tap (the pointer never reaches another key, or moves less than half a key) is left to the key's
// click, which types the key as before. Loaded after keyboard.js as the panel's js_on_load.
(function (panel) {
  "use strict";
  const TRAIL = "rgba(37,99,235,0.75)";
  let g = null;                  // the press being followed: {id, key, half, x0, y0, points, layout, swiping}
  let swallow = 0;               // a click right after a gesture (on a key it ended on) is not a tap
  let canvas = null;

  const keyOf = (el) => {
    const b = el && el.closest ? el.closest(".keyboard button.key") : null;
    return b && b.dataset.key && !b.classList.contains("wide") ? b : null;
  };

  function layoutNow() {         // char -> [left, top, right, bottom] of each letter key, as drawn now
    const out = {};
    for (const b of panel.querySelectorAll(".keyboard button.key")) {
      if (b.classList.contains("wide")) continue;
      const r = b.getBoundingClientRect();
      out[decodeURIComponent(b.dataset.key.slice(2))] = [r.left, r.top, r.right, r.bottom];
    }
    return out;
  }

  function trail() {             // the canvas over the keyboard, sized to the viewport
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "gesture-trail";
      canvas.style.cssText = "position:fixed;left:0;top:0;pointer-events:none;z-index:1000";
      document.body.appendChild(canvas);
    }
    const dpr = window.devicePixelRatio || 1, w = Math.round(window.innerWidth * dpr), h = Math.round(window.innerHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) {     // resized only when the viewport was
      Object.assign(canvas, { width: w, height: h });
      canvas.style.width = window.innerWidth + "px";
      canvas.style.height = window.innerHeight + "px";
    }
    canvas.style.display = "block";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  function draw() {
    const ctx = trail();
    const p = g.points;
    ctx.clearRect(0, 0, window.innerWidth, window.innerHeight);
    ctx.strokeStyle = TRAIL;
    ctx.lineWidth = 6;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(p[0][0], p[0][1]);
    for (const [x, y] of p.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }

  function clear() {
    if (canvas) canvas.style.display = "none";
  }

  panel.addEventListener("pointerdown", (e) => {
    const b = keyOf(e.target);
    if (!b || !e.isPrimary || (e.pointerType === "mouse" && e.button !== 0)) return;
    const r = b.getBoundingClientRect();
    g = { id: e.pointerId, key: b.dataset.key, half: Math.min(r.width, r.height) / 2, x0: e.clientX, y0: e.clientY,
          points: [[e.clientX, e.clientY]], layout: layoutNow(), swiping: false };
    swallow = 0;
    e.preventDefault();          // no text selection or drag while sliding; the text box keeps its focus
  });

  window.addEventListener("pointermove", (e) => {
    if (!g || e.pointerId !== g.id) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const c of events.length ? events : [e]) g.points.push([c.clientX, c.clientY]);
    if (!g.swiping) {
      const far = Math.hypot(e.clientX - g.x0, e.clientY - g.y0) >= g.half;
      const other = keyOf(document.elementFromPoint(e.clientX, e.clientY));
      g.swiping = far && !!other && other.dataset.key !== g.key;
    }
    if (g.swiping) draw();
  });

  function end(e, cancelled) {
    if (!g || e.pointerId !== g.id) return;
    const done = g;
    g = null;
    if (!done.swiping) return;                 // a tap: the key's own click types it
    swallow = Date.now();
    e.preventDefault();
    setTimeout(clear, 150);
    if (!cancelled && window.chargenKb) window.chargenKb.gesture(done.points, done.layout);
  }
  window.addEventListener("pointerup", (e) => end(e, false));
  window.addEventListener("pointercancel", (e) => end(e, true));

  panel.addEventListener("click", (e) => {     // the click a gesture's release makes is not a key press
    if (swallow && Date.now() - swallow < 500 && e.target.closest && e.target.closest(".keyboard")) {
      e.stopImmediatePropagation();
      e.preventDefault();
      swallow = 0;
    }
  }, true);
})(element);

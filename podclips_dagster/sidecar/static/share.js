// Share page: playhead on the waveform, current cue and word in the transcript, copy link.
// Without JavaScript the page is a plain <audio> element, the waveform picture and the text.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var audio = document.getElementById("player");
  var wave = document.getElementById("wave");
  var ahead = document.getElementById("ahead");
  var head = document.getElementById("playhead");
  var list = document.getElementById("cues");
  var cues = Array.prototype.map.call(document.querySelectorAll(".cue"), function (el) {
    return {
      el: el, start: parseFloat(el.dataset.start), end: parseFloat(el.dataset.end),
      words: Array.prototype.map.call(el.querySelectorAll(".w"), function (w) {
        return { el: w, start: parseFloat(w.dataset.s), end: parseFloat(w.dataset.e) };
      })
    };
  });
  var activeCue = null, activeWord = null;

  function length() {
    return isFinite(audio.duration) && audio.duration > 0
      ? audio.duration : parseFloat(wave.dataset.duration);
  }

  function at(items, t) {
    for (var i = 0; i < items.length; i++) {
      if (t >= items[i].start && t < items[i].end) { return items[i]; }
    }
    return null;
  }

  function mark(previous, next, cls) {
    if (previous === next) { return next; }
    if (previous) { previous.el.classList.remove(cls); }
    if (next) { next.el.classList.add(cls); }
    return next;
  }

  function update() {
    var t = audio.currentTime, share = Math.min(1, t / length()) * 100;
    ahead.style.left = share + "%";
    head.style.left = share + "%";
    wave.setAttribute("aria-valuenow", t.toFixed(1));
    var cue = at(cues, t);
    if (cue !== activeCue) {
      activeWord = mark(activeWord, null, "now");
      activeCue = mark(activeCue, cue, "active");
      if (cue) {  // scroll the list, never the page
        list.scrollTop = cue.el.offsetTop - list.clientHeight / 3;
      }
    }
    activeWord = mark(activeWord, cue ? at(cue.words, t) : null, "now");
  }

  function tick() {
    update();
    if (!audio.paused) { window.requestAnimationFrame(tick); }
  }

  function seek(t) {
    audio.currentTime = Math.max(0, Math.min(t, length()));
    update();
  }

  ["timeupdate", "seeked", "loadedmetadata"].forEach(function (name) {
    audio.addEventListener(name, update);
  });
  audio.addEventListener("play", tick);
  wave.addEventListener("click", function (event) {
    var box = wave.getBoundingClientRect();
    seek((event.clientX - box.left) / box.width * length());
  });
  wave.addEventListener("keydown", function (event) {
    var step = { ArrowLeft: -5, ArrowRight: 5, Home: -Infinity, End: Infinity }[event.key];
    if (step !== undefined) { event.preventDefault(); seek(audio.currentTime + step); }
  });
  cues.forEach(function (cue) {
    cue.el.addEventListener("click", function () { seek(cue.start + 0.001); });
  });

  var button = document.getElementById("copy"), link = document.getElementById("link");
  button.hidden = false;
  button.addEventListener("click", function () {
    function done() { button.textContent = "Copied"; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link.value).then(done, function () { link.select(); });
    } else {
      link.select();
      if (document.execCommand("copy")) { done(); }
    }
  });
  update();
}());

// Keeps the room page current: the server sends the meeting's state over Server-Sent
// Events whenever it changes; on a change the page is loaded again. The first event is
// the state the page was drawn with.
(function () {
  var section = document.querySelector('[data-events]');
  if (!section || !window.EventSource) return;
  var shown = null;
  var source = new EventSource(section.getAttribute('data-events'));
  function onState(event) {
    if (shown === null) { shown = event.data; return; }
    if (event.data !== shown) { source.close(); window.location.reload(); }
  }
  source.addEventListener('meeting', onState);
  source.addEventListener('unavailable', onState);
})();

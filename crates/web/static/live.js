// Keeps the room page current without reloading it (what someone typed elsewhere on the
// page stays): the server sends the meeting's state over Server-Sent Events whenever it
// changes, and the recordings list is asked for every few seconds while the page is
// visible (a recording may be stored by another instance, so there is no event for it).
// On a change the page is fetched again and each [data-live] section is swapped in.
(function () {
  var meeting = document.querySelector('[data-events]');
  var recordings = document.querySelector('[data-recordings]');
  if (!window.fetch || !window.DOMParser) return;

  function refresh() {
    return fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (section) {
          var replacement = fresh.getElementById(section.id);
          if (!replacement || replacement.innerHTML === section.innerHTML) return;
          // Keyboard users keep their place: focus returns to the same control if it is
          // still there.
          var focused = section.contains(document.activeElement) ? document.activeElement : null;
          var label = focused && (focused.id || focused.getAttribute('aria-label'));
          section.innerHTML = replacement.innerHTML;
          if (label) {
            var again = document.getElementById(label) ||
              section.querySelector('[aria-label="' + label.replace(/"/g, '\\"') + '"]');
            if (again) again.focus();
          }
        });
      })
      .catch(function () { /* the next change tries again */ });
  }

  if (meeting && window.EventSource) {
    var shown = null;
    var source = new EventSource(meeting.getAttribute('data-events'));
    // The first state is fetched too: the meeting may have changed between the page
    // being rendered and the stream being opened (someone let in a moment ago), and
    // the stream then starts with the new state. Unchanged sections are not touched.
    var onState = function (event) {
      if (event.data !== shown) { shown = event.data; refresh(); }
    };
    source.addEventListener('meeting', onState);
    source.addEventListener('unavailable', onState);
    // The server ended the view: this person may no longer see the room (or is logged
    // out). Reloading shows the page that says so.
    source.addEventListener('ended', function () { source.close(); window.location.reload(); });
  }

  if (recordings) {
    var known = null;
    var ask = function () {
      if (document.visibilityState !== 'visible') return;
      fetch(recordings.getAttribute('data-recordings'), { credentials: 'same-origin' })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (list) {
          if (known !== null && list !== known) refresh();
          known = list;
        })
        .catch(function () {});
    };
    ask();
    setInterval(ask, 3000);
  }
})();
